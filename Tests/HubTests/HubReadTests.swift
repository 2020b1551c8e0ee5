import Foundation
import Hashing
import PostgresNIO
import Store
import Testing
import TestSupport
@testable import Hub

/// `list`, `state`, `show` and `diff` with `--remote NAME` against a real PostgreSQL: each prints
/// what the same command prints on a store that pulled the hub, writes no store here and leaves
/// no temporary folder behind.
@Suite("Hub: list/state/show/diff --remote against PostgreSQL", .enabled(if: PG.available, PG.skipReason))
struct HubReadTests {
    /// The hub's reader side: no local store (BCLI_STORE names a folder that never appears) and a
    /// TMPDIR of its own, so a throwaway store left behind would be seen.
    static func env(_ hub: TestHub) -> [String: String] {
        try? FileManager.default.createDirectory(atPath: hub.dir.path + "/tmp", withIntermediateDirectories: true)
        return hub.env.merging(["BCLI_STORE": hub.dir.path + "/no-such-store", "TMPDIR": hub.dir.path + "/tmp", "COLUMNS": "220"]) { _, new in new }
    }

    @Test func remoteReadsMatchAPulledStore() async throws {
        try await TestHub.with { hub in
            let a = hub.dir.path + "/a", b = hub.dir.path + "/b"
            let ids = try await hub.makeRuns(store: a, count: 3)
            let rb = try await bcliAsync(["batch", "rollback", ids[2], "--yes", "-p", "sandbox", "--store", a], env: hub.env)
            #expect(rb.status == 0, "\(rb.stderr)")
            let push = try await bcliAsync(["batch", "push", "--store", a], env: hub.env)
            #expect(push.status == 0, "\(push.stderr)")
            let pull = try await bcliAsync(["batch", "pull", "--store", b], env: hub.env)
            #expect(pull.status == 0, "\(pull.stderr)")
            let env = Self.env(hub)

            // Each reading command, on the hub and on the pulled store: the same stdout and exit.
            let commands: [[String]] = [
                ["list"], ["list", "-f", "json"], ["list", "--wide"], ["list", "--limit", "2", "-f", "csv"],
                ["list", "--state", "rolled_back", "-f", "json"], ["list", "--state", "completed"], ["list", "--since", "2999-01-01"],
                ["state", "latest"], ["state", "latest~1", "-f", "json"], ["state", ids[2]], ["state", ids[2], "--wide"],
                ["state", String(ids[0].prefix(10)), "-f", "ndjson"],
                ["show", ids[0]], ["show", ids[0], "--step", "1"], ["show", ids[0], "--step", "2", "--request"],
                ["show", ids[0], "--step", "2", "--response", "--headers"], ["show", "latest", "--step", "1"],
                ["diff", ids[0], ids[1]], ["diff", ids[0], ids[1], "--format", "json"], ["diff", ids[0], ids[1], "--stat", "--include-volatile"],
                ["diff", ids[0], Paths.packageRoot + "/examples/quickstart.yaml"],
            ]
            for command in commands {
                let remote = try await bcliAsync(["batch"] + command + ["--remote", "origin"], env: env)
                let local = try await bcliAsync(["batch"] + command + ["--store", b], env: env)
                #expect(remote.status == local.status, "\(command): --remote exit \(remote.status), pulled store \(local.status): \(remote.stderr)")
                #expect(Self.stable(remote.out) == Self.stable(local.out), "\(command): --remote printed\n\(remote.out)\nthe pulled store\n\(local.out)")
                #expect(remote.out.isEmpty == command.contains("2999-01-01"), "\(command): \(remote.stderr)")
            }
            // Paging: one run per query (and two) reads the same runs in the same order as the
            // pulled store lists them; a state filter reads on across pages.
            let localList = try await bcliAsync(["batch", "list", "--store", b, "-f", "json"], env: env)
            let order = try JSONValue(parsing: Array(localList.stdout))["runs"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            #expect(order.count == 4)
            for page in [1, 2, 3] {
                let paged = try await hub.session { s in try await HubRead.list(s, state: nil, since: nil, limit: 50, page: page) }
                #expect(paged.map(\.id) == order, "page \(page)")
                let limited = try await hub.session { s in try await HubRead.list(s, state: nil, since: nil, limit: 3, page: page) }
                #expect(limited.map(\.id) == Array(order.prefix(3)), "page \(page), limit 3")
                let completed = try await hub.session { s in try await HubRead.list(s, state: .completed, since: nil, limit: 50, page: page) }
                #expect(completed.map(\.id) == order.filter { $0 != ids[2] }, "page \(page), --state completed")
                let oneCompleted = try await hub.session { s in try await HubRead.list(s, state: .completed, since: nil, limit: 1, page: page) }
                #expect(oneCompleted.map(\.id) == Array(order.filter { $0 != ids[2] }.prefix(1)))
            }

            // The runs really are there, and the rollback reads as such.
            let list = try await bcliAsync(["batch", "list", "--remote", "origin", "-f", "json"], env: env)
            for id in ids { #expect(list.out.contains(id)) }
            #expect(list.out.contains("\"rolled_back\"") && list.out.contains("\"rollback\""), "\(list.out)")
            let state = try await bcliAsync(["batch", "state", ids[2], "--remote", "origin"], env: env)
            #expect(state.out.contains("rolled back by"), "\(state.out)")

            // Nothing was written on this side: no store, no throwaway folder left.
            #expect(!FileManager.default.fileExists(atPath: hub.dir.path + "/no-such-store"))
            let left = try FileManager.default.contentsOfDirectory(atPath: hub.dir.path + "/tmp")
            #expect(left.isEmpty, "left behind: \(left)")
        }
    }

    /// A run pushed while a step was unknown, reconciled afterwards and the reconcile run pushed:
    /// the hub keeps the run's rows as pushed (append-only), and reads apply the reconcile run's
    /// decisions as a pull does.
    @Test func aRunPushedInDoubtReadsAsReconciledOnceTheReconcileIsPushed() async throws {
        try await TestHub.with { hub in
            try await withSandbox(faults: ["drop:method=POST,nth=2"]) { sandbox in
                let a = hub.dir.path + "/a", b = hub.dir.path + "/b"
                let env = Self.env(hub).merging(["BCLI_SANDBOX_URL": sandbox.url, "XDG_CACHE_HOME": hub.dir.path + "/cache"]) { $1 }
                let manifest = try hub.dir.write("doubt.yaml", """
                    name: doubt
                    steps:
                      - {name: c1, action: post, endpoint: customers, data: {displayName: D c1}}
                      - {name: c2, action: post, endpoint: customers, data: {displayName: D c2}}
                      - {name: v1, action: post, endpoint: vendors, data: {number: DV1, displayName: D vendor}}
                    """)
                let first = try await bcliAsync(["batch", "run", "-p", "sandbox", manifest, "--store", a], env: env)
                #expect(first.status != 0)
                let id = try #require(first.stderr.range(of: #"run [0-9a-f]{32}"#, options: .regularExpression).map { String(first.stderr[$0].dropFirst(4)) })
                #expect(try await bcliAsync(["batch", "push", "--store", a], env: env).status == 0)
                let before = try await bcliAsync(["batch", "list", "--remote", "origin", "--state", "in_doubt", "-f", "json"], env: env)
                #expect(before.out.contains(id), "\(before.out) \(before.stderr)")

                let reconcile = try await bcliAsync(["batch", "reconcile", id, "--store", a], env: env)
                #expect(reconcile.status == 0, "\(reconcile.stderr)")
                let push = try await bcliAsync(["batch", "push", "--store", a], env: env)
                #expect(push.status == 0 && push.out.split(separator: "\n").count == 1, "only the reconcile run is new: \(push.out) \(push.stderr)")
                // The hub still holds the run's rows as pushed: one step unknown.
                let stepsRow = try await hub.session { s in
                    try await s.query("SELECT convert_from(b.data, 'UTF8') FROM bcli_hub.run r JOIN bcli_hub.blob b ON b.digest = r.steps_row_digest WHERE r.id = \(id)")
                        .first.map { try $0.decode(String.self) }
                }
                #expect(stepsRow?.contains("\"status\":\"unknown\"") == true || stepsRow?.contains("\"status\":null") == true, "\(stepsRow ?? "none")")

                let pull = try await bcliAsync(["batch", "pull", "--store", b], env: env)
                #expect(pull.status == 0, "\(pull.stderr)")
                for command: [String] in [
                    ["list", "-f", "json"], ["list", "--state", "in_doubt"], ["list", "--state", "completed", "-f", "csv"],
                    ["state", id, "-f", "json"], ["state", "latest"], ["show", id, "--step", "2"], ["diff", id, id],
                ] {
                    let remote = try await bcliAsync(["batch"] + command + ["--remote", "origin"], env: env)
                    let local = try await bcliAsync(["batch"] + command + ["--store", b], env: env)
                    #expect(remote.status == local.status, "\(command): \(remote.status) vs \(local.status) \(remote.stderr)")
                    #expect(Self.stable(remote.out) == Self.stable(local.out), "\(command): --remote\n\(remote.out)\npulled\n\(local.out)")
                }
                let after = try await bcliAsync(["batch", "list", "--remote", "origin", "--state", "in_doubt"], env: env)
                #expect(!after.out.contains(String(id.prefix(8))), "\(after.out)")
                let show = try await bcliAsync(["batch", "show", id, "--step", "2", "--remote", "origin"], env: env)
                #expect(show.out.contains("reconciled_applied"), "\(show.out)")
            }
        }
    }

    /// `step_id` and `target_step_id` are row numbers of the store that reads them (a throwaway
    /// store holds fewer runs than a pulled one), so they alone may differ.
    static func stable(_ text: String) -> String {
        text.replacingOccurrences(of: #""(target_)?step_id": ?[0-9]+"#, with: "\"$1step_id\": N", options: .regularExpression)
    }

    /// SIGINT while a read waits on the hub (the owner holds the blob table locked): the process
    /// removes its throwaway store and exits 130.
    @Test func anInterruptedReadLeavesNoThrowawayStore() async throws {
        try await TestHub.with { hub in
            let ids = try await hub.makeRuns(store: hub.dir.path + "/a", count: 1)
            #expect(try await bcliAsync(["batch", "push", "--store", hub.dir.path + "/a"], env: hub.env).status == 0)
            let env = Self.env(hub)
            let tmp = hub.dir.path + "/tmp"
            try await hub.session { s in
                try await s.query("BEGIN")
                try await s.query("LOCK TABLE bcli_hub.blob IN ACCESS EXCLUSIVE MODE")
                let child = try ChildProcess(Paths.bcli, ["batch", "state", ids[0], "--remote", "origin"], env: env)
                // Awaited, not slept on: the read is under way once its query waits for the lock.
                var waiting: Int64 = 0
                for _ in 0..<3000 where waiting == 0 {
                    waiting = try await hub.count("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'blob' AND NOT l.granted")
                    if waiting == 0 { try await Task.sleep(for: .milliseconds(10)) }
                }
                #expect(waiting > 0, "the read never waited on the hub")
                #expect(try FileManager.default.contentsOfDirectory(atPath: tmp).count == 1, "a throwaway store while the read runs")
                child.kill(SIGINT)
                let status = try await offload { try child.wait().status }
                try await s.query("ROLLBACK")
                #expect(status == 130, "exit \(status)")
            }
            let left = try FileManager.default.contentsOfDirectory(atPath: tmp)
            #expect(left.isEmpty, "left behind: \(left)")
        }
    }

    /// A hub at version 1 (before the list-order index) is refused as older until its owner runs
    /// `remote init`, which adds only migration 2; then pushes and reads work and use the index.
    @Test func aVersionOneHubIsMigratedByRemoteInit() async throws {
        try await TestHub.with(initialised: false) { hub in
            try await hub.session { s in
                for sql in HubSchema.migrations[0].statements { try await s.query(PostgresQuery(unsafeSQL: sql)) }
                try await s.query("INSERT INTO bcli_hub.schema_migration (version, name) VALUES (1, '1-hub-core')")
                for sql in try HubSchema.pusherGrants(hub.pusher) { try await s.query(PostgresQuery(unsafeSQL: sql)) }
            }
            let a = hub.dir.path + "/a"
            _ = try await hub.makeRuns(store: a, count: 1)
            let refused = try await bcliAsync(["batch", "push", "--store", a], env: hub.env)
            #expect(refused.status == 9 && refused.stderr.contains("remote init"), "\(refused.status) \(refused.stderr)")
            try await hub.initialise()
            #expect(try await hub.count("SELECT count(*) FROM bcli_hub.schema_migration") == Int64(HubSchema.currentVersion))
            #expect(try await hub.count("SELECT count(*) FROM pg_indexes WHERE schemaname = 'bcli_hub' AND indexname = 'run_list_order'") == 1)
            let push = try await bcliAsync(["batch", "push", "--store", a], env: hub.env)
            #expect(push.status == 0, "\(push.stderr)")
            let list = try await bcliAsync(["batch", "list", "--remote", "origin"], env: Self.env(hub))
            #expect(list.status == 0 && list.out.contains("completed"), "\(list.status) \(list.stderr)")
        }
    }

    @Test func badRemoteReadsFailWithTheirCodes() async throws {
        try await TestHub.with { hub in
            let ids = try await hub.makeRuns(store: hub.dir.path + "/a", count: 1)
            let push = try await bcliAsync(["batch", "push", "--store", hub.dir.path + "/a"], env: hub.env)
            #expect(push.status == 0, "\(push.stderr)")
            let env = Self.env(hub)
            for (args, code, says) in [
                (["state", ids[0], "--remote", "nope"], 2, "no remote named 'nope'"),
                (["list", "--remote", "origin", "--store", hub.dir.path + "/a"], 2, "--remote reads the hub"),
                (["state", "abcdef0123", "--remote", "origin"], 4, "abcdef0123"),
                (["show", "latest~5", "--remote", "origin"], 4, "latest~5"),
                (["diff", ids[0], "latest~3", "--remote", "origin"], 4, "latest~3"),
                (["state", "zz", "--remote", "origin"], 5, "'zz' is not a run id"),
                (["show", ids[0], "--step", "99", "--remote", "origin"], 4, "no step '99'"),
            ] as [([String], Int32, String)] {
                let r = try await bcliAsync(["batch"] + args, env: env)
                #expect(r.status == code && r.stderr.contains(says), "\(args): exit \(r.status) \(r.stderr)")
                #expect(!r.stderr.contains("Fatal error"))
            }
            // A JSON error under -f json.
            let json = try await bcliAsync(["batch", "state", "abcdef0123", "--remote", "origin", "-f", "json"], env: env)
            #expect(json.status == 4 && json.out.contains("\"exit_code\"") && json.out.contains("format_version"), "\(json.out)")
        }
    }

    @Test func damagedRowsAreNamedNotShown() async throws {
        try await TestHub.with { hub in
            let ids = try await hub.makeRuns(store: hub.dir.path + "/a", count: 2)
            let push = try await bcliAsync(["batch", "push", "--store", hub.dir.path + "/a"], env: hub.env)
            #expect(push.status == 0, "\(push.stderr)")
            // A superuser changes a byte of one run's step rows in place (checks disabled): reads re-hash them.
            let found = try await hub.session { s in
                try await s.query("SELECT steps_row_digest FROM bcli_hub.run WHERE id = \(ids[0])").first.map { try $0.decode(String.self) }
            }
            let victim = try #require(found)
            try await hub.session { s in
                for sql in [
                    "ALTER TABLE bcli_hub.blob DISABLE TRIGGER ALL",
                    "ALTER TABLE bcli_hub.blob DROP CONSTRAINT blob_digest_is_sha256",
                    "UPDATE bcli_hub.blob SET data = set_byte(data, 10, (get_byte(data, 10) + 1) % 256) WHERE digest = '\(victim)'",
                ] { try await s.query(PostgresQuery(unsafeSQL: sql)) }
            }
            let env = Self.env(hub)
            let list = try await bcliAsync(["batch", "list", "--remote", "origin"], env: env)
            #expect(list.status == 9 && list.stderr.contains(victim) && list.stderr.contains("run \(ids[0])") && list.out.isEmpty,
                    "\(list.status) \(list.out) \(list.stderr)")
            #expect(list.stderr.contains("bcli batch verify --remote origin"), "\(list.stderr)")
            let state = try await bcliAsync(["batch", "state", ids[0], "--remote", "origin"], env: env)
            #expect(state.status == 9 && state.stderr.contains(victim) && state.out.isEmpty, "\(state.status) \(state.out) \(state.stderr)")
            // diff keeps 1 for "different": damage is 9, so a CI gate can tell them apart.
            let diff = try await bcliAsync(["batch", "diff", ids[0], ids[1], "--remote", "origin"], env: env)
            #expect(diff.status == 9, "\(diff.status) \(diff.stderr)")
            let left = try FileManager.default.contentsOfDirectory(atPath: hub.dir.path + "/tmp")
            #expect(left.isEmpty, "left behind: \(left)")
            // The other run still reads.
            let other = try await bcliAsync(["batch", "state", ids[1], "--remote", "origin"], env: env)
            #expect(other.status == 0 && other.out.contains(ids[1]), "\(other.status) \(other.stderr)")
        }
    }
}
