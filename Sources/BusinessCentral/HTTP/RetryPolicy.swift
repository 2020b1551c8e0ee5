/// When and how long to wait before sending a request again.
///
/// Rules (pure functions, so they are tested without a network):
/// - a read (GET/HEAD) is retried on 429, 503 and 504 and on any transient transport failure
///   (connection refused, DNS, connect timeout, timeout, connection closed or reset);
/// - a write (POST/PATCH/DELETE/PUT) is retried ONLY when the failure proves Business Central
///   processed nothing: no connection could be made (refused, DNS, unreachable, connect timeout),
///   or the answer was 429 or 503. After a write may have reached the server (timeout, connection
///   closed or reset after sending, 502, 504, any other error) it is never re-sent, whatever
///   `Idempotency-Key` it carries — Business Central does not de-duplicate on that header; the
///   caller records the outcome as unknown (or the status it got);
/// - waits honour `Retry-After` (seconds) when the server sends it, else exponential backoff with
///   jitter; a `Retry-After` longer than `maxRetryAfter` stops the retries and returns the
///   response to the caller;
/// - a 429 or 503 also pauses every other request of the same `BCClient` (`throttlePause`,
///   `RateLimiter.pause(for:)`), so concurrent workers do not retry into a storm.
public struct RetryPolicy: Sendable, Equatable {
    /// Total sends, first one included (1 = never retry).
    public var maxAttempts: Int
    /// Backoff before the 2nd attempt; doubles for each further attempt.
    public var baseDelay: Duration
    /// Cap of a computed backoff (not of `Retry-After`).
    public var maxDelay: Duration
    /// Fraction of the backoff randomised either way (0.25 → 75 %…125 %).
    public var jitter: Double
    /// The longest `Retry-After` honoured by waiting.
    public var maxRetryAfter: Duration
    /// Statuses after which a read is sent again.
    public var retryableStatuses: Set<Int>
    /// Statuses after which a write is sent again: only answers that prove nothing was processed.
    public var retryableWriteStatuses: Set<Int>

    public init(
        maxAttempts: Int = 4,
        baseDelay: Duration = .seconds(1),
        maxDelay: Duration = .seconds(30),
        jitter: Double = 0.25,
        maxRetryAfter: Duration = .seconds(120),
        retryableStatuses: Set<Int> = [429, 503, 504],
        retryableWriteStatuses: Set<Int> = [429, 503]
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.jitter = min(max(jitter, 0), 1)
        self.maxRetryAfter = maxRetryAfter
        self.retryableStatuses = retryableStatuses
        self.retryableWriteStatuses = retryableWriteStatuses
    }

    public static let `default` = RetryPolicy()
    /// Never retry.
    public static let none = RetryPolicy(maxAttempts: 1)

    public enum Decision: Sendable, Equatable {
        case retry(after: Duration)
        case stop
    }

    /// After attempt number `attempt` (1-based) got `status`.
    /// - Parameters:
    ///   - write: true for POST/PATCH/DELETE/PUT (`BCRequest.isWrite`).
    ///   - random: a value in 0..<1 for the jitter (injected for tests).
    public func decision(
        afterStatus status: Int, retryAfter: String?, write: Bool, attempt: Int, random: Double
    ) -> Decision {
        guard attempt < maxAttempts, (write ? retryableWriteStatuses : retryableStatuses).contains(status) else { return .stop }
        if let retryAfter, let wait = Self.parseRetryAfter(retryAfter) {
            return wait <= maxRetryAfter ? .retry(after: wait) : .stop
        }
        return .retry(after: backoff(afterAttempt: attempt, random: random))
    }

    /// Statuses that say Business Central is throttling this user (429) or cannot take requests
    /// now (503): they pause every worker of the client, not only the request that got them.
    public static let throttleStatuses: Set<Int> = [429, 503]

    /// How long every request of the client waits after one got `status`, or nil when `status`
    /// is not a throttle status. Why beside `decision`: the pause is the wait the policy decided
    /// for this request (its `Retry-After`, else the backoff for `attempt` with the same
    /// `random`), so one worker's retry and every other worker's next send leave together. When
    /// the request itself stops retrying (attempts used up, or `Retry-After` above
    /// `maxRetryAfter`), the others still wait: its `Retry-After` capped at `maxRetryAfter`, else
    /// the backoff.
    public func throttlePause(afterStatus status: Int, retryAfter: String?, decision: Decision, attempt: Int,
                              random: Double) -> Duration? {
        guard Self.throttleStatuses.contains(status) else { return nil }
        if case .retry(let wait) = decision { return wait }
        if let retryAfter, let wait = Self.parseRetryAfter(retryAfter) { return min(wait, maxRetryAfter) }
        return backoff(afterAttempt: attempt, random: random)
    }

    /// After attempt number `attempt` failed without a response.
    /// - Parameter requestMaybeSent: false only when the request provably never left (see
    ///   `TransportFailure.requestMaybeSent`: no connection could be made).
    public func decision(
        afterFailure kind: TransportFailure.Kind, requestMaybeSent: Bool, write: Bool, attempt: Int, random: Double
    ) -> Decision {
        guard attempt < maxAttempts, kind != .cancelled, kind != .invalidRequest else { return .stop }
        // A write is re-sent only when it provably never reached the server, whatever key it has.
        guard !write || !requestMaybeSent else { return .stop }
        return .retry(after: backoff(afterAttempt: attempt, random: random))
    }

    /// `baseDelay · 2^(attempt-1)`, capped at `maxDelay`, times a jitter factor in
    /// `[1 - jitter, 1 + jitter)`.
    public func backoff(afterAttempt attempt: Int, random: Double) -> Duration {
        let base = Self.seconds(baseDelay)
        let cap = Self.seconds(maxDelay)
        let exponential = min(cap, base * Double(1 << min(max(attempt - 1, 0), 30)))
        let factor = 1 - jitter + 2 * jitter * min(max(random, 0), 1)
        return .milliseconds(Int64((exponential * factor * 1000).rounded()))
    }

    /// `Retry-After` as a delay: a non-negative integer number of seconds (the form BC sends).
    /// HTTP-dates and anything else → nil (the computed backoff applies).
    public static func parseRetryAfter(_ value: String) -> Duration? {
        let trimmed = value.trimmingWhitespace()
        guard !trimmed.isEmpty, trimmed.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let seconds = Int64(trimmed)
        else { return nil }
        return .seconds(seconds)
    }

    static func seconds(_ d: Duration) -> Double {
        let c = d.components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
