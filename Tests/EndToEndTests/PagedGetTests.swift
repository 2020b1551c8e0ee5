import Foundation
import Hashing
import Sandbox
import Testing
import TestSupport

/// A get with `all: true`, through the real binary against a sandbox that pages as BC does: the
/// Python tool's `page_size` sets `Prefer: odata.maxpagesize`, every page is recorded, references
/// see every record, and the run verifies, exports and imports like any other.
@Suite struct PagedGetTests {
    static func config(_ sandbox: LiveSandbox, pageSize: String) -> String {
        """
        [defaults]
        profile = "py"
        format = "table"
        page_size = \(pageSize)
        timeout = 60

        [profiles.py]
        tenant_id = "sandbox"
        environment = "production"
        company_id = "4d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f601"
        auth_method = "client_credentials"
        client_id = "bcli-sandbox"
        client_secret_env = "BCLI_SECRET"
        base_url = "\(sandbox.url)"
        token_url = "\(sandbox.url)/sandbox/oauth2/v2.0/token"
        """
    }

    static func env(_ sandbox: LiveSandbox, _ dir: TempDir, pageSize: String) throws -> [String: String] {
        try dir.write("config/bcli/config.toml", config(sandbox, pageSize: pageSize))
        return ["BCLI_STORE": dir.path + "/store", "XDG_CONFIG_HOME": dir.path + "/config",
                "XDG_CACHE_HOME": dir.path + "/cache", "BCLI_SECRET": "bcli-sandbox-secret"]
    }

    /// `count` customers P1…Pn, then the steps given.
    static func manifest(customers count: Int, then steps: String) -> String {
        var text = "name: paged\nsteps:\n"
        for i in 1...count {
            text += "  - name: p\(i)\n    action: post\n    endpoint: customers\n    data: {displayName: P\(i)}\n"
        }
        return text + steps
    }

    @Test func pageSizeDrivesPagingAndReferencesSeeEveryRecord() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let env = try Self.env(sandbox, dir, pageSize: "\"3\"")
            let path = try dir.write("m.yaml", Self.manifest(customers: 7, then: """
                  - name: everyone
                    endpoint: customers
                    orderby: displayName
                    all: true
                  - name: last
                    action: post
                    endpoint: customers
                    data: {displayName: "${{ steps.everyone.6.displayName }} of ${{ steps.everyone.length }}"}
                """))
            let run = try await bcliAsync(["batch", "run", path], env: env)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.out.contains("Step 8/9 GET customers … ✓ 7 record(s) in 3 pages"), "\(run.out)")
            let id = try #require(runID(fromStderr: run.stderr))

            // The last POST saw the 7th record, which only the third page held.
            let journal = try await sandbox.journal()
            #expect(journal.count == 8)
            let sent = try await sandbox.send("GET", sandbox.entityURL("customers"))
            let names = sent.json["value"]?.arrayValue?.compactMap { $0["displayName"]?.stringValue } ?? []
            #expect(names.contains("P7 of 7"), "\(names)")

            // The step's row lists three pages; page 1 is the step's own URL, the others the
            // server's nextLinks; the Prefer header was sent and recorded.
            let state = try await bcliAsync(["batch", "state", id, "--format", "json"], env: env)
            #expect(state.status == 0, "\(state.stderr)")
            let doc = try JSONValue(parsing: [UInt8](state.stdout))
            let everyone = try #require(doc["steps"]?.arrayValue?.first { $0["name"]?.stringValue == "everyone" })
            let pages = try #require(everyone["pages"]?.arrayValue)
            #expect(pages.count == 3)
            #expect(pages[0]["url"] == everyone["url"])
            #expect(pages[1]["url"]?.stringValue?.contains("$skiptoken=") == true)
            #expect(pages.allSatisfy { $0["http_status"]?.doubleValue == 200 })
            let headers = try await bcliAsync(["batch", "show", id, "--step", "everyone", "--headers"], env: env)
            #expect(headers.out.contains("odata.maxpagesize=3"), "\(headers.out)")

            // --response is the assembled body; --page K is page K exactly as received.
            let body = try await bcliAsync(["batch", "show", id, "--step", "everyone", "--response"], env: env)
            let assembled = try JSONValue(parsing: [UInt8](body.stdout))
            #expect(assembled["value"]?.arrayValue?.compactMap { $0["displayName"]?.stringValue } == (1...7).map { "P\($0)" })
            #expect(assembled["@odata.nextLink"] == nil)
            var fromPages: [String] = []
            for k in 1...3 {
                let page = try await bcliAsync(["batch", "show", id, "--step", "everyone", "--response", "--page", "\(k)"], env: env)
                #expect(page.status == 0, "\(page.stderr)")
                let json = try JSONValue(parsing: [UInt8](page.stdout))
                #expect((json["@odata.nextLink"] != nil) == (k < 3))
                fromPages += json["value"]?.arrayValue?.compactMap { $0["displayName"]?.stringValue } ?? []
            }
            #expect(fromPages == (1...7).map { "P\($0)" })
            let missing = try await bcliAsync(["batch", "show", id, "--step", "everyone", "--response", "--page", "4"], env: env)
            #expect(missing.status != 0)
            #expect(missing.stderr.contains("has pages 1–3, not 4"), "\(missing.stderr)")

            // verify re-hashes the page blobs and re-assembles the body; export/import carry the pages.
            let verify = try await bcliAsync(["batch", "verify", id], env: env)
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
            let bundle = dir.path + "/run.tar"
            #expect(try await bcliAsync(["batch", "export", id, "-o", bundle], env: env).status == 0)
            let fresh = ["BCLI_STORE": dir.path + "/other"]
            let imported = try await bcliAsync(["batch", "import", bundle], env: fresh)
            #expect(imported.status == 0, "\(imported.stderr)")
            let again = try await bcliAsync(["batch", "state", id, "--format", "json"], env: fresh)
            let importedDoc = try JSONValue(parsing: [UInt8](again.stdout))
            let importedStep = importedDoc["steps"]?.arrayValue?.first { $0["name"]?.stringValue == "everyone" }
            #expect(importedStep?["pages"] == everyone["pages"])
            let verifyImported = try await bcliAsync(["batch", "verify", "--all"], env: fresh)
            #expect(verifyImported.status == 0, "\(verifyImported.stdout)\(verifyImported.stderr)")
        }
    }

    @Test func aGetWithoutAllReadsOnePageAndSaysThereIsMore() async throws {
        try requireBinary(Paths.bcli)
        var configuration = SandboxConfiguration()
        configuration.maxPageSize = 2
        try await withSandbox(configuration) { sandbox in
            let dir = TempDir()
            let env = try Self.env(sandbox, dir, pageSize: "100")
            let path = try dir.write("m.yaml", Self.manifest(customers: 3, then: """
                  - name: some
                    endpoint: customers
                  - name: all
                    endpoint: customers
                    all: true
                """))
            let run = try await bcliAsync(["batch", "run", path], env: env)
            #expect(run.status == 0, "\(run.stderr)")
            // The server's page size (2) applies without all: true; with it, page_size (100) asks for more.
            #expect(run.out.contains("Step 4/5 GET customers … ✓ 2 record(s) (200"), "\(run.out)")
            #expect(run.out.contains("add all: true to read every page"), "\(run.out)")
            #expect(run.out.contains("Step 5/5 GET customers … ✓ 3 record(s) in 2 pages (200"), "\(run.out)")

            // -f json carries the page count; --dry-run says the step reads every page.
            let json = try await bcliAsync(["batch", "run", path, "-f", "json"], env: env)
            let steps = try JSONValue(parsing: [UInt8](json.stdout))["steps"]?.arrayValue ?? []
            #expect(steps.count == 5)
            #expect(steps.last?["pages"]?.doubleValue == 3)  // 6 customers now, 2 per page
            #expect(steps.last?["record_count"]?.doubleValue == 6)
            #expect(steps.last?["data"]?.arrayValue?.count == 6)
            let dry = try await bcliAsync(["batch", "run", path, "--dry-run"], env: env)
            #expect(dry.out.contains("(every page: Prefer odata.maxpagesize=100, @odata.nextLink followed)"), "\(dry.out)")
        }
    }

    @Test func theServersPageSizeBelowPageSizeStillReadsEveryPage() async throws {
        try requireBinary(Paths.bcli)
        var configuration = SandboxConfiguration()
        configuration.maxPageSize = 2
        try await withSandbox(configuration) { sandbox in
            let dir = TempDir()
            // BC may answer with fewer records per page than asked for; nextLinks are followed anyway.
            let env = try Self.env(sandbox, dir, pageSize: "100")
            let path = try dir.write("m.yaml", Self.manifest(customers: 5, then: """
                  - name: all
                    endpoint: customers
                    all: true
                    top: 4
                """))
            let run = try await bcliAsync(["batch", "run", path], env: env)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.out.contains("✓ 4 record(s) in 2 pages"), "\(run.out)")
        }
    }
}
