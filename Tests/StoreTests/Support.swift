import Foundation
import Hashing
@testable import Store

/// A fresh folder under the system temp dir, removed when the value is dropped.
final class TempDir: @unchecked Sendable {
    let path: String
    init(_ label: String = "bcli-test") {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/\(label)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit {
        // Blobs are 0444 inside 0700 folders; removal only needs the folders writable.
        try? FileManager.default.removeItem(atPath: path)
    }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Runs a command and returns its exit status and stdout (used to compare with sha256sum).
@discardableResult
func shell(_ executable: String, _ args: [String]) throws -> (status: Int32, stdout: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

func makeStore(_ dir: TempDir, durability: Durability = .process) throws -> LedgerStore {
    try LedgerStore(root: dir.path + "/store", durability: durability)
}

/// Starts a run with a manifest blob and returns its id.
func startRun(_ store: LedgerStore, name: String = "t") throws -> String {
    var run = NewRun(toolVersion: "test")
    run.name = name
    run.manifest = try store.put(bytes("name: \(name)\nsteps: []\n"), mediaType: "application/yaml")
    try store.ledger.startRun(run)
    return run.id
}

/// Writes an intent (and optionally an outcome) for step `seq`.
@discardableResult
func addStep(_ store: LedgerStore, run: String, seq: Int, status: StepStatus?, method: String = "POST") throws -> Int64 {
    var intent = StepIntent(runID: run, seq: seq, name: "s\(seq)", method: method, url: "http://127.0.0.1/x(\(seq))")
    intent.request = try store.put(bytes("{\"seq\":\(seq)}"), mediaType: "application/json")
    let id = try store.ledger.writeIntent(intent)
    if let status {
        var o = StepOutcome(status: status)
        o.httpStatus = status == .failed ? 400 : 201
        try store.ledger.writeOutcome(stepID: id, o)
    }
    return id
}
