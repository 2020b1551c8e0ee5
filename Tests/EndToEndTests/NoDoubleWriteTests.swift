import Foundation
import Hashing
import Store
import Testing
import TestSupport

/// A write whose connection dropped is never sent again, end to end: a POST carrying `idempotency_key` whose connection drops after
/// the sandbox committed it (the `drop` fault) is never sent again. The sandbox, like Business
/// Central, does not de-duplicate on `Idempotency-Key`, so a re-send would make a second record.
@Suite struct NoDoubleWriteTests {
    @Test func droppedKeyedPostIsSentOnceAndReadsUnknown() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox(faults: ["drop:method=POST,nth=1"]) { sandbox in
            let dir = TempDir("bcli-issue8-drop")
            let env = sandbox.env(store: dir.path + "/store")
            let manifest = """
                name: keyed
                steps:
                  - {name: create, action: post, endpoint: customers, idempotency_key: cust-once-1, data: {displayName: Once Only}}
                """
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", try writeManifest(dir, "keyed.yaml", manifest), "--format", "json"], env: env)

            // The server committed exactly one write: nothing was sent a second time.
            let journal = try await sandbox.journal()
            #expect(journal.count == 1, "the dropped POST was re-sent: \(journal.count) writes")
            #expect(journal.first?["method"] == "POST")

            // The ledger says unknown (it may have landed), never committed, never failed.
            let out = try JSONValue(parsing: [UInt8](r.stdout))
            let runID = try #require(out["run_id"]?.stringValue, "\(r.stderr)")
            let store = try LedgerStore(root: dir.path + "/store")
            let steps = try store.ledger.steps(runID: runID)
            #expect(steps.count == 1)
            #expect(steps.first?.status == nil, "the step must read unknown, not \(String(describing: steps.first?.status))")
            #expect(steps.first?.idempotencyKey == "cust-once-1")
            #expect(out["steps"]?.arrayValue?.first?["status"] == "unknown")
            let state = try store.run(runID).state
            #expect(state != .failed, "a run whose only write may have landed is not failed")
            #expect(state != .completed)
            #expect(r.status != 0)
        }
    }
}
