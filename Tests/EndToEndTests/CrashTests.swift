import Foundation
import Testing
import TestSupport
import Hashing
import Store

/// SIGKILL a process that writes blobs and intent/outcome rows exactly as the runner does, at
/// random moments, and check after every kill that the store still tells the truth.
@Suite struct StoreCrashTests {
    /// 6 stores × 9 kills = 54 kills per test run, half of them in `full` durability.
    @Test(arguments: [(1, "process"), (2, "process"), (3, "process"), (4, "full"), (5, "full"), (6, "full")])
    func sigkillLeavesAConsistentStore(seed: Int, durability: String) async throws {
        let writer = Paths.binary("crash-writer")
        try requireBinary(writer)
        let dir = TempDir("bcli-crash")
        let storePath = dir.path + "/store"
        var rng = SystemRandomNumberGenerator()
        for kill in 0..<9 {
            let runSeed = UInt64(seed * 1000 + kill)
            let linesBeforeKill = Int.random(in: 1...12, using: &rng)
            try await offload {
                try self.runAndKill(writer, [storePath, String(runSeed), durability], afterLines: linesBeforeKill)
                try self.checkStore(storePath, context: "seed \(runSeed) after \(linesBeforeKill) commits (\(durability))")
            }
        }
    }

    /// Starts the writer, waits until it has reported `lines` committed outcomes, then SIGKILLs it
    /// while it keeps writing (the kill lands wherever the writer happens to be).
    func runAndKill(_ executable: String, _ args: [String], afterLines lines: Int) throws {
        let child = try ChildProcess(executable, args)
        let seen = child.waitForStdoutLines(lines)  // fewer: the writer exited on its own; the checks below still apply
        child.kill()
        let r = try child.wait()
        #expect(r.reason == .uncaughtSignal || seen < lines, "writer was expected to die by SIGKILL")
    }

    func checkStore(_ path: String, context: String) throws {
        let store = try LedgerStore(root: path)  // the database opens after every kill
        let report = try Fsck.check(store)
        #expect(report.isClean, "fsck problems \(context): \(report.problems.map { "\($0.kind) \($0.path)" })")
        for run in try store.runs() {
            for step in try store.ledger.steps(runID: run.id) {
                for (role, digest) in step.digests {
                    #expect(store.objects.verify(digest).isOK, "\(role) blob \(digest) of \(run.id)#\(step.seq) \(context)")
                }
            }
            if let manifest = run.manifestDigest {
                #expect(store.objects.verify(manifest).isOK, "manifest of \(run.id) \(context)")
            }
            if run.counts.unknown > 0 {
                #expect(run.state != .completed, "run \(run.id) has intent-only steps but reads completed (\(context))")
            }
            if run.finishedAt == nil {
                #expect(run.interrupted, "killed run \(run.id) must read as interrupted (\(context))")
            }
        }
    }
}
