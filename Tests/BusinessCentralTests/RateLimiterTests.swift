import Foundation
import Hashing
import Sandbox
import Support
import Testing
import TestSupport

@testable import BusinessCentral

/// The limiter's arithmetic, driven through explicit instants: no clock, no sleeping.
@Suite struct RateLimiterStateTests {
    static func s(_ seconds: Double) -> Duration { .milliseconds(Int64(seconds * 1000)) }

    @Test func windowCountsAFinishedRequestUntilWindowAfterItsAnswer() {
        var state = RateLimiterState(RateLimit(requests: 3, windowSeconds: 10, concurrent: 0))
        for _ in 0..<3 { #expect(state.acquire(at: .zero) == .granted) }
        // Three out, none finished: only a release makes room.
        #expect(state.acquire(at: Self.s(1)) == .waitForRelease)
        state.release(at: Self.s(2), sent: true)
        // The finished one counts until 10 s after its answer (2 s), not after its grant (0 s).
        #expect(state.acquire(at: Self.s(3)) == .waitUntil(Self.s(12)))
        #expect(state.acquire(at: Self.s(11.999)) == .waitUntil(Self.s(12)))
        #expect(state.acquire(at: Self.s(12)) == .granted)
        #expect(state.acquire(at: Self.s(12)) == .waitForRelease)
    }

    @Test func anAttemptThatNeverLeftDoesNotCount() {
        var state = RateLimiterState(RateLimit(requests: 1, windowSeconds: 60, concurrent: 0))
        #expect(state.acquire(at: .zero) == .granted)
        state.release(at: .zero, sent: false)
        #expect(state.acquire(at: .zero) == .granted)
        state.release(at: Self.s(1), sent: true)
        #expect(state.acquire(at: Self.s(2)) == .waitUntil(Self.s(61)))
    }

    @Test func pauseHoldsEveryoneAndIsExtendedButNeverShortened() {
        var state = RateLimiterState(.unlimited)
        #expect(state.pause(until: Self.s(5)) == Self.s(5))
        #expect(state.acquire(at: Self.s(1)) == .waitUntil(Self.s(5)))
        #expect(state.pause(until: Self.s(3)) == Self.s(5), "a shorter pause shortened a longer one")
        #expect(state.acquire(at: Self.s(4)) == .waitUntil(Self.s(5)))
        #expect(state.pause(until: Self.s(8)) == Self.s(8))
        #expect(state.acquire(at: Self.s(5)) == .waitUntil(Self.s(8)))
        #expect(state.acquire(at: Self.s(8)) == .granted)
        #expect(state.pausedUntil == nil)
    }

    @Test func concurrencyCapWaitsForARelease() {
        var state = RateLimiterState(RateLimit(requests: 0, windowSeconds: 300, concurrent: 2))
        #expect(state.acquire(at: .zero) == .granted)
        #expect(state.acquire(at: .zero) == .granted)
        #expect(state.acquire(at: .zero) == .waitForRelease)
        state.release(at: Self.s(1), sent: true)
        #expect(state.acquire(at: Self.s(1)) == .granted)
        #expect(state.inFlight == 2)
    }

    /// The rule's promise, checked the way a server would see it: a request reaches the server at
    /// any instant between its grant and its answer, so a window [t, t+W) can hold request i iff
    /// grant_i < t+W and answer_i ≥ t. For every window start where that set changes, at most L
    /// requests may be in it — over a long seeded run of 5 workers with random latencies.
    @Test(arguments: [(20, 2.0, 5), (60, 3.0, 5), (7, 1.0, 3), (3, 0.5, 0)])
    func noServerWindowEverHoldsMoreThanTheLimit(requests: Int, window: Double, concurrent: Int) {
        let limit = RateLimit(requests: requests, windowSeconds: window, concurrent: concurrent)
        var state = RateLimiterState(limit)
        var rng = SeededGenerator(seed: 12)
        let total = requests * 3 + 17
        let workers = concurrent == 0 ? 6 : concurrent
        // Event-driven simulation: each worker sends, waits for its answer, sends again.
        var nextFree = [Duration](repeating: .zero, count: workers)
        var spans: [(grant: Duration, answer: Duration)] = []
        var outstanding: [(worker: Int, answer: Duration)] = []
        var now = Duration.zero
        while spans.count < total {
            // Release everything answered by now, in answer order.
            outstanding.sort { $0.answer < $1.answer }
            while let first = outstanding.first, first.answer <= now {
                state.release(at: first.answer, sent: true)
                nextFree[first.worker] = first.answer
                outstanding.removeFirst()
            }
            let busy = Set(outstanding.map(\.worker))
            guard let worker = (0..<workers).first(where: { !busy.contains($0) && nextFree[$0] <= now }) else {
                now = outstanding.map(\.answer).min() ?? now + .milliseconds(1)
                continue
            }
            switch state.acquire(at: now) {
            case .granted:
                let latency = Duration.milliseconds(Int64.random(in: 0...Int64(window * 100), using: &rng))
                spans.append((now, now + latency))
                outstanding.append((worker, now + latency))
            case .waitUntil(let until):
                #expect(until > now)
                now = min(until, outstanding.map(\.answer).min() ?? until)
            case .waitForRelease:
                #expect(!outstanding.isEmpty, "waiting for a release with nothing out")
                now = outstanding.map(\.answer).min() ?? now
            }
        }
        let w = limit.window
        let starts = spans.map(\.answer) + spans.map { $0.grant - w + .nanoseconds(1) }
        var worst = 0
        for t in starts {
            let inWindow = spans.filter { $0.grant < t + w && $0.answer >= t }.count
            worst = max(worst, inWindow)
        }
        #expect(worst <= requests, "a window of \(window) s could hold \(worst) requests (limit \(requests))")
        #expect(worst == requests, "the limiter never used the whole window (\(worst) of \(requests))")
    }

    /// The window keeps one time per counted request, never more.
    @Test func memoryStaysWithinTheLimit() {
        var state = RateLimiterState(RateLimit(requests: 100, windowSeconds: 1, concurrent: 0))
        var now = Duration.zero
        for _ in 0..<50_000 {
            while case .waitUntil(let until) = state.acquire(at: now) { now = until }
            state.release(at: now, sent: true)
            #expect(state.recentCount <= 100)
            now += .milliseconds(3)
        }
    }
}

/// A clock a test moves by hand: `sleep(until:)` returns when `advance(to:)` passes the deadline
/// (or throws when the task is cancelled).
final class ManualClock: RateLimiterClock, @unchecked Sendable {
    private let lock = NSLock()
    private var current = Duration.zero
    private var sleepers: [(id: Int, deadline: Duration, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextID = 0

    func now() -> Duration { lock.withLock { current } }

    var sleeping: Int { lock.withLock { sleepers.count } }

    func advance(to instant: Duration) {
        let due = lock.withLock { () -> [CheckedContinuation<Void, any Error>] in
            current = max(current, instant)
            let due = sleepers.filter { $0.deadline <= current }.map(\.continuation)
            sleepers.removeAll { $0.deadline <= current }
            return due
        }
        for continuation in due { continuation.resume() }
    }

    func sleep(until deadline: Duration) async throws {
        let id = lock.withLock { () -> Int in
            nextID += 1
            return nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = lock.withLock { () -> Bool in
                    if deadline <= current || Task.isCancelled { return true }
                    sleepers.append((id, deadline, continuation))
                    return false
                }
                if resumeNow {
                    if Task.isCancelled { continuation.resume(throwing: CancellationError()) } else { continuation.resume() }
                }
            }
        } onCancel: {
            let c = lock.withLock { () -> CheckedContinuation<Void, any Error>? in
                guard let i = sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return sleepers.remove(at: i).continuation
            }
            c?.resume(throwing: CancellationError())
        }
    }
}

/// The clock the sandbox journal uses (wall time), so pauses can be compared with journal lines.
struct WallClock: RateLimiterClock {
    func now() -> Duration { WallClock.nowDuration() }

    static func nowDuration() -> Duration {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return .seconds(Int64(ts.tv_sec)) + .nanoseconds(Int64(ts.tv_nsec))
    }

    func sleep(until deadline: Duration) async throws {
        let wait = deadline - now()
        if wait > .zero { try await Task.sleep(for: wait) }
    }
}

/// The actor: tasks sharing one limiter, the pause gate across tasks, cancellation.
///
/// The time limit only turns a hang into a failure. It is far above what these tests need because
/// Swift Testing runs synchronous tests on the same few threads (one per core) as async ones: in
/// the full suite the end-to-end tests that wait on a child `bcli` can hold every one of them for
/// a minute or more, and the limit's clock runs while a test waits for a thread. A limit of one
/// minute failed a clean CI run that way with nothing wrong in the limiter.
@Suite(.timeLimit(.minutes(10))) struct RateLimiterActorTests {
    /// Awaits `condition` by yielding (no guessed sleep). Ends when the test is cancelled (its time
    /// limit), recording an issue, so a condition that never comes fails instead of spinning; no
    /// wall-clock deadline of its own, which a starved thread pool would trip.
    static func until(_ condition: () async -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async {
        while !(await condition()) {
            if Task.isCancelled {
                Issue.record("the awaited condition never held", sourceLocation: sourceLocation)
                return
            }
            await Task.yield()
        }
    }

    @Test func aPauseHoldsEveryTaskUntilItEnds() async throws {
        let clock = ManualClock()
        let limiter = RateLimiter(.unlimited, clock: clock)
        await limiter.pause(for: .seconds(10))
        let granted = Locked(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    let permit = try await limiter.acquire()
                    granted.withLock { $0 += 1 }
                    await limiter.release(permit, sent: true)
                }
            }
            await Self.until { clock.sleeping == 3 }
            #expect(granted.withLock { $0 } == 0)
            clock.advance(to: .seconds(9))
            // A longer pause asked meanwhile (another worker's 429) extends the wait for all.
            await limiter.pause(for: .seconds(5))  // now 9 s → until 14 s
            clock.advance(to: .seconds(10))
            await Self.until { clock.sleeping == 3 }
            #expect(granted.withLock { $0 } == 0, "a task went on before the extended pause ended")
            clock.advance(to: .seconds(14))
            try await group.waitForAll()
        }
        #expect(granted.withLock { $0 } == 3)
        #expect(await limiter.snapshot == RateLimiter.Snapshot(inFlight: 0, recent: 0, pausedUntil: nil))
    }

    @Test func aTaskCancelledDuringAPauseThrowsAtOnce() async throws {
        let limiter = RateLimiter(.businessCentral)
        await limiter.pause(for: .seconds(3600))
        let task = Task { try await limiter.acquire() }
        task.cancel()
        await #expect(throws: CancellationError.self) { _ = try await task.value }
    }

    @Test func aTaskCancelledWhileWaitingForASlotThrowsAndLeavesNoWaiter() async throws {
        let limiter = RateLimiter(RateLimit(requests: 0, windowSeconds: 300, concurrent: 1))
        let first = try await limiter.acquire()
        let waiter = Task { try await limiter.acquire() }
        // The waiter is parked for a release (awaited, not a guessed number of yields).
        await Self.until { await limiter.waitingForRelease == 1 }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { _ = try await waiter.value }
        #expect(await limiter.waitingForRelease == 0)
        await limiter.release(first, sent: true)
        let again = try await limiter.acquire()
        #expect(await limiter.snapshot.inFlight == 1)
        await limiter.release(again, sent: true)
        await limiter.release(again, sent: true)  // a second release is ignored
        #expect(await limiter.snapshot.inFlight == 0)
    }

    /// A cancellation may land at any moment of a wait: before the waiter is stored, while it is
    /// parked, or as a release wakes it. Each way the task ends (a permit or `CancellationError`),
    /// and no waiter or permit is left behind.
    @Test func cancellingAtAnyMomentNeverHangsOrLeaksAWaiter() async throws {
        var cancelled = 0, granted = 0
        for round in 0..<2_000 {
            let limiter = RateLimiter(RateLimit(requests: 0, windowSeconds: 300, concurrent: 1))
            let first = try await limiter.acquire()
            let waiter = Task { try await limiter.acquire() }
            for _ in 0..<(round % 5) { await Task.yield() }
            if round % 3 == 0 { await limiter.release(first, sent: true) }
            waiter.cancel()
            do {
                let permit = try await waiter.value
                granted += 1
                await limiter.release(permit, sent: true)
            } catch is CancellationError {
                cancelled += 1
            }
            await limiter.release(first, sent: true)
            #expect(await limiter.waitingForRelease == 0, "round \(round)")
            #expect(await limiter.snapshot.inFlight == 0, "round \(round)")
        }
        #expect(cancelled + granted == 2_000)
        #expect(cancelled > 0)
    }

    /// A request whose task is cancelled while the limiter holds it is never sent, and the error
    /// says so (a write that did not leave is not "unknown").
    @Test func bcClientCancelledWhileHeldSendsNothing() async throws {
        let server = try BCClientTests.scripted([.json(201, BCClientTests.okBody)])
        defer { server.stop() }
        try await TestHTTP.withHTTPClient { http in
            let profile = BCClientTests.profile(server)
            let tokens = TokenProvider(profile: profile, environment: ["BCLI_TOKEN": "tok"], cacheFile: nil, httpClient: http)
            let limiter = RateLimiter(.businessCentral)
            let client = BCClient(profile: profile, tokens: tokens, httpClient: http, limiter: limiter)
            await limiter.pause(for: .seconds(3600))
            let task = Task {
                try await client.execute(BCRequest(method: "POST", url: "\(server.baseURL)/x", body: Array("{}".utf8)))
            }
            task.cancel()
            do {
                let response = try await task.value
                Issue.record("expected a cancellation, got HTTP \(response.status)")
            } catch let error as BCTransportError {
                guard case .transport(let failure) = error else { Issue.record("wrong error \(error)"); return }
                #expect(failure.kind == .cancelled)
                #expect(!failure.requestMaybeSent)
                #expect(!failure.outcomeUnknown)
            }
            #expect(server.requests.isEmpty)
        }
    }

    /// A 429 answered to one request pauses the shared limiter for its Retry-After.
    @Test func a429PausesTheSharedLimiterForItsRetryAfter() async throws {
        let server = try BCClientTests.scripted([
            .json(429, "{}", headers: [("Retry-After", "0")]), .json(201, BCClientTests.okBody),
        ])
        defer { server.stop() }
        let pauses = Locked<[Duration]>([])
        let limiter = RateLimiter(.businessCentral, onPause: { from, until in pauses.withLock { $0.append(until - from) } })
        try await TestHTTP.withHTTPClient { http in
            let profile = BCClientTests.profile(server)
            let tokens = TokenProvider(profile: profile, environment: ["BCLI_TOKEN": "tok"], cacheFile: nil, httpClient: http)
            let client = BCClient(profile: profile, tokens: tokens, httpClient: http, retry: BCClientTests.fastRetry, limiter: limiter)
            let r = try await client.execute(BCRequest(method: "POST", url: "\(server.baseURL)/x", body: Array("{}".utf8)))
            #expect(r.status == 201)
            #expect(r.attempts == 2)
        }
        #expect(pauses.withLock { $0 } == [.zero])
        let policy = RetryPolicy.default
        #expect(policy.throttlePause(afterStatus: 429, retryAfter: "7", decision: .retry(after: .seconds(7)), attempt: 1, random: 0.5) == .seconds(7))
        // The request gave up (Retry-After above maxRetryAfter): the others still wait, at most maxRetryAfter.
        #expect(policy.throttlePause(afterStatus: 503, retryAfter: "900", decision: .stop, attempt: 1, random: 0.5) == .seconds(120))
        #expect(policy.throttlePause(afterStatus: 503, retryAfter: nil, decision: .stop, attempt: 4, random: 0.5) == .seconds(8))
        #expect(policy.throttlePause(afterStatus: 504, retryAfter: "1", decision: .retry(after: .seconds(1)), attempt: 1, random: 0.5) == nil)
    }
}

/// The profile keys: read strictly, defaults from `[defaults]`, and the client's limiter built from them.
@Suite struct RateLimitConfigTests {
    static let base = """
        [profiles.p]
        tenant_id = "t"
        environment = "production"

        """

    func parse(_ text: String) throws(ConfigError) -> BCConfig {
        try BCConfig.parse(text, path: "config.toml", environment: [:])
    }

    @Test func defaultsAreBusinessCentralsLimits() throws {
        let config = try parse(Self.base)
        #expect(try config.profile(named: "p").rateLimit == RateLimit(requests: 6000, windowSeconds: 300, concurrent: 5))
        #expect(try config.profile(named: "sandbox").rateLimit == .businessCentral)
    }

    @Test func profileKeysOverDefaultsKeyByKey() throws {
        let config = try parse("""
            [defaults]
            rate_limit_requests = 100
            rate_limit_concurrent = 3

            """ + Self.base + """
            rate_limit_window_seconds = 2.5
            rate_limit_concurrent = 0
            """)
        #expect(try config.profile(named: "p").rateLimit == RateLimit(requests: 100, windowSeconds: 2.5, concurrent: 0))
        // The built-in sandbox profile takes [defaults] too.
        #expect(try config.profile(named: "sandbox").rateLimit == RateLimit(requests: 100, windowSeconds: 300, concurrent: 3))
    }

    @Test(arguments: [
        ("rate_limit_requests = -1", "rate_limit_requests"),
        ("rate_limit_requests = 1000001", "rate_limit_requests"),
        ("rate_limit_requests = \"6000\"", "rate_limit_requests"),
        ("rate_limit_window_seconds = 0", "rate_limit_window_seconds"),
        ("rate_limit_window_seconds = 86401", "rate_limit_window_seconds"),
        ("rate_limit_window_seconds = \"300\"", "rate_limit_window_seconds"),
        ("rate_limit_concurrent = 101", "rate_limit_concurrent"),
        ("rate_limit_concurrent = true", "rate_limit_concurrent"),
    ])
    func badValuesAreErrorsNamingTheKey(line: String, key: String) {
        do {
            _ = try parse(Self.base + line)
            Issue.record("`\(line)` loaded")
        } catch {
            guard case .invalidValue(_, let l, _, let k, _) = error else { Issue.record("wrong error \(error)"); return }
            #expect(k == key)
            #expect(l == 4)
        }
    }

    @Test func aMisspelledKeyIsUnknownWithASuggestion() {
        do {
            _ = try parse(Self.base + "rate_limit_request = 10")
            Issue.record("a misspelled key loaded")
        } catch {
            guard case .unknownKey(_, _, _, let key, _, let suggestion) = error else { Issue.record("wrong error \(error)"); return }
            #expect(key == "rate_limit_request")
            #expect(suggestion == "rate_limit_requests")
        }
    }

    @Test func configCheckListsTheKeysAsUsed() throws {
        let config = try parse("[defaults]\nrate_limit_requests = 10\n" + Self.base + "rate_limit_concurrent = 2\n")
        let entries = ConfigInventory(config).entries
        #expect(entries.contains { $0.key == "defaults.rate_limit_requests" && $0.status == .used })
        #expect(entries.contains { $0.key == "profiles.p.rate_limit_concurrent" && $0.status == .used })
    }

    @Test func theClientsLimiterHoldsTheProfilesLimit() async throws {
        var profile = try parse(Self.base + "rate_limit_requests = 20\nrate_limit_window_seconds = 2\n").profile(named: "p")
        profile.baseURL = "http://127.0.0.1:9"
        let client = BCClient(profile: profile, environment: ["BCLI_TOKEN": "x"], tokenCache: .memoryOnly)
        #expect(client.limiter.limit == RateLimit(requests: 20, windowSeconds: 2, concurrent: 5))
        await client.shutdown()
    }
}

/// Many workers through ONE `BCClient` against the real sandbox on 127.0.0.1.
/// The time limit is generous for the reason `RateLimiterActorTests` gives.
@Suite(.timeLimit(.minutes(10))) struct RateLimiterSandboxTests {
    /// Journal line time (`2026-12-02T14:50:00.123Z`) → milliseconds since the epoch.
    static func millis(_ line: JSONValue) throws -> Int64 {
        let text = try #require(line["time"]?.stringValue)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let date = try #require(formatter.date(from: text), "journal time \(text)")
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    static func ms(_ d: Duration) -> Int64 {
        d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
    }

    /// Runs `workers` tasks that each POST `perWorker` customers through `client`, ids `w<i>-<n>`.
    /// Returns, per client-request-id, when its `execute` was called (wall clock) and its response.
    static func post(
        _ client: BCClient, workers: Int, perWorker: Int
    ) async throws -> [String: (started: Duration, response: BCResponse)] {
        let url = try URLBuilder.entityURL(profile: client.profile, entitySet: "customers")
        return try await withThrowingTaskGroup(of: [(String, Duration, BCResponse)].self) { group in
            for w in 0..<workers {
                group.addTask {
                    var results: [(String, Duration, BCResponse)] = []
                    for n in 0..<perWorker {
                        let id = "w\(w)-\(n)"
                        let body = Array(#"{"displayName":"Limiter \#(id)"}"#.utf8)
                        let started = WallClock.nowDuration()
                        let r = try await client.execute(BCRequest(method: "POST", url: url, body: body, clientRequestID: id))
                        results.append((id, started, r))
                    }
                    return results
                }
            }
            var all: [String: (started: Duration, response: BCResponse)] = [:]
            for try await part in group {
                for (id, started, r) in part { all[id] = (started, r) }
            }
            return all
        }
    }

    static func client(_ sandbox: LiveSandbox, dir: TempDir, retry: RetryPolicy = .default, limiter: RateLimiter) throws -> BCClient {
        let config = try BCConfig.load(environment: ["XDG_CONFIG_HOME": dir.path, "HOME": dir.path])
        let profile = try config.profile(named: "sandbox").withBaseURL(sandbox.url)
        return BCClient(profile: profile, environment: [:], tokenCache: .memoryOnly, retry: retry, limiter: limiter)
    }

    /// `throttle:every=10,retry-after=1` with 5 workers: each 429 pauses all five, so the sandbox
    /// answers exactly one 429 per firing and every 429 costs one retry; no request that started
    /// after a pause began reached the server before the pause ended (journal times), and the
    /// throttled request itself went again only after it.
    @Test func a429PausesEveryWorkerAndCausesNoStorm() async throws {
        try await withSandbox(faults: ["throttle:every=10,retry-after=1"]) { sandbox in
            let dir = TempDir("bcli-limiter")
            let pauses = Locked<[(from: Duration, until: Duration)]>([])
            let limiter = RateLimiter(.businessCentral, clock: WallClock(), onPause: { from, until in
                pauses.withLock { $0.append((from, until)) }
            })
            let client = try Self.client(sandbox, dir: dir, limiter: limiter)
            let results: [String: (started: Duration, response: BCResponse)]
            do {
                results = try await Self.post(client, workers: 5, perWorker: 6)
            } catch {
                await client.shutdown()
                throw error
            }
            await client.shutdown()

            #expect(results.count == 30)
            #expect(results.values.allSatisfy { $0.response.status == 201 })
            let retries = results.values.map { $0.response.attempts - 1 }.reduce(0, +)
            let faults = try await sandbox.faultState()
            let fired = Int(try #require(faults["faults"]?.arrayValue?.first?["fired"]?.doubleValue))
            // 30 creates + 3 429s = 33 requests: the 10th, 20th and 30th were throttled.
            #expect(fired == 3)
            #expect(retries == fired, "429s answered: \(fired), retries: \(retries)")
            let recorded = pauses.withLock { $0 }
            #expect(recorded.count == fired)

            let journal = try await sandbox.journal()
            #expect(journal.count == 30)
            var committed: [String: Int64] = [:]
            for line in journal {
                committed[try #require(line["client_request_id"]?.stringValue)] = try Self.millis(line)
            }
            for pause in recorded {
                let from = Self.ms(pause.from), until = Self.ms(pause.until)
                #expect(until - from >= 1000)
                var duringPause = 0
                for (id, result) in results {
                    let at = try #require(committed[id])
                    if Self.ms(result.started) >= from {
                        #expect(at >= until, "\(id) started after a pause began (\(from)) and reached the server at \(at), before it ended (\(until))")
                    }
                    if at > from && at < until { duringPause += 1 }
                }
                // Only requests already on the wire when the 429 came back may land inside the pause.
                #expect(duringPause <= 4)
            }
            for (id, result) in results where result.response.attempts == 2 {
                let at = try #require(committed[id])
                let started = Self.ms(result.started)
                #expect(recorded.contains { Self.ms($0.from) >= started && at >= Self.ms($0.until) },
                        "the throttled \(id) was re-sent before its pause ended")
            }
        }
    }

    /// BC runs 5 requests per user and the sandbox's `limit:concurrent=5,queue=0` answers 429 to a
    /// 6th: eight workers through one client never get one, because the limiter lets 5 out at once.
    @Test func eightWorkersStayWithinFiveConcurrentRequests() async throws {
        try await withSandbox(faults: ["limit:concurrent=5,queue=0"]) { sandbox in
            let dir = TempDir("bcli-limiter")
            let client = try Self.client(sandbox, dir: dir, retry: .none, limiter: RateLimiter(.businessCentral))
            let results: [String: (started: Duration, response: BCResponse)]
            do {
                results = try await Self.post(client, workers: 8, perWorker: 5)
            } catch {
                await client.shutdown()
                throw error
            }
            await client.shutdown()
            #expect(results.count == 40)
            let statuses = results.values.map(\.response.status)
            #expect(statuses.filter { $0 == 429 }.count == 0, "429s: \(statuses.filter { $0 == 429 }.count)")
            #expect(statuses.allSatisfy { $0 == 201 })
            #expect(try await sandbox.journal().count == 40)
        }
    }

    /// 20 requests per 2-second window, 45 requests from 5 workers: no 2-second window of the
    /// journal holds more than 20. (Tolerance: the sandbox's journal clock runs up to 1 ms per
    /// write ahead of real time when writes share a millisecond, and times are in whole ms.)
    @Test func noJournalWindowExceedsAConfiguredLimit() async throws {
        try await withSandbox { sandbox in
            let dir = TempDir("bcli-limiter")
            let limit = RateLimit(requests: 20, windowSeconds: 2, concurrent: 5)
            let client = try Self.client(sandbox, dir: dir, limiter: RateLimiter(limit))
            let results: [String: (started: Duration, response: BCResponse)]
            do {
                results = try await Self.post(client, workers: 5, perWorker: 9)
            } catch {
                await client.shutdown()
                throw error
            }
            await client.shutdown()
            #expect(results.values.allSatisfy { $0.response.status == 201 })
            let times = try await sandbox.journal().map(Self.millis).sorted()
            #expect(times.count == 45)
            let tolerance: Int64 = 25
            for i in 0..<(times.count - 20) {
                // times[i] … times[i+20] are 21 requests: they must span at least the window.
                #expect(times[i + 20] - times[i] >= 2000 - tolerance,
                        "21 requests within \(times[i + 20] - times[i]) ms (journal lines \(i + 1)–\(i + 21))")
            }
        }
    }
}
