import Foundation
import Testing
import TestSupport

@testable import BusinessCentral

/// Token acquisition against a real HTTP token endpoint on 127.0.0.1, with a real cache file.
@Suite struct TokenProviderTests {
    static let secret = "super-secret-value-42"

    /// A token endpoint that issues `token-1`, `token-2`, … valid for `lifetime` seconds, and
    /// rejects any secret but `secret`.
    static func tokenServer(lifetime: Int = 3600) throws -> TinyHTTPServer {
        let issued = Locked(0)
        return try TinyHTTPServer { request in
            guard request.method == "POST", request.path.hasSuffix("/oauth2/v2.0/token") else {
                return .json(404, #"{"error":"not_found"}"#)
            }
            let form = String(decoding: request.body, as: UTF8.self)
            guard form.contains("client_secret=\(secret)") else {
                return .json(401, #"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x"}"#)
            }
            let n = issued.withLock { $0 += 1; return $0 }
            return .json(200, #"{"token_type":"Bearer","expires_in":\#(lifetime),"access_token":"token-\#(n)"}"#)
        }
    }

    static func profile(_ server: TinyHTTPServer, secretEnv: String? = "MY_SECRET") -> Profile {
        Profile(
            name: "test", tenantID: "t1", environment: "production", companyID: "c1", clientID: "client-1",
            clientSecretEnv: secretEnv, baseURL: server.baseURL, tokenURL: "\(server.baseURL)/t1/oauth2/v2.0/token",
            timeoutSeconds: 5)
    }

    @Test func fetchesCachesAtMode0600AndReuses() async throws {
        let server = try Self.tokenServer()
        defer { server.stop() }
        let dir = TempDir("bcli-bc-tests")
        try await TestHTTP.withHTTPClient { http async throws in
            let cacheFile = "\(dir.path)/cache/bcli/tokens.json"
            let env = ["MY_SECRET": Self.secret]
            let t0 = Date(timeIntervalSince1970: 1_750_000_000)

            let first = TokenProvider(profile: Self.profile(server), environment: env, cacheFile: cacheFile, httpClient: http, now: { t0 })
            let token = try await first.token()
            #expect(token == "token-1")
            #expect(try await first.token() == "token-1")  // memory
            #expect(await first.fetchCount == 1)

            // The request was a form-encoded client-credentials grant.
            let sent = try #require(server.requests.first)
            #expect(sent.header("Content-Type") == "application/x-www-form-urlencoded")
            let form = String(decoding: sent.body, as: UTF8.self)
            #expect(form == "grant_type=client_credentials&client_id=client-1&client_secret=\(Self.secret)&scope=https%3A%2F%2Fapi.businesscentral.dynamics.com%2F.default")

            // The cache file: 0600, folder 0700, holds the token, never the secret.
            let attributes = try FileManager.default.attributesOfItem(atPath: cacheFile)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            let dirAttributes = try FileManager.default.attributesOfItem(atPath: "\(dir.path)/cache/bcli")
            #expect((dirAttributes[.posixPermissions] as? NSNumber)?.intValue == 0o700)
            let contents = try String(contentsOfFile: cacheFile, encoding: .utf8)
            #expect(contents.contains("token-1"))
            #expect(!contents.contains(Self.secret))
            #expect(contents.contains("\"format_version\":1"))
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: "\(dir.path)/cache/bcli")
            #expect(leftovers == ["tokens.json"])  // no temp files left behind

            // A new process (new provider) reuses the cached token while > 5 min remain …
            let later = TokenProvider(
                profile: Self.profile(server), environment: env, cacheFile: cacheFile, httpClient: http,
                now: { t0.addingTimeInterval(3600 - 301) })
            #expect(try await later.token() == "token-1")
            #expect(await later.fetchCount == 0)

            // … and fetches a new one inside the 5-minute margin.
            let nearExpiry = TokenProvider(
                profile: Self.profile(server), environment: env, cacheFile: cacheFile, httpClient: http,
                now: { t0.addingTimeInterval(3600 - 299) })
            #expect(try await nearExpiry.token() == "token-2")
            #expect(await nearExpiry.fetchCount == 1)
            #expect(server.requests.count == 2)
        }
    }

    @Test func concurrentCallersShareOneTokenRequest() async throws {
        let server = try Self.tokenServer()
        defer { server.stop() }
        try await TestHTTP.withHTTPClient { http async throws in
            let provider = TokenProvider(
                profile: Self.profile(server), environment: ["MY_SECRET": Self.secret], cacheFile: nil, httpClient: http)
            let tokens = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<8 { group.addTask { try await provider.token() } }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(Set(tokens) == ["token-1"])
            #expect(await provider.fetchCount == 1)
        }
    }

    @Test func staticTokenFromBCLI_TOKENNeedsNoNetwork() async throws {
        try await TestHTTP.withHTTPClient { http async throws in
            // Points at a port nobody listens on: any network use would fail the test.
            let dead = "http://127.0.0.1:\(TinyHTTPServer.unusedPort())"
            let profile = Profile(name: "p", tenantID: "t", environment: "e", clientID: "c", baseURL: dead, tokenURL: "\(dead)/token")
            let provider = TokenProvider(profile: profile, environment: ["BCLI_TOKEN": "static-abc"], cacheFile: nil, httpClient: http)
            #expect(try await provider.token() == "static-abc")
            #expect(await provider.invalidate("static-abc") == false)
            #expect(await provider.fetchCount == 0)

            var staticProfile = profile
            staticProfile.authMethod = .staticToken
            let missing = TokenProvider(profile: staticProfile, environment: [:], cacheFile: nil, httpClient: http)
            await #expect(throws: AuthError.missingStaticToken(profile: "p")) { try await missing.token() }
        }
    }

    @Test func secretResolutionOrderAndErrors() async throws {
        try await TestHTTP.withHTTPClient { http async throws in
            let profile = Profile(name: "p", tenantID: "t", environment: "e", clientID: "c", clientSecretEnv: "P_SECRET")
            let provider = TokenProvider(profile: profile, environment: [:], cacheFile: nil, httpClient: http)
            do {
                _ = try await provider.token()
                Issue.record("expected missingSecret")
            } catch {
                let error = try #require(error as? AuthError)
                #expect(error == .missingSecret(profile: "p", variables: ["P_SECRET", "BCLI_CLIENT_SECRET", "BCLI_SECRET"]))
                #expect(error.description.contains("set the environment variable `P_SECRET` or `BCLI_CLIENT_SECRET` or `BCLI_SECRET`"))
                #expect(error.description.contains("does not read the OS keyring"))
            }

            let noClient = TokenProvider(
                profile: Profile(name: "q", tenantID: "t", environment: "e"), environment: ["BCLI_CLIENT_SECRET": "s"],
                cacheFile: nil, httpClient: http)
            await #expect(throws: AuthError.missingClientID(profile: "q")) { try await noClient.token() }

            // Credentials resolution (pure): the profile's variable first, then BCLI_CLIENT_SECRET …
            let both = TokenProvider(
                profile: profile, environment: ["P_SECRET": "from-profile-var", "BCLI_CLIENT_SECRET": "generic"], cacheFile: nil,
                httpClient: http)
            #expect(try await both.resolveCredentials().secret == "from-profile-var")
            let generic = TokenProvider(profile: profile, environment: ["BCLI_CLIENT_SECRET": "generic"], cacheFile: nil, httpClient: http)
            #expect(try await generic.resolveCredentials().secret == "generic")
            // … then the Python tool's BCLI_SECRET.
            let python = TokenProvider(profile: profile, environment: ["BCLI_SECRET": "py"], cacheFile: nil, httpClient: http)
            #expect(try await python.resolveCredentials().secret == "py")
            // browser sign-in: a clear error naming device_code.
            var browserProfile = profile
            browserProfile.authMethod = .browser
            let browser = TokenProvider(profile: browserProfile, environment: ["BCLI_SECRET": "py"], cacheFile: nil, httpClient: http)
            await #expect(throws: AuthError.unsupportedMethod(profile: "p", method: "browser")) { try await browser.token() }
            #expect(AuthError.unsupportedMethod(profile: "p", method: "browser").description.contains("auth_method = \"device_code\""))
            // … but the built-in sandbox uses its fixed test secret, not a real tenant's BCLI_CLIENT_SECRET.
            let sandbox = TokenProvider(
                profile: BuiltinProfiles.sandbox(environment: [:]).withBaseURL("http://127.0.0.1:1"),
                environment: ["BCLI_CLIENT_SECRET": "generic"], cacheFile: nil, httpClient: http)
            let creds = try await sandbox.resolveCredentials()
            #expect(creds.secret == "bcli-sandbox-secret")
            #expect(creds.clientID == "bcli-sandbox")
            #expect(creds.tokenURL == "http://127.0.0.1:1/sandbox/oauth2/v2.0/token")
            #expect(!creds.cacheKey.contains("bcli-sandbox-secret"))

            let notStarted = TokenProvider(profile: BuiltinProfiles.sandbox(environment: [:]), environment: [:], cacheFile: nil, httpClient: http)
            await #expect(throws: AuthError.config(.sandboxNotStarted)) { try await notStarted.token() }
        }
    }

    @Test func rejectedCredentialsNameTheFix() async throws {
        let server = try Self.tokenServer()
        defer { server.stop() }
        try await TestHTTP.withHTTPClient { http async throws in
            let provider = TokenProvider(
                profile: Self.profile(server), environment: ["MY_SECRET": "wrong"], cacheFile: nil, httpClient: http)
            do {
                _ = try await provider.token()
                Issue.record("expected rejection")
            } catch {
                guard let error = error as? AuthError, case .rejected(_, let status, let code, _, _) = error else {
                    Issue.record("wrong error \(error)")
                    return
                }
                #expect(status == 401)
                #expect(code == "invalid_client")
                #expect(error.description.contains("AADSTS7000215: Invalid client secret provided."))
                #expect(error.description.contains("Check the client secret in `MY_SECRET`"))
                #expect(!error.description.contains("Trace ID"))  // first line only
                #expect(!error.description.contains("wrong"))  // never the secret
            }
        }
    }

    @Test func unreachableTokenEndpoint() async throws {
        try await TestHTTP.withHTTPClient { http async throws in
            let url = "http://127.0.0.1:\(TinyHTTPServer.unusedPort())"
            let profile = Profile(name: "p", tenantID: "t", environment: "e", clientID: "c", baseURL: url, tokenURL: "\(url)/token")
            let provider = TokenProvider(profile: profile, environment: ["BCLI_CLIENT_SECRET": "s"], cacheFile: nil, httpClient: http)
            await #expect {
                try await provider.token()
            } throws: { error in
                guard case .unreachable(let tokenURL, _)? = error as? AuthError else { return false }
                return tokenURL == "\(url)/token"
            }
        }
    }

    @Test func cacheToleratesGarbageAndPrunesExpired() throws {
        let dir = TempDir("bcli-bc-tests")
        let cache = TokenCache(path: "\(dir.path)/tokens.json")
        try dir.write("tokens.json", "not json")
        #expect(cache.read(key: "k") == nil)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        try cache.write(key: "old", token: CachedToken(accessToken: "a", expiresAt: now.addingTimeInterval(-1)), now: now.addingTimeInterval(-10))
        try cache.write(key: "new", token: CachedToken(accessToken: "b", expiresAt: now.addingTimeInterval(600)), now: now)
        #expect(cache.read(key: "old") == nil)
        #expect(cache.read(key: "new")?.accessToken == "b")
        try cache.write(key: "new", token: nil, now: now)
        #expect(cache.read(key: "new") == nil)
    }
}
