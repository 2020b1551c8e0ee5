import BusinessCentral
import Foundation
import Hashing
import Store

/// A write whose outcome is unknown, as the ledger recorded it: what `batch reconcile` decides
/// about. Built from the original step's row and its stored blobs.
public struct InDoubtWrite: Sendable, Hashable {
    /// POST, PATCH or DELETE (a GET changes nothing, so it is never in doubt).
    public var method: StepMethod
    /// The step's URL as recorded (absolute): the record for PATCH/DELETE, the collection (or the
    /// action) for POST.
    public var url: String
    /// The request body sent, parsed; nil for a DELETE.
    public var body: JSONValue?
    /// The record as the runner read it before a PATCH/DELETE (a BC record with `@odata.etag`);
    /// nil when the step had `pre_image: false` or is a POST.
    public var preImage: JSONValue?
    /// When the intent row was committed, in the ledger's form (`Timestamp.now()`:
    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ`): the write cannot have landed before it.
    public var intentAt: String
    /// The step's `reconcile_by:` fields (POST only).
    public var reconcileBy: [String]?
    /// The POST called an OData action (`entity(id)/Ns.action`, `Ns.action`): no record to find.
    public var isAction: Bool

    /// `isAction` nil means: read it from the URL (`ReconcileRules.isActionURL`).
    public init(method: StepMethod, url: String, body: JSONValue?, preImage: JSONValue?, intentAt: String,
                reconcileBy: [String]? = nil, isAction: Bool? = nil) {
        self.method = method
        self.url = url
        self.body = body
        self.preImage = preImage
        self.intentAt = intentAt
        self.reconcileBy = reconcileBy
        self.isAction = isAction ?? ReconcileRules.isActionURL(url)
    }
}

/// How a POST's record is looked for: which key, and the `$filter` it became.
public struct SearchKey: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        /// The step's `reconcile_by:` fields.
        case reconcileBy = "reconcile_by"
        /// The body's `number`.
        case number
        /// The body's `code`.
        case code
        /// Every non-empty scalar field of the body, and `systemCreatedAt ge` the intent time
        /// minus the clock-skew allowance.
        case bodyAndTime = "body_and_time"
    }

    public let kind: Kind
    /// The body fields the filter compares (for `bodyAndTime`, without `systemCreatedAt`).
    public let fields: [String]
    /// The `$filter` text, unencoded.
    public let filter: String
}

/// What reconcile must GET to decide.
public enum Probe: Sendable, Hashable {
    /// PATCH/DELETE: the record itself (the step's URL).
    case record(url: String)
    /// POST: the collection it posted to, with `?$filter=…` (percent-encoded).
    case search(url: String, key: SearchKey)
    /// Nothing can be asked (a POST to an action; a POST without a usable key); the step stays
    /// unknown, and `decide` says why.
    case impossible(reason: String)

    /// The URL to GET, or nil when nothing can be asked.
    public var url: String? {
        switch self {
        case .record(let url), .search(let url, _): return url
        case .impossible: return nil
        }
    }
}

/// What the reconcile GET got back.
public enum Evidence: Sendable, Hashable {
    /// BC answered: the HTTP status, the parsed body (nil when empty or not JSON), and the
    /// `ETag` header (used when the body carries no `@odata.etag`).
    case answer(status: Int, body: JSONValue?, etag: String? = nil)
    /// No answer (connection, timeout, …): the error text.
    case noAnswer(error: String)
}

/// The decision about one in-doubt write. `rule` is a stable machine id (table in
/// `ReconcileRules`); `detail` is one sentence an operator can act on.
public enum Decision: Sendable, Hashable {
    /// The write landed. `recordID`/`etag`: the record as it is now (a DELETE's `recordID` is the
    /// pre-image's id and its `etag` nil); `record`: the record as found (nil for a DELETE, whose
    /// record is gone).
    case applied(recordID: String?, etag: String?, record: JSONValue?, rule: String, detail: String)
    /// The write did not land: nothing to undo; resume sends it again.
    case notApplied(rule: String, detail: String)
    /// The evidence does not prove either; the step stays unknown. `candidates`: the ids a POST
    /// search found (empty otherwise).
    case undecidable(rule: String, detail: String, candidates: [String])

    public var rule: String {
        switch self {
        case .applied(_, _, _, let rule, _), .notApplied(let rule, _), .undecidable(let rule, _, _): return rule
        }
    }

    public var detail: String {
        switch self {
        case .applied(_, _, _, _, let detail), .notApplied(_, let detail), .undecidable(_, let detail, _): return detail
        }
    }

    /// The `reconciliation.decision` value: `applied`, `not_applied` or `undecidable`.
    public var name: String {
        switch self {
        case .applied: return "applied"
        case .notApplied: return "not_applied"
        case .undecidable: return "undecidable"
        }
    }
}

/// The rules that decide whether a write whose outcome is unknown landed in Business Central,
/// from one GET's answer. Pure: no I/O, no clock (the intent time comes with the write).
///
/// Rule ids (`Decision.rule`), stable: the ledger stores them and tools may match on them.
///
/// | rule | method | decision | when |
/// |---|---|---|---|
/// | `delete.gone` | DELETE | applied | the record answers 404 and a pre-image proves it existed |
/// | `delete.gone-unproven` | DELETE | undecidable | 404, but no pre-image proves the record existed |
/// | `delete.still-there` | DELETE | not applied | the record answers 200 (detail: whether its ETag is still the pre-image's) |
/// | `patch.fields-match` | PATCH | applied | 200, every field sent has the sent value, the ETag differs from the pre-image's |
/// | `patch.unchanged` | PATCH | not applied | 200, every field sent has the pre-image's value, the ETag is the pre-image's |
/// | `patch.changed-elsewhere` | PATCH | undecidable | 200, neither of the two above (someone else changed the record) |
/// | `patch.no-body` | PATCH | undecidable | the body sent is not a JSON object, so there are no fields to compare |
/// | `patch.no-pre-image` | PATCH | undecidable | no pre-image (`pre_image: false`) to compare with |
/// | `patch.gone` | PATCH | undecidable | the record answers 404 (deleted since) |
/// | `post.one-match` | POST | applied | the search finds exactly one record not older than the intent |
/// | `post.no-match` | POST | not applied | the search finds nothing |
/// | `post.existed-before` | POST | not applied | every record found was created before the intent (minus the skew allowance) |
/// | `post.several-matches` | POST | undecidable | two or more records (or more pages) could be the one; `candidates` lists their ids |
/// | `post.action` | POST | undecidable | the POST called an action: no record to look up |
/// | `post.no-creation-time` | POST | undecidable | one record matches a `reconcile_by`/`number`/`code` key but carries no `systemCreatedAt` to show it is new |
/// | `post.claimed` | POST | undecidable | (`Reconciler`) the one match is a record another step of the family already created |
/// | `post.no-key` | POST | undecidable | no key to search by (a `reconcile_by` field not in the body, an empty body, …) |
/// | `get.no-answer` | any | undecidable | the GET got no answer: ask again |
/// | `get.failed` | any | undecidable | the GET got a status the rules do not read (401, 403, 429, 5xx, a POST search's 404, …): ask again; a POST search's 400 (a field BC cannot filter on): look by hand |
/// | `get.unreadable` | any | undecidable | a 2xx whose body is not a record (PATCH/DELETE) or a collection (POST) |
/// | `not-a-write` | GET | undecidable | a GET was passed in: it changes nothing |
///
/// POST keys, in this order (`SearchKey.Kind`): the step's `reconcile_by` (values from the body
/// sent); else `number`, else `code`, when the body sent a non-empty one; else every non-empty
/// scalar field of the body and `systemCreatedAt ge` (intent time − `clockSkew`). A record found
/// whose `systemCreatedAt` is before (intent time − `clockSkew`) existed before the POST and is
/// not counted.
///
/// Values compare as JSON: numbers numerically (`10` equals `10.0`), text exactly, objects by
/// the members sent, arrays element by element.
public enum ReconcileRules {
    /// Seconds a BC server clock may run behind the machine that wrote the intent time.
    public static let clockSkew: Double = 120

    // MARK: probe

    /// What to GET to decide about `write`.
    public static func probe(for write: InDoubtWrite) -> Probe {
        switch write.method {
        case .get:
            return .impossible(reason: "a GET changes nothing; there is nothing to reconcile")
        case .patch, .delete:
            return .record(url: write.url)
        case .post:
            switch searchKey(for: write) {
            case .failure(let reason): return .impossible(reason: reason.text)
            case .success(let key): return .search(url: searchURL(write.url, filter: key.filter), key: key)
            }
        }
    }

    struct NoKey: Error { let text: String }

    /// The key a POST's record is searched by (see the type's comment), or why there is none.
    static func searchKey(for write: InDoubtWrite) -> Result<SearchKey, NoKey> {
        if write.isAction {
            return .failure(NoKey(text: "the POST called an action (\(lastSegment(write.url))), which creates no record to look up"))
        }
        guard let body = write.body?.objectValue else {
            return .failure(NoKey(text: "the body sent is not a JSON object, so no field identifies the record"))
        }
        if let fields = write.reconcileBy, !fields.isEmpty {
            var pairs: [(field: String, value: JSONValue)] = []
            for field in fields {
                guard let value = body[field] else {
                    return .failure(NoKey(text: "reconcile_by field '\(field)' is not in the body sent"))
                }
                guard PathComponent.isIdentifier(field), ReconcileFilter.literal(value) != nil else {
                    return .failure(NoKey(text: "reconcile_by field '\(field)' is not a single value in the body sent"))
                }
                pairs.append((field, value))
            }
            return .success(SearchKey(kind: .reconcileBy, fields: fields, filter: ReconcileFilter.equalities(pairs)!))
        }
        for (field, kind) in [("number", SearchKey.Kind.number), ("code", .code)] {
            if let value = body[field], isNonEmptyScalar(value) {
                return .success(SearchKey(kind: kind, fields: [field], filter: ReconcileFilter.equalities([(field, value)])!))
            }
        }
        let fields = body.keys.sorted().filter { field in
            PathComponent.isIdentifier(field) && field != "systemCreatedAt" && isNonEmptyScalar(body[field]!)
        }
        guard !fields.isEmpty else {
            return .failure(NoKey(text: "the body sent has no field to search by; give the step reconcile_by: [fields]"))
        }
        guard let intent = ReconcileFilter.seconds(write.intentAt) else {
            return .failure(NoKey(text: "the intent time '\(write.intentAt)' is not a timestamp"))
        }
        let since = ReconcileFilter.dateTimeLiteral(seconds: intent - clockSkew)
        let equal = ReconcileFilter.equalities(fields.map { ($0, body[$0]!) })!
        return .success(SearchKey(kind: .bodyAndTime, fields: fields, filter: "\(equal) and systemCreatedAt ge \(since)"))
    }

    /// The collection URL with the filter, percent-encoded by the one query encoder.
    static func searchURL(_ url: String, filter: String) -> String {
        let query = ODataQuery(filter: filter).queryString  // "?$filter=…"
        return url.contains("?") ? url + "&" + query.dropFirst() : url + query
    }

    static func isNonEmptyScalar(_ value: JSONValue) -> Bool {
        switch value {
        case .null, .array, .object: return false
        case .string(let s): return !s.isEmpty
        case .bool, .number: return ReconcileFilter.literal(value) != nil
        }
    }

    /// True when the URL's last path segment is a namespace-qualified action (`Microsoft.NAV.post`)
    /// rather than an entity set or a keyed record.
    public static func isActionURL(_ url: String) -> Bool {
        let segment = lastSegment(url)
        return segment.contains(".") && !segment.hasSuffix(")")
    }

    static func lastSegment(_ url: String) -> String {
        let path = url.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? url
        return path.split(separator: "/").last.map(String.init) ?? path
    }

    /// The URL of the record a POST created (the collection URL and the key), as the runner
    /// records a committed POST's `rollback_url`; nil when `id` is not a single path segment.
    public static func recordURL(collection url: String, id: String) -> String? {
        guard PathComponent.problem(id) == nil else { return nil }
        return url + "(" + PathComponent.encode(id) + ")"
    }

    // MARK: decide

    /// The decision about `write` from the answer to `probe(for: write)`.
    public static func decide(_ write: InDoubtWrite, evidence: Evidence) -> Decision {
        let probe = probe(for: write)
        if case .impossible(let reason) = probe {
            switch write.method {
            case .get: return .undecidable(rule: "not-a-write", detail: reason, candidates: [])
            default:
                if write.isAction {
                    return .undecidable(rule: "post.action", detail: "\(reason): check in Business Central whether the action ran (e.g. whether the document was posted) and decide by hand.", candidates: [])
                }
                return .undecidable(rule: "post.no-key", detail: "\(reason): look for the record in Business Central and decide by hand.", candidates: [])
            }
        }
        let url = probe.url ?? write.url
        let status: Int
        let body: JSONValue?
        let etagHeader: String?
        switch evidence {
        case .noAnswer(let error):
            return .undecidable(rule: "get.no-answer", detail: "the GET \(url) got no answer (\(error)); run reconcile again.", candidates: [])
        case .answer(let s, let b, let e):
            status = s; body = b; etagHeader = e
        }
        switch write.method {
        case .get:
            return .undecidable(rule: "not-a-write", detail: "a GET changes nothing; there is nothing to reconcile", candidates: [])
        case .delete:
            return decideDelete(write, status: status, body: body, etagHeader: etagHeader)
        case .patch:
            return decidePatch(write, status: status, body: body, etagHeader: etagHeader)
        case .post:
            guard case .search(_, let key) = probe else { return unreadable(url, "a collection") }  // not reached: handled above
            return decidePost(write, key: key, url: url, status: status, body: body)
        }
    }

    static func failed(_ status: Int, _ url: String) -> Decision {
        .undecidable(rule: "get.failed", detail: "the GET \(url) answered HTTP \(status), which does not say whether the write landed; fix the cause (permissions, throttling, an outage) and run reconcile again.", candidates: [])
    }

    static func unreadable(_ url: String, _ expected: String) -> Decision {
        .undecidable(rule: "get.unreadable", detail: "the GET \(url) answered with a body that is not \(expected); check the record in Business Central and decide by hand.", candidates: [])
    }

    static func etag(of record: JSONValue?, header: String?) -> String? {
        record?["@odata.etag"]?.stringValue ?? header
    }

    static func decideDelete(_ write: InDoubtWrite, status: Int, body: JSONValue?, etagHeader: String?) -> Decision {
        let url = write.url
        switch status {
        case 404:
            guard let pre = write.preImage else {
                return .undecidable(rule: "delete.gone-unproven", detail: "\(url) answers 404 and the step has no pre-image proving the record existed before the DELETE; check in Business Central (e.g. its change log) whether this DELETE removed it.", candidates: [])
            }
            return .applied(recordID: pre["id"]?.stringValue ?? recordKey(url), etag: nil, record: nil, rule: "delete.gone",
                            detail: "\(url) answers 404 and the pre-image shows the record existed: the DELETE landed.")
        case 200...299:
            guard let record = body, record.objectValue != nil else { return unreadable(url, "a record") }
            let now = etag(of: record, header: etagHeader)
            let preETag = write.preImage.flatMap { etag(of: $0, header: nil) }
            let compared: String
            if preETag == nil {
                compared = "there is no pre-image ETag to compare with"
            } else if now == preETag {
                compared = "its ETag is still the pre-image's"
            } else {
                compared = "its ETag differs from the pre-image's (someone changed it since; a resume reads it again and deletes it as it is now)"
            }
            return .notApplied(rule: "delete.still-there", detail: "\(url) still exists, so the DELETE did not land; \(compared).")
        default:
            return failed(status, url)
        }
    }

    static func decidePatch(_ write: InDoubtWrite, status: Int, body: JSONValue?, etagHeader: String?) -> Decision {
        let url = write.url
        switch status {
        case 404:
            return .undecidable(rule: "patch.gone", detail: "\(url) answers 404: the record was deleted after the PATCH was sent, so nothing shows whether the PATCH landed; check Business Central's change log.", candidates: [])
        case 200...299:
            break
        default:
            return failed(status, url)
        }
        guard let record = body, record.objectValue != nil else { return unreadable(url, "a record") }
        guard let sent = write.body?.objectValue else {
            return .undecidable(rule: "patch.no-body", detail: "the PATCH's body sent is not a JSON object, so its fields cannot be compared; check \(url) in Business Central.", candidates: [])
        }
        guard let pre = write.preImage else {
            return .undecidable(rule: "patch.no-pre-image", detail: "the step has no pre-image (pre_image: false), so nothing shows the record's values before the PATCH; compare \(url) in Business Central with the values sent and decide by hand.", candidates: [])
        }
        let fields = sent.keys.sorted().filter { !$0.hasPrefix("@") }
        let now = etag(of: record, header: etagHeader)
        let preETag = etag(of: pre, header: nil)
        let asSent = fields.filter { !sameValue(sent: sent[$0]!, found: record[$0]) }
        let asBefore = fields.filter { field in pre[field].map { !sameValue(sent: $0, found: record[field]) } ?? true }
        if asSent.isEmpty, let now, now != preETag {
            return .applied(recordID: record["id"]?.stringValue ?? pre["id"]?.stringValue ?? recordKey(url), etag: now, record: record,
                            rule: "patch.fields-match",
                            detail: "\(url) has every value the PATCH sent and a new ETag: the PATCH landed.")
        }
        if asBefore.isEmpty, let now, now == preETag {
            return .notApplied(rule: "patch.unchanged",
                               detail: "\(url) still has the pre-image's values and ETag: the PATCH did not land.")
        }
        var why: [String] = []
        if !asSent.isEmpty { why.append("\(list(asSent)) \(asSent.count == 1 ? "differs" : "differ") from the value sent") }
        if !asBefore.isEmpty { why.append("\(list(asBefore)) \(asBefore.count == 1 ? "differs" : "differ") from the pre-image") }
        if now == nil { why.append("the record has no ETag") }
        else if asSent.isEmpty { why.append("the ETag is still the pre-image's") }
        else if asBefore.isEmpty { why.append("the ETag changed") }
        return .undecidable(rule: "patch.changed-elsewhere",
                            detail: "\(url) matches neither the PATCH nor the pre-image (\(why.joined(separator: "; "))): someone else may have changed it; compare it in Business Central with the values sent and decide by hand.",
                            candidates: [])
    }

    static func decidePost(_ write: InDoubtWrite, key: SearchKey, url: String, status: Int, body: JSONValue?) -> Decision {
        if status == 400 {
            let message = body?["error"]?["message"]?.stringValue.map { " (\($0))" } ?? ""
            return .undecidable(rule: "get.failed", detail: "Business Central refused the search \(describe(key)) with HTTP 400\(message): a field it cannot filter on, or a value whose type the filter guessed wrong; look for the record in Business Central and decide by hand.", candidates: [])
        }
        guard (200...299).contains(status) else { return failed(status, url) }
        guard let values = body?["value"]?.arrayValue else { return unreadable(url, "a collection") }
        let by = describe(key)
        let cutoff = ReconcileFilter.seconds(write.intentAt).map { $0 - clockSkew }
        var fresh: [JSONValue] = []
        var older: [JSONValue] = []
        for record in values {
            if let cutoff, let created = record["systemCreatedAt"]?.stringValue.flatMap(ReconcileFilter.seconds), created < cutoff {
                older.append(record)
            } else {
                fresh.append(record)
            }
        }
        let freshIDs = fresh.compactMap { $0["id"]?.stringValue }
        if body?["@odata.nextLink"] != nil {
            return .undecidable(rule: "post.several-matches",
                                detail: "the search \(by) found more records than one page holds: several could be the one the POST created; look at them in Business Central, delete any duplicate, and decide by hand.",
                                candidates: freshIDs)
        }
        switch fresh.count {
        case 0:
            if older.isEmpty {
                return .notApplied(rule: "post.no-match", detail: "no record matches \(by): the POST did not land.")
            }
            let ids = older.compactMap { $0["id"]?.stringValue }
            return .notApplied(rule: "post.existed-before",
                               detail: "the record\(older.count == 1 ? "" : "s") matching \(by) (\(list(ids))) existed before the POST was sent, so the POST did not create \(older.count == 1 ? "it" : "them"): it did not land.")
        case 1:
            let record = fresh[0]
            guard let id = record["id"]?.stringValue else { return unreadable(url, "a collection of records with ids") }
            // Without a creation time, a match on a key that existed before proves nothing.
            if record["systemCreatedAt"] == nil, key.kind != .bodyAndTime {
                return .undecidable(rule: "post.no-creation-time", detail: "one record (\(id)) matches \(by), but it carries no systemCreatedAt, so nothing shows it was created after the POST was sent; check it in Business Central and decide by hand.", candidates: [id])
            }
            return .applied(recordID: id, etag: etag(of: record, header: nil), record: record, rule: "post.one-match",
                            detail: "exactly one record (\(id)) matches \(by), created after the POST was sent: the POST landed.")
        default:
            return .undecidable(rule: "post.several-matches",
                                detail: "\(fresh.count) records match \(by) (\(list(freshIDs))): look at them in Business Central, keep the one this POST created (delete any duplicate), and decide by hand.",
                                candidates: freshIDs)
        }
    }

    static func describe(_ key: SearchKey) -> String {
        switch key.kind {
        case .reconcileBy: return "reconcile_by (\(key.filter))"
        case .number, .code: return "the \(key.kind.rawValue) sent (\(key.filter))"
        case .bodyAndTime: return "the fields sent, created since the POST (\(key.filter))"
        }
    }

    static func list(_ items: [String]) -> String {
        items.count > 5 ? items.prefix(5).joined(separator: ", ") + ", …" : items.joined(separator: ", ")
    }

    /// The key in `…/entitySet(<key>)`, as a fallback record id.
    static func recordKey(_ url: String) -> String? {
        let segment = lastSegment(url)
        guard let open = segment.firstIndex(of: "("), segment.hasSuffix(")") else { return nil }
        let key = segment[segment.index(after: open)..<segment.index(before: segment.endIndex)]
        return key.isEmpty ? nil : (key.removingPercentEncoding ?? String(key))
    }

    /// Whether the value found equals the value sent: numbers numerically (`10` = `10.0`), text
    /// exactly, an object by the members sent, arrays element by element; a missing field never.
    public static func sameValue(sent: JSONValue, found: JSONValue?) -> Bool {
        guard let found else { return false }
        switch (sent, found) {
        case (.number(let a), .number(let b)):
            return a == b || abs(a - b) <= 1e-9 * max(1, abs(a), abs(b))
        case (.object(let a), .object):
            return a.allSatisfy { sameValue(sent: $0.value, found: found[$0.key]) }
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { sameValue(sent: $0, found: $1) }
        default:
            return sent == found
        }
    }
}
