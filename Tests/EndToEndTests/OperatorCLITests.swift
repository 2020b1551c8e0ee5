import Foundation
import Hashing
import Store
import Testing
import TestSupport

/// What an operator meets at the terminal (issue: "What an operator expects of a CLI"): run ids a
/// person can type (`latest`, shortest unique prefixes), tables that fit, errors as JSON under
/// `--format json`, and the edges — all through the real binary against a real sandbox.
@Suite struct OperatorCLITests {
    static let quickstart = Paths.packageRoot + "/examples/quickstart.yaml"

    /// A committed step, a PATCH refused by its pre-image GET (404), a POST refused by Business
    /// Central (duplicate number) and a GET skipped because it needs the refused POST's id.
    static let mixed = """
        steps:
          - {name: ok, action: post, endpoint: customers, data: {displayName: A}}
          - {name: missing, action: patch, endpoint: customers, id: 00000000-0000-0000-0000-000000000000, data: {displayName: B}}
          - {name: dup, action: post, endpoint: customers, data: {displayName: C, number: "${{ steps.ok.number }}"}}
          - {name: after, action: get, endpoint: customers, id: "${{ steps.dup.id }}"}
        """

    @Test func stateTableFitsOneHundredColumnsAndSaysWhyStepsDidNotCommit() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let env = sandbox.env(store: dir.path + "/store")
            let run = try await bcliAsync(["batch", "run", "-p", "sandbox", try writeManifest(dir, "m.yaml", Self.mixed)], env: env)
            #expect(run.status == 1)

            for extra in [["COLUMNS": "100"], [:]] {  // COLUMNS, then the fallback of 100 when stdout is a pipe
                let state = try await bcliAsync(["batch", "state", "latest"], env: env.merging(extra) { $1 })
                #expect(state.status == 0, "\(state.stderr)")
                let lines = state.out.split(separator: "\n", omittingEmptySubsequences: false)
                let tableLines = lines.drop { !$0.hasPrefix("seq") }
                #expect(tableLines.count >= 5, "\(state.out)")
                for line in tableLines { #expect(line.count <= 100, "a row is \(line.count) wide: \(line)") }
                #expect(state.out.contains("pre-image GET returned 404"), "the refused PATCH says why")
                #expect(state.out.contains("Internal_EntityWithSameKeyExists"), "the failed POST gives BC's error code")
                #expect(state.out.contains("customers(00000000…)"), "endpoints are relative to the company, ids cut")
                #expect(!state.out.contains("http://127.0.0.1"), "no full URLs unless --wide")
                let after = try #require(tableLines.first { $0.hasPrefix("4 ") })
                #expect(after.contains("skipped") && after.contains("dup"), "the skip names the step it waited for: \(after)")
            }
            let narrow = try await bcliAsync(["batch", "state", "latest"], env: env.merging(["COLUMNS": "60"]) { $1 })
            let narrowRows = narrow.out.split(separator: "\n").drop { !$0.hasPrefix("seq") }
            let natural = try await bcliAsync(["batch", "state", "latest"], env: env.merging(["COLUMNS": "200"]) { $1 })
            let widest = natural.out.split(separator: "\n").drop { !$0.hasPrefix("seq") }.map(\.count).max() ?? 0
            #expect((narrowRows.map(\.count).max() ?? 0) < widest, "flexible columns give way to a narrower terminal: \(narrow.out)")
            #expect(narrowRows.contains { $0.contains("Internal_Entit") && $0.hasSuffix("…") }, "\(narrow.out)")
            let wide = try await bcliAsync(["batch", "state", "latest", "--wide"], env: env)
            #expect(wide.out.contains(sandbox.url + "/v2.0/"), "--wide shows full URLs")
            #expect(wide.out.contains("etag") && wide.out.contains("correlation"))
            #expect(wide.out.split(separator: "\n").contains { $0.count > 100 })
        }
    }

    @Test func latestAndShortestUniqueIds() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let env = sandbox.env(store: dir.path + "/store")
            var ids: [String] = []
            for _ in 0..<3 {
                let r = try await bcliAsync(["batch", "run", "-p", "sandbox", Self.quickstart], env: env)
                #expect(r.status == 0, "\(r.stderr)")
                ids.append(try #require(runID(fromStderr: r.stderr)))
            }
            // Runs made within a minute share at least their first 8 characters (a millisecond clock).
            #expect(Set(ids.map { $0.prefix(6) }).count == 1)

            for (name, expected) in [("latest", ids[2]), ("latest~1", ids[1]), ("latest~2", ids[0]), ("LATEST~0", ids[2])] {
                let state = try await bcliAsync(["batch", "state", name, "-f", "json"], env: env)
                #expect(state.status == 0, "\(name): \(state.stderr)")
                #expect(try JSONValue(parsing: [UInt8](state.stdout))["run"]?["id"]?.stringValue == expected, "\(name)")
            }
            let beyond = try await bcliAsync(["batch", "state", "latest~3"], env: env)
            #expect(beyond.status == 4)
            #expect(beyond.stderr.contains("this store has 3 runs, latest to latest~2"), "\(beyond.stderr)")

            // list shows each id as its shortest unique prefix of at least 8, and each one resolves.
            let list = try await bcliAsync(["batch", "list"], env: env)
            let shown = list.out.split(separator: "\n").dropFirst().map { String($0.split(separator: " ")[0]) }
            #expect(shown.count == 3)
            for (short, full) in zip(shown, ids.reversed()) {
                #expect(short.count >= 8 && full.hasPrefix(short), "\(short) of \(full)")
                let others = ids.filter { $0 != full }
                #expect(!others.contains { $0.hasPrefix(short) }, "\(short) is unique")
                #expect(others.contains { $0.hasPrefix(short.dropLast()) } || short.count == 8, "\(short) is the shortest")
                let state = try await bcliAsync(["batch", "state", short, "-f", "json"], env: env)
                #expect(try JSONValue(parsing: [UInt8](state.stdout))["run"]?["id"]?.stringValue == full)
            }
            // The hint after a run names the same abbreviation.
            let again = try await bcliAsync(["batch", "run", "-p", "sandbox", Self.quickstart], env: env)
            let newest = try #require(runID(fromStderr: again.stderr))
            let listed = try await bcliAsync(["batch", "list", "--limit", "1"], env: env)
            let abbreviation = String(try #require(listed.out.split(separator: "\n").dropFirst().first?.split(separator: " ").first))
            #expect(again.stderr.contains("see `bcli batch state \(abbreviation)`"), "\(again.stderr)")
            #expect(newest.hasPrefix(abbreviation))
        }
    }

    @Test func listShowsKindAndParentOfARollback() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let env = sandbox.env(store: dir.path + "/store")
            let run = try await bcliAsync(["batch", "run", "-p", "sandbox", Self.quickstart], env: env)
            let id = try #require(runID(fromStderr: run.stderr))
            let rollback = try await bcliAsync(["batch", "rollback", "latest", "--yes"], env: env)
            #expect(rollback.status == 0, "\(rollback.stderr)")
            let list = try await bcliAsync(["batch", "list"], env: env)
            let rows = list.out.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
            #expect(rows.first?.starts(with: ["run_id", "started_at", "kind", "state", "steps", "parent"]) == true, "\(list.out)")
            let newest = try #require(rows.dropFirst().first)
            #expect(newest[2] == "rollback")
            #expect(newest[5].count >= 8 && id.hasPrefix(newest[5]), "the parent is the rolled-back run: \(newest)")
            #expect(rows.dropFirst().last?[2] == "batch")
            #expect(rows.dropFirst().last?[3] == "rolled_back")
        }
    }

    @Test func errorsAreJSONOnStdoutUnderFormatJSON() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let env = sandbox.env(store: dir.path + "/store")
            #expect(try await bcliAsync(["batch", "run", "-p", "sandbox", Self.quickstart], env: env).status == 0)

            func error(_ args: [String], env extra: [String: String] = [:]) async throws -> (status: Int32, error: JSONValue?, stderr: String) {
                let r = try await bcliAsync(args, env: env.merging(extra) { $1 })
                let document = try? JSONValue(parsing: [UInt8](r.stdout))
                if let document { #expect(document["format_version"] == 1, "\(args)") }
                return (r.status, document?["error"], r.stderr)
            }
            let unknown = try await error(["batch", "state", "0123456789abcdef", "-f", "json"])
            #expect(unknown.status == 4)
            #expect(unknown.error?["code"]?.stringValue == "not_found")
            #expect(unknown.error?["exit_code"] == 4)
            #expect(unknown.error?["message"]?.stringValue?.contains("no run '0123456789abcdef'") == true)
            #expect(unknown.stderr.contains("error: no run"), "the person still gets the line on stderr")

            let usage = try await error(["batch", "list", "--limit", "0", "--format", "json"])
            #expect(usage.status == 2)
            #expect(usage.error?["code"]?.stringValue == "usage")
            #expect(usage.error?["message"]?.stringValue?.contains("--limit must be at least 1") == true)
            #expect(usage.error?["message"]?.stringValue?.contains("Usage:") == false, "the JSON message has no usage lines")
            #expect(usage.stderr.contains("Usage:") || usage.stderr.contains("--help"), "the person gets them on stderr")

            let invalid = try await error(["batch", "diff", "zz", "latest", "--format=json"])
            #expect(invalid.status == 5)
            #expect(invalid.error?["code"]?.stringValue == "invalid_input")

            let missing = try await error(["batch", "run", "-p", "sandbox", dir.path + "/nope.yaml", "-f", "json"])
            #expect(missing.status == 4)
            #expect(missing.error?["code"]?.stringValue == "not_found")

            // BCLI_FORMAT=json makes state's errors JSON too; a command without a format option is left alone.
            let fromEnvironment = try await error(["batch", "state", "latest~9"], env: ["BCLI_FORMAT": "json"])
            #expect(fromEnvironment.status == 4 && fromEnvironment.error?["code"]?.stringValue == "not_found")
            let noFormat = try await bcliAsync(["batch", "cat", "sha256:0000000"], env: env.merging(["BCLI_FORMAT": "json"]) { $1 })
            #expect(noFormat.status == 4 && noFormat.stdout.isEmpty)
            let verify = try await bcliAsync(["batch", "verify", "deadbeef"], env: env.merging(["BCLI_FORMAT": "json"]) { $1 })
            #expect(verify.status == 4 && verify.stdout.isEmpty, "verify ignores BCLI_FORMAT, so its errors are text")
            let text = try await bcliAsync(["batch", "state", "latest~9"], env: env)
            #expect(text.status == 4 && text.stdout.isEmpty, "no JSON without --format json")

            // A run that printed its document and then fails does not print a second one.
            let failing = try await bcliAsync(["batch", "run", "-p", "sandbox", try writeManifest(dir, "m.yaml", Self.mixed), "-f", "json"], env: env)
            #expect(failing.status == 1)
            let document = try JSONValue(parsing: [UInt8](failing.stdout))
            #expect(document["error"] == nil && document["state"]?.stringValue == "partially_committed")
        }
    }

    @Test func edges() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let env = ["BCLI_STORE": dir.path + "/store", "XDG_CONFIG_HOME": dir.path + "/config", "HOME": dir.path + "/home"]

        // --durability only where the command writes.
        for (command, offered) in [(["batch", "run"], true), (["batch", "rollback"], true), (["batch", "gc"], true),
                                   (["batch", "state"], false), (["batch", "list"], false), (["batch", "verify"], false)] {
            let help = try await bcliAsync(command + ["--help"], env: env)
            #expect(help.out.contains("--durability") == offered, "\(command)")
        }
        let refused = try await bcliAsync(["batch", "list", "--durability", "full"], env: env)
        #expect(refused.status == 2)

        // An output path that is a folder is a usage error that says so, before anything runs.
        let folder = try await bcliAsync(["batch", "run", "-p", "sandbox", Self.quickstart, "-o", dir.path], env: env)
        #expect(folder.status == 2)
        #expect(folder.stderr.contains("is a folder, not a file"), "\(folder.stderr)")
        #expect(!folder.stderr.contains("writable"))
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/store"), "nothing ran")
        let export = try await bcliAsync(["batch", "export", "latest", "-o", dir.path + "/"], env: env)
        #expect(export.status == 2 && export.stderr.contains("is a folder"))

        // No config file: say so and suggest `config init`, whose file then loads.
        let noConfig = try await bcliAsync(["batch", "run", "-p", "prod", Self.quickstart], env: env)
        #expect(noConfig.status == 2)
        #expect(noConfig.stderr.contains("there is no config file") && noConfig.stderr.contains("bcli config init"), "\(noConfig.stderr)")
        let initialised = try await bcliAsync(["config", "init"], env: env)
        #expect(initialised.status == 0, "\(initialised.stderr)")
        let file = dir.path + "/config/bcli/config.toml"
        #expect(initialised.out == file + "\n")
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try String(contentsOfFile: file, encoding: .utf8).contains("# "), "the starter file is commented")
        let check = try await bcliAsync(["config", "check"], env: env)
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.out.contains("profiles.prod.tenant_id"))
        let twice = try await bcliAsync(["config", "init"], env: env)
        #expect(twice.status == 1 && twice.stderr.contains("already exists"))

        // The sandbox refuses to listen beyond loopback unless told.
        let remote = try await bcliAsync(["sandbox", "serve", "--host", "0.0.0.0"], env: env)
        #expect(remote.status == 2)
        #expect(remote.stderr.contains("--allow-remote"), "\(remote.stderr)")

        // A manifest that is not UTF-8 gets the line and column of the first bad byte.
        let bad = dir.path + "/latin1.yaml"
        try Data("steps:\n  - name: a\n    action: get\n    endpoint: \"Mus".utf8 + [0xE9] + "e\"\n".utf8).write(to: URL(fileURLWithPath: bad))
        let notUTF8 = try await bcliAsync(["batch", "run", "-p", "sandbox", bad], env: env)
        #expect(notUTF8.status == 5)
        #expect(notUTF8.stderr.contains("latin1.yaml:4:19: error: the file is not valid UTF-8 text (byte 0xE9"), "\(notUTF8.stderr)")
    }

    @Test func sandboxResetForgetsTheBuiltInProfilesRecords() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let env = ["BCLI_STORE": dir.path + "/store", "XDG_CONFIG_HOME": dir.path + "/config", "XDG_CACHE_HOME": dir.path + "/cache"]
        let nothing = try await bcliAsync(["sandbox", "reset"], env: env)
        #expect(nothing.status == 0 && nothing.stderr.contains("nothing to reset"))

        // The built-in profile (no BCLI_SANDBOX_URL): records persist in <store>/sandbox between commands.
        let first = try await bcliAsync(["batch", "run", "-p", "sandbox", Self.quickstart, "-f", "json"], env: env)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.path + "/store/sandbox"))
        let second = try await bcliAsync(["batch", "run", "-p", "sandbox", Self.quickstart, "-f", "json"], env: env)
        let count = { (r: Completed) throws -> Int? in try JSONValue(parsing: [UInt8](r.stdout))["steps"]?.arrayValue?.last?["data"]?.arrayValue?.count }
        #expect(try count(second) == 6, "the second run reads both runs' customers")

        let reset = try await bcliAsync(["sandbox", "reset"], env: env)
        #expect(reset.status == 0, "\(reset.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/store/sandbox"))
        #expect(FileManager.default.fileExists(atPath: dir.path + "/store/ledger.sqlite3"), "the ledger is not touched")
        let third = try await bcliAsync(["batch", "run", "-p", "sandbox", Self.quickstart, "-f", "json"], env: env)
        #expect(try count(third) == 3, "after a reset the sandbox starts from its demo data")
        let runs = try JSONValue(parsing: [UInt8](try await bcliAsync(["batch", "list", "-f", "json"], env: env).stdout))["runs"]
        #expect(runs?.arrayValue?.count == 3, "the runs are still in the ledger")
    }
}
