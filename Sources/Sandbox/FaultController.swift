import HTTPTypes
import Hashing
import Support

/// The live fault state of one server: armed faults with their counters, the latency, requests
/// held by `hold` faults, and the per-client concurrency gate.
///
/// Why an actor: every request consults and bumps the counters, so "every Nth" must be counted
/// under one lock to stay deterministic when requests arrive concurrently.
actor FaultController {
    private struct Armed {
        var fault: SandboxFault
        var matched = 0
        var fired = 0
        var rng: SeededGenerator

        init(_ fault: SandboxFault) {
            self.fault = fault
            self.rng = SeededGenerator(seed: fault.seed)
        }

        /// Counts a matching event and says whether the fault fires on it.
        mutating func fire() -> Bool {
            if let times = fault.times, fired >= times { return false }
            matched += 1
            let fires: Bool
            if let every = fault.every {
                fires = matched % every == 0
            } else if let nth = fault.nth {
                fires = matched == nth
            } else if let rate = fault.rate {
                fires = Double.random(in: 0..<1, using: &rng) < rate
            } else {
                fires = true
            }
            if fires { fired += 1 }
            return fires
        }
    }

    /// What to do with a request before it reaches its handler.
    struct Decision {
        var delayMilliseconds = 0
        var hold = false
        var error: SandboxAPIError?
        /// A `lose` fault fired: read the request, then close the connection without handling it.
        var lose = false

        /// Whether an answer other than the handler's (429, 503, or a lost request) was chosen.
        var answered: Bool { error != nil || lose }
    }

    private var armed: [Armed]
    private var latency: SandboxLatency?
    private var latencyRNG: SeededGenerator
    private var held: [CheckedContinuation<Void, Never>] = []
    private var active: [String: Int] = [:]
    private var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]

    init(faults: [SandboxFault], latency: SandboxLatency?) {
        self.armed = faults.map(Armed.init)
        self.latency = latency
        if case .random(_, _, let seed) = latency {
            latencyRNG = SeededGenerator(seed: seed)
        } else {
            latencyRNG = SeededGenerator(seed: 0)
        }
    }

    /// Replaces every fault and the latency; counters restart and held requests are released.
    func replace(faults: [SandboxFault], latency: SandboxLatency?) {
        armed = faults.map(Armed.init)
        self.latency = latency
        if case .random(_, _, let seed) = latency { latencyRNG = SeededGenerator(seed: seed) }
        _ = releaseHeld()
        // Queued requests proceed: the limit that queued them is gone or restarted.
        for (client, queue) in waiting {
            active[client, default: 0] += queue.count
            for continuation in queue { continuation.resume() }
        }
        waiting = [:]
    }

    /// Decides latency, hold, pre-handler errors (429/503) and `lose` for an API request.
    func beforeRequest(method: HTTPRequest.Method, clientRequestID: String?) -> Decision {
        decide { $0.filterMatches(method: method, clientRequestID: clientRequestID) }
    }

    /// The same decision for a whole `$batch`, taken once before any of its operations runs
    /// (see `SandboxFault.filterMatches(batch:batchClientRequestID:)`). `operations` is empty
    /// when the body could not be parsed: only unfiltered faults, or `request-id=` naming the
    /// batch, can match it then.
    func beforeBatch(operations: [FaultOperation], batchClientRequestID: String?) -> Decision {
        decide { $0.filterMatches(batch: operations, batchClientRequestID: batchClientRequestID) }
    }

    private func decide(_ matches: (SandboxFault) -> Bool) -> Decision {
        var decision = Decision()
        switch latency {
        case .fixed(let ms): decision.delayMilliseconds += ms
        case .random(let lo, let hi, _): decision.delayMilliseconds += Int.random(in: lo...hi, using: &latencyRNG)
        case nil: break
        }
        for index in armed.indices {
            let fault = armed[index].fault
            guard fault.kind != .drop, fault.kind != .limit, matches(fault) else { continue }
            // Once an answer is chosen (429, 503, lose), later ones neither count nor fire for this request.
            if decision.answered, fault.kind == .throttle || fault.kind == .unavailable || fault.kind == .lose { continue }
            guard armed[index].fire() else { continue }
            switch fault.kind {
            case .latency:
                if let ms = fault.milliseconds {
                    decision.delayMilliseconds += ms
                } else if let lo = fault.minMilliseconds, let hi = fault.maxMilliseconds {
                    decision.delayMilliseconds += Int.random(in: lo...hi, using: &armed[index].rng)
                }
            case .hold:
                decision.hold = true
            case .throttle:
                decision.error = .tooManyRequests(
                    retryAfter: fault.retryAfter ?? 1,
                    "Rate limit exceeded (sandbox fault \(fault)). Retry after the Retry-After interval.")
            case .unavailable:
                decision.error = .serviceUnavailable(retryAfter: fault.retryAfter)
            case .lose:
                decision.lose = true
            case .drop, .limit:
                break
            }
        }
        return decision
    }

    /// After a write committed: whether to drop the connection without answering.
    func dropAfterCommit(method: HTTPRequest.Method, clientRequestID: String?) -> Bool {
        var drop = false
        for index in armed.indices where armed[index].fault.kind == .drop {
            guard armed[index].fault.filterMatches(method: method, clientRequestID: clientRequestID) else { continue }
            if armed[index].fire() { drop = true }
        }
        return drop
    }

    /// After the operations of a `$batch` ran: whether to drop the connection without answering.
    /// Each committed operation counts as one committed write, in order, as if sent alone (every
    /// one is counted even after one fired, so the counters match a run without `$batch`).
    func dropAfterBatch(committed operations: [FaultOperation], batchClientRequestID: String?) -> Bool {
        var drop = false
        for index in armed.indices where armed[index].fault.kind == .drop {
            for operation in operations
            where armed[index].fault.filterMatches(operation: operation, batchClientRequestID: batchClientRequestID) {
                if armed[index].fire() { drop = true }
            }
        }
        return drop
    }

    /// Suspends the caller until `releaseHeld()` (or a fault change) lets it go.
    func waitWhileHeld() async {
        await withCheckedContinuation { held.append($0) }
    }

    /// Lets every held request continue; returns how many there were.
    func releaseHeld() -> Int {
        let waiting = held
        held = []
        for continuation in waiting { continuation.resume() }
        return waiting.count
    }

    // MARK: Per-client concurrency (BC: 5 running, 95 queued, 429 beyond)

    /// Admits a request for `client`, queueing it when the `limit` fault says so.
    /// Returns false when the queue is full (the caller answers 429). Pair every true with `leave`.
    func enter(client: String) async -> Bool {
        guard let limit = armed.first(where: { $0.fault.kind == .limit })?.fault else {
            active[client, default: 0] += 1
            return true
        }
        if active[client, default: 0] < limit.concurrent {
            active[client, default: 0] += 1
            return true
        }
        if waiting[client, default: []].count >= limit.queue { return false }
        // The slot is handed over by `leave`, so `active` already counts this request on resume.
        await withCheckedContinuation { waiting[client, default: []].append($0) }
        return true
    }

    func leave(client: String) {
        if var queue = waiting[client], !queue.isEmpty {
            let next = queue.removeFirst()
            waiting[client] = queue
            next.resume()
        } else {
            active[client, default: 1] -= 1
            if active[client] == 0 { active[client] = nil }
        }
    }

    /// The state shown by `GET /_sandbox/faults`.
    func snapshot() -> JSONValue {
        var inFlight: [String: JSONValue] = [:]
        for (client, count) in active { inFlight[client] = .number(Double(count)) }
        var queued: [String: JSONValue] = [:]
        for (client, queue) in waiting where !queue.isEmpty { queued[client] = .number(Double(queue.count)) }
        return [
            "format_version": 1,
            "latency": latency.map { .string($0.description) } ?? .null,
            "faults": .array(armed.map {
                ["spec": .string($0.fault.description), "matched": .number(Double($0.matched)),
                 "fired": .number(Double($0.fired))]
            }),
            "held": .number(Double(held.count)),
            "in_flight": .object(inFlight),
            "queued": .object(queued),
        ]
    }
}
