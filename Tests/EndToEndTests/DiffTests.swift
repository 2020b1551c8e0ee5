import Foundation
import Hashing
import Testing
import TestSupport

/// `bcli batch diff` as a child process, comparing runs the real binary recorded against
/// in-process sandboxes (a fresh sandbox per run, so server-assigned numbers repeat while ids,
/// ETags and timestamps do not).
@Suite struct DiffTests {
    static let quickstart = Paths.packageRoot + "/examples/quickstart.yaml"

    static let acme = """
        name: acme
        params:
          email: {required: true}
        steps:
          - name: create_acme
            action: post
            endpoint: customers
            data: {displayName: Acme, email: "${{ params.email }}"}
          - name: read_acme
            action: get
            endpoint: customers
            id: ${{ steps.create_acme.id }}
        """

    /// Runs `args` (after `batch run -p sandbox`) against a fresh sandbox; returns the run id.
    func recordRun(_ args: [String], store: String) async throws -> String {
        let r = try await withSandbox { sandbox in
            try await bcliAsync(["batch", "run", "-p", "sandbox"] + args, env: sandbox.env(store: store))
        }
        #expect(r.status == 0, "\(r.stderr)")
        return try #require(runID(fromStderr: r.stderr))
    }

    func diff(_ args: [String], store: String) async throws -> Completed {
        try await bcliAsync(["batch", "diff"] + args, env: ["BCLI_STORE": store])
    }

    @Test func identicalRerunsAreTheSame() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let store = dir.path + "/store"
        let a = try await recordRun([Self.quickstart], store: store)
        let b = try await recordRun([Self.quickstart], store: store)

        let text = try await diff([String(a.prefix(10)), String(b.prefix(32))], store: store)
        #expect(text.status == 0, "\(text.out)\(text.stderr)")
        #expect(text.out.hasPrefix("--- a: run \(a)"))
        #expect(text.out.contains("manifest: same"))
        #expect(text.out.hasSuffix("5 same, 0 changed, 0 only in A, 0 only in B\n"))
        #expect(!text.out.contains("~ steps."))

        let stat = try await diff([a, b, "--stat"], store: store)
        #expect(stat.status == 0)
        #expect(stat.out == "5 same, 0 changed, 0 only in A, 0 only in B\n")

        // The volatile fields are there: with --include-volatile the runs differ on exactly them.
        let strict = try await diff([a, b, "--include-volatile", "--format", "json"], store: store)
        #expect(strict.status == 1)
        let doc = try JSONValue(parsing: [UInt8](strict.stdout))
        var paths = Set<String>()
        for step in doc["steps"]?.arrayValue ?? [] {
            for op in (step["request_patch"]?.arrayValue ?? []) + (step["response_patch"]?.arrayValue ?? []) {
                let path = try #require(op["path"]?.stringValue)
                paths.insert(String(path.split(separator: "/").last ?? ""))
            }
        }
        #expect(!paths.isEmpty)
        #expect(paths.isSubset(of: ["id", "@odata.etag", "lastModifiedDateTime", "systemCreatedAt"]), "\(paths)")
    }

    @Test func oneChangedBodyFieldIsReportedAtExactlyThatPath() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let store = dir.path + "/store"
        let manifest = try writeManifest(dir, "acme.yaml", Self.acme)
        let a = try await recordRun([manifest, "--set", "email=a@x"], store: store)
        let b = try await recordRun([manifest, "--set", "email=b@x"], store: store)

        let text = try await diff([a, b], store: store)
        #expect(text.status == 1)
        let changeLines = text.out.split(separator: "\n").filter { $0.hasPrefix("~ ") || $0.hasPrefix("+ ") || $0.hasPrefix("- ") }
        #expect(changeLines.contains(#"~ steps.create_acme.request /email: "a@x" → "b@x""#), "\(text.out)")
        #expect(changeLines.contains(#"~ steps.create_acme.response /email: "a@x" → "b@x""#))
        #expect(changeLines.contains(#"~ steps.read_acme.response /email: "a@x" → "b@x""#))
        #expect(changeLines.contains(#"~ params /email: "a@x" → "b@x""#))
        // Nothing else: every body or params line is about /email.
        for line in changeLines where line.contains(" /") {
            #expect(line.contains(" /email: "), "unexpected: \(line)")
        }
        #expect(text.out.contains("0 same, 2 changed, 0 only in A, 0 only in B"))

        let json = try await diff([a, b, "--format", "json"], store: store)
        #expect(json.status == 1)
        let doc = try JSONValue(parsing: [UInt8](json.stdout))
        #expect(doc["format_version"] == 1)
        #expect(doc["identical"] == false)
        #expect(doc["a"]?["run_id"]?.stringValue == a)
        #expect(doc["b"]?["kind"] == "run")
        #expect(doc["manifest"]?["same"] == true)
        #expect(doc["params"]?["same"] == false)
        #expect(doc["params"]?["patch"] == [["op": "replace", "path": "/email", "value": "b@x"]])
        let steps = try #require(doc["steps"]?.arrayValue)
        #expect(steps.map { $0["name"] } == ["create_acme", "read_acme"])
        #expect(steps[0]["change"] == "changed")
        #expect(steps[0]["request_patch"] == [["op": "replace", "path": "/email", "value": "b@x"]])
        #expect(steps[0]["response_patch"] == [["op": "replace", "path": "/email", "value": "b@x"]])
        #expect(steps[1]["request_patch"] == [])
        #expect(steps[1]["changes"] == [])  // the URL differs only by the created record's id
        #expect(steps[0]["a"]?["status"] == "committed")
        #expect(steps[0]["a"]?["http_status"] == 201)
        #expect(steps[0]["a"]?["request_digest"]?.stringValue?.hasPrefix("sha256:") == true)
        #expect(doc["summary"] == ["same": 0, "changed": 2, "only_in_a": 0, "only_in_b": 0])
    }

    @Test func addedAndRemovedSteps() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let store = dir.path + "/store"
        let m1 = try writeManifest(dir, "m1.yaml", """
            steps:
              - {name: list_customers, action: get, endpoint: customers}
              - {name: list_vendors, action: get, endpoint: vendors}
            """)
        let m2 = try writeManifest(dir, "m2.yaml", """
            steps:
              - {name: list_customers, action: get, endpoint: customers}
              - {name: list_items, action: get, endpoint: items}
            """)
        let a = try await recordRun([m1], store: store)
        let b = try await recordRun([m2], store: store)
        let r = try await diff([a, b], store: store)
        #expect(r.status == 1)
        #expect(r.out.contains("- steps.list_vendors (#2 GET vendors, committed)"), "\(r.out)")
        #expect(r.out.contains("+ steps.list_items (#2 GET items)"))
        #expect(r.out.contains("-  - {name: list_vendors, action: get, endpoint: vendors}"))
        #expect(r.out.contains("+  - {name: list_items, action: get, endpoint: items}"))
        #expect(r.out.contains("1 same, 0 changed, 1 only in A, 1 only in B"))
        let json = try JSONValue(parsing: [UInt8](try await diff([a, b, "--format", "json"], store: store).stdout))
        #expect(json["steps"]?.arrayValue?.map { $0["change"] } == ["same", "removed", "added"])
        #expect(json["manifest"]?["same"] == false)
        #expect((json["manifest"]?["diff"]?.arrayValue?.count ?? 0) > 2)
    }

    @Test func runAgainstAManifestFile() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let store = dir.path + "/store"
        let a = try await recordRun([Self.quickstart], store: store)

        // The manifest that ran: nothing would change (the PATCH URL uses A's created id).
        let same = try await diff([a, Self.quickstart], store: store)
        #expect(same.status == 0, "\(same.out)\(same.stderr)")
        #expect(same.out.contains("+++ b: manifest \(Self.quickstart)"))
        #expect(same.out.contains("5 same, 0 changed, 0 only in A, 0 only in B"))

        // One changed field, one step reading a step A never ran.
        var text = try String(contentsOfFile: Self.quickstart, encoding: .utf8)
        text = text.replacingOccurrences(of: "purchasing@coho-winery.example", with: "sales@coho-winery.example")
        text += """

              - name: never_ran
                action: get
                endpoint: items

              - name: new_vendor
                action: post
                endpoint: vendors
                data: {displayName: "${{ steps.never_ran.displayName }}"}

            """
        let edited = try writeManifest(dir, "edited.yaml", text)
        let r = try await diff([a, edited], store: store)
        #expect(r.status == 1, "\(r.stderr)\n\(text)")
        #expect(r.out.contains(#"~ steps.create_coho.request /email: "purchasing@coho-winery.example" → "sales@coho-winery.example""#), "\(r.out)")
        #expect(r.out.contains("+ steps.never_ran (#6 GET items)"))
        #expect(r.out.contains("+ steps.new_vendor (#7 POST vendors) — would be skipped: cannot resolve data"))
        #expect(r.out.contains("4 same, 1 changed, 0 only in A, 2 only in B"))
        let json = try JSONValue(parsing: [UInt8](try await diff([a, edited, "--format", "json"], store: store).stdout))
        #expect(json["b"]?["kind"] == "manifest")
        #expect(json["b"]?["params_from_run"]?.stringValue == a)
        let newVendor = try #require(json["steps"]?.arrayValue?.first { $0["name"] == "new_vendor" })
        #expect(newVendor["change"] == "added")
        #expect(newVendor["b"]?["resolved"] == false)
    }

    /// Exit codes as for every command (README "Exit codes"): unknown run 4, missing file 4,
    /// invalid manifest 5, no store 4.
    @Test func errorsExitWithTheirCodeAndNameTheFix() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let store = dir.path + "/store"
        let a = try await recordRun([Self.quickstart], store: store)

        let unknown = try await diff([a, "0123456789abcdef"], store: store)
        #expect(unknown.status == 4)
        #expect(unknown.stderr.contains("bcli batch list"))

        let missing = try await diff([a, dir.path + "/missing.yaml"], store: store)
        #expect(missing.status == 4)
        #expect(missing.stderr.contains("missing.yaml"))

        let invalid = try writeManifest(dir, "bad.yaml", "steps:\n  - {name: x, action: fly, endpoint: customers}\n")
        let bad = try await diff([a, invalid], store: store)
        #expect(bad.status == 5)
        #expect(bad.stderr.contains("not a valid manifest"))
        #expect(bad.stderr.contains("bad.yaml:2"))

        let noStore = try await diff([a, a], store: dir.path + "/nowhere")
        #expect(noStore.status == 4)
        #expect(noStore.stderr.contains("--store"))
    }
}
