import Foundation
import Hashing
import Testing
import TestSupport

/// The Python tool's config.toml and its global options before the subcommand, through the real
/// binary against a sandbox.
@Suite struct GlobalOptionsConfigTests {
    static let quickstart = Paths.packageRoot + "/examples/quickstart.yaml"

    /// A file in the form the Python tool's `save_config` writes, plus the two keys that point a
    /// profile at the sandbox (`base_url`, `token_url`; bcli's own) and hand-added tables of
    /// features bcli lacks.
    static func pythonConfig(_ sandbox: LiveSandbox, extraProfile: String = "") -> String {
        """
        [defaults]
        profile = "nope"
        format = "table"
        page_size = "100"
        timeout = "45"

        [profiles.py]
        tenant_id = "sandbox"
        environment = "production"
        company_name = "CRONUS USA, Inc."
        auth_method = "client_credentials"
        client_id = "bcli-sandbox"
        client_secret_env = "BCLI_SECRET"
        base_url = "\(sandbox.url)"
        token_url = "\(sandbox.url)/sandbox/oauth2/v2.0/token"

        [profiles.py.companies.CRONUS]
        id = "4d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f601"
        name = "CRONUS USA, Inc."

        [telemetry]
        enabled = false

        [audit]
        enabled = false
        \(extraProfile)
        """
    }

    func env(_ sandbox: LiveSandbox, _ dir: TempDir, config: String) throws -> [String: String] {
        try dir.write("config/bcli/config.toml", config)
        return ["BCLI_STORE": dir.path + "/store", "XDG_CONFIG_HOME": dir.path + "/config",
                "XDG_CACHE_HOME": dir.path + "/cache", "BCLI_SECRET": "bcli-sandbox-secret"]
    }

    @Test func pythonFormConfigRunsWithGlobalOptionsBeforeTheSubcommand() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let env = try env(sandbox, dir, config: Self.pythonConfig(sandbox))
            // Without -p the file's default profile `nope` is used: unknown, exit 2.
            let none = try await bcliAsync(["batch", "run", Self.quickstart], env: env)
            #expect(none.status == 2, "\(none.stderr)")

            // Before the subcommand, as the Python tool takes them (-c picks the alias's id).
            let before = try await bcliAsync(["-p", "py", "-c", "CRONUS", "batch", "run", Self.quickstart], env: env)
            #expect(before.status == 0, "\(before.stderr)")
            #expect(before.out.contains("Step 1/5 POST customers … ✓ created C"))

            // After, as bcli always took -p (run has no -c of its own yet: BCLI_COMPANY is what a leading -c sets).
            let after = try await bcliAsync(["batch", "run", Self.quickstart, "-p", "py"], env: env.merging(["BCLI_COMPANY": "cronus"]) { $1 })
            #expect(after.status == 0, "\(after.stderr)")

            // -f json before the subcommand reaches run's --format; the leaf's own -p still wins.
            let json = try await bcliAsync(["-f", "json", "-p", "nope", "-c", "CRONUS", "batch", "run", Self.quickstart, "-p", "py"], env: env)
            #expect(json.status == 0, "\(json.stderr)")
            _ = try JSONValue(parsing: [UInt8](json.stdout))

            // --dry-run before the subcommand: nothing is sent.
            let journalBefore = try await sandbox.journal().count
            let dry = try await bcliAsync(["--dry-run", "-p", "py", "batch", "run", Self.quickstart], env: env)
            #expect(dry.status == 0, "\(dry.stderr)")
            #expect(dry.out.contains("nothing was sent"))
            #expect(try await sandbox.journal().count == journalBefore)

            // A leading -p on a command without --profile is harmless (it goes to BCLI_PROFILE).
            let list = try await bcliAsync(["-p", "py", "batch", "list"], env: env)
            #expect(list.status == 0, "\(list.stderr)")
        }
    }

    @Test func browserAuthAndSecretsInTheFileNameTheAlternative() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let browser = """

                [profiles.web]
                tenant_id = "sandbox"
                environment = "production"
                company_id = "4d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f601"
                auth_method = "browser"
                client_id = "bcli-sandbox"
                base_url = "\(sandbox.url)"
                token_url = "\(sandbox.url)/sandbox/oauth2/v2.0/token"
                """
            let env = try env(sandbox, dir, config: Self.pythonConfig(sandbox, extraProfile: browser))
            let check = try await bcliAsync(["config", "check"], env: env)
            #expect(check.status == 0, "\(check.stderr)")
            #expect(check.out.contains("profiles.web.auth_method  used — browser sign-in is not supported by bcli"))
            let web = try await bcliAsync(["-p", "web", "batch", "run", Self.quickstart], env: env)
            #expect(web.status == 3, "\(web.stderr)")
            #expect(web.stderr.contains("auth_method = \"device_code\""))

            let secretDir = TempDir()
            let secret = try self.env(sandbox, secretDir, config: Self.pythonConfig(sandbox)
                .replacingOccurrences(of: "client_secret_env = \"BCLI_SECRET\"", with: "client_secret = \"hunter2\""))
            let refused = try await bcliAsync(["-p", "py", "batch", "run", Self.quickstart], env: secret)
            #expect(refused.status == 5, "\(refused.stderr)")
            #expect(refused.stderr.contains("client_secret_env = \"BCLI_SECRET\""))
            #expect(!refused.stderr.contains("hunter2"))

            let typoDir = TempDir()
            let typo = try self.env(sandbox, typoDir, config: Self.pythonConfig(sandbox) + "\n[telemetri]\nenabled = true\n")
            let typoRun = try await bcliAsync(["-p", "py", "batch", "run", Self.quickstart], env: typo)
            #expect(typoRun.status == 5, "\(typoRun.stderr)")
            #expect(typoRun.stderr.contains("Did you mean `telemetry`?"))
        }
    }

    @Test func configCheckListsKeysBcliDoesNotUseAndFlagsTypos() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let env = try env(sandbox, dir, config: Self.pythonConfig(sandbox))
            let ok = try await bcliAsync(["config", "check", "--format", "json"], env: env)
            #expect(ok.status == 0, "\(ok.stderr)")
            let doc = try JSONValue(parsing: [UInt8](ok.stdout))
            #expect(doc["format_version"] == 1)
            #expect(doc["ok"] == true)
            let keys = try #require(doc["keys"]?.arrayValue)
            func status(_ key: String) -> String? { keys.first { $0["key"]?.stringValue == key }?["status"]?.stringValue }
            #expect(status("telemetry.enabled") == "not-used")
            #expect(status("audit.enabled") == "not-used")
            #expect(status("defaults.format") == "used")
            #expect(status("profiles.py.companies") == "used")

            let typoDir = TempDir()
            let typo = try self.env(sandbox, typoDir, config: Self.pythonConfig(sandbox) + "\nbackedn = \"x\"\n")
            let flagged = try await bcliAsync(["config", "check"], env: typo)
            #expect(flagged.status == 5, "\(flagged.stderr)")
            #expect(flagged.out.contains("audit.backedn  UNKNOWN"))
            #expect(flagged.out.contains("Did you mean `backend`?"))
            // A run does not fail on it: the table is one bcli does not read.
            let run = try await bcliAsync(["-p", "py", "-c", "CRONUS", "batch", "run", "--dry-run", Self.quickstart], env: typo)
            #expect(run.status == 0, "\(run.stderr)")

            let brokenDir = TempDir()
            let broken = try self.env(sandbox, brokenDir, config: "[defaults]\nfromat = \"json\"\n")
            let refused = try await bcliAsync(["config", "check"], env: broken)
            #expect(refused.status == 5)
            #expect(refused.stderr.contains("Did you mean `format`?"))
        }
    }

    /// `auth_method = "device_code"` through the real binary: the URL and the code on stderr, the
    /// sandbox approves after two polls, the run goes on.
    @Test func deviceCodeSignInShowsTheCodeOnStderrAndRuns() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let device = """

                [profiles.dev]
                tenant_id = "sandbox"
                environment = "production"
                company_id = "4d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f601"
                auth_method = "device_code"
                client_id = "bcli-sandbox"
                base_url = "\(sandbox.url)"
                token_url = "\(sandbox.url)/sandbox/oauth2/v2.0/token"
                """
            let env = try env(sandbox, dir, config: Self.pythonConfig(sandbox, extraProfile: device))
            let run = try await bcliAsync(["-p", "dev", "batch", "run", Self.quickstart], env: env)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stderr.contains("https://microsoft.com/devicelogin"))
            #expect(run.stderr.contains("enter the code"))
            #expect(!run.out.contains("devicelogin"))
            // The token is cached: the next command does not ask.
            let again = try await bcliAsync(["-p", "dev", "batch", "run", Self.quickstart], env: env)
            #expect(again.status == 0, "\(again.stderr)")
            #expect(!again.stderr.contains("enter the code"))
        }
    }
}
