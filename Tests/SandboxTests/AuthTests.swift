import Foundation
import Hashing
import Testing
import TestSupport
@testable import Sandbox

@Suite("OAuth2 client credentials and bearer tokens")
struct AuthTests {
    static let scope = "scope=https%3A%2F%2Fapi.businesscentral.dynamics.com%2F.default"

    @Test("the token endpoint issues a bearer token with expires_in for the built-in credential")
    func tokenFlow() async throws {
        try await Harness.with { h in
            let response = try await h.tokenRequest(
                "grant_type=client_credentials&client_id=bcli-sandbox&client_secret=bcli-sandbox-secret&\(Self.scope)")
            #expect(response.status == 200)
            #expect(response.json["token_type"] == "Bearer")
            #expect(response.json["expires_in"] == 3599)
            let token = try #require(response.json["access_token"]?.stringValue)
            var other = h
            other.token = token
            #expect(try await other.get("customers").status == 200)
        }
    }

    @Test("wrong secret, unknown client, missing fields and other grants are rejected Entra-style")
    func tokenErrors() async throws {
        try await Harness.with { h in
            let badSecret = try await h.tokenRequest("grant_type=client_credentials&client_id=bcli-sandbox&client_secret=nope&\(Self.scope)")
            #expect(badSecret.status == 401)
            #expect(badSecret.json["error"] == "invalid_client")
            #expect(badSecret.text.contains("nope") == false)  // secrets are never echoed
            let unknown = try await h.tokenRequest("grant_type=client_credentials&client_id=who&client_secret=x&\(Self.scope)")
            #expect(unknown.status == 400)
            #expect(unknown.json["error"] == "unauthorized_client")
            #expect(try await h.tokenRequest("client_id=bcli-sandbox&client_secret=bcli-sandbox-secret&\(Self.scope)").json["error"] == "invalid_request")
            #expect(try await h.tokenRequest("grant_type=password&client_id=bcli-sandbox&\(Self.scope)").json["error"] == "unsupported_grant_type")
            #expect(try await h.tokenRequest("grant_type=client_credentials&client_id=bcli-sandbox&client_secret=bcli-sandbox-secret").status == 400)
            let wrongTenant = try await h.send(.POST, "\(h.baseURL)/other/oauth2/v2.0/token", rawBody: Array("grant_type=client_credentials".utf8), auth: false)
            #expect(wrongTenant.status == 400)
            #expect(try await h.send(.GET, h.tokenURL, auth: false).status == 405)
        }
    }

    @Test("the API answers 401 Authentication_InvalidCredentials without a valid bearer token")
    func apiNeedsToken() async throws {
        try await Harness.with { h in
            let none = try await h.send(.GET, h.url("customers"), auth: false)
            #expect(none.status == 401)
            #expect(none.errorCode == "Authentication_InvalidCredentials")
            #expect(none.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
            #expect(none.header("request-id") != nil)
            #expect(try await h.send(.GET, h.url("customers"), headers: ["Authorization": "Basic eDp5"], auth: false).status == 401)
            #expect(try await h.send(.GET, h.url("customers"), headers: ["Authorization": "Bearer forged"], auth: false).status == 401)
            #expect(try await h.send(.POST, h.url("customers"), json: [:], auth: false).status == 401)
            #expect(try await h.journal().isEmpty)
        }
    }

    @Test("expired tokens are refused")
    func expiredToken() async throws {
        var configuration = SandboxConfiguration()
        configuration.tokenLifetimeSeconds = 0
        try await Harness.with(configuration) { h in
            let response = try await h.get("customers")
            #expect(response.status == 401)
            #expect(response.json["error"]?["message"]?.stringValue?.contains("expired") == true)
        }
    }

    @Test("extra credentials come from the configuration and from <data>/settings.json")
    func extraCredentials() async throws {
        let dir = TempDir("bcli-sandbox-tests")
        let directory = dir.path
        try Data(#"{"clients":[{"client_id":"from-file","client_secret":"s3"}]}"#.utf8)
            .write(to: URL(fileURLWithPath: directory + "/settings.json"))
        var configuration = SandboxConfiguration(dataDirectory: directory)
        configuration.credentials.append(try SandboxCredential(parsing: "from-flag:a:b"))
        try await Harness.with(configuration) { h in
            var other = h
            other.token = try await h.fetchToken(id: "from-flag", secret: "a:b")
            #expect(try await other.get("customers").status == 200)
            other.token = try await h.fetchToken(id: "from-file", secret: "s3")
            #expect(try await other.get("customers").status == 200)
        }
        #expect(throws: SandboxConfigurationError.self) { try SandboxCredential(parsing: "no-secret") }
    }
}
