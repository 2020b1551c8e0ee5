import Foundation
import Testing
import TestSupport
import Hashing
import Store

/// The crashes the ledger exists for: a write committed by the server whose answer never came
/// back, a SIGKILLed bcli, and a Ctrl-C.
@Suite struct RunCrashTests {
    static func manyPosts(_ dir: TempDir, count: Int) throws -> String {
        var text = "name: many\nsteps:\n"
        for i in 1...count {
            text += "  - {name: c\(i), action: post, endpoint: customers, data: {displayName: \"Customer \(i)\"}}\n"
        }
        return try writeManifest(dir, "many.yaml", text)
    }

    /// (a) The sandbox commits the 3rd write, journals it, then drops the connection unanswered.
    @Test func commitThenDropLeavesAnUnknownStep() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox(faults: ["drop:nth=3,method=write"]) { sandbox in
            let dir = TempDir()
            let manifest = try Self.manyPosts(dir, count: 5)
            let store = dir.path + "/store"
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", manifest], env: sandbox.env(store: store))
            #expect(r.status == 1)
            #expect(r.out.contains("outcome unknown"))
            let ledger = try LedgerStore(root: store)
            let id = try #require(runID(fromStderr: r.stderr))
            let run = try ledger.run(id)
            #expect(run.state == .inDoubt)           // a write of unknown outcome: never partially_committed/failed
            let steps = try ledger.ledger.steps(runID: id)
            #expect(steps[2].status == nil)          // intent only: reads `unknown`
            #expect(steps[2].statusName == "unknown")
            #expect(steps[2].outcomeAt == nil)
            #expect(steps[2].errorMessage != nil)
            // The server did commit it: the journal has the write with that step's client-request-id.
            let journal = try await sandbox.journal()
            #expect(journal.contains { $0["client_request_id"]?.stringValue == steps[2].clientRequestID })
            #expect(journal.count == 5)
            // No POST was retried: one journal entry per step.
            #expect(Set(journal.compactMap { $0["client_request_id"]?.stringValue }).count == 5)

            // A rollback undoes the four known writes but invents no outcome for the unknown one:
            // it stays `unknown`, and the run does not read `rolled_back` while it may have landed.
            let rollback = try await bcliAsync(["batch", "rollback", id, "--yes"], env: sandbox.env(store: store))
            #expect(rollback.status == 0, "\(rollback.stderr)")
            #expect(rollback.out.contains("outcome unknown"))
            let after = try ledger.ledger.steps(runID: id)
            #expect(after[2].status == nil)
            #expect(after.filter { $0.status == .rolledBack }.count == 4)
            #expect(try ledger.run(id).state != .rolledBack)
        }
    }

    /// (b) SIGKILL bcli at random points of a 200-step run, 20+ times: every write the sandbox
    /// committed has an intent row, and no run with an intent-only step reads `completed`.
    @Test func sigkillDuringARunNeverLies() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let manifest = try Self.manyPosts(dir, count: 200)
            let store = dir.path + "/store"
            let env = sandbox.env(store: store)
            for _ in 0..<22 {
                let linesBeforeKill = Int.random(in: 0...60)
                try await killAfter(lines: linesBeforeKill, args: ["batch", "run", "-p", "sandbox", manifest], env: env)
            }
            let ledger = try LedgerStore(root: store)
            var intents: Set<String> = []
            for run in try ledger.runs() {
                let steps = try ledger.ledger.steps(runID: run.id)
                intents.formUnion(steps.map(\.clientRequestID))
                if steps.contains(where: { $0.status == nil }) {
                    #expect(run.state != .completed, "run \(run.id) has an intent without outcome but reads completed")
                }
                if run.finishedAt == nil { #expect(run.interrupted) }
            }
            for entry in try await sandbox.journal() {
                let crid = try #require(entry["client_request_id"]?.stringValue)
                #expect(intents.contains(crid), "the sandbox committed \(crid) but the ledger has no intent for it")
            }
            #expect(try Fsck.check(ledger).isClean)
        }
    }

    /// (c) The first SIGINT finishes the in-flight step and stamps `cancelled`; exit 130.
    @Test func sigintStampsCancelled() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox(latency: "20") { sandbox in
            let dir = TempDir()
            let manifest = try Self.manyPosts(dir, count: 50)
            let store = dir.path + "/store"
            let r = try await signalAfter(lines: 2, signal: SIGINT, args: ["batch", "run", "-p", "sandbox", manifest],
                                          env: sandbox.env(store: store))
            #expect(r.status == 130)
            let id = try #require(runID(fromStderr: r.stderr))
            let ledger = try LedgerStore(root: store)
            let run = try ledger.run(id)
            #expect(run.state == .cancelled)
            #expect(run.finishedAt != nil)
            let steps = try ledger.ledger.steps(runID: id)
            #expect(steps.count >= 2 && steps.count < 50)
            #expect(steps.allSatisfy { $0.status == .committed })  // the in-flight step was finished
        }
    }
}
