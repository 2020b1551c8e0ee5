import Foundation
import Hashing
import Testing

@testable import Batch

/// The reconcile decision rules (pure): what to GET for an in-doubt write, and what its answer
/// decides. Every rule id, the POST keys and their `$filter`, quoting, and the skew window.
@Suite struct ReconcileRulesTests {
    static let company = "http://127.0.0.1:8080/v2.0/t/production/api/v2.0/companies(0f0e0d0c-0000-0000-0000-00000000000c)"
    static let customers = company + "/customers"
    static let recordURL = customers + "(5d115c9c-44e3-ea11-bb43-000d3a2feca1)"
    static let intentAt = "2026-12-02T06:30:00.250000Z"
    static let preETag = "W/\"JzQ0OzE7MDsn\""
    static let newETag = "W/\"JzQ0OzI7MDsn\""

    static let preImage: JSONValue = [
        "@odata.etag": .string(preETag), "id": "5d115c9c-44e3-ea11-bb43-000d3a2feca1", "number": "C00010",
        "displayName": "Adatum", "creditLimit": 1000, "blocked": " ",
    ]

    func delete(preImage: JSONValue? = Self.preImage) -> InDoubtWrite {
        InDoubtWrite(method: .delete, url: Self.recordURL, body: nil, preImage: preImage, intentAt: Self.intentAt)
    }

    func patch(_ body: JSONValue, preImage: JSONValue? = Self.preImage) -> InDoubtWrite {
        InDoubtWrite(method: .patch, url: Self.recordURL, body: body, preImage: preImage, intentAt: Self.intentAt)
    }

    func post(_ body: JSONValue?, url: String = Self.customers, reconcileBy: [String]? = nil, isAction: Bool? = nil) -> InDoubtWrite {
        InDoubtWrite(method: .post, url: url, body: body, preImage: nil, intentAt: Self.intentAt, reconcileBy: reconcileBy, isAction: isAction)
    }

    /// The record as found: the pre-image with `changes` and `etag`.
    func found(_ changes: [String: JSONValue], etag: String) -> JSONValue {
        var members = Self.preImage.objectValue!
        for (k, v) in changes { members[k] = v }
        members["@odata.etag"] = .string(etag)
        return .object(members)
    }

    func collection(_ records: [JSONValue], nextLink: String? = nil) -> JSONValue {
        var members: [String: JSONValue] = ["value": .array(records)]
        if let nextLink { members["@odata.nextLink"] = .string(nextLink) }
        return .object(members)
    }

    func record(_ id: String, createdAt: String?) -> JSONValue {
        var members: [String: JSONValue] = ["id": .string(id), "@odata.etag": "W/\"x\"", "number": "C00042"]
        if let createdAt { members["systemCreatedAt"] = .string(createdAt) }
        return .object(members)
    }

    /// The `$filter` of a POST's search, decoded.
    func filter(_ probe: Probe) -> String? {
        guard case .search(let url, _) = probe, let query = url.split(separator: "?", maxSplits: 1).last,
              query.hasPrefix("$filter=") else { return nil }
        return String(query.dropFirst("$filter=".count)).removingPercentEncoding
    }

    // MARK: DELETE

    @Test func deleteProbesTheRecord() {
        #expect(ReconcileRules.probe(for: delete()) == .record(url: Self.recordURL))
    }

    @Test func deleteGoneWithAPreImageIsApplied() {
        let d = ReconcileRules.decide(delete(), evidence: .answer(status: 404, body: ["error": ["code": "BadRequest_NotFound"]]))
        guard case .applied(let id, let etag, let record, let rule, _) = d else { Issue.record("\(d)"); return }
        #expect(rule == "delete.gone")
        #expect(id == "5d115c9c-44e3-ea11-bb43-000d3a2feca1")
        #expect(etag == nil)
        #expect(record == nil)
        #expect(d.name == "applied")
    }

    @Test func deleteGoneWithoutAPreImageIsUndecidable() {
        let d = ReconcileRules.decide(delete(preImage: nil), evidence: .answer(status: 404, body: nil))
        #expect(d.rule == "delete.gone-unproven")
        #expect(d.name == "undecidable")
        #expect(d.detail.contains("pre-image"))
    }

    @Test func deleteStillThereIsNotAppliedAndSaysWhetherTheETagMoved() {
        let same = ReconcileRules.decide(delete(), evidence: .answer(status: 200, body: found([:], etag: Self.preETag)))
        #expect(same == .notApplied(rule: "delete.still-there", detail: same.detail))
        #expect(same.detail.contains("still the pre-image's"))
        let moved = ReconcileRules.decide(delete(), evidence: .answer(status: 200, body: found(["displayName": "X"], etag: Self.newETag)))
        #expect(moved.rule == "delete.still-there")
        #expect(moved.name == "not_applied")
        #expect(moved.detail.contains("differs from the pre-image's"))
        let noPre = ReconcileRules.decide(delete(preImage: nil), evidence: .answer(status: 200, body: found([:], etag: Self.preETag)))
        #expect(noPre.rule == "delete.still-there")
        #expect(noPre.detail.contains("no pre-image ETag"))
    }

    @Test(arguments: [401, 403, 429, 500, 503, 400])
    func deleteOtherAnswersAreUndecidable(status: Int) {
        let d = ReconcileRules.decide(delete(), evidence: .answer(status: status, body: nil))
        #expect(d == .undecidable(rule: "get.failed", detail: d.detail, candidates: []))
        #expect(d.detail.contains("HTTP \(status)"))
    }

    @Test func noAnswerIsUndecidableForEveryMethod() {
        for write in [delete(), patch(["displayName": "B"]), post(["number": "C1"])] {
            let d = ReconcileRules.decide(write, evidence: .noAnswer(error: "connection reset"))
            #expect(d.rule == "get.no-answer")
            #expect(d.detail.contains("connection reset"))
            #expect(d.detail.contains("again"))
        }
    }

    @Test func aRecordAnswerThatIsNotARecordIsUnreadable() {
        #expect(ReconcileRules.decide(delete(), evidence: .answer(status: 200, body: nil)).rule == "get.unreadable")
        #expect(ReconcileRules.decide(patch(["displayName": "B"]), evidence: .answer(status: 200, body: "text")).rule == "get.unreadable")
    }

    // MARK: PATCH

    @Test func patchProbesTheRecord() {
        #expect(ReconcileRules.probe(for: patch(["displayName": "B"])) == .record(url: Self.recordURL))
    }

    @Test func patchWithTheSentValuesAndANewETagIsApplied() {
        let d = ReconcileRules.decide(patch(["displayName": "B", "creditLimit": 2500]),
                                      evidence: .answer(status: 200, body: found(["displayName": "B", "creditLimit": 2500.0], etag: Self.newETag)))
        guard case .applied(let id, let etag, let record, let rule, _) = d else { Issue.record("\(d)"); return }
        #expect(rule == "patch.fields-match")
        #expect(id == "5d115c9c-44e3-ea11-bb43-000d3a2feca1")
        #expect(etag == Self.newETag)
        #expect(record?["displayName"] == "B")
    }

    @Test func patchNumbersCompareNumerically() {
        // 10 sent, BC writes 10.0 (the same double) or a re-formatted decimal
        let sent: JSONValue = ["creditLimit": .number(10)]
        #expect(ReconcileRules.sameValue(sent: sent["creditLimit"]!, found: .number(10.0)))
        #expect(ReconcileRules.sameValue(sent: .number(0.1 + 0.2), found: .number(0.3)))
        #expect(!ReconcileRules.sameValue(sent: .number(10), found: .number(10.01)))
        #expect(!ReconcileRules.sameValue(sent: .number(10), found: .string("10")))
        #expect(!ReconcileRules.sameValue(sent: .string("abc"), found: .string("ABC")))
        #expect(!ReconcileRules.sameValue(sent: .string("x"), found: nil))
        #expect(ReconcileRules.sameValue(sent: ["city": "Oslo"], found: ["city": "Oslo", "street": "Main"]))
        #expect(!ReconcileRules.sameValue(sent: [1, 2], found: [1, 2, 3]))
    }

    @Test func patchWithThePreImageValuesAndETagIsNotApplied() {
        let d = ReconcileRules.decide(patch(["displayName": "B"]), evidence: .answer(status: 200, body: found([:], etag: Self.preETag)))
        #expect(d.rule == "patch.unchanged")
        #expect(d.name == "not_applied")
    }

    @Test func patchETagFromTheHeaderWhenTheBodyHasNone() {
        var members = found(["displayName": "B"], etag: "").objectValue!
        members["@odata.etag"] = nil
        let d = ReconcileRules.decide(patch(["displayName": "B"]), evidence: .answer(status: 200, body: .object(members), etag: Self.newETag))
        #expect(d.rule == "patch.fields-match")
    }

    @Test func patchChangedBySomeoneElseIsUndecidable() {
        // the sent value, but the ETag is still the pre-image's: impossible unless BC re-used it
        let a = ReconcileRules.decide(patch(["displayName": "B"]), evidence: .answer(status: 200, body: found(["displayName": "B"], etag: Self.preETag)))
        #expect(a.rule == "patch.changed-elsewhere")
        #expect(a.detail.contains("ETag is still the pre-image's"))
        // a third value
        let b = ReconcileRules.decide(patch(["displayName": "B"]), evidence: .answer(status: 200, body: found(["displayName": "C"], etag: Self.newETag)))
        #expect(b.rule == "patch.changed-elsewhere")
        #expect(b.detail.contains("displayName differs from the value sent"))
        #expect(b.detail.contains("displayName differs from the pre-image"))
        // the pre-image's values, but a new ETag (someone else changed another field)
        let c = ReconcileRules.decide(patch(["displayName": "B"]), evidence: .answer(status: 200, body: found(["creditLimit": 5], etag: Self.newETag)))
        #expect(c.rule == "patch.changed-elsewhere")
        #expect(c.detail.contains("the ETag changed"))
        // one field as sent, another as before
        let d = ReconcileRules.decide(patch(["displayName": "B", "creditLimit": 2]),
                                      evidence: .answer(status: 200, body: found(["displayName": "B"], etag: Self.newETag)))
        #expect(d.rule == "patch.changed-elsewhere")
        #expect(d.name == "undecidable")
    }

    @Test func patchWithoutAPreImageOrABodyOrARecordIsUndecidable() {
        let noPre = ReconcileRules.decide(patch(["displayName": "B"], preImage: nil),
                                          evidence: .answer(status: 200, body: found(["displayName": "B"], etag: Self.newETag)))
        #expect(noPre.rule == "patch.no-pre-image")
        let noBody = ReconcileRules.decide(patch(.string("x")), evidence: .answer(status: 200, body: found([:], etag: Self.preETag)))
        #expect(noBody.rule == "patch.no-body")
        let gone = ReconcileRules.decide(patch(["displayName": "B"]), evidence: .answer(status: 404, body: nil))
        #expect(gone.rule == "patch.gone")
        #expect(gone.name == "undecidable")
        let throttled = ReconcileRules.decide(patch(["displayName": "B"]), evidence: .answer(status: 429, body: nil))
        #expect(throttled.rule == "get.failed")
    }

    // MARK: POST: the key and the filter

    @Test func postKeysOnReconcileByFirst() {
        let probe = ReconcileRules.probe(for: post(["number": "C1", "externalDocumentNumber": "PO-7", "customerNumber": "10000"],
                                                   reconcileBy: ["externalDocumentNumber", "customerNumber"]))
        guard case .search(let url, let key) = probe else { Issue.record("\(probe)"); return }
        #expect(key.kind == .reconcileBy)
        #expect(key.fields == ["externalDocumentNumber", "customerNumber"])
        #expect(key.filter == "externalDocumentNumber eq 'PO-7' and customerNumber eq '10000'")
        #expect(url == Self.customers + "?$filter=externalDocumentNumber%20eq%20'PO-7'%20and%20customerNumber%20eq%20'10000'")
    }

    @Test func postKeysOnNumberThenCode() {
        let byNumber = ReconcileRules.probe(for: post(["number": "C1", "code": "X", "displayName": "A"]))
        guard case .search(_, let k1) = byNumber else { Issue.record("\(byNumber)"); return }
        #expect(k1.kind == .number)
        #expect(k1.filter == "number eq 'C1'")
        let byCode = ReconcileRules.probe(for: post(["number": "", "code": "EUR", "displayName": "A"]))
        guard case .search(_, let k2) = byCode else { Issue.record("\(byCode)"); return }
        #expect(k2.kind == .code)
        #expect(k2.filter == "code eq 'EUR'")
    }

    @Test func postWithoutAKeySearchesTheBodyAndTheTimeWithTheSkew() {
        let probe = ReconcileRules.probe(for: post(["displayName": "Adatum", "blocked": "", "note": nil, "lines": [1],
                                                    "address": ["city": "Oslo"], "creditLimit": 10.5, "taxLiable": false]))
        guard case .search(_, let key) = probe else { Issue.record("\(probe)"); return }
        #expect(key.kind == .bodyAndTime)
        #expect(key.fields == ["creditLimit", "displayName", "taxLiable"])
        // intent 06:30:00.25 minus 2 minutes, whole seconds rounded down
        #expect(key.filter == "creditLimit eq 10.5 and displayName eq 'Adatum' and taxLiable eq false and systemCreatedAt ge 2026-12-02T06:28:00Z")
    }

    @Test func filterLiteralsAreQuotedAsODataWantsThem() {
        #expect(ReconcileFilter.literal("O'Brien & Sons") == "'O''Brien & Sons'")
        #expect(ReconcileFilter.literal("''") == "''''''")
        #expect(ReconcileFilter.literal(42) == "42")
        #expect(ReconcileFilter.literal(-0.5) == "-0.5")
        #expect(ReconcileFilter.literal(10.0) == "10")
        #expect(ReconcileFilter.literal(true) == "true")
        #expect(ReconcileFilter.literal(nil) == "null")
        #expect(ReconcileFilter.literal("5D115C9C-44E3-EA11-BB43-000D3A2FECA1") == "5D115C9C-44E3-EA11-BB43-000D3A2FECA1")
        #expect(ReconcileFilter.literal("{5d115c9c-44e3-ea11-bb43-000d3a2feca1}") == "'{5d115c9c-44e3-ea11-bb43-000d3a2feca1}'")
        #expect(ReconcileFilter.literal("2026-04-01") == "2026-04-01")
        #expect(ReconcileFilter.literal("2026-04-01T10:00:00Z") == "2026-04-01T10:00:00Z")
        #expect(ReconcileFilter.literal("10000") == "'10000'")
        #expect(ReconcileFilter.literal("2026-04-01 note") == "'2026-04-01 note'")
        #expect(ReconcileFilter.literal([1]) == nil)
        #expect(ReconcileFilter.literal(["a": 1]) == nil)
    }

    @Test func aQuoteAndReservedCharactersArePercentEncodedByTheOneEncoder() {
        let probe = ReconcileRules.probe(for: post(["number": "A&B #1 'x'=+?%"]))
        guard case .search(let url, let key) = probe else { Issue.record("\(probe)"); return }
        #expect(key.filter == "number eq 'A&B #1 ''x''=+?%'")
        #expect(url == Self.customers + "?$filter=number%20eq%20'A%26B%20%231%20''x''%3D%2B%3F%25'")
        #expect(filter(probe) == key.filter)
    }

    @Test func numbersAndBooleansAreBareInTheFilter() {
        let probe = ReconcileRules.probe(for: post(["quantity": 3, "taxLiable": true, "lineObjectNumber": "1000"], reconcileBy: ["quantity", "taxLiable", "lineObjectNumber"]))
        #expect(filter(probe) == "quantity eq 3 and taxLiable eq true and lineObjectNumber eq '1000'")
    }

    @Test func timestampsParseInTheLedgersAndBCsForms() {
        let t = ReconcileFilter.seconds("2026-12-02T06:30:00.250000Z")
        #expect(t == 1_796_193_000.25)
        #expect(ReconcileFilter.seconds("2026-12-02T06:30:00.25Z") == t)
        #expect(ReconcileFilter.seconds("2026-12-02T07:30:00.25+01:00") == t)
        #expect(ReconcileFilter.seconds("2026-12-02T06:30Z") == 1_796_193_000)
        #expect(ReconcileFilter.seconds("2026-12-02T06:30:00.1234567Z") != nil)
        #expect(ReconcileFilter.seconds("2026-12-02") == nil)
        #expect(ReconcileFilter.seconds("2026-12-02T06:30:00") == nil)
        #expect(ReconcileFilter.seconds("2026-13-02T06:30:00Z") == nil)
        #expect(ReconcileFilter.dateTimeLiteral(seconds: 1_796_193_000.9) == "2026-12-02T06:30:00Z")
    }

    @Test func postCollectionURLsBelowAParentKeepTheirPath() {
        let lines = Self.company + "/salesOrders(5d115c9c-44e3-ea11-bb43-000d3a2feca1)/salesOrderLines"
        let probe = ReconcileRules.probe(for: post(["lineObjectNumber": "1000", "quantity": 2], url: lines, reconcileBy: ["lineObjectNumber"]))
        #expect(probe.url == lines + "?$filter=lineObjectNumber%20eq%20'1000'")
    }

    @Test func postToAnActionIsImpossible() {
        let bound = Self.company + "/salesInvoices(5d115c9c-44e3-ea11-bb43-000d3a2feca1)/Microsoft.NAV.post"
        #expect(ReconcileRules.isActionURL(bound))
        #expect(ReconcileRules.isActionURL(Self.company + "/Microsoft.NAV.runJob"))
        #expect(!ReconcileRules.isActionURL(Self.customers))
        #expect(!ReconcileRules.isActionURL(Self.customers + "(C.1)"))
        let write = post([:], url: bound)
        #expect(write.isAction)
        guard case .impossible(let reason) = ReconcileRules.probe(for: write) else { Issue.record("not impossible"); return }
        #expect(reason.contains("Microsoft.NAV.post"))
        let d = ReconcileRules.decide(write, evidence: .noAnswer(error: "not sent"))
        #expect(d.rule == "post.action")
        #expect(d.name == "undecidable")
        // the flag wins over the URL
        #expect(ReconcileRules.probe(for: post(["number": "1"], isAction: true)).url == nil)
    }

    @Test func postWithoutAUsableKeyIsImpossible() {
        let cases: [(InDoubtWrite, String)] = [
            (post(nil), "not a JSON object"),
            (post([:]), "no field to search by"),
            (post(["lines": [1], "note": nil, "displayName": ""]), "no field to search by"),
            (post(["number": "C1"], reconcileBy: ["externalDocumentNumber"]), "'externalDocumentNumber' is not in the body sent"),
            (post(["address": ["city": "Oslo"]], reconcileBy: ["address"]), "'address' is not a single value"),
            (InDoubtWrite(method: .post, url: Self.customers, body: ["displayName": "A"], preImage: nil, intentAt: "yesterday"), "not a timestamp"),
        ]
        for (write, reason) in cases {
            let probe = ReconcileRules.probe(for: write)
            guard case .impossible(let text) = probe else { Issue.record("\(write.body as Any): \(probe)"); continue }
            #expect(text.contains(reason))
            let d = ReconcileRules.decide(write, evidence: .answer(status: 200, body: collection([])))
            #expect(d.rule == "post.no-key")
            #expect(d.detail.contains(reason))
        }
    }

    @Test func reconcileByMayNameAnEmptyOrNullValue() {
        // asked for explicitly, so it is used as sent
        #expect(filter(ReconcileRules.probe(for: post(["externalDocumentNumber": "", "x": nil], reconcileBy: ["externalDocumentNumber", "x"])))
                == "externalDocumentNumber eq '' and x eq null")
    }

    // MARK: POST: the decision

    @Test func postOneMatchIsAppliedWithItsIDETagAndRecord() {
        let match = record("aaaaaaaa-0000-0000-0000-000000000001", createdAt: "2026-12-02T06:30:00.312Z")
        let d = ReconcileRules.decide(post(["number": "C00042"]), evidence: .answer(status: 200, body: collection([match])))
        #expect(d == .applied(recordID: "aaaaaaaa-0000-0000-0000-000000000001", etag: "W/\"x\"", record: match, rule: "post.one-match", detail: d.detail))
        #expect(d.detail.contains("number eq 'C00042'"))
        #expect(ReconcileRules.recordURL(collection: Self.customers, id: "aaaaaaaa-0000-0000-0000-000000000001")
                == Self.customers + "(aaaaaaaa-0000-0000-0000-000000000001)")
        #expect(ReconcileRules.recordURL(collection: Self.customers, id: "../x") == nil)
    }

    @Test func postNoMatchIsNotApplied() {
        let d = ReconcileRules.decide(post(["number": "C00042"]), evidence: .answer(status: 200, body: collection([])))
        #expect(d.rule == "post.no-match")
        #expect(d.name == "not_applied")
    }

    @Test func postSeveralMatchesIsUndecidableWithTheCandidates() {
        let a = record("aaaaaaaa-0000-0000-0000-000000000001", createdAt: "2026-12-02T06:30:00.312Z")
        let b = record("bbbbbbbb-0000-0000-0000-000000000002", createdAt: "2026-12-02T06:31:00Z")
        let d = ReconcileRules.decide(post(["displayName": "A"]), evidence: .answer(status: 200, body: collection([a, b])))
        #expect(d == .undecidable(rule: "post.several-matches", detail: d.detail,
                                  candidates: ["aaaaaaaa-0000-0000-0000-000000000001", "bbbbbbbb-0000-0000-0000-000000000002"]))
        #expect(d.detail.contains("2 records"))
        let paged = ReconcileRules.decide(post(["displayName": "A"]), evidence: .answer(status: 200, body: collection([a], nextLink: Self.customers + "?$skiptoken=1")))
        #expect(paged.rule == "post.several-matches")
        guard case .undecidable(_, _, let candidates) = paged else { Issue.record("\(paged)"); return }
        #expect(candidates == ["aaaaaaaa-0000-0000-0000-000000000001"])
    }

    @Test func theSkewWindowDecidesWhatExistedBefore() {
        // intent 06:30:00.25; cutoff 06:28:00.25
        let before = record("00000000-0000-0000-0000-0000000000b0", createdAt: "2026-12-02T06:28:00.249Z")
        let atCutoff = record("00000000-0000-0000-0000-0000000000c0", createdAt: "2026-12-02T06:28:00.250Z")
        let skewed = record("00000000-0000-0000-0000-0000000000d0", createdAt: "2026-12-02T06:29:10Z")  // BC clock 50 s behind
        let undated = record("00000000-0000-0000-0000-0000000000e0", createdAt: nil)

        let onlyOld = ReconcileRules.decide(post(["number": "C00042"]), evidence: .answer(status: 200, body: collection([before])))
        #expect(onlyOld.rule == "post.existed-before")
        #expect(onlyOld.name == "not_applied")
        #expect(onlyOld.detail.contains("00000000-0000-0000-0000-0000000000b0"))

        // A match with no creation time may be older than the POST: undecidable, never applied.
        let noTime = ReconcileRules.decide(post(["number": "C00042"]), evidence: .answer(status: 200, body: collection([before, undated])))
        #expect(noTime.rule == "post.no-creation-time")
        #expect(noTime.name == "undecidable")

        for fresh in [atCutoff, skewed] {
            let d = ReconcileRules.decide(post(["number": "C00042"]), evidence: .answer(status: 200, body: collection([before, fresh])))
            #expect(d.rule == "post.one-match")
            #expect(d.name == "applied")
            guard case .applied(let id, _, _, _, _) = d else { continue }
            #expect(id == fresh["id"]?.stringValue)
        }

        // BC's "no value" time counts as long before
        let zero = record("00000000-0000-0000-0000-0000000000f0", createdAt: "0001-01-01T00:00:00Z")
        #expect(ReconcileRules.decide(post(["number": "C00042"]), evidence: .answer(status: 200, body: collection([zero]))).rule == "post.existed-before")
    }

    @Test func postSearchFailuresAreUndecidable() {
        #expect(ReconcileRules.decide(post(["number": "1"]), evidence: .answer(status: 404, body: nil)).rule == "get.failed")
        let refused = ReconcileRules.decide(post(["number": "1"]), evidence: .answer(status: 400, body: ["error": ["message": "bad literal"]]))
        #expect(refused.rule == "get.failed")
        #expect(refused.detail.contains("refused the search the number sent (number eq '1') with HTTP 400 (bad literal)"))
        #expect(ReconcileRules.decide(post(["number": "1"]), evidence: .answer(status: 200, body: ["id": "x"])).rule == "get.unreadable")
        #expect(ReconcileRules.decide(post(["number": "1"]), evidence: .answer(status: 200, body: collection([["number": "1"]]))).rule == "get.unreadable")
    }

    @Test func aGetIsNotAWrite() {
        let get = InDoubtWrite(method: .get, url: Self.customers, body: nil, preImage: nil, intentAt: Self.intentAt)
        #expect(ReconcileRules.probe(for: get).url == nil)
        #expect(ReconcileRules.decide(get, evidence: .answer(status: 200, body: nil)).rule == "not-a-write")
    }

    @Test func everyDecisionNamesAReconciliationDecision() {
        #expect(Decision.applied(recordID: nil, etag: nil, record: nil, rule: "r", detail: "d").name == "applied")
        #expect(Decision.notApplied(rule: "r", detail: "d").name == "not_applied")
        #expect(Decision.undecidable(rule: "r", detail: "d", candidates: []).name == "undecidable")
    }
}
