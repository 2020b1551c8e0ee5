import BusinessCentral
import Hashing
import Store

/// Turns a resolved step into the exact request bcli sends and records.
public enum StepRequest {
    /// The absolute URL of a resolved step (without query options): the company URL, the
    /// endpoint's segments (`purchaseInvoices(<id>)/purchaseInvoiceLines`), the record id, or the
    /// action. Every key is validated as a single path component.
    static func url(for step: ResolvedStep, profile: Profile, recordID: String? = nil) throws(URLBuildError) -> String {
        var url = try URLBuilder.companyURL(profile: profile)
        for segment in step.endpointPath.segments {
            url += "/" + segment.entitySet
            if let key = segment.key { url += "(" + (try encodeKey(key)) + ")" }
        }
        if let action = step.endpointPath.action {
            url += "/" + action
        } else if let id = recordID ?? step.id {
            url += "(" + (try encodeKey(id)) + ")"
        }
        return url
    }

    static func encodeKey(_ key: String) throws(URLBuildError) -> String {
        if let reason = PathComponent.problem(key) {
            throw .invalidPathComponent(what: "record id", value: key, reason: reason)
        }
        return PathComponent.encode(key)
    }

    /// The full URL a step is sent to: `url(for:)` plus the query options of a GET. Used by the
    /// runner and by `--dry-run`, so what a dry run prints is what a run sends.
    public static func requestURL(for step: ResolvedStep, profile: Profile) throws(URLBuildError) -> String {
        try url(for: step, profile: profile) + query(for: step)
    }

    /// The query string of a GET step (`""` when none).
    static func query(for step: ResolvedStep) -> String {
        guard step.method == .get else { return "" }
        return step.query.queryString
    }

    /// The body bytes: RFC 8785 canonical JSON of `data` (`{}` for a POST without data). These
    /// exact bytes are hashed, stored and sent.
    public static func body(for step: ResolvedStep) throws(CanonicalJSONError) -> [UInt8]? {
        switch step.method {
        case .post: return try (step.data ?? .object([:])).canonicalBytes()
        case .patch: return try (step.data ?? .object([:])).canonicalBytes()
        case .get, .delete: return nil
        }
    }

    /// The media type of stored header blobs.
    /// `Prefer: odata.maxpagesize=N`: the page size a get with `all: true` asks for (`page_size`).
    static func maxPageSize(_ records: Int) -> BCHeader {
        BCHeader(name: "Prefer", value: "odata.maxpagesize=\(records)")
    }

    public static let headersMediaType = "application/vnd.bcli.headers+json"

    /// Headers as a canonical JSON array of `[name, value]` pairs, in wire order (Authorization
    /// never included: `BCRequest.recordedHeaders` drops it).
    static func headersBlob(_ headers: [BCHeader]) -> [UInt8] {
        let value = JSONValue.array(headers.map { .array([.string($0.name), .string($0.value)]) })
        return (try? value.canonicalBytes()) ?? Array("[]".utf8)
    }
}


extension BCRequest {
    /// A request for a step's method: the one place a `StepMethod` becomes the transport's
    /// spelling.
    init(method: StepMethod, url: String, body: [UInt8]? = nil, ifMatch: String? = nil, clientRequestID: String? = nil,
         idempotencyKey: String? = nil, extraHeaders: [BCHeader] = []) {
        self.init(method: method.rawValue, url: url, body: body, ifMatch: ifMatch, clientRequestID: clientRequestID,
                  idempotencyKey: idempotencyKey, extraHeaders: extraHeaders)
    }
}
