import Foundation
import Testing
import TestSupport

@testable import BusinessCentral

/// config.toml files in the Python tool's (bc-cli 0.8.2) form load, and mean what they say.
@Suite struct PythonConfigTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    func fixture(_ name: String, env: [String: String] = [:]) throws -> BCConfig {
        try BCConfig.load(path: "\(Self.fixtures)/\(name)", environment: env)
    }

    /// Our own file in exactly the form `save_config` writes: `[defaults]` with all four keys,
    /// then per profile tenant_id, environment, company_id, company_name, auth_method, client_id,
    /// client_secret_env, api_*, disable_standard_api (only when true), then each alias table.
    static let saveConfigForm = """
        [defaults]
        profile = "prod"
        format = "table"
        page_size = 100
        timeout = 60

        [profiles.prod]
        tenant_id = "contoso.onmicrosoft.com"
        environment = "Production"
        company_id = "11111111-2222-3333-4444-555555555555"
        company_name = "Contoso US"
        auth_method = "client_credentials"
        client_id = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
        client_secret_env = "BCLI_SECRET"
        api_publisher = "contoso"
        api_group = "finance"
        api_version = "v1.0"
        disable_standard_api = true

        [profiles.prod.companies.US]
        id = "11111111-2222-3333-4444-555555555555"
        name = "Contoso US"

        [profiles.prod.companies.UK]
        id = "11111111-2222-3333-4444-666666666666"

        [profiles.dev]
        tenant_id = "contoso.onmicrosoft.com"
        environment = "Sandbox"
        auth_method = "device_code"
        client_id = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

        """

    @Test func ourSaveConfigFormLoads() throws {
        let config = try BCConfig.parse(Self.saveConfigForm, path: "/c.toml", environment: [:])
        #expect(config.defaults.format == "table")
        #expect(config.defaults.pageSize == 100)
        #expect(config.defaults.timeoutSeconds == 60)
        let prod = try config.profile(named: nil)
        #expect(prod.companyName == "Contoso US")
        #expect(prod.companies["US"] == CompanyAlias(id: "11111111-2222-3333-4444-555555555555", name: "Contoso US"))
        #expect(prod.companies["UK"] == CompanyAlias(id: "11111111-2222-3333-4444-666666666666", name: ""))
        #expect(prod.disableStandardAPI)
        #expect(prod.defaultRoute == .custom(publisher: "contoso", group: "finance", version: "v1.0"))
        #expect(prod.defaultFormat == "table")
        #expect(prod.pageSize == 100)
        #expect(try config.profile(named: "dev").authMethod == .deviceCode)
    }

    @Test func theRealToolsFilesLoad() throws {
        let config = try fixture("config.toml")
        #expect(config.defaults.format == "json")
        #expect(config.defaults.pageSize == 50)
        #expect(config.defaults.timeoutSeconds == 30)
        #expect(config.profileNames == ["ci", "prod", "sandbox", "scoped"])
        let prod = try config.profile(named: nil)
        #expect(prod.authMethod == .browser)
        #expect(prod.companies.count == 2)
        #expect(try config.profile(named: "scoped").authMethod == .deviceCode)
        #expect(try config.profile(named: "scoped").disableStandardAPI)
        #expect(try config.profile(named: "ci").timeoutSeconds == 30)

        _ = try fixture("config-after-config-set.toml")
        let handwritten = try fixture("config-sandbox-handwritten.toml")
        let scoped = try handwritten.profile(named: "scoped")
        #expect(scoped.allowedCategories == ["sales"])
        #expect(scoped.allowedEndpoints == ["vendors"])
        #expect(try handwritten.profile(named: "ro").disableWrites)
    }

    /// `config set` writes the raw string: `timeout = "45"`, `page_size = "80"`.
    @Test func quotedNumbersFromConfigSetLoadAsNumbers() throws {
        let set = try fixture("config-set-string-values.toml")
        #expect(set.defaults.timeoutSeconds == 45)
        #expect(try set.profile(named: "prod").timeoutSeconds == 45)
        let page = try fixture("config-page_size-string.toml")
        #expect(page.defaults.pageSize == 80)
        #expect(try page.profile(named: nil).pageSize == 80)
    }

    @Test func tablesOfFeaturesBcliLacksAreAccepted() throws {
        let text = """
            [telemetry]
            enabled = false
            backend = "null"
            sample_rate = 1.0

            [audit]
            enabled = true
            redact_keys = ["password", "secret"]

            [extract]
            backend = "null"

            [context]
            tail = false

            [ask]
            max_tokens = 1024

            [etl]
            stampers = []

            [agent]
            anything = 1
            """
        let config = try BCConfig.parse(text, path: "/c.toml", environment: [:])
        #expect(config.root.keys == ["telemetry", "audit", "extract", "context", "ask", "etl", "agent"])
    }

    @Test func environmentVariablesOverrideDefaults() throws {
        let config = try BCConfig.parse(Self.saveConfigForm, path: "/c.toml",
                                        environment: ["BCLI_FORMAT": "JSON", "BCLI_TIMEOUT": "45"])
        #expect(config.defaults.format == "json")
        #expect(try config.profile(named: nil).timeoutSeconds == 45)
        #expect(try config.profile(named: nil).defaultFormat == "json")
        for (name, value) in [("BCLI_TIMEOUT", "abc"), ("BCLI_FORMAT", "tabel")] {
            #expect(throws: ConfigError.self) {
                _ = try BCConfig.parse(Self.saveConfigForm, path: "/c.toml", environment: [name: value])
            }
        }
    }

    @Test func environmentAndCompanyOverrides() throws {
        func prod(_ env: [String: String]) throws -> Profile {
            try BCConfig.parse(Self.saveConfigForm, path: "/c.toml", environment: env).profile(named: nil)
        }
        #expect(try prod(["BCLI_ENVIRONMENT": "Staging"]).environment == "Staging")
        let uk = try prod(["BCLI_COMPANY": "uk"])  // aliases match ignoring case, as in the Python tool
        #expect(uk.companyID == "11111111-2222-3333-4444-666666666666")
        #expect(uk.companyName == "uk")
        let byID = try prod(["BCLI_COMPANY": "99999999-2222-3333-4444-555555555555"])
        #expect(byID.companyID == "99999999-2222-3333-4444-555555555555")
        #expect(!byID.needsCompanyResolution)
        let byName = try prod(["BCLI_COMPANY": "CRONUS USA, Inc."])
        #expect(byName.companyID == nil)
        #expect(byName.companyName == "CRONUS USA, Inc.")
        #expect(byName.needsCompanyResolution)
    }

    @Test func projectFileIsMergedOverTheGlobalFileFromAnyParent() throws {
        let dir = TempDir("bcli-project")
        try dir.write("home/bcli/config.toml", Self.saveConfigForm)
        try dir.write("repo/.bcli.toml", "[defaults]\nprofile = \"dev\"\nformat = \"csv\"\n\n[profiles.dev]\ncompany_id = \"x-1\"\n")
        try dir.write("repo/sub/deeper/keep", "")
        let env = ["XDG_CONFIG_HOME": "\(dir.path)/home", "HOME": "/nonexistent"]
        let config = try BCConfig.load(environment: env, workingDirectory: "\(dir.path)/repo/sub/deeper")
        #expect(config.projectPath == "\(dir.path)/repo/.bcli.toml")
        #expect(config.defaults.format == "csv")
        let dev = try config.profile(named: nil)
        #expect(dev.name == "dev")
        #expect(dev.companyID == "x-1")
        #expect(dev.tenantID == "contoso.onmicrosoft.com")  // from the global file
        // BCLI_FORMAT beats the project file.
        #expect(try BCConfig.load(environment: env.merging(["BCLI_FORMAT": "json"]) { $1 },
                                  workingDirectory: "\(dir.path)/repo").defaults.format == "json")
        // Outside the project: the global file alone.
        #expect(try BCConfig.load(environment: env, workingDirectory: dir.path).defaults.format == "table")
    }

    @Test func projectFileMayNotRedirectTokens() throws {
        let dir = TempDir("bcli-project")
        try dir.write("home/bcli/config.toml", Self.saveConfigForm)
        try dir.write("repo/.bcli.toml", "[profiles.prod]\ntoken_url = \"https://evil.example.com/token\"\n")
        let env = ["XDG_CONFIG_HOME": "\(dir.path)/home", "HOME": "/nonexistent"]
        #expect {
            _ = try BCConfig.load(environment: env, workingDirectory: "\(dir.path)/repo")
        } throws: { error in
            (error as? ConfigError)?.description.contains("may not set token_url") == true
        }
    }

    @Test func aTypoStillFailsWithTheSuggestion() {
        #expect {
            _ = try BCConfig.parse("[defaults]\nfromat = \"json\"\n", path: "/c.toml", environment: [:])
        } throws: { error in
            (error as? ConfigError)?.description.contains("Did you mean `format`?") == true
        }
        #expect {
            _ = try BCConfig.parse("[profiles.p]\ntenant_id = \"t\"\nenvironment = \"e\"\nallowed_categorys = []\n", path: "/c.toml", environment: [:])
        } throws: { error in
            (error as? ConfigError)?.description.contains("Did you mean `allowed_categories`?") == true
        }
    }

    @Test func guidShape() {
        #expect(Profile.isGUID("4d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f601"))
        #expect(Profile.isGUID("{4d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f601}"))
        #expect(!Profile.isGUID("my-company-x"))
        #expect(!Profile.isGUID("4d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f60"))
    }
}
