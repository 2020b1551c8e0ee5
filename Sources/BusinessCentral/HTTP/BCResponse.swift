import Foundation

/// The `{"error":{"code","message"}}` body Business Central sends with an error status.
public struct BCErrorBody: Sendable, Equatable {
    /// e.g. `Request_EntityChanged`, `BadRequest_InvalidToken`, `Internal_EntityWithSameKeyExists`.
    public var code: String
    public var message: String
    /// The id after `CorrelationId:` in the message, if present.
    public var correlationID: String?

    public init(code: String, message: String, correlationID: String?) {
        self.code = code
        self.message = message
        self.correlationID = correlationID
    }

    /// Parses an error body; nil when `body` is not that shape.
    public static func parse(_ body: [UInt8]) -> BCErrorBody? {
        guard !body.isEmpty,
            let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any],
            let error = object["error"] as? [String: Any]
        else { return nil }
        let code = error["code"] as? String ?? ""
        let message = error["message"] as? String ?? ""
        if code.isEmpty && message.isEmpty { return nil }
        return BCErrorBody(code: code, message: message, correlationID: correlationID(in: message))
    }

    /// Extracts the id from "… CorrelationId:  2c074c12-…" (any case, any spacing; also
    /// "Correlation ID:"), or nil.
    public static func correlationID(in message: String) -> String? {
        let lower = message.lowercased()
        for marker in ["correlationid", "correlation id"] {
            guard let range = lower.range(of: marker) else { continue }
            var rest = Substring(message[range.upperBound...])
            rest = rest.drop { $0 == ":" || $0 == " " || $0 == "\t" || $0 == "=" }
            let id = rest.prefix { $0.isASCII && ($0.isHexDigit || $0.isLetter || $0.isNumber || $0 == "-") }
            if !id.isEmpty { return String(id) }
        }
        return nil
    }
}

/// A response from Business Central, kept raw (status, every header in order, exact body) plus
/// the metadata the ledger indexes.
///
/// Why raw: the ledger stores response bytes and headers as blobs; anything parsed here is a
/// convenience derived from them, never a replacement.
public struct BCResponse: Sendable, Equatable {
    public var status: Int
    /// Every response header, in wire order, names as received.
    public var headers: [BCHeader]
    public var body: [UInt8]
    /// The `ETag` header, else the body's top-level `@odata.etag`.
    public var etag: String?
    /// The `request-id` response header.
    public var requestID: String?
    /// The `ms-correlation-x` response header.
    public var msCorrelationX: String?
    /// The `x-ms-correlation-request-id` response header.
    public var correlationRequestID: String?
    /// The parsed error body, for a 4xx/5xx that carries one.
    public var bcError: BCErrorBody?
    /// How many times the request was sent (1 = no retry).
    public var attempts: Int
    /// From the first send to the last byte of the final response, retries and waits included.
    public var elapsed: Duration
    /// The headers of the final attempt as sent, Authorization removed (see `BCRequest.recordedHeaders`).
    public var requestHeaders: [BCHeader]

    public init(
        status: Int, headers: [BCHeader], body: [UInt8], attempts: Int = 1, elapsed: Duration = .zero,
        requestHeaders: [BCHeader] = []
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.attempts = attempts
        self.elapsed = elapsed
        self.requestHeaders = requestHeaders
        self.requestID = headers.first(named: "request-id")
        self.msCorrelationX = headers.first(named: "ms-correlation-x")
        self.correlationRequestID = headers.first(named: "x-ms-correlation-request-id")
        self.etag = headers.first(named: "ETag")
        if status >= 400 {
            self.bcError = BCErrorBody.parse(body)
        } else if etag == nil, (200..<300).contains(status) {
            self.etag = Self.bodyETag(body)
        }
    }

    public var isSuccess: Bool { (200..<300).contains(status) }

    /// The first value of a response header (case-insensitive).
    public func header(_ name: String) -> String? { headers.first(named: name) }

    /// The best single correlation id for the ledger: the id in BC's error message, else
    /// `x-ms-correlation-request-id`, else `request-id`, else `ms-correlation-x`.
    public var correlationID: String? {
        bcError?.correlationID ?? correlationRequestID ?? requestID ?? msCorrelationX
    }

    /// The top-level `@odata.etag` of a JSON object body.
    static func bodyETag(_ body: [UInt8]) -> String? {
        guard let first = body.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }), first == UInt8(ascii: "{"),
            let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        else { return nil }
        return object["@odata.etag"] as? String
    }
}
