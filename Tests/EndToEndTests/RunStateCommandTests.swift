import Foundation
import Testing
import TestSupport
import Hashing
import Store

/// The state a run reads is never a lie.
///
/// - a run killed before its last manifest step never reads `completed` (it is `interrupted`, or
///   `in_doubt` when a write of unknown outcome is in the ledger);
/// - a run whose writes all landed but whose answers were dropped is `in_doubt`, never `failed`;
/// - a partial rollback of an interrupted run leaves the original reading what it is
///   (`in_doubt` / `interrupted`), never `running` and never `rolled_back`.
@Suite struct RunStateCommandTests {
    /// 40 steps: `posts` POSTs, a PATCH of the first created customer (its pre-image GET goes
    /// first), then POSTs to 40.
    static func fortySteps(_ dir: TempDir, posts: Int) throws -> String {
        var text = "name: forty\nsteps:\n"
        for i in 1...posts {
            text += "  - {name: c\(i), action: post, endpoint: customers, data: {displayName: \"Customer \(i)\"}}\n"
        }
        text += "  - {name: rename, action: patch, endpoint: customers, id: \"${{ steps.c1.id }}\", data: {displayName: Renamed}}\n"
        for i in (posts + 2)...40 {
            text += "  - {name: c\(i), action: post, endpoint: customers, data: {displayName: \"Customer \(i)\"}}\n"
        }
        return try writeManifest(dir, "forty.yaml", text)
    }

    /// Starts `bcli batch run`, waits until the sandbox holds one of its requests, SIGKILLs it and
    /// returns the run id.
    static func killWhileHeld(_ sandbox: LiveSandbox, manifest: String, store: String) async throws -> String {
        let (child, held) = try await bcliUntilHeld(sandbox, ["batch", "run", "-p", "sandbox", manifest], env: sandbox.env(store: store))
        #expect(held, "bcli ended before the sandbox held a request")
        child.kill()
        let r = try await child.finish()
        #expect(r.reason == .uncaughtSignal)
        let stderr = r.stderr
        return try #require(runID(fromStderr: stderr), "no run id in: \(stderr)")
    }

    static func stateJSON(_ id: String, env: [String: String]) throws -> JSONValue {
        let r = try bcli(["batch", "state", id, "--format", "json"], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        return try JSONValue(parsing: Array(r.stdout))["run"] ?? .null
    }

    static func listed(_ state: String, env: [String: String]) throws -> (status: Int32, ids: [String]) {
        let r = try bcli(["batch", "list", "--state", state, "--format", "json"], env: env)
        guard r.status == 0, let doc = try? JSONValue(parsing: Array(r.stdout)) else { return (r.status, []) }
        return (r.status, (doc["runs"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue })
    }

    // MARK: - A killed run is never completed

    /// A 40-step run SIGKILLed between steps (15 committed, the 16th waiting on its pre-image GET,
    /// no intent written) reads `interrupted`, never `completed`, and `list --state completed`
    /// does not list it.
    @Test func killedBetweenStepsReadsInterrupted() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox(faults: ["hold:nth=1,method=GET"]) { sandbox in
            let dir = TempDir()
            let store = dir.path + "/store"
            let env = sandbox.env(store: store)
            let id = try await Self.killWhileHeld(sandbox, manifest: try Self.fortySteps(dir, posts: 15), store: store)

            let run = try Self.stateJSON(id, env: env)
            #expect(run["state"]?.stringValue == "interrupted")
            #expect(run["interrupted"] == .bool(true))
            #expect(run["step_count"]?.doubleValue == 40)
            #expect(run["steps_recorded"]?.doubleValue == 15)
            #expect(try !Self.listed("completed", env: env).ids.contains(id))
            #expect(try Self.listed("interrupted", env: env).ids == [id])
            #expect(try Self.listed("running", env: env).ids.isEmpty)  // dead runs are not `running`
            let text = try bcli(["batch", "list"], env: env)
            #expect(text.out.contains("interrupted"))
            #expect(!text.out.contains("completed"))
        }
    }

    /// SIGKILL at several points of a 40-step run: no run that stopped before its 40th step reads
    /// `completed`, in `state` or in `list --state completed`.
    @Test func sigkilledFortyStepRunsNeverReadCompleted() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let store = dir.path + "/store"
            let env = sandbox.env(store: store)
            let manifest = try Self.fortySteps(dir, posts: 20)
            for k in [1, 5, 12, 25, 33, 38] {
                try await killAfter(lines: k, args: ["batch", "run", "-p", "sandbox", manifest], env: env)
            }
            let ledger = try LedgerStore(root: store)
            let completed = try Self.listed("completed", env: env).ids
            var checked = 0
            for run in try ledger.runs() {
                let steps = try ledger.ledger.steps(runID: run.id)
                let allCommitted = steps.count == 40 && steps.allSatisfy { $0.status == .committed }
                if allCommitted { continue }  // the kill came after the last outcome
                checked += 1
                #expect(run.state != .completed, "run \(run.id) has \(steps.count)/40 steps but reads completed")
                #expect(!completed.contains(run.id))
                let json = try Self.stateJSON(run.id, env: env)
                #expect(json["state"]?.stringValue != "completed")
                let unknown = steps.contains { $0.status == nil }
                #expect(json["state"]?.stringValue == (unknown ? "in_doubt" : "interrupted"))
            }
            #expect(checked >= 3)
        }
    }

    // MARK: - Writes of unknown outcome are in doubt, not failed

    /// Every write lands and every answer is dropped: each step is `unknown`, the run is
    /// `in_doubt`, `list --state failed` does not list it and `list --state in_doubt` does.
    @Test func droppedAnswersReadInDoubtNotFailed() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox(faults: ["drop:every=1,method=write"]) { sandbox in
            let dir = TempDir()
            let store = dir.path + "/store"
            let env = sandbox.env(store: store)
            let manifest = try RunCrashTests.manyPosts(dir, count: 3)
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", manifest], env: env)
            #expect(r.status == 1)
            let id = try #require(runID(fromStderr: r.stderr))
            #expect(try await sandbox.journal().count == 3)  // every write landed

            let run = try Self.stateJSON(id, env: env)
            #expect(run["state"]?.stringValue == "in_doubt")
            #expect(run["stamped_state"]?.stringValue == "in_doubt")
            #expect(run["finished_at"] != .null)
            #expect(try !Self.listed("failed", env: env).ids.contains(id))
            #expect(try Self.listed("in_doubt", env: env).ids == [id])
            #expect(r.stderr.contains("in_doubt"))
            let verify = try bcli(["batch", "verify", id], env: env)
            #expect(verify.status == 0, "\(verify.out)\(verify.stderr)")
        }
    }

    // MARK: - A partial rollback leaves the original in doubt or interrupted

    /// A run killed while its 11th write was in flight (10 committed, 1 unknown), then rolled back:
    /// the 10 known writes are undone, the unknown one cannot be, and the original reads
    /// `in_doubt` — not `running`.
    @Test func partialRollbackOfInterruptedRunWithUnknownStep() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox(faults: ["hold:nth=11,method=write"]) { sandbox in
            let dir = TempDir()
            let store = dir.path + "/store"
            let env = sandbox.env(store: store)
            let id = try await Self.killWhileHeld(sandbox, manifest: try RunCrashTests.manyPosts(dir, count: 40), store: store)
            #expect(try Self.stateJSON(id, env: env)["state"]?.stringValue == "in_doubt")

            let rollback = try await bcliAsync(["batch", "rollback", id, "--yes"], env: env)
            #expect(rollback.status == 0, "\(rollback.stderr)")
            let ledger = try LedgerStore(root: store)
            #expect(try ledger.ledger.steps(runID: id).filter { $0.status == .rolledBack }.count == 10)
            let run = try Self.stateJSON(id, env: env)
            #expect(run["state"]?.stringValue == "in_doubt")
            #expect(try Self.listed("running", env: env).ids.isEmpty)
            #expect(try !Self.listed("rolled_back", env: env).ids.contains(id))
        }
    }

    /// A run killed between steps (15 committed, no unknown), then rolled back with one
    /// compensation failing: the original reads `interrupted` — not `running`, and not
    /// `rolled_back` while one of its writes is still in place.
    @Test func partialRollbackOfInterruptedRunWithFailedCompensation() async throws {
        try requireBinary(Paths.bcli)
        // The run's 15 POSTs are writes 1–15; the rollback's first DELETE is write 16: dropped
        // after it lands, so that compensation reads as failed on the original step.
        try await withSandbox(faults: ["hold:nth=1,method=GET", "drop:nth=16,method=write"]) { sandbox in
            let dir = TempDir()
            let store = dir.path + "/store"
            let env = sandbox.env(store: store)
            let id = try await Self.killWhileHeld(sandbox, manifest: try Self.fortySteps(dir, posts: 15), store: store)

            let rollback = try await bcliAsync(["batch", "rollback", id, "--yes"], env: env)
            let ledger = try LedgerStore(root: store)
            let steps = try ledger.ledger.steps(runID: id)
            #expect(steps.filter { $0.status == .rolledBack }.count == 14, "\(rollback.out)\(rollback.stderr)")
            #expect(steps.filter { $0.status == .rollbackFailed }.count == 1)
            let run = try Self.stateJSON(id, env: env)
            #expect(run["state"]?.stringValue == "interrupted")
            #expect(try Self.listed("running", env: env).ids.isEmpty)
            #expect(try !Self.listed("rolled_back", env: env).ids.contains(id))
            #expect(try Self.listed("interrupted", env: env).ids == [id])
        }
    }
}
