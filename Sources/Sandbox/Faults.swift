import HTTPTypes

/// One fault the sandbox injects, parsed from `KIND[:key=value,…]`.
///
/// Why counters rather than wall-clock rates: a test that says "the 3rd request gets a 429" or
/// "drop the connection after committing the write with client-request-id X" never flakes.
/// Random rates exist too, but always from a seeded generator.
///
/// Kinds (see docs/sandbox.md#faults):
/// - `throttle` — answer 429 `Application_TooManyRequests` with `Retry-After: <retry-after>` (default 1).
/// - `unavailable` — answer 503, with `Retry-After` when `retry-after` is given.
/// - `drop` — commit-then-drop: perform and journal the write, then close the connection with no response.
/// - `lose` — sent-but-not-processed: read the whole request, then close the connection with no
///   response WITHOUT performing it (nothing is written or journaled). The client cannot tell it
///   from `drop`; only the server's state (the journal) says the write did not land.
/// - `latency` — delay by `ms=N` or a seeded random `min=..,max=..`.
/// - `hold` — keep the request waiting until `POST /_sandbox/release` or the faults are cleared.
/// - `limit` — at most `concurrent=N` (default 5) requests per client, `queue=M` (default 95) waiting, 429 beyond.
///
/// Selection (any kind but `limit`): `every=N` fires on the Nth, 2Nth… matching request; `nth=N` only on
/// the Nth; `rate=P` with probability P from `seed=S`; `times=K` stops after K firings. Filters:
/// `request-id=X` (the `client-request-id` header), `method=GET|POST|PATCH|DELETE|write`.
/// `drop` counts committed writes only. `lose` counts every matching request (any method: add
/// `method=write` or `method=POST` to lose writes only); like `throttle` and `unavailable` it is an
/// answer chosen before the handler, so the first of those three to fire wins.
///
/// A JSON `$batch` (docs/sandbox.md#batch) is one request to every kind but `drop`: it is decided
/// once, before any operation runs, and acts on the whole batch. Its filters accept the batch when
/// they accept any of its operations (each operation's method and `client-request-id`), or when
/// `request-id=` is the `$batch`'s own `client-request-id`; the batch then counts once. `drop`
/// counts each committed operation as one committed write, as if it had been sent alone, and when
/// it fires for any of them the answer to the whole batch is dropped after every operation ran.
/// Why: a fault selected for one manifest step still hits that step when it travels in a batch,
/// and a batch, like BC's, has one connection and one answer, so that is what a fault can take.
public struct SandboxFault: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        case throttle, unavailable, drop, lose, latency, hold, limit
    }

    public var kind: Kind
    public var every: Int?
    public var nth: Int?
    public var rate: Double?
    public var seed: UInt64 = 0
    public var times: Int?
    public var requestID: String?
    public var method: FaultMethod?
    public var retryAfter: Int?
    public var milliseconds: Int?
    public var minMilliseconds: Int?
    public var maxMilliseconds: Int?
    public var concurrent: Int = 5
    public var queue: Int = 95

    public init(kind: Kind) { self.kind = kind }

    /// Parses `KIND[:key=value,…]`, e.g. `throttle:every=3,retry-after=2`, `drop:request-id=step-7`,
    /// `lose:method=POST,nth=1`,
    /// `unavailable:rate=0.2,seed=42`, `limit:concurrent=5,queue=0`.
    public init(parsing spec: String) throws(SandboxConfigurationError) {
        let text = spec.trimmingWhitespace
        let kindText: Substring
        let paramText: Substring
        if let colon = text.firstIndex(of: ":") {
            kindText = text[..<colon]
            paramText = text[text.index(after: colon)...]
        } else {
            kindText = Substring(text)
            paramText = ""
        }
        guard let kind = Kind(rawValue: kindText.lowercased()) else {
            throw .invalidFault(spec: spec, reason: "unknown kind '\(kindText)' (use one of \(Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self.init(kind: kind)
        for pair in paramText.split(separator: ",", omittingEmptySubsequences: true) {
            guard let eq = pair.firstIndex(of: "=") else {
                throw .invalidFault(spec: spec, reason: "'\(pair)' is not key=value")
            }
            let key = pair[..<eq].trimmingWhitespace.lowercased()
            let value = pair[pair.index(after: eq)...].trimmingWhitespace
            func int(_ min: Int) throws(SandboxConfigurationError) -> Int {
                guard let n = Int(value), n >= min else {
                    throw .invalidFault(spec: spec, reason: "\(key) must be an integer ≥ \(min)")
                }
                return n
            }
            switch key {
            case "every": every = try int(1)
            case "nth": nth = try int(1)
            case "times": times = try int(1)
            case "retry-after": retryAfter = try int(0)
            case "ms": milliseconds = try int(0)
            case "min": minMilliseconds = try int(0)
            case "max": maxMilliseconds = try int(0)
            case "concurrent": concurrent = try int(1)
            case "queue": queue = try int(0)
            case "seed":
                guard let s = UInt64(value) else { throw .invalidFault(spec: spec, reason: "seed must be an unsigned integer") }
                seed = s
            case "rate":
                guard let r = Double(value), r >= 0, r <= 1 else {
                    throw .invalidFault(spec: spec, reason: "rate must be a number between 0 and 1")
                }
                rate = r
            case "request-id": requestID = value
            case "method":
                guard let m = FaultMethod(spec: value) else {
                    throw .invalidFault(spec: spec, reason: "method must be GET, POST, PATCH, DELETE or write")
                }
                method = m
            default:
                throw .invalidFault(spec: spec, reason: "unknown parameter '\(key)'")
            }
        }
        let selectors = [every != nil, nth != nil, rate != nil].filter { $0 }.count
        if selectors > 1 {
            throw .invalidFault(spec: spec, reason: "use only one of every=, nth=, rate=")
        }
        if kind == .latency, milliseconds == nil, minMilliseconds == nil || maxMilliseconds == nil {
            throw .invalidFault(spec: spec, reason: "latency needs ms=N or min=N,max=M")
        }
        if let lo = minMilliseconds, let hi = maxMilliseconds, hi < lo {
            throw .invalidFault(spec: spec, reason: "max must be ≥ min")
        }
    }

    /// The spec in canonical `KIND:key=value,…` form (parses back to an equal value).
    public var description: String {
        var params: [String] = []
        if kind == .limit {
            params += ["concurrent=\(concurrent)", "queue=\(queue)"]
        }
        if let every { params.append("every=\(every)") }
        if let nth { params.append("nth=\(nth)") }
        if let rate { params.append("rate=\(rate)") }
        if rate != nil || seed != 0 { params.append("seed=\(seed)") }
        if let times { params.append("times=\(times)") }
        if let retryAfter { params.append("retry-after=\(retryAfter)") }
        if let milliseconds { params.append("ms=\(milliseconds)") }
        if let minMilliseconds { params.append("min=\(minMilliseconds)") }
        if let maxMilliseconds { params.append("max=\(maxMilliseconds)") }
        if let requestID { params.append("request-id=\(requestID)") }
        if let method { params.append("method=\(method.specName)") }
        return params.isEmpty ? kind.rawValue : "\(kind.rawValue):\(params.joined(separator: ","))"
    }

    /// Whether the filters (not the selector) accept this request.
    func filterMatches(method requestMethod: HTTPRequest.Method, clientRequestID: String?) -> Bool {
        if let requestID, requestID != clientRequestID { return false }
        if let method, !method.accepts(requestMethod) { return false }
        return true
    }

    /// Whether the filters accept a `$batch` carrying `operations`: no filter, an operation the
    /// filters accept, or `request-id=` naming the batch itself (with `method=` then judged on its
    /// operations, since the outer POST performs nothing of its own).
    func filterMatches(batch operations: [FaultOperation], batchClientRequestID: String?) -> Bool {
        if requestID == nil, method == nil { return true }
        if operations.contains(where: { filterMatches(method: $0.method, clientRequestID: $0.clientRequestID) }) { return true }
        guard let requestID, requestID == batchClientRequestID else { return false }
        guard let method else { return true }
        return operations.contains { method.accepts($0.method) }
    }

    /// Whether a `drop` fault's filters accept one committed operation of a `$batch`: as if sent
    /// alone, or through `request-id=` naming the batch.
    func filterMatches(operation: FaultOperation, batchClientRequestID: String?) -> Bool {
        if filterMatches(method: operation.method, clientRequestID: operation.clientRequestID) { return true }
        guard let requestID, requestID == batchClientRequestID else { return false }
        return method?.accepts(operation.method) ?? true
    }
}

/// What fault filters look at in one operation of a `$batch`: its method and `client-request-id`.
struct FaultOperation: Sendable, Equatable {
    var method: HTTPRequest.Method
    var clientRequestID: String?
}

/// Which requests a fault's `method=` filter accepts: one HTTP method, or every write
/// (`method=write`: POST, PATCH, DELETE).
public enum FaultMethod: Sendable, Equatable {
    case only(HTTPRequest.Method)
    case write

    /// `GET`, `POST`, `PATCH`, `DELETE` or `write`, in any case.
    init?(spec: String) {
        switch spec.uppercased() {
        case "GET": self = .only(.get)
        case "POST": self = .only(.post)
        case "PATCH": self = .only(.patch)
        case "DELETE": self = .only(.delete)
        case "WRITE": self = .write
        default: return nil
        }
    }

    /// The spelling in a fault spec.
    var specName: String {
        switch self {
        case .only(let m): return m.rawValue
        case .write: return "write"
        }
    }

    func accepts(_ method: HTTPRequest.Method) -> Bool {
        switch self {
        case .only(let m): return m == method
        case .write: return method == .post || method == .patch || method == .delete
        }
    }
}
