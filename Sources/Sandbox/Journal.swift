import Hashing

/// One committed write, as `GET /_sandbox/journal` reports it.
///
/// Why: tests compare what the ledger believes it did with what the server really committed —
/// especially after commit-then-drop, where the client never saw a response.
struct JournalEntry: Sendable {
    var seq: Int
    var time: String
    var method: String
    var path: String
    var companyID: String
    var entitySet: String
    var entityID: String
    var etagBefore: String?
    var etagAfter: String?
    var status: Int
    var clientRequestID: String?
    var requestID: String
    var bodySHA256: String?

    var json: JSONValue {
        [
            "format_version": 1,
            "seq": .number(Double(seq)),
            "time": .string(time),
            "method": .string(method),
            "path": .string(path),
            "company_id": .string(companyID),
            "entity_set": .string(entitySet),
            "entity_id": .string(entityID),
            "etag_before": etagBefore.map(JSONValue.string) ?? .null,
            "etag_after": etagAfter.map(JSONValue.string) ?? .null,
            "status": .number(Double(status)),
            "client_request_id": clientRequestID.map(JSONValue.string) ?? .null,
            "request_id": .string(requestID),
            "body_sha256": bodySHA256.map(JSONValue.string) ?? .null,
        ]
    }
}
