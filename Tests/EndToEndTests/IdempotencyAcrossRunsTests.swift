import Foundation
import Hashing
import Store
import Testing
import TestSupport

/// `idempotency: store` end to end, the real binary against the sandbox: a keyed POST committed by
/// one run is not sent by the next run of the same manifest — the sandbox's journal keeps one
/// write, the step reads `replayed`, the run exits 0 and the replayed step's outputs feed a later
/// step. Without the key the next run sends again; after the original run is rolled back the
/// write is sent again (its record is gone).
@Suite struct IdempotencyAcrossRunsTests {
    static func manifest(store: Bool) -> String {
        (store ? "idempotency: store\n" : "") + """
            name: once-per-store
            steps:
              - {name: create, action: post, endpoint: customers, idempotency_key: cust-store-1, data: {displayName: Stored Once}}
              - {name: read, action: get, endpoint: customers, id: "${{ steps.create.id }}"}
            """
    }

    struct Run {
        let status: Int32
        let out: JSONValue
        let stderr: String
        var runID: String { out["run_id"]?.stringValue ?? "" }
        var steps: [JSONValue] { out["steps"]?.arrayValue ?? [] }
        var statuses: [String] { steps.map { $0["status"]?.stringValue ?? "?" } }
    }

    func run(_ path: String, _ env: [String: String]) async throws -> Run {
        let r = try await bcliAsync(["batch", "run", "-p", "sandbox", path, "--format", "json"], env: env)
        let out = try JSONValue(parsing: [UInt8](r.stdout))
        return Run(status: r.status, out: out, stderr: r.stderr)
    }

    func posts(_ sandbox: LiveSandbox) async throws -> Int {
        try await sandbox.journal().filter { $0["method"] == "POST" }.count
    }

    @Test func aSecondRunReplaysTheFirstRunsWriteAndItsOutputsFeedALaterStep() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir("bcli-idem-store")
            let env = sandbox.env(store: dir.path + "/store")
            let path = try writeManifest(dir, "once.yaml", Self.manifest(store: true))

            let first = try await run(path, env)
            #expect(first.status == 0, "\(first.stderr)")
            #expect(first.statuses == ["committed", "committed"])
            let created = try #require(first.steps.first?["record_id"]?.stringValue)
            #expect(try await sandbox.journal().count == 1)

            let second = try await run(path, env)
            #expect(second.status == 0, "\(second.stderr)")
            #expect(second.statuses == ["replayed", "committed"])
            // Nothing was written a second time.
            #expect(try await sandbox.journal().count == 1)
            // The replayed step's output (the first run's response) built the GET's URL.
            #expect(second.steps.first?["record_id"]?.stringValue == created)
            #expect(second.steps.last?["record_id"]?.stringValue == created)
            #expect(second.steps.last?["url"]?.stringValue?.hasSuffix("/customers(\(created))") == true)

            // The ledger row names the first run's step.
            let store = try LedgerStore(root: dir.path + "/store")
            let original = try #require(try store.ledger.steps(runID: first.runID).first)
            let replayed = try #require(try store.ledger.steps(runID: second.runID).first)
            #expect(replayed.status == .replayed && replayed.targetStepID == original.id)
            #expect(replayed.errorMessage == "replayed: idempotency_key 'cust-store-1' was committed by step 1 (create) of run \(first.runID); not sent again")
            #expect(try store.run(second.runID).state == .completed)

            // The -o bundle of a third run names the original in the earlier run (prior_seq).
            let envelopePath = dir.path + "/bundle.json"
            let third = try await bcliAsync(["batch", "run", "-p", "sandbox", path, "-o", envelopePath], env: env)
            #expect(third.status == 0, "\(third.stderr)")
            let envelope = try JSONValue(parsing: [UInt8](try Data(contentsOf: URL(fileURLWithPath: envelopePath))))
            let entry = try #require(envelope["steps"]?.arrayValue?.first)
            #expect(entry["replayed"] == true)
            #expect(entry["prior_seq"] == 1, "\(entry)")
            #expect(entry["prior_step_id"]?.doubleValue == Double(original.id))

            // `state` reads it as replayed too.
            let state = try await bcliAsync(["batch", "state", second.runID, "--format", "json"], env: env)
            #expect(state.status == 0)
            #expect(String(decoding: state.stdout, as: UTF8.self).contains("\"replayed\""))

            // A row aimed at another run's step verifies, and its bundle imports after the
            // original's run (as a rollback's does), not before.
            let verify = try await bcliAsync(["batch", "verify", "--all"], env: env)
            #expect(verify.status == 0, "\(verify.out)\(verify.stderr)")
            let bundles = (first: dir.path + "/first.tar", second: dir.path + "/second.tar")
            #expect(try await bcliAsync(["batch", "export", first.runID, "-o", bundles.first], env: env).status == 0)
            #expect(try await bcliAsync(["batch", "export", second.runID, "-o", bundles.second], env: env).status == 0)
            let fresh = ["BCLI_STORE": dir.path + "/fresh"]
            let early = try await bcliAsync(["batch", "import", bundles.second], env: fresh)
            #expect(early.status != 0 && early.stderr.contains(first.runID), "\(early.stderr)")
            #expect(try await bcliAsync(["batch", "import", bundles.first], env: fresh).status == 0)
            let late = try await bcliAsync(["batch", "import", bundles.second], env: fresh)
            #expect(late.status == 0, "\(late.stderr)")
            let imported = try LedgerStore(root: dir.path + "/fresh")
            let importedOriginal = try #require(try imported.ledger.steps(runID: first.runID).first)
            #expect(try imported.ledger.steps(runID: second.runID).first?.targetStepID == importedOriginal.id)

            // Without `idempotency: store` the key replays within a run only: a new run sends again.
            let plain = try await run(try writeManifest(dir, "plain.yaml", Self.manifest(store: false)), env)
            #expect(plain.status == 0, "\(plain.stderr)")
            #expect(plain.statuses == ["committed", "committed"])
            #expect(try await posts(sandbox) == 2)
            #expect(plain.steps.first?["record_id"]?.stringValue != created)
        }
    }

    @Test func afterTheOriginalRunIsRolledBackTheWriteIsSentAgain() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir("bcli-idem-rollback")
            let env = sandbox.env(store: dir.path + "/store")
            let path = try writeManifest(dir, "once.yaml", Self.manifest(store: true))

            let first = try await run(path, env)
            let second = try await run(path, env)
            #expect(first.statuses == ["committed", "committed"] && second.statuses == ["replayed", "committed"])

            // The replaying run's row names the first run's step but is no compensation: the
            // rollback of the first run deletes the record it created.
            let rollback = try await bcliAsync(["batch", "rollback", first.runID, "--yes"], env: env)
            #expect(rollback.status == 0, "\(rollback.stderr)")
            #expect(try await sandbox.journal().map { $0["method"]?.stringValue ?? "" } == ["POST", "DELETE"])

            let third = try await run(path, env)
            #expect(third.status == 0, "\(third.stderr)")
            #expect(third.statuses == ["committed", "committed"])
            #expect(try await posts(sandbox) == 2)

            // And the next run replays the new write.
            let fourth = try await run(path, env)
            #expect(fourth.statuses == ["replayed", "committed"])
            #expect(fourth.steps.first?["record_id"] == third.steps.first?["record_id"])
            #expect(try await posts(sandbox) == 2)
        }
    }
}
