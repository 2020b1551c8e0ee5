import AsyncHTTPClient
import Foundation
import NIOCore
import Testing
import TestSupport

@testable import BusinessCentral

/// A write that may have reached the server is never re-sent, whatever
/// `Idempotency-Key` it carries (Business Central does not de-duplicate on it). Writes are retried
/// only when the failure proves nothing was processed: no connection could be made (refused, DNS,
/// connect timeout), or the server answered 429 or 503. These go over real sockets.
@Suite struct WriteRetryWireTests {
    static let okBody = #"{"@odata.etag":"W/\"JzE7\"","id":"x","number":"C1"}"#

    static func expectUnknown(_ error: any Error) {
        guard let error = error as? BCTransportError, case .transport(let failure) = error else {
            Issue.record("wrong error \(error)")
            return
        }
        #expect(failure.requestMaybeSent)
        #expect(failure.outcomeUnknown)
        #expect(failure.attempts == 1)
    }

    @Test(arguments: ["POST", "PATCH", "DELETE"])
    func keyedWriteWhoseConnectionDroppedIsNotResent(method: String) async throws {
        let server = try BCClientTests.scripted([.closeWithoutResponse, .json(201, Self.okBody)])
        defer { server.stop() }
        try await BCClientTests.withClient(server) { client async throws in
            do {
                let r = try await client.execute(BCRequest(
                    method: method, url: "\(server.baseURL)/x", body: Array("{}".utf8), ifMatch: "*", idempotencyKey: "key-1"))
                Issue.record("expected no response, got \(r.status)")
            } catch {
                Self.expectUnknown(error)
            }
            #expect(server.requests.count == 1, "a keyed \(method) was sent again after its connection dropped")
        }
    }

    @Test func keyedWriteThatTimedOutIsNotResent() async throws {
        let server = try BCClientTests.scripted([.hang])
        defer { server.stop() }
        try await BCClientTests.withClient(server, timeout: 0.3) { client async throws in
            do {
                _ = try await client.execute(BCRequest(
                    method: "POST", url: "\(server.baseURL)/x", body: Array("{}".utf8), idempotencyKey: "key-2"))
                Issue.record("expected a timeout")
            } catch {
                Self.expectUnknown(error)
            }
            #expect(server.requests.count == 1)
        }
    }

    /// 502 and 504 come from a gateway that may have passed the write on: not retried for writes.
    @Test(arguments: [502, 504, 500])
    func keyedWriteAnsweredByAGatewayErrorIsNotResent(status: Int) async throws {
        let server = try BCClientTests.scripted([.json(status, "{}"), .json(201, Self.okBody)])
        defer { server.stop() }
        try await BCClientTests.withClient(server) { client async throws in
            let r = try await client.execute(BCRequest(
                method: "POST", url: "\(server.baseURL)/x", body: Array("{}".utf8), idempotencyKey: "key-3"))
            #expect(r.status == status)
            #expect(server.requests.count == 1)
        }
    }

    /// 429 and 503 prove BC processed nothing, so any write is retried — with or without a key.
    @Test(arguments: [(429, "POST", false), (503, "PATCH", false), (429, "DELETE", true), (503, "POST", true)])
    func writeAnswered429Or503IsRetried(status: Int, method: String, keyed: Bool) async throws {
        let server = try BCClientTests.scripted([.json(status, "{}", headers: [("Retry-After", "0")]), .json(201, Self.okBody)])
        defer { server.stop() }
        try await BCClientTests.withClient(server) { client async throws in
            let r = try await client.execute(BCRequest(
                method: method, url: "\(server.baseURL)/x", body: Array("{}".utf8), ifMatch: "*",
                idempotencyKey: keyed ? "key-4" : nil))
            #expect(r.status == 201)
            #expect(r.attempts == 2)
            #expect(server.requests.count == 2)
        }
    }

    @Test func getIsStillRetriedAfterADrop() async throws {
        let server = try BCClientTests.scripted([.closeWithoutResponse, .json(200, Self.okBody)])
        defer { server.stop() }
        try await BCClientTests.withClient(server) { client async throws in
            let r = try await client.execute(BCRequest(method: "GET", url: "\(server.baseURL)/x"))
            #expect(r.status == 200)
            #expect(server.requests.count == 2)
        }
    }
}

/// The same rule as pure decisions: every failure class, for reads and for writes, with and
/// without an idempotency key. The error values are the ones AsyncHTTPClient and NIO throw.
@Suite struct WriteRetryRuleTests {
    let policy = RetryPolicy(maxAttempts: 4, baseDelay: .seconds(1), maxDelay: .seconds(30), jitter: 0.25)

    struct ErrorCase: Sendable, CustomTestStringConvertible {
        var label: String
        var error: @Sendable () -> any Error
        /// Whether a write is re-sent after it (a read always is, for these).
        var writeRetried: Bool
        var testDescription: String { "\(label) → write \(writeRetried ? "retried" : "not retried")" }
    }

    struct ResolverFailure: Error {}  // stands for a DNS failure (matched by type name, like NIO's)

    @Test(arguments: [
        ErrorCase(label: "connection refused", error: { IOError(errnoCode: ECONNREFUSED, reason: "connect") }, writeRetried: true),
        ErrorCase(label: "host unreachable", error: { IOError(errnoCode: EHOSTUNREACH, reason: "connect") }, writeRetried: true),
        ErrorCase(label: "connect timeout", error: { HTTPClientError.connectTimeout }, writeRetried: true),
        ErrorCase(label: "DNS failure", error: { ResolverFailure() }, writeRetried: true),
        ErrorCase(label: "read timeout", error: { HTTPClientError.readTimeout }, writeRetried: false),
        ErrorCase(label: "deadline exceeded", error: { HTTPClientError.deadlineExceeded }, writeRetried: false),
        ErrorCase(label: "connection reset", error: { IOError(errnoCode: ECONNRESET, reason: "read") }, writeRetried: false),
        ErrorCase(label: "broken pipe", error: { IOError(errnoCode: EPIPE, reason: "write") }, writeRetried: false),
        ErrorCase(label: "connection closed after send", error: { HTTPClientError.remoteConnectionClosed }, writeRetried: false),
        ErrorCase(label: "EOF", error: { ChannelError.eof }, writeRetried: false),
        ErrorCase(label: "an unknown error", error: { CocoaError(.fileNoSuchFile) }, writeRetried: false),
    ])
    func failureClass(c: ErrorCase) {
        let (kind, maybeSent) = TransportFailure.classify(c.error())
        for method in ["POST", "PATCH", "DELETE"] {
            for key in [nil, "key-1"] as [String?] {
                let request = BCRequest(method: method, url: "https://x/y", idempotencyKey: key)
                let d = policy.decision(afterFailure: kind, requestMaybeSent: maybeSent, write: request.isWrite, attempt: 1, random: 0.5)
                #expect((d != .stop) == c.writeRetried, "\(method) key=\(key ?? "-")")
                let failure = TransportFailure(kind: kind, method: method, url: "u", reason: "r", requestMaybeSent: maybeSent, attempts: 1)
                #expect(failure.outcomeUnknown == !c.writeRetried, "a write that was not retried reads unknown")
            }
        }
        let read = policy.decision(afterFailure: kind, requestMaybeSent: maybeSent, write: BCRequest(method: "GET", url: "u").isWrite,
                                   attempt: 1, random: 0.5)
        #expect(read != .stop, "a GET is retried on any transient failure")
    }

    @Test(arguments: [(429, true), (503, true), (504, false), (502, false), (500, false), (409, false), (412, false), (404, false)])
    func statusClass(status: Int, writeRetried: Bool) {
        for method in ["POST", "PATCH", "DELETE"] {
            for key in [nil, "key-1"] as [String?] {
                let request = BCRequest(method: method, url: "https://x/y", idempotencyKey: key)
                let d = policy.decision(afterStatus: status, retryAfter: nil, write: request.isWrite, attempt: 1, random: 0.5)
                #expect((d != .stop) == writeRetried, "\(method) \(status) key=\(key ?? "-")")
            }
        }
        let read = policy.decision(afterStatus: status, retryAfter: nil, write: false, attempt: 1, random: 0.5)
        #expect((read != .stop) == [429, 503, 504].contains(status))
    }
}
