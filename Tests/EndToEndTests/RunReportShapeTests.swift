import Foundation
import Hashing
import Testing
import TestSupport

/// A run has one shape: `batch list --format json` and `batch state --format json` report it with
/// the same keys, and every run shows its `kind` and `parent`.
@Suite struct RunReportShapeTests {
    @Test func listAndStateGiveARunTheSameKeys() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let env = sandbox.env(store: dir.path + "/store")
            let manifest = try writeManifest(dir, "one.yaml", """
                name: one
                steps:
                  - name: list_customers
                    action: get
                    endpoint: customers
                """)
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", manifest], env: env)
            #expect(r.status == 0, "\(r.stderr)")
            let id = try #require(runID(fromStderr: r.stderr))

            let state = try await bcliAsync(["batch", "state", id, "--format", "json"], env: env)
            #expect(state.status == 0, "\(state.stderr)")
            let list = try await bcliAsync(["batch", "list", "--format", "json"], env: env)
            #expect(list.status == 0, "\(list.stderr)")
            let fromState = try #require(try JSONValue(parsing: [UInt8](state.stdout))["run"]?.objectValue)
            let fromList = try #require(try JSONValue(parsing: [UInt8](list.stdout))["runs"]?.arrayValue?.first?.objectValue)

            #expect(Set(fromState.keys) == Set(fromList.keys))
            #expect(fromState == fromList)
            #expect(fromList["id"]?.stringValue == id)
            #expect(fromList["kind"]?.stringValue == "batch")
            #expect(fromList["parent"] == .null)
            #expect(fromList["step_count"]?.doubleValue == 1)
            #expect(fromList["steps_recorded"]?.doubleValue == 1)
            #expect(fromList["run_id"] == nil)
        }
    }

    /// A rollback run shows `kind: rollback` and its `parent`, the run it undid, in both.
    @Test func aRollbackRunShowsItsKindAndParent() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let env = sandbox.env(store: dir.path + "/store")
            let manifest = try writeManifest(dir, "create.yaml", """
                name: create
                steps:
                  - name: create_one
                    action: post
                    endpoint: customers
                    data:
                      displayName: Shape Test
                """)
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", manifest], env: env)
            #expect(r.status == 0, "\(r.stderr)")
            let original = try #require(runID(fromStderr: r.stderr))
            let rollback = try await bcliAsync(["batch", "rollback", original, "--yes", "--format", "json"], env: env)
            #expect(rollback.status == 0, "\(rollback.stderr)")
            let rollbackID = try #require(try JSONValue(parsing: [UInt8](rollback.stdout))["rollback_run_id"]?.stringValue)

            let list = try await bcliAsync(["batch", "list", "--format", "json"], env: env)
            let runs = try #require(try JSONValue(parsing: [UInt8](list.stdout))["runs"]?.arrayValue)
            let listed = try #require(runs.first { $0["id"]?.stringValue == rollbackID })
            #expect(listed["kind"]?.stringValue == "rollback")
            #expect(listed["parent"]?.stringValue == original)
            let state = try await bcliAsync(["batch", "state", rollbackID, "--format", "json"], env: env)
            let run = try #require(try JSONValue(parsing: [UInt8](state.stdout))["run"])
            #expect(run["kind"]?.stringValue == "rollback")
            #expect(run["parent"]?.stringValue == original)
            #expect(runs.first { $0["id"]?.stringValue == original }?["parent"] == .null)
        }
    }
}
