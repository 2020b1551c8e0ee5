import Foundation
import PostgresNIO
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
            // `step_id` and `target_step_id` are row numbers of the store that reads them (the
            // throwaway store holds fewer runs than the pulled one), so they alone may differ.
            func stable(_ text: String) -> String {
                text.replacingOccurrences(of: #""(target_)?step_id": ?[0-9]+"#, with: "\"$1step_id\": N", options: .regularExpression)
            }
            for command in commands {
                let remote = try await bcliAsync(["batch"] + command + ["--remote", "origin"], env: env)
                let local = try await bcliAsync(["batch"] + command + ["--store", b], env: env)
                #expect(remote.status == local.status, "\(command): --remote exit \(remote.status), pulled store \(local.status): \(remote.stderr)")
                #expect(stable(remote.out) == stable(local.out), "\(command): --remote printed\n\(remote.out)\nthe pulled store\n\(local.out)")
                #expect(remote.out.isEmpty == command.contains("2999-01-01"), "\(command): \(remote.stderr)")
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
            #expect(list.status == 1 && list.stderr.contains(victim) && list.out.isEmpty, "\(list.status) \(list.out) \(list.stderr)")
            let state = try await bcliAsync(["batch", "state", ids[0], "--remote", "origin"], env: env)
            #expect(state.status == 1 && state.stderr.contains(victim) && state.out.isEmpty, "\(state.status) \(state.out) \(state.stderr)")
            // The other run still reads.
            let other = try await bcliAsync(["batch", "state", ids[1], "--remote", "origin"], env: env)
            #expect(other.status == 0 && other.out.contains(ids[1]), "\(other.status) \(other.stderr)")
        }
    }
}
