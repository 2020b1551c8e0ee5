import Foundation
import Sandbox
import Testing
import TestSupport

@testable import BusinessCentral

/// The whole BusinessCentral stack — built-in profile, OAuth2 against the sandbox's token
/// endpoint, URL building, headers, ETags, errors, retries — over real HTTP against the Sandbox
/// module started in-process on a random port.
@Suite struct SandboxIntegrationTests {
    /// Starts a sandbox (`withSandbox`: its stop is awaited on every way out), runs `body` with a
    /// client on the built-in `sandbox` profile, and shuts the client down.
    static func withSandboxClient(
        faults: [String] = [],
        retry: RetryPolicy = RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(1), maxDelay: .milliseconds(5)),
        environment: [String: String] = [:],
        _ body: (BCClient, TempDir) async throws -> Void
    ) async throws {
        try await withSandbox(faults: faults) { sandbox in
            let dir = TempDir("bcli-bc-tests")
            let config = try BCConfig.load(environment: ["XDG_CONFIG_HOME": dir.path, "HOME": dir.path].merging(environment) { $1 })
            let profile = try config.profile(named: "sandbox").withBaseURL(sandbox.url)
            let client = BCClient(
                profile: profile, environment: environment, tokenCache: .file("\(dir.path)/cache/tokens.json"), retry: retry)
            do {
                try await body(client, dir)
            } catch {
                await client.shutdown()
                throw error
            }
            await client.shutdown()
        }
    }

    static func json(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test func crudRoundTripWithETagsAndErrors() async throws {
        try await Self.withSandboxClient { client, dir in
            let profile = client.profile
            let customers = try URLBuilder.entityURL(profile: profile, entitySet: "customers")

            // Create: the body goes byte for byte, and an ETag comes back.
            let body = Array(#"{"displayName":"Integration Test Ltd"}"#.utf8)
            let created = try await client.execute(
                BCRequest(method: "POST", url: customers, body: body, clientRequestID: "it-step-1"))
            #expect(created.status == 201, "\(String(decoding: created.body, as: UTF8.self))")
            let record = try Self.json(created.body)
            let id = try #require(record["id"] as? String)
            let etag = try #require(created.etag)
            #expect(record["displayName"] as? String == "Integration Test Ltd")
            #expect(created.requestID != nil || created.msCorrelationX != nil)
            #expect(!created.requestHeaders.contains { $0.name.lowercased() == "authorization" })

            // The OAuth2 token was cached in the 0600 file.
            let cacheFile = "\(dir.path)/cache/tokens.json"
            let mode = try FileManager.default.attributesOfItem(atPath: cacheFile)[.posixPermissions] as? NSNumber
            #expect(mode?.intValue == 0o600)
            #expect(try !String(contentsOfFile: cacheFile, encoding: .utf8).contains(BuiltinProfiles.sandboxClientSecret))

            // Read it back by id.
            let recordURL = try URLBuilder.entityURL(profile: profile, entitySet: "customers", recordID: id)
            let read = try await client.execute(BCRequest(method: "GET", url: recordURL))
            #expect(read.status == 200)
            #expect(read.etag == etag)

            // $filter with characters that need encoding.
            let query = URLBuilder.queryString(filter: "displayName eq 'Integration Test Ltd'", select: "id,displayName", top: 5)
            let listed = try await client.execute(BCRequest(method: "GET", url: customers + query))
            #expect(listed.status == 200)
            let values = try #require(try Self.json(listed.body)["value"] as? [[String: Any]])
            #expect(values.map { $0["id"] as? String } == [id])

            // PATCH without If-Match → 400 BadRequest_InvalidToken, correlation id parsed.
            let change = Array(#"{"displayName":"Renamed"}"#.utf8)
            let noETag = try await client.execute(BCRequest(method: "PATCH", url: recordURL, body: change))
            #expect(noETag.status == 400)
            #expect(noETag.bcError?.code == "BadRequest_InvalidToken")
            #expect(noETag.bcError?.correlationID != nil)
            #expect(noETag.correlationID == noETag.bcError?.correlationID)

            // PATCH with the ETag → 200 and a new ETag; the old one is now stale → 409.
            let patched = try await client.execute(BCRequest(method: "PATCH", url: recordURL, body: change, ifMatch: etag))
            #expect(patched.status == 200)
            let newETag = try #require(patched.etag)
            #expect(newETag != etag)
            let stale = try await client.execute(BCRequest(method: "PATCH", url: recordURL, body: change, ifMatch: etag))
            #expect(stale.status == 409)
            #expect(stale.bcError?.code == "Request_EntityChanged")

            // DELETE, then the record is gone → 404 (exit 4).
            let deleted = try await client.execute(BCRequest(method: "DELETE", url: recordURL, ifMatch: newETag))
            #expect(deleted.status == 204)
            let gone = try await client.execute(BCRequest(method: "GET", url: recordURL))
            #expect(gone.status == 404)
        }
    }

    @Test func throttlingIsRetriedForReads() async throws {
        try await Self.withSandboxClient(faults: ["throttle:nth=1,retry-after=0"]) { client, _ in
            let url = try URLBuilder.entityURL(profile: client.profile, entitySet: "customers") + URLBuilder.queryString(top: 1)
            let response = try await client.execute(BCRequest(method: "GET", url: url))
            #expect(response.status == 200)
            #expect(response.attempts == 2)
        }
    }

    /// A 429 proves BC processed nothing, so a write is sent again even without a key.
    @Test func throttledWriteIsRetriedWithoutAKey() async throws {
        try await Self.withSandboxClient(faults: ["throttle:nth=1,retry-after=0"]) { client, _ in
            let url = try URLBuilder.entityURL(profile: client.profile, entitySet: "customers")
            let response = try await client.execute(
                BCRequest(method: "POST", url: url, body: Array(#"{"displayName":"T"}"#.utf8)))
            #expect(response.status == 201)
            #expect(response.attempts == 2)
        }
    }

    @Test func commitThenDropIsOutcomeUnknown() async throws {
        try await Self.withSandboxClient(faults: ["drop:request-id=it-drop"]) { client, _ in
            let customers = try URLBuilder.entityURL(profile: client.profile, entitySet: "customers")
            do {
                let r = try await client.execute(BCRequest(
                    method: "POST", url: customers, body: Array(#"{"displayName":"Dropped Answer Inc"}"#.utf8),
                    clientRequestID: "it-drop"))
                Issue.record("expected no response, got \(r.status)")
            } catch {
                #expect((error as? BCTransportError)?.outcomeUnknown == true, "\(error)")
            }
            // The write did land: exactly why it must never be re-sent blindly.
            let query = URLBuilder.queryString(filter: "displayName eq 'Dropped Answer Inc'")
            let check = try await client.execute(BCRequest(method: "GET", url: customers + query))
            let values = try #require(try Self.json(check.body)["value"] as? [Any])
            #expect(values.count == 1)
        }
    }

    @Test func wrongSecretIsAnAuthError() async throws {
        try await withSandbox { sandbox in
            let url = sandbox.url
            let profile = Profile(
                name: "wrong", tenantID: "sandbox", environment: "production", companyID: BuiltinProfiles.sandboxCompanyID,
                clientID: "bcli-sandbox", clientSecretEnv: "WRONG_SECRET", baseURL: url,
                tokenURL: "\(url)/sandbox/oauth2/v2.0/token")
            let client = BCClient(profile: profile, environment: ["WRONG_SECRET": "nope"], tokenCache: .memoryOnly, retry: .none)
            do {
                let url = try URLBuilder.entityURL(profile: profile, entitySet: "customers")
                _ = try await client.execute(BCRequest(method: "GET", url: url))
                Issue.record("expected an auth error")
            } catch {
                guard let error = error as? BCTransportError, case .auth(.rejected(_, let status, _, _, _)) = error else {
                    Issue.record("wrong error \(error)")
                    await client.shutdown()
                    return
                }
                #expect((400..<500).contains(status))
                #expect(error.description.contains("WRONG_SECRET"))
            }
            await client.shutdown()
        }
    }
}
