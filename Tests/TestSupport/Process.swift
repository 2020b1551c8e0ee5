import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Paths of the package and the binaries `swift build --build-tests` produced.
public enum Paths {
    public static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)  // …/Tests/TestSupport/Process.swift
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    public static func binary(_ name: String) -> String {
        if let dir = ProcessInfo.processInfo.environment["BCLI_BIN_DIR"] { return dir + "/" + name }
        return packageRoot + "/.build/debug/" + name
    }

    public static var bcli: String { binary("bcli") }
}

/// The binary must exist: tests run after `swift build --build-tests` (the README's test command).
public func requireBinary(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    try #require(FileManager.default.isExecutableFile(atPath: path), "missing \(path): run `swift build --build-tests` first",
                 sourceLocation: sourceLocation)
}

/// A finished child process.
public struct Completed: Sendable {
    public let status: Int32
    public let reason: Process.TerminationReason
    public let stdout: Data
    public let stderr: String
    public var out: String { String(decoding: stdout, as: UTF8.self) }
}

/// A child that did not finish within its time limit; it was SIGKILLed.
public struct ProcessTimedOut: Error, CustomStringConvertible {
    public let command: [String]
    public let seconds: Double
    public let stderr: String
    public var description: String { "\(command.joined(separator: " ")) did not finish in \(seconds) s; stderr: \(stderr)" }
}

/// How long a child may run before it is killed and the test fails (a hang must not stall the suite).
public let defaultProcessTimeout: Double = 300

/// A child process with both streams captured from the start (each pipe drained on a thread of
/// its own, so a full pipe cannot stall the child).
///
/// The environment is this process's, minus `BCLI_STORE`/`BCLI_PROFILE`/`COLUMNS`/`LC_ALL`/`LC_CTYPE`,
/// with `NO_COLOR=1` and `LANG=C.UTF-8`, plus `env`.
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    public let command: [String]
    private let stdoutDrain: PipeDrain
    private let stderrDrain: PipeDrain

    /// `fds`: extra descriptors for the child, each opened for writing on a path, as the shell's
    /// `3>PATH` (`[3: path]`). The path may be a FIFO (`makeFIFO`) read with `FIFOReader`, so the
    /// child writes into a pipe. The child is then started through `/bin/sh -c 'exec …'`.
    public init(_ executable: String, _ args: [String], env: [String: String] = [:], stdin: Data? = nil,
                fds: [Int32: String] = [:]) throws {
        command = [executable] + args
        if fds.isEmpty {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = args
        } else {
            let redirects = fds.sorted { $0.key < $1.key }
                .map { "\($0.key)>'\($0.value.replacingOccurrences(of: "'", with: "'\\''"))'" }.joined(separator: " ")
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "exec \"$0\" \"$@\" " + redirects, executable] + args
        }
        var environment = ProcessInfo.processInfo.environment
        environment["BCLI_STORE"] = nil
        environment["BCLI_PROFILE"] = nil
        environment["NO_COLOR"] = "1"
        // Output that depends on the terminal is pinned: a UTF-8 locale (✓ ✗ …) and no COLUMNS
        // (tables fit 100 columns when stdout is not a terminal).
        environment["LC_ALL"] = nil
        environment["LC_CTYPE"] = nil
        environment["LANG"] = "C.UTF-8"
        environment["COLUMNS"] = nil
        for (k, v) in env { environment[k] = v }
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let inPipe = stdin.map { _ in Pipe() }
        process.standardInput = inPipe ?? FileHandle.nullDevice
        try process.run()
        // Drain before feeding stdin: a child that answers while it reads cannot fill a pipe and stall.
        stdoutDrain = PipeDrain(out)
        stderrDrain = PipeDrain(err)
        if let stdin, let inPipe {
            inPipe.fileHandleForWriting.write(stdin)
            try inPipe.fileHandleForWriting.close()
        }
    }

    /// A child dropped while still running (a test threw before waiting) is SIGKILLed, not leaked.
    deinit {
        if process.isRunning { kill(SIGKILL) }
    }

    public var isRunning: Bool { process.isRunning }
    public var pid: Int32 { process.processIdentifier }

    /// Sends `signal` (SIGKILL unless told) to the child.
    public func kill(_ signal: Int32 = SIGKILL) {
        #if canImport(Glibc)
        _ = Glibc.kill(pid, signal)
        #else
        _ = Darwin.kill(pid, signal)
        #endif
    }

    /// Blocks until the child has printed `lines` lines on stdout or closed it; returns the lines seen.
    @discardableResult
    public func waitForStdoutLines(_ lines: Int) -> Int { stdoutDrain.waitForLines(lines) }

    /// Waits (on a thread of its own) until the child's stderr contains `text`; false when stderr
    /// closed without it.
    public func stderrContains(_ text: String) async throws -> Bool {
        try await offload { self.stderrDrain.waitFor(text) }
    }

    /// The first line the child prints on stdout (without its newline), once it has printed it or
    /// closed stdout; awaited on a thread of its own.
    public func firstStdoutLine() async throws -> String {
        try await offload {
            _ = self.stdoutDrain.waitForLines(1)
            let data = self.stdoutDrain.snapshot()
            return String(decoding: data.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        }
    }

    /// Blocks until the child has exited and both streams are drained. A child still running after
    /// `timeout` seconds is SIGKILLed and `ProcessTimedOut` is thrown.
    public func wait(timeout: Double = defaultProcessTimeout) throws -> Completed {
        let finished = DispatchSemaphore(value: 0)
        let timedOut = Flag()
        Thread { [self] in
            if finished.wait(timeout: .now() + timeout) == .timedOut, process.isRunning {
                timedOut.set()
                kill(SIGKILL)
            }
        }.start()
        let outBytes = stdoutDrain.wait()
        let errBytes = stderrDrain.wait()
        process.waitUntilExit()
        finished.signal()
        let stderr = String(decoding: errBytes, as: UTF8.self)
        if timedOut.isSet { throw ProcessTimedOut(command: command, seconds: timeout, stderr: stderr) }
        return Completed(status: process.terminationStatus, reason: process.terminationReason, stdout: outBytes, stderr: stderr)
    }

    /// `wait` for async tests, on a thread of its own (see `offload`).
    public func finish(timeout: Double = defaultProcessTimeout) async throws -> Completed {
        try await offload { try self.wait(timeout: timeout) }
    }
}

/// Runs a binary to completion (see `ChildProcess` for the environment and `fds`) and captures both streams.
public func run(_ executable: String, _ args: [String], env: [String: String] = [:], stdin: Data? = nil,
                fds: [Int32: String] = [:], timeout: Double = defaultProcessTimeout) throws -> Completed {
    try ChildProcess(executable, args, env: env, stdin: stdin, fds: fds).wait(timeout: timeout)
}

/// Runs the `bcli` the build produced.
public func bcli(_ args: [String], env: [String: String] = [:], stdin: Data? = nil,
                 timeout: Double = defaultProcessTimeout) throws -> Completed {
    try run(Paths.bcli, args, env: env, stdin: stdin, timeout: timeout)
}

/// `bcli` for async tests: the child is awaited on a thread of its own, never on the Swift
/// concurrency pool, so an in-process sandbox keeps answering while the test waits.
public func bcliAsync(_ args: [String], env: [String: String] = [:], stdin: Data? = nil,
                      fds: [Int32: String] = [:], timeout: Double = defaultProcessTimeout) async throws -> Completed {
    try await offload { try run(Paths.bcli, args, env: env, stdin: stdin, fds: fds, timeout: timeout) }
}

/// Makes a FIFO (a named pipe) at `path`, for `ChildProcess`'s `fds`.
public func makeFIFO(_ path: String) throws {
    guard mkfifo(path, 0o600) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
}

/// The reading end of a FIFO, on a thread of its own: it opens the FIFO (which waits for the
/// writer), reads to EOF, or — with `closeAfter` — closes its end once it has read that many
/// lines (0: right after opening), so the writer finds its reader gone.
public final class FIFOReader: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var data = Data()
    private var sawEOF = false

    public init(_ path: String, closeAfter: Int? = nil) {
        Thread { [self] in
            defer { done.signal() }
            guard let handle = FileHandle(forReadingAtPath: path) else { return }
            defer { try? handle.close() }
            var lines = 0
            while closeAfter.map({ lines < $0 }) ?? true {
                let chunk = handle.availableData
                if chunk.isEmpty { sawEOF = true; return }
                data.append(chunk)
                lines += chunk.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
            }
        }.start()
    }

    /// Waits for the reader to finish; what it read, and whether it saw EOF.
    public func wait() -> (data: Data, eof: Bool) {
        done.wait()
        done.signal()  // for the next call
        return (data, sawEOF)
    }

    /// The lines read (without newlines).
    public func lines() -> [String] {
        String(decoding: wait().data, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}

/// Runs blocking work (child processes, long loops) on a thread of its own. Not on
/// `DispatchQueue.global()`: on Linux its threads are the same few (one per core) that run Swift
/// concurrency, so blocking them starves the in-process servers other tests talk to.
public func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

/// Starts `bcli`, waits until it has printed `lines` lines on stdout, sends `signal` while it keeps
/// working (so the signal lands wherever it happens to be), and returns how it ended.
public func signalAfter(lines: Int, signal: Int32, args: [String], env: [String: String]) async throws -> Completed {
    try await offload {
        let child = try ChildProcess(Paths.bcli, args, env: env)
        child.waitForStdoutLines(lines)
        child.kill(signal)
        return try child.wait()
    }
}

/// `signalAfter` with SIGKILL.
public func killAfter(lines: Int, args: [String], env: [String: String]) async throws {
    _ = try await signalAfter(lines: lines, signal: SIGKILL, args: args, env: env)
}

/// A pipe drained to the end on a thread of its own, counting the lines seen so far.
final class PipeDrain: @unchecked Sendable {
    private var data = Data()
    private var lines = 0
    private var ended = false
    private let condition = NSCondition()

    init(_ pipe: Pipe) {
        Thread { [self] in
            let handle = pipe.fileHandleForReading
            while true {
                let chunk = handle.availableData
                condition.lock()
                if chunk.isEmpty {
                    ended = true
                } else {
                    data.append(chunk)
                    lines += chunk.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
                }
                condition.broadcast()
                condition.unlock()
                if chunk.isEmpty { break }
            }
        }.start()
    }

    /// Blocks until what was read contains `text` (true) or the pipe closed without it (false).
    func waitFor(_ text: String) -> Bool {
        let needle = Data(text.utf8)
        condition.lock()
        defer { condition.unlock() }
        while data.range(of: needle) == nil {
            if ended { return false }
            condition.wait()
        }
        return true
    }

    func waitForLines(_ count: Int) -> Int {
        condition.lock()
        defer { condition.unlock() }
        while lines < count && !ended { condition.wait() }
        return lines
    }

    /// What was read so far.
    func snapshot() -> Data {
        condition.lock()
        defer { condition.unlock() }
        return data
    }

    func wait() -> Data {
        condition.lock()
        defer { condition.unlock() }
        while !ended { condition.wait() }
        return data
    }
}

private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
