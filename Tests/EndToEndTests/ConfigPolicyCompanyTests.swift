import Foundation
import Hashing
import Testing
import TestSupport

/// What `batch run` does with the Python tool's policy and company keys, through the real binary
/// against a sandbox: the endpoint policy refuses the whole manifest before any request, and a
/// company given by name is looked up through the companies endpoint and cached.
@Suite struct ConfigPolicyCompanyTests {
    static let quickstart = GlobalOptionsConfigTests.quickstart

    /// A profile that points at the sandbox and names its company only by `company_name`.
    static func config(_ sandbox: LiveSandbox, extra: String = "") -> String {
        """
        [profiles.py]
        tenant_id = "sandbox"
        environment = "production"
        company_name = "CRONUS USA, Inc."
        auth_method = "client_credentials"
        client_id = "bcli-sandbox"
        client_secret_env = "BCLI_SECRET"
        base_url = "\(sandbox.url)"
        token_url = "\(sandbox.url)/sandbox/oauth2/v2.0/token"
        \(extra)

        [profiles.py.companies.CRONUS]
        id = "4d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f601"
        name = "CRONUS USA, Inc."
        """
    }

    func environment(_ dir: TempDir, _ config: String) throws -> [String: String] {
        try dir.write("config/bcli/config.toml", config)
        return ["BCLI_STORE": dir.path + "/store", "XDG_CONFIG_HOME": dir.path + "/config",
                "XDG_CACHE_HOME": dir.path + "/cache", "BCLI_SECRET": "bcli-sandbox-secret"]
    }

    @Test func anEndpointOutsideTheAllowListRefusesTheWholeManifestBeforeAnyRequest() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let env = try environment(dir, Self.config(sandbox, extra: #"allowed_endpoints = ["vendors"]"#))
            let before = try await sandbox.journal().count
            let run = try await bcliAsync(["batch", "run", Self.quickstart, "-p", "py", "-c", "CRONUS"], env: env)
            #expect(run.status == 8, "\(run.stderr)")
            #expect(run.stderr.contains("customers"), "\(run.stderr)")
            #expect(run.stderr.contains("allowed_endpoints"), "\(run.stderr)")
            #expect(try await sandbox.journal().count == before)
            // Nothing was recorded: the gate stands before the store is even opened.
            #expect(!FileManager.default.fileExists(atPath: dir.path + "/store/ledger.sqlite3"))

            let dry = try await bcliAsync(["batch", "run", Self.quickstart, "-p", "py", "--dry-run"], env: env)
            #expect(dry.status == 8, "\(dry.stderr)")

            // Listing the entity set lets the same manifest run.
            let allowed = try environment(dir, Self.config(sandbox, extra: #"allowed_endpoints = ["customers"]"#))
            let ok = try await bcliAsync(["batch", "run", Self.quickstart, "-p", "py", "-c", "CRONUS"], env: allowed)
            #expect(ok.status == 0, "\(ok.stderr)")
        }
    }

    @Test func aCompanyGivenByNameIsLookedUpOnceAndCached() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let env = try environment(dir, Self.config(sandbox))
            // `company_name` alone (no company_id): resolved through GET …/companies.
            let run = try await bcliAsync(["batch", "run", Self.quickstart, "-p", "py"], env: env)
            #expect(run.status == 0, "\(run.stderr)")
            let cache = dir.path + "/cache/bcli/companies.json"
            let attributes = try FileManager.default.attributesOfItem(atPath: cache)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            let cached = try JSONValue(parsing: [UInt8](FileManager.default.contents(atPath: cache) ?? Data()))
            #expect(cached["format_version"] != nil)

            // -c after the subcommand, by name ignoring case.
            let byName = try await bcliAsync(["batch", "run", Self.quickstart, "-p", "py", "-c", "cronus usa, inc."], env: env)
            #expect(byName.status == 0, "\(byName.stderr)")

            // A name no company has: exit 2, naming the companies that exist; nothing sent.
            let before = try await sandbox.journal().count
            let missing = try await bcliAsync(["batch", "run", Self.quickstart, "-p", "py", "-c", "Fabrikam Ltd"], env: env)
            #expect(missing.status == 2, "\(missing.stderr)")
            #expect(missing.stderr.contains("no company `Fabrikam Ltd`"), "\(missing.stderr)")
            #expect(missing.stderr.contains("CRONUS USA, Inc."), "\(missing.stderr)")
            #expect(try await sandbox.journal().count == before)
        }
    }
}
