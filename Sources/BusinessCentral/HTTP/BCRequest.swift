import NIOHTTP1

/// One HTTP header field, in the order it was sent or received.
public struct BCHeader: Sendable, Equatable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

extension Array where Element == BCHeader {
    /// The first value of `name` (case-insensitive), if any.
    public func first(named name: String) -> String? {
        first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// These headers without `Authorization` (what the ledger may store).
    public var withoutAuthorization: [BCHeader] {
        filter { $0.name.caseInsensitiveCompare("Authorization") != .orderedSame }
    }
}

/// A request to Business Central.
///
/// Why these fields: the Batch runner must decide and record exactly what goes on the wire. The
/// body is sent byte for byte (never re-serialised) so its hash in the ledger is the hash of what
/// BC received. `BCClient` adds `Accept`, `OData-Version`, `Content-Type` (with a body) and
/// `Authorization`.
public struct BCRequest: Sendable, Equatable {
    /// GET, POST, PATCH, DELETE (PUT and HEAD are accepted too; `BCClient` refuses any other).
    public var method: HTTPMethod
    /// An absolute URL, as built by `URLBuilder` (plus `ODataQuery.queryString`).
    public var url: String
    /// Exact body bytes, or nil for none.
    public var body: [UInt8]?
    /// Sent as `If-Match` when set (an ETag, or `*`).
    public var ifMatch: String?
    /// Sent as `client-request-id` when set; BC logs it, so the ledger can be joined to telemetry.
    public var clientRequestID: String?
    /// Sent as `Idempotency-Key` when set, and recorded. Business Central does NOT de-duplicate
    /// on it, so it never makes a write retryable (see `RetryPolicy`).
    public var idempotencyKey: String?
    /// More headers, sent after the standard ones. Must not include `Authorization`.
    public var extraHeaders: [BCHeader]
    /// True for POST/PATCH/DELETE/PUT: a write is re-sent only when the failure proves nothing
    /// was processed (see `RetryPolicy`), so a write whose outcome is unknown is never repeated.
    public var isWrite: Bool { method.isWrite }

    public init(
        method: String,
        url: String,
        body: [UInt8]? = nil,
        ifMatch: String? = nil,
        clientRequestID: String? = nil,
        idempotencyKey: String? = nil,
        extraHeaders: [BCHeader] = []
    ) {
        self.method = HTTPMethod(rawValue: method.uppercased())
        self.url = url
        self.body = body
        self.ifMatch = ifMatch
        self.clientRequestID = clientRequestID
        self.idempotencyKey = idempotencyKey
        self.extraHeaders = extraHeaders
    }

    /// The header fields `BCClient` sends for this request, in order, with `Authorization` last
    /// when a token is given. Call with `token: nil` for the headers to record.
    public func headerFields(token: String?) -> [BCHeader] {
        var headers: [BCHeader] = [
            BCHeader(name: "Accept", value: "application/json"),
            BCHeader(name: "OData-Version", value: "4.0"),
        ]
        if body != nil {
            headers.append(BCHeader(name: "Content-Type", value: "application/json"))
        }
        if let ifMatch { headers.append(BCHeader(name: "If-Match", value: ifMatch)) }
        if let clientRequestID { headers.append(BCHeader(name: "client-request-id", value: clientRequestID)) }
        if let idempotencyKey { headers.append(BCHeader(name: "Idempotency-Key", value: idempotencyKey)) }
        headers.append(contentsOf: extraHeaders.withoutAuthorization)
        if let token { headers.append(BCHeader(name: "Authorization", value: "Bearer \(token)")) }
        return headers
    }

    /// The headers as sent, without `Authorization` — what the ledger stores. (The transport adds
    /// `Host` and `Content-Length`, which are not listed.)
    public var recordedHeaders: [BCHeader] { headerFields(token: nil) }
}

extension HTTPMethod {
    /// Anything but GET and HEAD may change data in Business Central: the one rule behind
    /// `BCRequest.isWrite` and `TransportFailure.outcomeUnknown`.
    var isWrite: Bool { self != .GET && self != .HEAD }
}
