import Testing
import TestSupport

@testable import BusinessCentral

@Suite struct RetryPolicyTests {
    let policy = RetryPolicy(maxAttempts: 4, baseDelay: .seconds(1), maxDelay: .seconds(30), jitter: 0.25)

    struct StatusCase: Sendable, CustomTestStringConvertible {
        var status: Int
        var method: String
        var idempotencyKey: String?
        var retries: Bool
        var testDescription: String { "\(method) \(status) key=\(idempotencyKey ?? "-") → \(retries ? "retry" : "stop")" }
    }

    @Test(arguments: [
        StatusCase(status: 429, method: "GET", retries: true),
        StatusCase(status: 503, method: "GET", retries: true),
        StatusCase(status: 504, method: "GET", retries: true),
        StatusCase(status: 500, method: "GET", retries: false),
        StatusCase(status: 502, method: "GET", retries: false),
        StatusCase(status: 404, method: "GET", retries: false),
        StatusCase(status: 409, method: "PATCH", retries: false),
        StatusCase(status: 200, method: "GET", retries: false),
        StatusCase(status: 429, method: "HEAD", retries: true),
        // Writes: only 429 and 503 prove nothing was processed; a key changes nothing.
        StatusCase(status: 429, method: "POST", retries: true),
        StatusCase(status: 503, method: "PATCH", retries: true),
        StatusCase(status: 504, method: "DELETE", retries: false),
        StatusCase(status: 429, method: "POST", idempotencyKey: "k1", retries: true),
        StatusCase(status: 503, method: "PATCH", idempotencyKey: "k2", retries: true),
        StatusCase(status: 504, method: "DELETE", idempotencyKey: "k3", retries: false),
        StatusCase(status: 502, method: "POST", idempotencyKey: "k4", retries: false),
        StatusCase(status: 500, method: "POST", idempotencyKey: "k4", retries: false),
    ])
    func statusDecisions(c: StatusCase) {
        let request = BCRequest(method: c.method, url: "https://x/y", idempotencyKey: c.idempotencyKey)
        let decision = policy.decision(
            afterStatus: c.status, retryAfter: nil, write: request.isWrite, attempt: 1, random: 0.5)
        #expect((decision != .stop) == c.retries)
    }

    @Test func writeDefaults() {
        #expect(!BCRequest(method: "get", url: "u").isWrite)
        #expect(BCRequest(method: "get", url: "u").method.rawValue == "GET")
        #expect(!BCRequest(method: "HEAD", url: "u").isWrite)
        #expect(BCRequest(method: "POST", url: "u").isWrite)
        #expect(BCRequest(method: "POST", url: "u", idempotencyKey: "k").isWrite)  // a key changes nothing
        #expect(BCRequest(method: "delete", url: "u").isWrite)
        #expect(BCRequest(method: "PATCH", url: "u").isWrite)
    }

    @Test func attemptsAreCapped() {
        #expect(policy.decision(afterStatus: 503, retryAfter: nil, write: false, attempt: 3, random: 0.5) != .stop)
        #expect(policy.decision(afterStatus: 503, retryAfter: nil, write: false, attempt: 4, random: 0.5) == .stop)
        #expect(RetryPolicy.none.decision(afterStatus: 503, retryAfter: nil, write: false, attempt: 1, random: 0.5) == .stop)
        #expect(RetryPolicy(maxAttempts: 0).maxAttempts == 1)
    }

    @Test func retryAfterIsHonoured() {
        #expect(policy.decision(afterStatus: 429, retryAfter: "7", write: false, attempt: 1, random: 0.9) == .retry(after: .seconds(7)))
        #expect(policy.decision(afterStatus: 503, retryAfter: " 0 ", write: false, attempt: 2, random: 0.1) == .retry(after: .zero))
        // Longer than maxRetryAfter (120 s): give the response back instead of sleeping.
        #expect(policy.decision(afterStatus: 429, retryAfter: "600", write: false, attempt: 1, random: 0.5) == .stop)
        // Unparseable → computed backoff.
        #expect(policy.decision(afterStatus: 429, retryAfter: "soon", write: false, attempt: 1, random: 0.5) == .retry(after: .seconds(1)))
    }

    @Test func parseRetryAfter() {
        #expect(RetryPolicy.parseRetryAfter("120") == .seconds(120))
        #expect(RetryPolicy.parseRetryAfter("0") == .zero)
        #expect(RetryPolicy.parseRetryAfter("\t3 ") == .seconds(3))
        #expect(RetryPolicy.parseRetryAfter("-1") == nil)
        #expect(RetryPolicy.parseRetryAfter("1.5") == nil)
        #expect(RetryPolicy.parseRetryAfter("") == nil)
        #expect(RetryPolicy.parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT") == nil)
    }

    @Test func exponentialBackoffWithJitter() {
        #expect(policy.backoff(afterAttempt: 1, random: 0.5) == .seconds(1))
        #expect(policy.backoff(afterAttempt: 2, random: 0.5) == .seconds(2))
        #expect(policy.backoff(afterAttempt: 3, random: 0.5) == .seconds(4))
        #expect(policy.backoff(afterAttempt: 10, random: 0.5) == .seconds(30))  // capped
        #expect(policy.backoff(afterAttempt: 1, random: 0) == .milliseconds(750))
        #expect(policy.backoff(afterAttempt: 1, random: 1) == .milliseconds(1250))
        #expect(RetryPolicy(baseDelay: .milliseconds(10), jitter: 0).backoff(afterAttempt: 3, random: 0.7) == .milliseconds(40))
    }

    struct FailureCase: Sendable, CustomTestStringConvertible {
        var kind: TransportFailure.Kind
        var maybeSent: Bool
        var write: Bool
        var retries: Bool
        var testDescription: String { "\(kind) sent=\(maybeSent) write=\(write) → \(retries)" }
    }

    @Test(arguments: [
        FailureCase(kind: .connectFailed, maybeSent: false, write: false, retries: true),
        FailureCase(kind: .connectFailed, maybeSent: false, write: true, retries: true),  // never left: safe
        FailureCase(kind: .connectionClosed, maybeSent: true, write: false, retries: true),
        FailureCase(kind: .connectionClosed, maybeSent: true, write: true, retries: false),  // outcome unknown
        FailureCase(kind: .timeout, maybeSent: true, write: true, retries: false),
        FailureCase(kind: .timeout, maybeSent: true, write: false, retries: true),
        FailureCase(kind: .other, maybeSent: true, write: true, retries: false),
        FailureCase(kind: .cancelled, maybeSent: true, write: false, retries: false),
        FailureCase(kind: .invalidRequest, maybeSent: false, write: false, retries: false),
    ])
    func failureDecisions(c: FailureCase) {
        let d = policy.decision(afterFailure: c.kind, requestMaybeSent: c.maybeSent, write: c.write, attempt: 1, random: 0.5)
        #expect((d != .stop) == c.retries)
    }

    @Test func outcomeUnknownOnlyForWritesThatMayHaveBeenSent() {
        func failure(_ method: String, sent: Bool) -> TransportFailure {
            TransportFailure(kind: .connectionClosed, method: method, url: "u", reason: "r", requestMaybeSent: sent, attempts: 1)
        }
        #expect(failure("POST", sent: true).outcomeUnknown)
        #expect(failure("PATCH", sent: true).outcomeUnknown)
        #expect(failure("DELETE", sent: true).outcomeUnknown)
        #expect(!failure("POST", sent: false).outcomeUnknown)
        #expect(!failure("GET", sent: true).outcomeUnknown)
        #expect(failure("POST", sent: true).description.contains("OUTCOME UNKNOWN"))
        #expect(BCTransportError.transport(failure("POST", sent: true)).outcomeUnknown)
    }
}
