import AsyncHTTPClient
import Foundation
import Testing
import TestSupport

@testable import BusinessCentral

/// `auth_method = "device_code"`: the OAuth2 device authorization grant.
@Suite struct DeviceCodeTests {
    static func profile(_ base: String) -> Profile {
        var p = Profile(name: "dev", tenantID: "sandbox", environment: "production",
                        companyID: "4d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f601", authMethod: .deviceCode,
                        clientID: "bcli-sandbox", baseURL: base, tokenURL: "\(base)/sandbox/oauth2/v2.0/token")
        p.timeoutSeconds = 10
        return p
    }

    /// End to end against the sandbox, which answers `authorization_pending` twice, then issues
    /// the token; the token then opens the API.
    @Test func signsInAgainstTheSandbox() async throws {
        try await withSandbox { sandbox in
            try await TestHTTP.withHTTPClient { http in
                let prompts = Locked<[String]>([])
                let waits = Locked<[Double]>([])
                let dir = TempDir("bcli-device")
                let provider = TokenProvider(
                    profile: Self.profile(sandbox.url), environment: [:], cacheFile: dir.path + "/tokens.json", httpClient: http,
                    sleep: { s in waits.withLock { $0.append(s) } }, prompt: { m in prompts.withLock { $0.append(m) } })
                let token = try await provider.token()
                #expect(!token.isEmpty)
                #expect(prompts.current.count == 1)
                #expect(prompts.current[0].contains("https://microsoft.com/devicelogin"))
                #expect(prompts.current[0].contains("enter the code"))
                #expect(waits.current == [1, 1, 1])  // two pending answers, then the token

                var request = HTTPClientRequest(url: "\(sandbox.url)/v2.0/production/api/v2.0/companies")
                request.headers.add(name: "Authorization", value: "Bearer \(token)")
                let response = try await http.execute(request, timeout: .seconds(10))
                #expect(response.status.code == 200)

                // Cached: a second provider does not ask again.
                let again = TokenProvider(
                    profile: Self.profile(sandbox.url), environment: [:], cacheFile: dir.path + "/tokens.json", httpClient: http,
                    sleep: { _ in }, prompt: { _ in Issue.record("asked again") })
                #expect(try await again.token() == token)
            }
        }
    }

    /// slow_down adds 5 s to the interval; authorization_declined ends with the fix.
    @Test func slowDownAndDecline() async throws {
        let polls = Locked(0)
        let server = try TinyHTTPServer { request in
            if request.path.hasSuffix("/devicecode") {
                let form = String(decoding: request.body, as: UTF8.self)
                #expect(form.contains("client_id=app") && form.contains("scope=https%3A%2F%2Fapi.businesscentral.dynamics.com%2F.default"))
                return .json(200, #"{"device_code":"dc","user_code":"UC","verification_uri":"https://x/devicelogin","expires_in":900,"interval":2}"#)
            }
            let form = String(decoding: request.body, as: UTF8.self)
            #expect(form.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code") && form.contains("device_code=dc"))
            let n = polls.withLock { n -> Int in n += 1; return n }
            return n == 1 ? .json(400, #"{"error":"slow_down"}"#)
                : .json(400, #"{"error":"authorization_declined","error_description":"AADSTS70000: The user declined."}"#)
        }
        defer { server.stop() }
        try await TestHTTP.withHTTPClient { http in
            var profile = Self.profile(server.baseURL)
            profile.clientID = "app"
            let waits = Locked<[Double]>([])
            let prompts = Locked<[String]>([])
            let provider = TokenProvider(profile: profile, environment: [:], cacheFile: nil, httpClient: http,
                                         sleep: { s in waits.withLock { $0.append(s) } }, prompt: { m in prompts.withLock { $0.append(m) } })
            do {
                _ = try await provider.token()
                Issue.record("expected a failure")
            } catch {
                guard case .deviceCodeFailed(_, "authorization_declined", _)? = error as? AuthError else { Issue.record("\(error)"); return }
                #expect(String(describing: error).contains("declined"))
            }
            #expect(waits.current == [2, 7])
            #expect(prompts.current == ["To sign in, use a web browser to open the page https://x/devicelogin and enter the code UC to authenticate."])
        }
    }

    @Test func expiryEndsThePolling() async throws {
        let server = try TinyHTTPServer { request in
            request.path.hasSuffix("/devicecode")
                ? .json(200, #"{"device_code":"dc","user_code":"UC","verification_uri":"https://x","expires_in":3,"interval":1}"#)
                : .json(400, #"{"error":"authorization_pending"}"#)
        }
        defer { server.stop() }
        try await TestHTTP.withHTTPClient { http in
            let clock = Locked(Date(timeIntervalSince1970: 1_000_000))
            let provider = TokenProvider(profile: Self.profile(server.baseURL), environment: [:], cacheFile: nil, httpClient: http,
                                         now: { clock.current }, sleep: { s in clock.withLock { $0 = $0.addingTimeInterval(s) } },
                                         prompt: { _ in })
            await #expect(throws: AuthError.deviceCodeFailed(url: "\(server.baseURL)/sandbox/oauth2/v2.0/token", error: "expired_token",
                                                             errorDescription: "the code expired before sign-in finished")) {
                try await provider.token()
            }
        }
    }
}
