import Foundation
import Hashing
import Testing
import TestSupport

/// `-f table|json|csv|ndjson` of `batch run`, `state` and `list`, their default from
/// `BCLI_FORMAT` and `[defaults] format`, and the `-o` bundle (docs/envelope.md).
@Suite struct OutputFormatCommandTests {
    static let quickstart = Paths.packageRoot + "/examples/quickstart.yaml"

    /// The lines after `  ── name ──` up to the next step line.
    static func block(_ out: String, step: String) -> [String] {
        let lines = out.split(separator: "\n").map(String.init)
        guard let start = lines.firstIndex(of: "  ── \(step) ──") else { return [] }
        return Array(lines[(start + 1)...].prefix { !$0.hasPrefix("Step ") && !$0.hasPrefix("✓") && !$0.hasPrefix("✗") && !$0.hasPrefix("  ──") })
    }

    @Test func runPrintsStepDataAndTheBundleCarriesIt() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let env = sandbox.env(store: dir.path + "/store")

            let csv = try await bcliAsync(["batch", "run", "-p", "sandbox", Self.quickstart, "-f", "csv", "-o", dir.path + "/b/bundle.json"], env: env)
            #expect(csv.status == 0, "\(csv.stderr)")
            #expect(csv.out.contains("Step 5/5 GET customers"))
            let rows = Self.block(csv.out, step: "read_back")
            #expect(rows.first == "displayName,email,id,number,phoneNumber")
            #expect(rows.count == 4)
            #expect(rows[2].hasPrefix("Coho Winery,billing@coho-winery.example,"))
            #expect(rows[2].hasSuffix(",+1 425 555 0100"))
            #expect(Self.block(csv.out, step: "create_alpine").count == 2, "a POST prints the created record")
            #expect(Self.block(csv.out, step: "update_coho").isEmpty, "a PATCH prints none")

            let id = try #require(runID(fromStderr: csv.stderr))
            let bundle = try JSONValue(parsing: [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.path + "/b/bundle.json"))))
            #expect(bundle["format_version"] == 1)
            #expect(bundle["batch"]?.stringValue == "quickstart")
            #expect(bundle["run_id"]?.stringValue == id)
            let steps = try #require(bundle["steps"]?.arrayValue)
            #expect(steps.count == 5)
            #expect(steps[0]["step"] == 1)
            #expect(steps[0]["action"]?.stringValue == "post")
            #expect(steps[0]["status"]?.stringValue == "ok")
            #expect(steps[0]["ledger_status"]?.stringValue == "committed")
            #expect(steps[0]["data"]?.arrayValue?.first?["displayName"]?.stringValue == "Alpine Ski House")
            #expect(steps[4]["action"]?.stringValue == "get")
            #expect(steps[4]["count"] == 3)
            #expect(steps[4]["data"]?.arrayValue?.count == 3)

            let ndjson = try await bcliAsync(["batch", "run", "-p", "sandbox", Self.quickstart, "--format", "ndjson"], env: env)
            #expect(ndjson.status == 0, "\(ndjson.stderr)")
            let records = try Self.block(ndjson.out, step: "read_back").map { try JSONValue(parsing: $0) }
            #expect(records.count == 6, "the second run of quickstart reads its three customers twice")
            #expect(records.allSatisfy { $0["displayName"]?.stringValue != nil })

            let json = try await bcliAsync(["batch", "run", "-p", "sandbox", Self.quickstart, "-f", "json"], env: env)
            #expect(json.status == 0, "\(json.stderr)")
            let document = try JSONValue(parsing: [UInt8](json.stdout))
            #expect(document["steps"]?.arrayValue?[4]["data"]?.arrayValue?.count == 9)
            #expect(document["steps"]?.arrayValue?[3]["data"]?.arrayValue?.count == 1)
        }
    }

    @Test func stateAndListInEveryFormatAndTheirDefaults() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let store = dir.path + "/store"
            var env = sandbox.env(store: store)
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", Self.quickstart], env: env)
            #expect(r.status == 0, "\(r.stderr)")
            let id = try #require(runID(fromStderr: r.stderr))

            let listCSV = try await bcliAsync(["batch", "list", "-f", "csv"], env: env).out.split(separator: "\n").map(String.init)
            #expect(listCSV.count == 2)
            let header = listCSV[0].split(separator: ",").map(String.init)
            let row = listCSV[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            #expect(header.count == row.count)
            #expect(row[try #require(header.firstIndex(of: "id"))] == id)
            #expect(row[try #require(header.firstIndex(of: "state"))] == "completed")

            let listNDJSON = try await bcliAsync(["batch", "list", "--format", "ndjson"], env: env).out.split(separator: "\n")
            #expect(listNDJSON.count == 1)
            #expect(try JSONValue(parsing: String(listNDJSON[0]))["id"]?.stringValue == id)

            let stateCSV = try await bcliAsync(["batch", "state", id, "-f", "csv"], env: env).out.split(separator: "\n")
            #expect(stateCSV.count == 6, "a header and one row per step")
            #expect(stateCSV[0].split(separator: ",").contains("client_request_id"))

            let stateNDJSON = try await bcliAsync(["batch", "state", id, "-f", "ndjson"], env: env).out.split(separator: "\n")
            #expect(try stateNDJSON.map { try JSONValue(parsing: String($0))["seq"]?.doubleValue } == [1, 2, 3, 4, 5])

            // `text` is still `table`.
            #expect(try await bcliAsync(["batch", "list", "--format", "text"], env: env).out.hasPrefix("run_id"))

            // BCLI_FORMAT is the default; -f wins; the global -f before the subcommand works too.
            env["BCLI_FORMAT"] = "json"
            #expect(try JSONValue(parsing: [UInt8](try await bcliAsync(["batch", "list"], env: env).stdout))["format_version"] == 1)
            #expect(try await bcliAsync(["batch", "list", "-f", "table"], env: env).out.hasPrefix("run_id"))
            env["BCLI_FORMAT"] = nil
            #expect(try await bcliAsync(["-f", "csv", "batch", "list"], env: env).out.hasPrefix(listCSV[0]))

            // config.toml's [defaults] format; a Python-only name (markdown) means table.
            _ = try dir.write("store-config/bcli/config.toml", "[defaults]\nformat = \"ndjson\"\n")
            #expect(try await bcliAsync(["batch", "state", id], env: env).out.split(separator: "\n").count == 5)
            _ = try dir.write("store-config/bcli/config.toml", "[defaults]\nformat = \"markdown\"\n")
            #expect(try await bcliAsync(["batch", "list"], env: env).out.hasPrefix("run_id"))
        }
    }
}
