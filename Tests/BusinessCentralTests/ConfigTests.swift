import Foundation
import Sandbox
import Support
import Testing
import TestSupport

@testable import BusinessCentral

@Suite struct ConfigTests {
    static let sample = """
        [defaults]
        profile = "prod"
        timeout = 30

        [profiles.prod]
        tenant_id = "contoso.onmicrosoft.com"
        environment = "production"
        company_id = "11111111-2222-3333-4444-555555555555"
        auth_method = "client_credentials"
        client_id = "app-id"
        client_secret_env = "BC_PROD_SECRET"
        disable_writes = true

        [profiles.staging]
        tenant_id = "contoso.onmicrosoft.com"
        environment = "staging"
        auth_method = "static_token"
        timeout = 5.5

        [profiles.custom]
        tenant_id = "t"
        environment = "sandbox"
        company_id = "c"
        api_publisher = "contoso"
        api_group = "finance"
        api_version = "v1.0"
        base_url = "http://127.0.0.1:8080/"
        token_url = "http://127.0.0.1:8080/t/oauth2/v2.0/token"
        """

    /// Writes `text` as `$XDG_CONFIG_HOME/bcli/config.toml` in a temp dir and loads it.
    func load(_ text: String?, env extra: [String: String] = [:]) throws -> (BCConfig, TempDir) {
        let dir = TempDir("bcli-bc-tests")
        if let text { try dir.write("bcli/config.toml", text) }
        let env = ["XDG_CONFIG_HOME": dir.path, "HOME": "/nonexistent"].merging(extra) { $1 }
        return (try BCConfig.load(environment: env), dir)
    }

    func loadError(_ text: String, env: [String: String] = [:]) -> ConfigError? {
        do {
            _ = try load(text, env: env)
            return nil
        } catch let error as ConfigError {
            return error
        } catch {
            return nil
        }
    }

    @Test func loadsProfilesFromXDGConfigHome() throws {
        let (config, dir) = try load(Self.sample)
        #expect(config.fileExists)
        #expect(config.path == "\(dir.path)/bcli/config.toml")
        #expect(config.profileNames == ["custom", "prod", "sandbox", "staging"])

        let prod = try config.profile(named: nil)
        #expect(prod.name == "prod")
        #expect(prod.tenantID == "contoso.onmicrosoft.com")
        #expect(prod.companyID == "11111111-2222-3333-4444-555555555555")
        #expect(prod.authMethod == .clientCredentials)
        #expect(prod.clientID == "app-id")
        #expect(prod.clientSecretEnv == "BC_PROD_SECRET")
        #expect(prod.disableWrites)
        #expect(prod.baseURL == "https://api.businesscentral.dynamics.com")
        #expect(prod.timeoutSeconds == 30)  // from [defaults]
        #expect(prod.defaultRoute == .standard)
        #expect(!prod.isSandbox)
        #expect(try prod.tokenEndpoint() == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token")

        let staging = try config.profile(named: "staging")
        #expect(staging.authMethod == .staticToken)
        #expect(staging.timeoutSeconds == 5.5)
        #expect(staging.companyID == nil)
        #expect(!staging.disableWrites)

        let custom = try config.profile(named: "custom")
        #expect(custom.baseURL == "http://127.0.0.1:8080")  // trailing slash trimmed
        #expect(custom.defaultRoute == .custom(publisher: "contoso", group: "finance", version: "v1.0"))
        #expect(try custom.tokenEndpoint() == "http://127.0.0.1:8080/t/oauth2/v2.0/token")
    }

    @Test func profilePrecedence() throws {
        let (fileDefault, _) = try load(Self.sample)
        #expect(fileDefault.selectedProfileName(cliProfile: nil) == "prod")
        #expect(try fileDefault.profile(named: "staging").name == "staging")

        let (withEnv, _) = try load(Self.sample, env: ["BCLI_PROFILE": "custom"])
        #expect(try withEnv.profile(named: nil).name == "custom")  // env beats [defaults]
        #expect(try withEnv.profile(named: "staging").name == "staging")  // -p beats env

        let noDefaults = Self.sample.replacingOccurrences(of: "profile = \"prod\"\n", with: "")
        let (fallback, _) = try load(noDefaults)
        #expect(fallback.selectedProfileName(cliProfile: nil) == "default")
        #expect(fallback.selectedProfileName(cliProfile: "") == "default")
    }

    @Test func missingFileStillOffersTheBuiltinSandbox() throws {
        let (config, _) = try load(nil)
        #expect(!config.fileExists)
        #expect(config.profileNames == ["sandbox"])
        let sandbox = try config.profile(named: "sandbox")
        #expect(sandbox.isSandbox)
        #expect(sandbox.baseURL == nil)
        #expect(throws: ConfigError.sandboxNotStarted) { try sandbox.tokenEndpoint() }

        do {
            _ = try config.profile(named: nil)
            Issue.record("expected unknown profile `default`")
        } catch {
            guard case .noConfigFile(let name, let path, let known) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(name == "default")
            #expect(known == ["sandbox"])
            #expect(path == config.path)
            #expect(error.description.contains("there is no config file") && error.description.contains("`bcli config init`"))
        }
    }

    @Test func builtinSandboxUsesBCLI_SANDBOX_URL() throws {
        let (config, _) = try load(nil, env: ["BCLI_SANDBOX_URL": "http://127.0.0.1:4321/", "BCLI_PROFILE": "sandbox"])
        let sandbox = try config.profile(named: nil)
        #expect(sandbox.baseURL == "http://127.0.0.1:4321")
        #expect(try sandbox.tokenEndpoint() == "http://127.0.0.1:4321/sandbox/oauth2/v2.0/token")
        #expect(try URLBuilder.entityURL(profile: sandbox, entitySet: "customers")
            == "http://127.0.0.1:4321/v2.0/sandbox/production/api/v2.0/companies(4d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f601)/customers")

        let (bad, _) = try load(nil, env: ["BCLI_SANDBOX_URL": "http://example.com"])
        #expect(throws: ConfigError.self) { try bad.profile(named: "sandbox") }
    }

    @Test func withBaseURLPointsTheSandboxAtAServer() throws {
        let started = BuiltinProfiles.sandbox(environment: [:]).withBaseURL("http://127.0.0.1:9999/")
        #expect(started.baseURL == "http://127.0.0.1:9999")
        #expect(started.isSandbox)
        #expect(try started.tokenEndpoint() == "http://127.0.0.1:9999/sandbox/oauth2/v2.0/token")
    }

    @Test func builtinConstantsMatchTheSandboxModule() {
        #expect(BuiltinProfiles.sandboxTenant == SandboxDefaults.tenant)
        #expect(BuiltinProfiles.sandboxEnvironment == SandboxDefaults.environment)
        #expect(BuiltinProfiles.sandboxCompanyID == SandboxDefaults.companyID)
        #expect(BuiltinProfiles.sandboxClientID == SandboxDefaults.clientID)
        #expect(BuiltinProfiles.sandboxClientSecret == SandboxDefaults.clientSecret)
    }

    @Test func fileProfileNamedSandboxReplacesTheBuiltin() throws {
        let (config, _) = try load("[profiles.sandbox]\ntenant_id = \"x\"\nenvironment = \"y\"\n")
        let p = try config.profile(named: "sandbox")
        #expect(p.tenantID == "x")
        #expect(!p.isSandbox)
    }

    @Test func unknownProfileSuggestsTheClosestName() throws {
        let (config, _) = try load(Self.sample)
        do {
            _ = try config.profile(named: "prd")
            Issue.record("expected an error")
        } catch {
            #expect(error == .unknownProfile(name: "prd", known: ["custom", "prod", "sandbox", "staging"], suggestion: "prod", path: config.path))
            #expect(error.description.contains("Did you mean `prod`?"))
            #expect(error.description.contains("custom, prod, sandbox, staging"))
        }
        do {
            _ = try config.profile(named: "completely-different")
        } catch {
            guard case .unknownProfile(_, _, let suggestion, _) = error else { Issue.record("\(error)"); return }
            #expect(suggestion == nil)
        }
    }

    @Test func unknownKeyInAProfileIsAnErrorNamingKeyLineAndValidKeys() {
        let text = "[profiles.prod]\ntenant_id = \"t\"\nenvironment = \"e\"\ncompanyid = \"c\"\n"
        let error = loadError(text)
        guard case .unknownKey(_, let line, let table, let key, let valid, let suggestion)? = error else {
            Issue.record("expected unknownKey, got \(String(describing: error))")
            return
        }
        #expect(line == 4)
        #expect(table == "profiles.prod")
        #expect(key == "companyid")
        #expect(suggestion == "company_id")
        #expect(valid.contains("tenant_id") && valid.contains("token_url"))
        let message = error!.description
        #expect(message.contains("config.toml:4: unknown key `companyid` in [profiles.prod]"))
        #expect(message.contains("Did you mean `company_id`?"))
        #expect(message.contains("Valid keys: tenant_id, environment"))
    }

    @Test func unknownTopLevelAndDefaultsKeysAreErrors() {
        guard case .unknownKey(_, _, "top level", "telemetri", _, "telemetry")? = loadError("[telemetri]\nenabled = true\n") else {
            Issue.record("expected unknown top-level table with a suggestion")
            return
        }
        guard case .unknownKey(_, 2, "defaults", "profil", _, "profile")? = loadError("[defaults]\nprofil = \"x\"\n") else {
            Issue.record("expected unknown key in defaults")
            return
        }
    }

    /// Invalid values: a phrase of the message for each.
    @Test(arguments: [
        ("tenant_id = 5\nenvironment = \"e\"", "expected a string"),
        ("environment = \"e\"", "has no `tenant_id`"),
        ("tenant_id = \"t\"", "has no `environment`"),
        ("tenant_id = \"t\"\nenvironment = \"e\"\nclient_secret = \"abc\"", "client_secret_env = \"BCLI_SECRET\""),
        ("tenant_id = \"t\"\nenvironment = \"e\"\nauth_method = \"devicecode\"", "Did you mean `device_code`?"),
        ("tenant_id = \"t\"\nenvironment = \"e\"\nallowed_endpoints = \"customers\"", "expected an array of strings"),
        ("tenant_id = \"t\"\nenvironment = \"e\"\n[profiles.p.companies.US]\nname = \"x\"", "needs the company's id"),
        ("tenant_id = \"t\"\nenvironment = \"e\"\nauth_method = \"magic\"", "client_credentials | static_token"),
        ("tenant_id = \"t\"\nenvironment = \"e\"\ndisable_writes = \"yes\"", "expected true or false"),
        ("tenant_id = \"t\"\nenvironment = \"e\"\nclient_secret_env = \"s3cr3t~value.x\"", "NAME of an environment variable"),
        ("tenant_id = \"t\"\nenvironment = \"e\"\napi_publisher = \"p\"", "add api_group, api_version"),
        ("tenant_id = \"t\"\nenvironment = \"e\"\nbase_url = \"http://bc.example.com\"", "use https"),
        ("tenant_id = \"t\"\nenvironment = \"e\"\nbase_url = \"ftp://x\"", "scheme must be https"),
        ("tenant_id = \"t\"\nenvironment = \"e\"\ntoken_url = \"https://x/token?a=b\"", "must not contain a query"),
        ("tenant_id = \"t\"\nenvironment = \"e\"\ntimeout = 0", "positive number"),
        ("tenant_id = \"t\"\nenvironment = \"e\"\ntimeout = \"60\"", "number of seconds"),
    ])
    func invalidProfileValues(body: String, phrase: String) {
        let error = loadError("[profiles.p]\n\(body)\n")
        #expect(error != nil)
        #expect(error?.description.contains(phrase) == true, "\(String(describing: error))")
    }

    @Test func syntaxErrorsNameFileAndLine() {
        let error = loadError("[profiles.p]\ntenant_id = \"t\"\nwhen = 2024-01-01\n")
        guard case .syntax(let path, let toml)? = error else {
            Issue.record("expected syntax error, got \(String(describing: error))")
            return
        }
        #expect(toml.line == 3)
        #expect(error!.description == "\(path):3: \(toml.message)")
    }

    @Test func configAndCachePathsFollowXDG() {
        #expect(ConfigPaths.configFile(environment: ["XDG_CONFIG_HOME": "/x/cfg/", "HOME": "/home/u"]) == "/x/cfg/bcli/config.toml")
        #expect(ConfigPaths.configFile(environment: ["HOME": "/home/u"]) == "/home/u/.config/bcli/config.toml")
        // A relative XDG value is ignored, as the spec says.
        #expect(ConfigPaths.configFile(environment: ["XDG_CONFIG_HOME": "rel", "HOME": "/home/u"]) == "/home/u/.config/bcli/config.toml")
        #expect(ConfigPaths.tokenCacheFile(environment: ["XDG_CACHE_HOME": "/c", "HOME": "/home/u"]) == "/c/bcli/tokens.json")
        #expect(ConfigPaths.tokenCacheFile(environment: ["HOME": "/home/u"]) == "/home/u/.cache/bcli/tokens.json")
    }

    @Test func suggestionDistance() {
        #expect(Suggestion.editDistance(Array("kitten".unicodeScalars), Array("sitting".unicodeScalars)) == 3)
        #expect(Suggestion.closest(to: "stagng", in: ["prod", "staging"]) == "staging")
        #expect(Suggestion.closest(to: "PROD", in: ["prod"]) == "prod")
        #expect(Suggestion.closest(to: "x", in: ["prod"]) == nil)
    }
}

/// Wrong keys and values in config.toml: refused with the key named, never read and ignored, never a trap.
@Suite struct ConfigKeyValidationTests {
    @Test(arguments: ["format = \"jsn\"", "page_size = 0", "page_size = \"many\"", "timeout = \"soon\""])
    func wrongPythonDefaultsValuesAreRefused(line: String) {
        do {
            _ = try BCConfig.parse("[defaults]\n\(line)\n", path: "/c.toml", environment: [:])
            Issue.record("\(line) must be refused")
        } catch {
            #expect(error.description.contains(String(line.prefix { $0 != " " })))
        }
    }

    @Test(arguments: ["1e12", "86401", "0", "-5"])
    func absurdTimeoutsAreRefused(value: String) {
        let text = """
            [profiles.p]
            tenant_id = "t"
            environment = "production"
            timeout = \(value)
            """
        do {
            _ = try BCConfig.parse(text, path: "/c.toml", environment: [:])
            Issue.record("timeout \(value) must be refused")
        } catch {
            #expect(error.description.contains("timeout"))
        }
    }
}
