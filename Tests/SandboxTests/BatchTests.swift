import AsyncHTTPClient
import Foundation
import Hashing
import NIOHTTP1
import Testing
import TestSupport
@testable import Sandbox

/// JSON `$batch` against a real sandbox on 127.0.0.1: one status per operation, operations
/// independent, BC's limits, one journal line per operation, and faults acting on the batch.
@Suite("JSON $batch")
struct BatchTests {
    static let companyPath = "companies(\(SandboxDefaults.companyID))"

    /// One operation of a batch body.
    static func op(_ id: String, _ method: String, _ url: String, crid: String? = nil, headers: [String: String] = [:],
                   body: JSONValue? = nil) -> JSONValue
    {
        var allHeaders = headers
        if let crid { allHeaders["client-request-id"] = crid }
        if body != nil { allHeaders["Content-Type"] = "application/json" }
        var entry: [String: JSONValue] = [
            "id": .string(id), "method": .string(method), "url": .string(url),
            "headers": .object(allHeaders.mapValues { .string($0) }),
        ]
        if let body { entry["body"] = body }
        return .object(entry)
    }

    static func post(_ id: String, crid: String, name: String) -> JSONValue {
        op(id, "POST", "\(companyPath)/customers", crid: crid, body: ["displayName": .string(name)])
    }
}

extension Harness {
    var batchURL: String { "\(baseURL)/v2.0/\(SandboxDefaults.tenant)/\(SandboxDefaults.environment)/api/v2.0/$batch" }

    func batch(_ requests: [JSONValue], headers: [String: String] = [:]) async throws -> TestResponse {
        try await send(.POST, batchURL, json: ["requests": .array(requests)], headers: headers)
    }
}

extension TestResponse {
    /// The `responses` of a batch answer.
    var operations: [JSONValue] { json["responses"]?.arrayValue ?? [] }
}

extension BatchTests {
    @Test("each operation gets its own status, headers and body; a failing one does not stop the others")
    func statusesPerOperation() async throws {
        try await Harness.with { h in
            let existing = try await h.create("customers", ["displayName": "Existing"])
            let id = try #require(existing.id), etag = try #require(existing.etag)
            let c = Self.companyPath
            let answer = try await h.batch([
                Self.post("a", crid: "op-a", name: "Created in a batch"),
                Self.op("b", "POST", "\(c)/customers", crid: "op-b", body: ["nope": 1]),
                Self.op("c", "PATCH", "\(c)/customers(\(id))", crid: "op-c", body: ["displayName": "no If-Match"]),
                Self.op("d", "PATCH", "\(c)/customers(\(id))", crid: "op-d", headers: ["If-Match": etag],
                        body: ["displayName": "Renamed"]),
                Self.op("e", "PATCH", "\(c)/customers(\(id))", crid: "op-e", headers: ["If-Match": etag],
                        body: ["displayName": "stale"]),
                Self.op("f", "GET", "\(c)/customers(\(id))"),
                Self.op("g", "DELETE", "\(c)/customers(00000000-0000-0000-0000-00000000beef)", headers: ["If-Match": "*"]),
            ], headers: ["client-request-id": "the-batch"])
            #expect(answer.status == 200, "\(answer.text)")
            #expect(answer.header("client-request-id") == "the-batch")
            let ops = answer.operations
            #expect(ops.map { $0["id"] } == ["a", "b", "c", "d", "e", "f", "g"])
            #expect(ops.map { $0["status"] } == [201, 400, 400, 200, 409, 200, 404])
            let created = ops[0]
            #expect(created["body"]?["displayName"] == "Created in a batch")
            #expect(created["headers"]?["etag"] == created["body"]?["@odata.etag"])
            #expect(created["headers"]?["location"]?.stringValue?.hasSuffix("/customers(\(created["body"]?.id ?? "?"))") == true)
            #expect(created["headers"]?["client-request-id"] == "op-a")
            #expect(ops[1]["body"]?["error"]?["code"] == "BadRequest")
            #expect(ops[2]["body"]?["error"]?["code"] == "BadRequest_InvalidToken")
            #expect(ops[4]["body"]?["error"]?["code"] == "Request_EntityChanged")
            #expect(ops[5]["body"]?["displayName"] == "Renamed")
            #expect(ops[6]["body"]?["error"]?["code"] == "Internal_RecordNotFound")
            // An operation's error names its own correlation id, the request-id in its headers.
            let opRequestID = try #require(ops[1]["headers"]?["request-id"]?.stringValue)
            #expect(ops[1]["body"]?["error"]?["message"]?.stringValue?.contains("CorrelationId: \(opRequestID)") == true)
            #expect(opRequestID != answer.header("request-id"))

            // What the server holds is what the operations said.
            #expect(try await h.get("customers(\(id))").json["displayName"] == "Renamed")
            #expect(try await h.get("customers").values.count == 2)

            // One journal line per committed operation, as if sent alone, naming the batch.
            let journal = try await h.journal()
            #expect(journal.count == 3)
            #expect(journal[0]["batch_request_id"] == .null)
            #expect(journal[0]["batch_client_request_id"] == .null)
            let lines = Array(journal.dropFirst())
            #expect(lines.map { $0["client_request_id"] } == ["op-a", "op-d"])
            #expect(lines.map { $0["method"] } == ["POST", "PATCH"])
            #expect(lines.map { $0["status"] } == [201, 200])
            #expect(lines.allSatisfy { $0["batch_request_id"]?.stringValue == answer.header("request-id") })
            #expect(lines.allSatisfy { $0["batch_client_request_id"] == "the-batch" })
            #expect(lines[0]["request_id"]?.stringValue == created["headers"]?["request-id"]?.stringValue)
            #expect(lines[0]["path"]?.stringValue?.hasSuffix("/api/v2.0/\(c)/customers") == true)
            // The digest is of the body's canonical bytes, which is what bcli stores for the operation.
            let bodyBytes = try JSONValue.object(["displayName": "Created in a batch"]).canonicalBytes()
            #expect(lines[0]["body_sha256"]?.stringValue == SHA256.hash(bodyBytes).hex)
        }
    }

    @Test("an operation answers exactly as the same request sent alone")
    func sameAsAlone() async throws {
        try await Harness.with { h in
            let record = try await h.create("customers", ["displayName": "Twin"])
            let alone = try await h.get("customers(\(record.id!))")
            let batched = try await h.batch([Self.op("1", "GET", "\(Self.companyPath)/customers(\(record.id!))")])
            let entry = try #require(batched.operations.first)
            #expect(entry["status"] == 200)
            #expect(entry["body"] == alone.json)
            #expect(try entry["body"]?.canonicalBytes() == alone.body)
            #expect(entry["headers"]?["etag"]?.stringValue == alone.header("ETag"))
            #expect(entry["headers"]?["content-type"]?.stringValue == alone.header("Content-Type"))
        }
    }

    @Test("operation urls: relative to the API root, absolute path, absolute URL, ?company=; Prefer per operation")
    func urlFormsAndPerOperationHeaders() async throws {
        try await Harness.with { h in
            for name in ["one", "two", "three"] { try await h.create("customers", ["displayName": .string(name)]) }
            let absolutePath = "/v2.0/\(SandboxDefaults.tenant)/\(SandboxDefaults.environment)/api/v2.0/\(Self.companyPath)/customers"
            let answer = try await h.batch([
                Self.op("rel", "GET", "\(Self.companyPath)/customers?$select=displayName&$orderby=displayName"),
                Self.op("path", "GET", absolutePath + "?$top=1"),
                Self.op("url", "GET", h.baseURL + absolutePath + "?$count=true"),
                Self.op("query", "GET", "customers?company=\(SandboxDefaults.companyID)"),
                Self.op("page", "GET", "\(Self.companyPath)/customers", headers: ["Prefer": "odata.maxpagesize=2"]),
                Self.op("quiet", "POST", "\(Self.companyPath)/customers", crid: "quiet",
                        headers: ["Prefer": "return-no-content"], body: ["displayName": "four"]),
                Self.op("elsewhere", "GET", "/_sandbox/health"),
                Self.op("nested", "POST", "$batch", body: ["requests": []]),
            ])
            #expect(answer.status == 200, "\(answer.text)")
            let ops = answer.operations
            #expect(ops.map { $0["status"] } == [200, 200, 200, 200, 200, 204, 400, 400])
            #expect(ops[0]["body"]?["value"]?.arrayValue?.map { $0["displayName"] } == ["one", "three", "two"])
            #expect(ops[1]["body"]?["value"]?.arrayValue?.count == 1)
            #expect(ops[2]["body"]?["@odata.count"] == 3)
            #expect(ops[3]["body"]?["value"]?.arrayValue?.count == 3)
            #expect(ops[4]["body"]?["value"]?.arrayValue?.count == 2)
            #expect(ops[4]["headers"]?["preference-applied"] == "odata.maxpagesize=2")
            let next = try #require(ops[4]["body"]?["@odata.nextLink"]?.stringValue)
            #expect(next.hasPrefix(h.baseURL + absolutePath + "?"))
            #expect(ops[5]["body"] == nil)
            #expect(ops[5]["headers"]?["preference-applied"] == "return-no-content")
            #expect(ops[5]["headers"]?["etag"] != nil)
            #expect(try await h.journal().map { $0["client_request_id"] } == [.null, .null, .null, "quiet"])
        }
    }

    @Test("100 operations are served; 101 are refused whole with BC's 400, and nothing runs")
    func operationLimit() async throws {
        try await Harness.with { h in
            let hundred = (1...100).map { Self.post("\($0)", crid: "ok-\($0)", name: "n\($0)") }
            let served = try await h.batch(hundred)
            #expect(served.status == 200)
            #expect(served.operations.count == 100)
            #expect(served.operations.allSatisfy { $0["status"] == 201 })
            #expect(try await h.journal().count == 100)

            let tooMany = (1...101).map { Self.post("\($0)", crid: "over-\($0)", name: "x\($0)") }
            let refused = try await h.batch(tooMany)
            #expect(refused.status == 400)
            #expect(refused.errorCode == "Unknown")
            #expect(refused.json["error"]?["message"]?.stringValue?.contains("A maximum number of '100'") == true)
            #expect(try await h.journal().count == 100)
        }
    }

    @Test("a malformed $batch is refused whole with 400 (405 for GET), and nothing runs")
    func malformed() async throws {
        try await Harness.with { h in
            let good = Self.post("1", crid: "never", name: "Never")
            let cases: [(String, [UInt8], [String: String], Int)] = [
                ("not JSON", Array("{\"requests\":[".utf8), ["Content-Type": "application/json"], 400),
                ("no requests", Array(#"{"ops":[]}"#.utf8), ["Content-Type": "application/json"], 400),
                ("multipart", try JSONValue.object(["requests": [good]]).canonicalBytes(),
                 ["Content-Type": "multipart/mixed; boundary=x"], 400),
                ("no url", try JSONValue.object(["requests": [good, ["id": "2", "method": "GET"]]]).canonicalBytes(),
                 ["Content-Type": "application/json"], 400),
                ("duplicate ids", try JSONValue.object(["requests": [good, Self.post("1", crid: "n2", name: "N")]]).canonicalBytes(),
                 ["Content-Type": "application/json"], 400),
                ("dependsOn", try JSONValue.object(["requests": [good, ["id": "2", "method": "GET", "url": "companies",
                                                                          "dependsOn": ["1"]]]]).canonicalBytes(),
                 ["Content-Type": "application/json"], 400),
                ("Isolation", try JSONValue.object(["requests": [good]]).canonicalBytes(),
                 ["Content-Type": "application/json", "Isolation": "snapshot"], 400),
                ("bad method", try JSONValue.object(["requests": [Self.op("1", "MERGE", "companies")]]).canonicalBytes(),
                 ["Content-Type": "application/json"], 400),
            ]
            for (name, body, headers, status) in cases {
                let response = try await h.send(.POST, h.batchURL, rawBody: body, headers: headers)
                #expect(response.status == status, "\(name): \(response.text)")
                #expect(response.json["error"]?["message"]?.stringValue?.contains("CorrelationId:") == true, "\(name)")
            }
            let get = try await h.send(.GET, h.batchURL)
            #expect(get.status == 405)
            let wrongEnvironment = try await h.send(.POST, "\(h.baseURL)/v2.0/\(SandboxDefaults.tenant)/elsewhere/api/v2.0/$batch",
                                                    json: ["requests": [good]])
            #expect(wrongEnvironment.status == 404)
            let unauthenticated = try await h.send(.POST, h.batchURL, json: ["requests": [good]], auth: false)
            #expect(unauthenticated.status == 401)
            #expect(try await h.journal().isEmpty)
            #expect(try await h.get("customers").values.isEmpty)
            // An empty batch is a valid one.
            let empty = try await h.batch([])
            #expect(empty.status == 200)
            #expect(empty.operations.isEmpty)
        }
    }

    @Test("lose on a batch: selected by one operation's client-request-id, nothing of the batch is performed")
    func loseWholeBatch() async throws {
        try await Harness.with { h in
            _ = try await h.setFaults(["lose:request-id=op-2"])
            let operations = (1...3).map { Self.post("\($0)", crid: "op-\($0)", name: "Lost \($0)") }
            await #expect(throws: HTTPClientError.self) { _ = try await h.batch(operations) }
            #expect(try await h.journal().isEmpty)
            #expect(try await h.get("customers").values.isEmpty)
            let state = try await h.faultState()
            #expect(state["faults"]?.arrayValue?.first?["matched"] == 1)
            #expect(state["faults"]?.arrayValue?.first?["fired"] == 1)
            // A batch none of whose operations is selected is answered.
            let other = try await h.batch([Self.post("1", crid: "op-9", name: "Kept")])
            #expect(other.operations.first?["status"] == 201)
            // request-id= may also name the batch itself.
            _ = try await h.setFaults(["lose:request-id=whole"])
            await #expect(throws: HTTPClientError.self) {
                _ = try await h.batch([Self.post("1", crid: "op-10", name: "Lost")], headers: ["client-request-id": "whole"])
            }
            #expect(try await h.journal().map { $0["client_request_id"] } == ["op-9"])
        }
    }

    @Test("drop on a batch: every operation commits, then the answer to the whole batch is dropped; counted per write")
    func dropWholeBatch() async throws {
        try await Harness.with { h in
            _ = try await h.setFaults(["drop:request-id=op-2"])
            let operations = (1...3).map { Self.post("\($0)", crid: "op-\($0)", name: "Dropped \($0)") }
            await #expect(throws: HTTPClientError.self) { _ = try await h.batch(operations) }
            let journal = try await h.journal()
            #expect(journal.map { $0["client_request_id"] } == ["op-1", "op-2", "op-3"])
            #expect(journal.allSatisfy { $0["batch_request_id"]?.stringValue != nil })
            #expect(try await h.get("customers").values.count == 3)

            // drop counts committed writes as if each were sent alone: nth=2 is the second write.
            _ = try await h.setFaults(["drop:nth=2"])
            let more = (4...6).map { Self.post("\($0)", crid: "op-\($0)", name: "Counted \($0)") }
            await #expect(throws: HTTPClientError.self) { _ = try await h.batch(more) }
            let state = try await h.faultState()
            #expect(state["faults"]?.arrayValue?.first?["matched"] == 3)
            #expect(state["faults"]?.arrayValue?.first?["fired"] == 1)
            #expect(try await h.journal().count == 6)
            // A failed operation is not a committed write: a batch whose only write fails is answered.
            _ = try await h.setFaults(["drop"])
            let failing = try await h.batch([Self.op("1", "POST", "\(Self.companyPath)/customers", crid: "bad", body: ["nope": 1])])
            #expect(failing.operations.first?["status"] == 400)
        }
    }

    @Test("throttle and hold act on the whole batch before any operation runs")
    func throttleAndHold() async throws {
        try await Harness.with { h in
            _ = try await h.setFaults(["throttle:method=PATCH,times=1,retry-after=3"])
            // A batch of POSTs has no PATCH: the filter judges the operations, not the outer POST.
            let posts = try await h.batch([Self.post("1", crid: "p1", name: "A")])
            #expect(posts.status == 200)
            let id = try #require(posts.operations.first?["body"]?.id)
            let patch = Self.op("1", "PATCH", "\(Self.companyPath)/customers(\(id))", crid: "p2", headers: ["If-Match": "*"],
                                body: ["displayName": "B"])
            let throttled = try await h.batch([Self.post("0", crid: "p3", name: "C"), patch])
            #expect(throttled.status == 429)
            #expect(throttled.header("Retry-After") == "3")
            #expect(try await h.journal().map { $0["client_request_id"] } == ["p1"])

            _ = try await h.setFaults(["hold:request-id=p5"])
            let held = Task { try await h.batch([Self.post("1", crid: "p4", name: "D"), Self.post("2", crid: "p5", name: "E")]) }
            while try await h.faultState()["held"] != 1 { await Task.yield() }
            // Held before any operation ran: p4, ahead of p5 in the batch, is not committed either.
            #expect(try await h.journal().map { $0["client_request_id"] } == ["p1"])
            _ = try await h.send(.POST, "\(h.baseURL)/_sandbox/release", auth: false)
            #expect(try await held.value.operations.map { $0["status"] } == [201, 201])
            #expect(try await h.journal().map { $0["client_request_id"] } == ["p1", "p4", "p5"])
        }
    }
}
