import Foundation
import Testing
import TestSupport

@testable import BusinessCentral

/// `BCClient` over real sockets against `TinyHTTPServer`: headers, exact bodies, retries,
/// "outcome unknown", 401 refresh.
@Suite struct BCClientTests {
    static let company = "4d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f601"
    /// Tiny delays so retry tests stay fast.
    static let fastRetry = RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(1), maxDelay: .milliseconds(5))

    static func profile(_ server: TinyHTTPServer, timeout: Double = 5) -> Profile {
        Profile(
            name: "test", tenantID: "t1", environment: "production", companyID: company, clientID: "client-1",
            clientSecretEnv: "MY_SECRET", baseURL: server.baseURL, tokenURL: "\(server.baseURL)/t1/oauth2/v2.0/token",
            timeoutSeconds: timeout)
    }

    /// Runs `body` with a client that has a static token (BCLI_TOKEN) for `server`.
    static func withClient<T>(
        _ server: TinyHTTPServer, retry: RetryPolicy = fastRetry, timeout: Double = 5,
        _ body: (BCClient) async throws -> T
    ) async throws -> T {
        try await TestHTTP.withClient(
            profile: profile(server, timeout: timeout), environment: ["BCLI_TOKEN": "tok-123"], retry: retry, body)
    }

    /// Replies with `script[i]` for the i-th request to the API, then repeats the last.
    static func scripted(_ script: [TinyHTTPServer.Reply]) throws -> TinyHTTPServer {
        let count = Locked(0)
        return try TinyHTTPServer { _ in
            let i = count.withLock { n -> Int in
                defer { n += 1 }
                return n
            }
            return script[min(i, script.count - 1)]
        }
    }

    static let okBody = #"{"@odata.etag":"W/\"JzE7\"","id":"x","number":"C1"}"#

    @Test func sendsHeadersAndExactBodyAndReturnsRawResponse() async throws {
        let server = try Self.scripted([
            .json(201, Self.okBody, headers: [("request-id", "rq-1"), ("ms-correlation-x", "mc-1"), ("X-Custom", "a"), ("x-custom", "b")])
        ])
        defer { server.stop() }
        try await Self.withClient(server) { client async throws in
            let url = try URLBuilder.entityURL(profile: client.profile, entitySet: "customers")
                + URLBuilder.queryString(filter: "displayName eq 'A&B'")
            // Odd spacing, key order and a non-ASCII character: must arrive byte for byte.
            let body = Array("{ \"displayName\" :\"Müller & Co\",\n  \"a\":1.50 }".utf8)
            let request = BCRequest(
                method: "POST", url: url, body: body, ifMatch: "*", clientRequestID: "run1-step3", idempotencyKey: "idem-9")
            let response = try await client.execute(request)

            let received = try #require(server.requests.first)
            #expect(received.method == "POST")
            #expect(received.target == "/v2.0/t1/production/api/v2.0/companies(\(Self.company))/customers?$filter=displayName%20eq%20'A%26B'")
            #expect(received.body == body)
            #expect(received.header("Accept") == "application/json")
            #expect(received.header("Content-Type") == "application/json")
            #expect(received.header("OData-Version") == "4.0")
            #expect(received.header("If-Match") == "*")
            #expect(received.header("client-request-id") == "run1-step3")
            #expect(received.header("Idempotency-Key") == "idem-9")
            #expect(received.header("Authorization") == "Bearer tok-123")

            #expect(response.status == 201)
            #expect(response.body == Array(Self.okBody.utf8))
            #expect(response.etag == "W/\"JzE7\"")
            #expect(response.requestID == "rq-1")
            #expect(response.msCorrelationX == "mc-1")
            #expect(response.attempts == 1)
            // All headers, in order, duplicates kept.
            let custom = response.headers.filter { $0.name.lowercased() == "x-custom" }.map(\.value)
            #expect(custom == ["a", "b"])
            #expect(response.headers.first(named: "Content-Length") == String(Self.okBody.utf8.count))
            // What the ledger stores: the headers sent, minus Authorization.
            #expect(!response.requestHeaders.contains { $0.name.lowercased() == "authorization" })
            #expect(response.requestHeaders.first(named: "client-request-id") == "run1-step3")
            #expect(response.requestHeaders == request.recordedHeaders)
        }
    }

    @Test func getWithoutBodySendsNoContentType() async throws {
        let server = try Self.scripted([.json(200, #"{"value":[]}"#)])
        defer { server.stop() }
        try await Self.withClient(server) { client async throws in
            _ = try await client.execute(BCRequest(method: "GET", url: "\(server.baseURL)/x"))
            let received = try #require(server.requests.first)
            #expect(received.header("Content-Type") == nil)
            #expect(received.header("If-Match") == nil)
            #expect(received.body.isEmpty)
        }
    }

    @Test func errorStatusesComeBackAsResponses() async throws {
        let error = #"{"error":{"code":"Request_EntityChanged","message":"Another user has already changed the record. CorrelationId: 11111111-aaaa-bbbb-cccc-222222222222."}}"#
        let server = try Self.scripted([.json(409, error)])
        defer { server.stop() }
        try await Self.withClient(server) { client async throws in
            let response = try await client.execute(BCRequest(method: "PATCH", url: "\(server.baseURL)/x", body: [], ifMatch: "W/\"old\""))
            #expect(response.status == 409)
            #expect(response.bcError?.code == "Request_EntityChanged")
            #expect(response.bcError?.correlationID == "11111111-aaaa-bbbb-cccc-222222222222")
            #expect(response.attempts == 1)
        }
    }

    @Test func getIsRetriedOn429And503HonouringRetryAfter() async throws {
        let server = try Self.scripted([
            .json(429, #"{"error":{"code":"TooManyRequests","message":"slow down"}}"#, headers: [("Retry-After", "0")]),
            .json(503, "{}"),
            .json(200, Self.okBody),
        ])
        defer { server.stop() }
        try await Self.withClient(server) { client async throws in
            let response = try await client.execute(BCRequest(method: "GET", url: "\(server.baseURL)/x", clientRequestID: "same"))
            #expect(response.status == 200)
            #expect(response.attempts == 3)
            #expect(server.requests.count == 3)
            #expect(server.requests.allSatisfy { $0.header("client-request-id") == "same" })
        }
    }

    @Test func retriesStopAtMaxAttemptsAndReturnTheLastResponse() async throws {
        let server = try Self.scripted([.json(504, "{}")])
        defer { server.stop() }
        try await Self.withClient(server, retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(1))) { client async throws in
            let response = try await client.execute(BCRequest(method: "GET", url: "\(server.baseURL)/x"))
            #expect(response.status == 504)
            #expect(response.attempts == 3)
            #expect(server.requests.count == 3)
        }
    }

    /// 503 proves BC processed nothing, so even a POST without a key is sent again.
    @Test func postWithoutIdempotencyKeyIsRetriedOn503() async throws {
        let server = try Self.scripted([.json(503, "{}"), .json(201, Self.okBody)])
        defer { server.stop() }
        try await Self.withClient(server) { client async throws in
            let response = try await client.execute(BCRequest(method: "POST", url: "\(server.baseURL)/x", body: Array("{}".utf8)))
            #expect(response.status == 201)
            #expect(server.requests.count == 2)
        }
    }

    @Test func postWithIdempotencyKeyIsRetried() async throws {
        let server = try Self.scripted([.json(429, "{}", headers: [("Retry-After", "0")]), .json(201, Self.okBody)])
        defer { server.stop() }
        try await Self.withClient(server) { client async throws in
            let response = try await client.execute(
                BCRequest(method: "POST", url: "\(server.baseURL)/x", body: Array("{}".utf8), idempotencyKey: "k-1"))
            #expect(response.status == 201)
            #expect(response.attempts == 2)
            #expect(server.requests.map { $0.header("Idempotency-Key") } == ["k-1", "k-1"])
            #expect(server.requests.allSatisfy { $0.body == Array("{}".utf8) })
        }
    }

    @Test func connectionDroppedAfterAWriteIsOutcomeUnknownAndNotRetried() async throws {
        let server = try Self.scripted([.closeWithoutResponse, .json(201, Self.okBody)])
        defer { server.stop() }
        try await Self.withClient(server) { client async throws in
            do {
                let r = try await client.execute(BCRequest(method: "POST", url: "\(server.baseURL)/x", body: Array("{}".utf8)))
                Issue.record("expected a transport error, got \(r.status)")
            } catch {
                guard let error = error as? BCTransportError, case .transport(let failure) = error else {
                    Issue.record("wrong error \(error)")
                    return
                }
                #expect(failure.requestMaybeSent)
                #expect(failure.outcomeUnknown)
                #expect(error.outcomeUnknown)
                #expect(failure.attempts == 1)
                #expect(error.description.contains("OUTCOME UNKNOWN"))
            }
            #expect(server.requests.count == 1)  // never silently re-sent
        }
    }

    @Test func connectionDroppedIsRetriedForAGetButNotForAKeyedWrite() async throws {
        let server = try Self.scripted([.closeWithoutResponse, .json(200, Self.okBody)])
        defer { server.stop() }
        try await Self.withClient(server) { client async throws in
            let response = try await client.execute(BCRequest(method: "GET", url: "\(server.baseURL)/x"))
            #expect(response.status == 200)
            #expect(response.attempts == 2)

            // BC does not de-duplicate on Idempotency-Key: a key does not make a re-send safe.
            let server2 = try Self.scripted([.closeWithoutResponse, .json(200, Self.okBody)])
            defer { server2.stop() }
            await #expect(throws: BCTransportError.self) {
                try await client.execute(BCRequest(method: "DELETE", url: "\(server2.baseURL)/x", ifMatch: "*", idempotencyKey: "del-1"))
            }
            #expect(server2.requests.count == 1)
        }
    }

    @Test func connectionRefusedIsNotOutcomeUnknown() async throws {
        let url = "http://127.0.0.1:\(TinyHTTPServer.unusedPort())/x"
        let profile = Profile(name: "p", tenantID: "t", environment: "e", baseURL: "http://127.0.0.1:1", timeoutSeconds: 5)
        try await TestHTTP.withClient(profile: profile, environment: ["BCLI_TOKEN": "t"], retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(1))) { client async throws in
            do {
                _ = try await client.execute(BCRequest(method: "POST", url: url, body: Array("{}".utf8)))
                Issue.record("expected a transport error")
            } catch {
                guard let error = error as? BCTransportError, case .transport(let failure) = error else {
                    Issue.record("wrong error \(error)")
                    return
                }
                #expect(failure.kind == .connectFailed, "\(failure)")
                #expect(!failure.requestMaybeSent)
                #expect(!failure.outcomeUnknown)
                #expect(failure.attempts == 2)  // never left the machine, so retrying was safe
            }
        }
    }

    @Test func timeoutOfAWriteIsOutcomeUnknown() async throws {
        let server = try Self.scripted([.hang])
        defer { server.stop() }
        try await Self.withClient(server, timeout: 0.3) { client async throws in
            do {
                _ = try await client.execute(BCRequest(method: "PATCH", url: "\(server.baseURL)/x", body: Array("{}".utf8), ifMatch: "*"))
                Issue.record("expected a timeout")
            } catch {
                guard let error = error as? BCTransportError, case .transport(let failure) = error else {
                    Issue.record("wrong error \(error)")
                    return
                }
                #expect(failure.kind == .timeout, "\(failure)")
                #expect(failure.outcomeUnknown)
            }
            #expect(server.requests.count == 1)
        }
    }

    @Test func a401IsRetriedOnceWithAFreshToken() async throws {
        let tokenCount = Locked(0)
        let apiCalls = Locked(0)
        let server = try TinyHTTPServer { request in
            if request.path.hasSuffix("/oauth2/v2.0/token") {
                let n = tokenCount.withLock { $0 += 1; return $0 }
                return .json(200, #"{"token_type":"Bearer","expires_in":3600,"access_token":"tk-\#(n)"}"#)
            }
            let call = apiCalls.withLock { $0 += 1; return $0 }
            if call == 1 {
                return .json(401, #"{"error":{"code":"Authentication_InvalidCredentials","message":"The token is expired."}}"#)
            }
            return .json(201, BCClientTests.okBody)
        }
        defer { server.stop() }
        let dir = TempDir("bcli-bc-tests")
        try await TestHTTP.withClient(profile: Self.profile(server), environment: ["MY_SECRET": "s"], cacheFile: "\(dir.path)/tokens.json", retry: Self.fastRetry) { client async throws in
            // A POST: safe to resend after 401 because BC did not process it.
            let response = try await client.execute(BCRequest(method: "POST", url: "\(server.baseURL)/x", body: Array("{}".utf8)))
            #expect(response.status == 201)
            #expect(response.attempts == 2)
            let apiRequests = server.requests.filter { !$0.path.hasSuffix("/token") }
            #expect(apiRequests.map { $0.header("Authorization") } == ["Bearer tk-1", "Bearer tk-2"])
            #expect(try String(contentsOfFile: "\(dir.path)/tokens.json", encoding: .utf8).contains("tk-2"))

            // A second 401 in a row is returned (no loop).
            let server2 = try Self.scripted([.json(401, "{}")])
            defer { server2.stop() }
            try await Self.withClient(server2) { staticClient async throws in
                let denied = try await staticClient.execute(BCRequest(method: "GET", url: "\(server2.baseURL)/x"))
                #expect(denied.status == 401)
                #expect(server2.requests.count == 1)  // a static token cannot be refreshed
            }
        }
    }

    @Test func authFailureSendsNothing() async throws {
        let server = try Self.scripted([.json(200, "{}")])
        defer { server.stop() }
        try await TestHTTP.withClient(profile: Self.profile(server), environment: [:], retry: Self.fastRetry) { client async throws in
            await #expect(throws: BCTransportError.auth(.missingSecret(profile: "test", variables: ["MY_SECRET", "BCLI_CLIENT_SECRET", "BCLI_SECRET"]))) {
                try await client.execute(BCRequest(method: "GET", url: "\(server.baseURL)/x"))
            }
            #expect(server.requests.isEmpty)
        }
    }

    @Test func invalidRequestsAreRefusedBeforeSending() async throws {
        let server = try Self.scripted([.json(200, "{}")])
        defer { server.stop() }
        try await Self.withClient(server) { client async throws in
            for (method, url) in [("TRACE", "\(server.baseURL)/x"), ("GET", "/relative"), ("GET", "http://example.com/x"), ("GET", "ftp://127.0.0.1/x")] {
                await #expect(throws: BCTransportError.self, "\(method) \(url)") {
                    try await client.execute(BCRequest(method: method, url: url))
                }
            }
            #expect(server.requests.isEmpty)
        }
    }
}
