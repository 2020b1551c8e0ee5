import Foundation
import Hashing
import Testing
import TestSupport

/// The sandbox's `lose` fault (sent, not processed) and `drop` (processed, answer lost) look the
/// same to bcli: a write whose connection closed after the request was sent reads `unknown`.
/// Only the sandbox journal tells them apart: `lose` wrote nothing, `drop` wrote the record.
@Suite struct LoseFaultTests {
    static let manifest = """
        name: lost
        steps:
          - {name: create, action: post, endpoint: customers, data: {displayName: Maybe Landed}}
        """

    /// Runs the one-POST manifest against a sandbox with `fault`; returns the `batch state` JSON
    /// of the run and the journal.
    static func runWith(_ fault: String) async throws -> (state: JSONValue, journal: [JSONValue], status: Int32) {
        try await withSandbox(faults: [fault]) { sandbox in
            let dir = TempDir("bcli-lose")
            let env = sandbox.env(store: dir.path + "/store")
            let manifest = try writeManifest(dir, "lost.yaml", Self.manifest)
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", manifest, "--format", "json"], env: env)
            let out = try JSONValue(parsing: [UInt8](r.stdout))
            let runID = try #require(out["run_id"]?.stringValue, "\(r.stderr)")
            let state = try bcli(["batch", "state", runID, "--format", "json"], env: env)
            #expect(state.status == 0, "\(state.stderr)")
            return (try JSONValue(parsing: Array(state.stdout)), try await sandbox.journal(), r.status)
        }
    }

    @Test func lostPostReadsUnknownAndNothingLanded() async throws {
        try requireBinary(Paths.bcli)
        let (state, journal, status) = try await Self.runWith("lose:method=POST,nth=1")
        #expect(journal.isEmpty, "lose must not perform the write: \(journal)")
        #expect(state["run"]?["unknown"] == 1, "\(state)")
        #expect(state["run"]?["committed"] == 0)
        #expect(state["run"]?["failed"] == 0)
        #expect(state["run"]?["state"] == "in_doubt")
        let steps = state["steps"]?.arrayValue ?? []
        #expect(steps.count == 1)
        #expect(steps.first?["status"] == "unknown", "\(String(describing: steps.first))")
        #expect(steps.first?["outcome_at"] == .null)
        #expect(steps.first?["error_message"]?.stringValue?.contains("OUTCOME UNKNOWN") == true)
        #expect(status != 0)
    }

    @Test func droppedPostReadsUnknownAndLanded() async throws {
        try requireBinary(Paths.bcli)
        let (state, journal, status) = try await Self.runWith("drop:method=POST,nth=1")
        #expect(journal.count == 1, "drop performs the write before closing: \(journal)")
        #expect(journal.first?["method"] == "POST")
        #expect(state["run"]?["unknown"] == 1, "\(state)")
        #expect(state["run"]?["state"] == "in_doubt")
        #expect(state["steps"]?.arrayValue?.first?["status"] == "unknown")
        #expect(status != 0)
    }
}
