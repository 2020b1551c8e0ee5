import Foundation
import Testing

/// Paths of the package and the binaries `swift build --build-tests` produced.
enum Paths {
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static func binary(_ name: String) -> String {
        if let dir = ProcessInfo.processInfo.environment["BCLI_BIN_DIR"] { return dir + "/" + name }
        return packageRoot + "/.build/debug/" + name
    }

    static var bcli: String { binary("bcli") }
}

/// A fresh folder under the system temp dir, removed when the value is dropped.
final class TempDir: @unchecked Sendable {
    let path: String
    init(_ label: String = "bcli-e2e") {
        path = FileManager.default.temporaryDirectory.path + "/\(label)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

struct Completed {
    let status: Int32
    let stdout: Data
    let stderr: String
    var out: String { String(decoding: stdout, as: UTF8.self) }
}

/// Runs a binary to completion with a clean environment plus `env`, and captures both streams.
func run(_ executable: String, _ args: [String], env: [String: String] = [:], stdin: Data? = nil) throws -> Completed {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    var environment = ProcessInfo.processInfo.environment
    environment["BCLI_STORE"] = nil
    environment["BCLI_PROFILE"] = nil
    environment["NO_COLOR"] = "1"
    for (k, v) in env { environment[k] = v }
    p.environment = environment
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    if let stdin {
        let inPipe = Pipe()
        p.standardInput = inPipe
        try p.run()
        inPipe.fileHandleForWriting.write(stdin)
        try inPipe.fileHandleForWriting.close()
    } else {
        p.standardInput = FileHandle.nullDevice
        try p.run()
    }
    // Read both pipes concurrently so a full stderr pipe cannot stall the child.
    let errData = drainInBackground(err)
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errBytes = errData.wait()
    p.waitUntilExit()
    return Completed(status: p.terminationStatus, stdout: outData, stderr: String(decoding: errBytes, as: UTF8.self))
}

func bcli(_ args: [String], env: [String: String] = [:], stdin: Data? = nil) throws -> Completed {
    try run(Paths.bcli, args, env: env, stdin: stdin)
}

/// A pipe drained to the end on a thread of its own.
final class PipeDrain: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)
    init(_ pipe: Pipe) {
        Thread { [self] in
            data = pipe.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }.start()
    }
    func wait() -> Data {
        done.wait()
        return data
    }
}

func drainInBackground(_ pipe: Pipe) -> PipeDrain { PipeDrain(pipe) }

/// The binary must exist: tests run after `swift build --build-tests` (the README's test command).
func requireBinary(_ path: String) throws {
    try #require(FileManager.default.isExecutableFile(atPath: path), "missing \(path): run `swift build --build-tests` first")
}

/// `bcli` for async tests: the child is awaited on a thread of its own, never on the Swift
/// concurrency pool, so an in-process sandbox keeps answering while the test waits.
func bcliAsync(_ args: [String], env: [String: String] = [:], stdin: Data? = nil) async throws -> Completed {
    try await offload { try run(Paths.bcli, args, env: env, stdin: stdin) }
}

/// Runs blocking work (child processes, long loops) on a thread of its own. Not on
/// `DispatchQueue.global()`: on Linux its threads are the same few (one per core) that run Swift
/// concurrency, so blocking them starves the in-process servers other tests talk to.
func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

/// Starts `bcli`, waits until it has printed `lines` lines on stdout, sends `signal` while it keeps
/// working (so the signal lands wherever it happens to be), and returns its exit status and stderr.
func signalAfter(lines: Int, signal: Int32, args: [String], env: [String: String]) async throws -> (Int32, String) {
    try await offload {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Paths.bcli)
        p.arguments = args
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        var seen = 0
        while seen < lines {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += chunk.filter { $0 == UInt8(ascii: "\n") }.count
        }
        kill(p.processIdentifier, signal)
        let errData = drainInBackground(err)
        _ = out.fileHandleForReading.readDataToEndOfFile()
        let errBytes = errData.wait()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: errBytes, as: UTF8.self))
    }
}

/// `signalAfter` with SIGKILL.
func killAfter(lines: Int, args: [String], env: [String: String]) async throws {
    _ = try await signalAfter(lines: lines, signal: SIGKILL, args: args, env: env)
}
