import Foundation

/// Business Central's documented per-user limits, as a profile configures them
/// (`rate_limit_requests`, `rate_limit_window_seconds`, `rate_limit_concurrent`; docs/configuration.md).
///
/// Why a value on the profile: BC counts requests per user, and a profile is one user (one app
/// registration) in one environment, so the limit belongs to the profile, not to a command.
public struct RateLimit: Sendable, Equatable, CustomStringConvertible {
    /// Requests allowed in any window of `windowSeconds`; 0 turns the window off.
    public var requests: Int
    /// The sliding window's length in seconds.
    public var windowSeconds: Double
    /// Requests on the wire at once; 0 turns the cap off.
    public var concurrent: Int

    public init(requests: Int, windowSeconds: Double, concurrent: Int) {
        self.requests = requests
        self.windowSeconds = windowSeconds
        self.concurrent = concurrent
    }

    /// BC online's per-user limits: 6,000 OData requests per 5-minute sliding window, 5 running
    /// at once (docs: administration/operational-limits-online.md; anchors.md §Limits).
    public static let businessCentral = RateLimit(requests: 6000, windowSeconds: 300, concurrent: 5)
    /// No window and no cap (the pause gate still honours the server's Retry-After).
    public static let unlimited = RateLimit(requests: 0, windowSeconds: 300, concurrent: 0)

    /// The largest `requests` accepted: the limiter keeps one time per request of the window.
    public static let maxRequests = 1_000_000
    public static let maxWindowSeconds: Double = 86_400
    public static let maxConcurrent = 100

    public var window: Duration { .milliseconds(Int64((windowSeconds * 1000).rounded())) }

    public var description: String {
        let window = requests > 0 ? "\(requests) requests per \(RateLimit.format(windowSeconds)) s" : "no request window"
        let cap = concurrent > 0 ? "at most \(concurrent) at once" : "no concurrency cap"
        return "\(window), \(cap)"
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() && abs(seconds) < 1e15 ? String(Int64(seconds)) : String(seconds)
    }
}

/// Where a `RateLimiter` reads the time and waits. Injected so the arithmetic is tested without
/// sleeping, and so a test can compare pauses with the sandbox journal's wall-clock times.
public protocol RateLimiterClock: Sendable {
    /// Time since a fixed origin of this clock; never goes back.
    func now() -> Duration
    /// Returns at `deadline` (on this clock) or later; throws when the task is cancelled.
    func sleep(until deadline: Duration) async throws
}

/// The default clock: monotonic (`ContinuousClock`), origin at creation.
public struct MonotonicRateLimiterClock: RateLimiterClock {
    private let origin = ContinuousClock.now

    public init() {}

    public func now() -> Duration { ContinuousClock.now - origin }

    public func sleep(until deadline: Duration) async throws {
        try await Task.sleep(until: origin + deadline, clock: .continuous)
    }
}

/// One rate limiter per `BCClient` — so one per profile per process — shared by every task that
/// sends through that client (the workers of `batch run --concurrency N`).
///
/// Why one shared gate: with N workers retrying each on its own, a 429 makes N workers wait and
/// then all retry at once into another 429 (a storm), and nothing keeps N workers under BC's
/// per-user window. Every attempt — the first send, every retry, the re-send after a token
/// refresh — first calls `acquire()`, and hands its permit back with `release(_:sent:)` when the
/// answer (or the failure) came. Three rules decide when `acquire()` returns:
///
/// 1. **Pause gate.** `pause(for:)` — called by `BCClient` on every 429 or 503, for its
///    `Retry-After` or else the backoff `RetryPolicy` computed — holds every `acquire()` of every
///    task until that instant. A later, longer pause extends it; a shorter one never shortens it.
/// 2. **Concurrency cap.** At most `concurrent` permits out at once (BC runs 5 requests per user
///    and queues the rest; its queue answers 429 when full).
/// 3. **Sliding window.** At most `requests` requests in any window of `window`, **as the server
///    counts them**. A token bucket of capacity C refilled at C per window does not guarantee
///    that (a full bucket spent at the end of one window plus the refill allows almost 2C in one
///    sliding window), and counting at the moment of sending does not either (a request that
///    left early can arrive late). So the limiter keeps one time per request: a permit out counts
///    without end, and a finished request counts until `window` after its answer came back. A
///    request reaches the server after its permit was granted and before its answer returns, so
///    when the (L+1)th request is granted at least `window` after some earlier request's answer,
///    the two arrivals are at least `window` apart: no window at the server holds more than L,
///    whatever the network's latency. Memory is one `Duration` per request of the window (6,000
///    by default, ~96 KB). It allows the whole window's worth at once (BC does too), which
///    finishes a long run sooner than a smoothed rate would.
///
/// A cancelled task waiting in `acquire()` throws `CancellationError` at once (the runner
/// cancels its workers on a second Ctrl-C): the cancellation handler resumes the waiter itself,
/// under a lock, rather than through a task that would first need a free thread and the actor.
public actor RateLimiter {
    /// A granted attempt; give it back with `release(_:sent:)` exactly once.
    public struct Permit: Sendable, Hashable {
        let id: UInt64
    }

    /// What the limiter holds right now (tests, diagnostics).
    public struct Snapshot: Sendable, Equatable {
        public var inFlight: Int
        /// Finished requests still counted in the window.
        public var recent: Int
        /// The end of the current pause, on the limiter's clock; nil when not paused.
        public var pausedUntil: Duration?
    }

    /// Called on every `pause(for:)` with the time it was asked (`from`) and the end of the pause
    /// in force after it (`until`), both on the limiter's clock.
    public typealias PauseObserver = @Sendable (_ from: Duration, _ until: Duration) -> Void

    public nonisolated let limit: RateLimit
    private var state: RateLimiterState
    private let clock: any RateLimiterClock
    private let onPause: PauseObserver?
    private var outstanding: Set<UInt64> = []
    private var nextID: UInt64 = 0
    private let releaseWaiters = ReleaseWaiters()

    public init(_ limit: RateLimit = .businessCentral, clock: any RateLimiterClock = MonotonicRateLimiterClock(),
                onPause: PauseObserver? = nil) {
        self.limit = limit
        self.state = RateLimiterState(limit)
        self.clock = clock
        self.onPause = onPause
    }

    /// Waits until this attempt may go on the wire: no pause in force, a concurrency slot free,
    /// room in the window. Throws `CancellationError` as soon as the task is cancelled.
    public func acquire() async throws(CancellationError) -> Permit {
        while true {
            if Task.isCancelled { throw CancellationError() }
            switch state.acquire(at: clock.now()) {
            case .granted:
                nextID += 1
                outstanding.insert(nextID)
                return Permit(id: nextID)
            case .waitUntil(let deadline):
                do {
                    try await clock.sleep(until: deadline)
                } catch {
                    throw CancellationError()
                }
            case .waitForRelease:
                try await waitForRelease()
            }
        }
    }

    /// Hands a permit back. `sent`: the attempt went on the wire (it then counts in the window
    /// until `window` after now); false when it never left (e.g. no token could be had).
    /// A permit given back twice, or one this limiter did not grant, is ignored.
    public func release(_ permit: Permit, sent: Bool) {
        guard outstanding.remove(permit.id) != nil else { return }
        state.release(at: clock.now(), sent: sent)
        releaseWaiters.resumeAll()
    }

    /// Holds every `acquire()` until `wait` from now (or longer, if a longer pause is in force).
    public func pause(for wait: Duration) {
        let now = clock.now()
        let until = state.pause(until: now + wait)
        onPause?(now, until)
    }

    public var snapshot: Snapshot {
        state.snapshot(at: clock.now())
    }

    /// Tasks parked in `acquire()` until a permit comes back (tests, diagnostics).
    var waitingForRelease: Int { releaseWaiters.count }

    private func waitForRelease() async throws(CancellationError) {
        nextID += 1
        let id = nextID
        let waiters = releaseWaiters
        defer { waiters.forget(id) }
        do {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    waiters.add(id, continuation)
                }
            } onCancel: {
                waiters.cancel(id)
            }
        } catch {
            throw CancellationError()
        }
    }
}

/// The continuations of tasks waiting for a release, behind a lock so that a task's cancellation
/// handler — which runs on the cancelling thread, at any moment, even before the continuation is
/// stored — resumes it at once. A cancellation that comes first is remembered until `add`.
final class ReleaseWaiters: @unchecked Sendable {
    private let lock = NSLock()
    private var waiting: [UInt64: CheckedContinuation<Void, any Error>] = [:]
    private var cancelled: Set<UInt64> = []

    var count: Int { lock.withLock { waiting.count } }

    func add(_ id: UInt64, _ continuation: CheckedContinuation<Void, any Error>) {
        let wasCancelled = lock.withLock {
            if cancelled.remove(id) != nil { return true }
            waiting[id] = continuation
            return false
        }
        if wasCancelled { continuation.resume(throwing: CancellationError()) }
    }

    func cancel(_ id: UInt64) {
        let continuation = lock.withLock {
            guard let continuation = waiting.removeValue(forKey: id) else {
                cancelled.insert(id)
                return nil as CheckedContinuation<Void, any Error>?
            }
            return continuation
        }
        continuation?.resume(throwing: CancellationError())
    }

    func resumeAll() {
        let all = lock.withLock {
            let all = waiting
            waiting = [:]
            return all
        }
        for continuation in all.values { continuation.resume() }
    }

    /// Drops what `cancel` remembered for a wait that has ended.
    func forget(_ id: UInt64) {
        _ = lock.withLock { cancelled.remove(id) }
    }
}

/// The limiter's arithmetic, without a clock or tasks: every time is passed in, so tests drive
/// it through any sequence of instants without sleeping. `RateLimiter` is its only user.
struct RateLimiterState: Sendable {
    enum Verdict: Sendable, Equatable {
        case granted
        /// Nothing can be granted before this instant (a pause ends, or a request leaves the window).
        case waitUntil(Duration)
        /// Every counted request is still out: only a `release` can make room.
        case waitForRelease
    }

    let requests: Int
    let window: Duration
    let concurrent: Int
    private(set) var inFlight = 0
    /// Answer times of finished requests still in the window, oldest first (`finished[head...]`).
    private var finished: [Duration] = []
    private var head = 0
    private(set) var pausedUntil: Duration?

    init(_ limit: RateLimit) {
        requests = max(0, limit.requests)
        window = limit.window
        concurrent = max(0, limit.concurrent)
    }

    var recentCount: Int { finished.count - head }

    mutating func acquire(at now: Duration) -> Verdict {
        if let until = pausedUntil {
            if now < until { return .waitUntil(until) }
            pausedUntil = nil
        }
        if concurrent > 0, inFlight >= concurrent { return .waitForRelease }
        if requests > 0 {
            evict(now)
            if inFlight + recentCount >= requests {
                return head < finished.count ? .waitUntil(finished[head] + window) : .waitForRelease
            }
        }
        inFlight += 1
        return .granted
    }

    mutating func release(at now: Duration, sent: Bool) {
        inFlight = max(0, inFlight - 1)
        if sent, requests > 0 {
            // `now` never goes back between calls (one actor, a monotonic clock), so the list stays sorted.
            finished.append(max(now, finished.last ?? now))
        }
    }

    /// Extends the pause to `until` (never shortens it); returns the end in force.
    mutating func pause(until: Duration) -> Duration {
        let end = max(until, pausedUntil ?? until)
        pausedUntil = end
        return end
    }

    func snapshot(at now: Duration) -> RateLimiter.Snapshot {
        let recent = finished[head...].filter { $0 + window > now }.count
        return RateLimiter.Snapshot(inFlight: inFlight, recent: recent,
                                    pausedUntil: pausedUntil.flatMap { $0 > now ? $0 : nil })
    }

    /// A finished request stops counting `window` after its answer.
    private mutating func evict(_ now: Duration) {
        while head < finished.count, finished[head] + window <= now { head += 1 }
        if head > 1024, head * 2 > finished.count {
            finished.removeFirst(head)
            head = 0
        }
    }
}
