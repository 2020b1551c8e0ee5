import Foundation
import Hashing
import Sandbox
import Testing
import TestSupport

@testable import BusinessCentral

/// `BatchEnvelope` (the OData JSON `$batch` shapes) and `BCTransport.executeBatch`, pure and over
/// real HTTP against the sandbox through `BCClient` (token, retries).
@Suite struct BatchEnvelopeTests {
    static let root = "http://127.0.0.1:9/v2.0/sandbox/production/api/v2.0"
    static let company = "companies(\(SandboxDefaults.companyID))"

    static func json(_ bytes: [UInt8]) throws -> JSONValue { try JSONValue(parsing: bytes) }

    @Test func encodeCarriesEachOperationWithItsHeadersAndEmbeddedBody() throws {
        let body = try JSONValue.object(["displayName": "Ünïcode €", "creditLimit": 1500.5]).canonicalBytes()
        let operations = [
            BCRequest(method: "POST", url: "\(Self.root)/\(Self.company)/customers", body: body, clientRequestID: "s1",
                      idempotencyKey: "k1", extraHeaders: [BCHeader(name: "Prefer", value: "return-no-content")]),
            BCRequest(method: "PATCH", url: "\(Self.root)/\(Self.company)/customers(abc)?$select=id", body: body,
                      ifMatch: "W/\"x\"", clientRequestID: "s2"),
            BCRequest(method: "DELETE", url: "\(Self.root)/\(Self.company)/customers(abc)", ifMatch: "*"),
        ]
        let envelope = try BatchEnvelope.encode(operations, clientRequestID: "outer")
        #expect(envelope.method == .POST)
        #expect(envelope.url == Self.root + "/$batch")
        #expect(envelope.clientRequestID == "outer")
        let sent = try #require(envelope.body)
        #expect(try Self.json(sent).canonicalBytes() == sent, "the envelope is canonical JSON")
        let requests = try #require(try Self.json(sent)["requests"]?.arrayValue)
        #expect(requests.map { $0["id"] } == ["1", "2", "3"])
        #expect(requests.map { $0["method"] } == ["POST", "PATCH", "DELETE"])
        #expect(requests.map { $0["url"] } == [
            .string("\(Self.company)/customers"), .string("\(Self.company)/customers(abc)?$select=id"),
            .string("\(Self.company)/customers(abc)"),
        ])
        // Each operation carries exactly the headers it would send (and the ledger records) alone.
        for (entry, operation) in zip(requests, operations) {
            let headers = try #require(entry["headers"]?.objectValue)
            #expect(headers.count == operation.recordedHeaders.count)
            for header in operation.recordedHeaders { #expect(headers[header.name] == .string(header.value)) }
        }
        #expect(requests[0]["headers"]?["Prefer"] == "return-no-content")
        #expect(requests[0]["headers"]?["Idempotency-Key"] == "k1")
        #expect(requests[1]["headers"]?["If-Match"] == "W/\"x\"")
        #expect(requests[2]["headers"]?["Content-Type"] == nil)
        // The embedded body serialises back to the operation's own bytes; a DELETE has none.
        #expect(try requests[0]["body"]?.canonicalBytes() == body)
        #expect(requests[2]["body"] == nil)
        // The same operations always give the same envelope.
        #expect(try BatchEncodeRepeat.encode(operations).body == sent)
        #expect(!envelope.recordedHeaders.contains { $0.name.lowercased() == "authorization" })
    }

    @Test func encodeRefusesWhatCannotBeABatch() throws {
        let ok = BCRequest(method: "GET", url: "\(Self.root)/\(Self.company)/customers")
        #expect(throws: BatchEncodeError.empty) { try BatchEnvelope.encode([]) }
        #expect(throws: BatchEncodeError.tooManyOperations(count: 101, limit: 100)) {
            try BatchEnvelope.encode(Array(repeating: ok, count: 101))
        }
        #expect(try BatchEnvelope.encode(Array(repeating: ok, count: 100)).body != nil)
        let elsewhere = BCRequest(method: "GET", url: "http://127.0.0.1:9/v2.0/sandbox/other/api/v2.0/companies")
        #expect(throws: BatchEncodeError.outsideAPIRoot(index: 1, url: elsewhere.url, apiRoot: Self.root)) {
            try BatchEnvelope.encode([ok, elsewhere])
        }
        let notJSON = BCRequest(method: "POST", url: ok.url, body: Array("name=x".utf8))
        #expect(throws: BatchEncodeError.self) { try BatchEnvelope.encode([notJSON]) }
        #expect(throws: BatchEncodeError.noAPIRoot(url: "http://h/nothing/here")) {
            try BatchEnvelope.encode([BCRequest(method: "GET", url: "http://h/nothing/here")])
        }
        // Custom APIs and a base URL with a path of its own.
        #expect(try BatchEnvelope.apiRoot(of: "https://h/bc/v2.0/t/e/api/contoso/app/v1.0/companies(x)/things?$top=1")
                == "https://h/bc/v2.0/t/e/api/contoso/app/v1.0")
        #expect(try BatchEnvelope.apiRoot(of: "\(Self.root)/\(Self.company)") == Self.root)
    }

    @Test func decodeMatchesAnswersByIDAndLeavesAMissingOneUnknown() throws {
        let operations = (1...3).map { BCRequest(method: "POST", url: "\(Self.root)/x\($0)", body: Array("{}".utf8), clientRequestID: "c\($0)") }
        // Out of order, the second missing, spacing BC might send.
        let body = """
            {"responses": [
              {"id": "3", "status": 400, "headers": {"content-type": "application/json"},
               "body": {"error": {"code": "BadRequest", "message": "No. CorrelationId:  abc-123."}}},
              {"id": "1", "status": 201, "headers": {"etag": "W/\\"e1\\"", "location": "http://x/c(1)"},
               "body": {"b": 2, "a": 1.50, "@odata.etag": "W/\\"e1\\""}}
            ]}
            """
        let outer = BCResponse(status: 200, headers: [BCHeader(name: "request-id", value: "outer")], body: Array(body.utf8),
                               attempts: 2, elapsed: .milliseconds(5))
        let answers = try BatchEnvelope.decode(outer, for: operations).get()
        #expect(answers.count == 3)
        let first = try #require(answers[0])
        #expect(first.status == 201)
        #expect(first.body == Array(#"{"@odata.etag":"W/\"e1\"","a":1.5,"b":2}"#.utf8))
        #expect(first.etag == "W/\"e1\"")
        #expect(first.headers.map(\.name) == ["etag", "location"])
        #expect(first.attempts == 2)
        #expect(first.requestHeaders == operations[0].recordedHeaders)
        #expect(answers[1] == nil)
        let third = try #require(answers[2])
        #expect(third.bcError?.code == "BadRequest")
        #expect(third.bcError?.correlationID == "abc-123")
        let results = BatchEnvelope.results(outer, for: operations)
        #expect(results[0].response == first)
        guard case .unknown = results[1] else { Issue.record("a missing answer must read unknown: \(results[1])"); return }

        // Two answers with one id: neither is trusted.
        let twice = BCResponse(status: 200, headers: [], body: Array(#"{"responses":[{"id":"1","status":201},{"id":"1","status":400}]}"#.utf8))
        #expect(BatchEnvelope.decode(twice, for: operations) == .failure(.duplicateID("1")))
        #expect(BatchEnvelope.results(twice, for: operations).allSatisfy { if case .unknown = $0 { true } else { false } })
        // A whole-batch refusal proves nothing ran; a 504 or a garbled 200 proves nothing.
        let refused = BCResponse(status: 400, headers: [], body: Array(#"{"error":{"code":"Unknown","message":"too many"}}"#.utf8))
        #expect(BatchEnvelope.results(refused, for: operations) == Array(repeating: .notProcessed(refused), count: 3))
        for status in [408, 500, 502, 504] {
            let unclear = BCResponse(status: status, headers: [], body: [])
            #expect(BatchEnvelope.results(unclear, for: operations).allSatisfy { if case .unknown = $0 { true } else { false } })
        }
        let garbled = BCResponse(status: 200, headers: [], body: Array("<html>".utf8))
        #expect(BatchEnvelope.results(garbled, for: operations).allSatisfy { if case .unknown = $0 { true } else { false } })
        // Answers that name no operation are matched to none: OData does not promise answers in
        // request order, so taking them by position could give one step another's record.
        let unnamed = BCResponse(status: 200, headers: [], body: Array(#"{"responses":[{"id":null,"status":201},{"id":null,"status":204},{"id":null,"status":409}]}"#.utf8))
        #expect(try BatchEnvelope.decode(unnamed, for: operations).get().map { $0?.status } == [nil, nil, nil])
    }

    /// The sandbox's journal, read through the client (the admin endpoint ignores the token).
    static func journal(_ client: BCClient) async throws -> [JSONValue] {
        let base = try #require(client.profile.baseURL)
        let response = try await client.execute(BCRequest(method: "GET", url: base + "/_sandbox/journal"))
        return try String(decoding: response.body, as: UTF8.self).split(separator: "\n").map { try JSONValue(parsing: String($0)) }
    }

    @Test func executeBatchRoundTripsAgainstTheSandbox() async throws {
        try await SandboxIntegrationTests.withSandboxClient { client, _ in
            let customers = try URLBuilder.entityURL(profile: client.profile, entitySet: "customers")
            let alone = try await client.execute(BCRequest(
                method: "POST", url: customers, body: try JSONValue.object(["displayName": "Alone"]).canonicalBytes()))
            let id = try #require(try Self.json(alone.body)["id"]?.stringValue)
            let record = try URLBuilder.entityURL(profile: client.profile, entitySet: "customers", recordID: id)
            let newBody = try JSONValue.object(["displayName": "Batched", "email": "b@x.example"]).canonicalBytes()
            let operations = [
                BCRequest(method: "POST", url: customers, body: newBody, clientRequestID: "b-1"),
                BCRequest(method: "PATCH", url: record, body: Array(#"{"displayName":"Renamed"}"#.utf8), ifMatch: alone.etag,
                          clientRequestID: "b-2"),
                BCRequest(method: "PATCH", url: record, body: Array(#"{"displayName":"Stale"}"#.utf8), ifMatch: alone.etag,
                          clientRequestID: "b-3"),
                BCRequest(method: "GET", url: record),
            ]
            let answer = try await client.executeBatch(operations, clientRequestID: "the-batch")
            #expect(answer.response.status == 200)
            #expect(answer.envelope.url.hasSuffix("/api/v2.0/$batch"))
            let responses = answer.results.map(\.response)
            #expect(responses.map { $0?.status } == [201, 200, 409, 200])
            let created = try #require(responses[0])
            #expect(try Self.json(created.body)["displayName"] == "Batched")
            #expect(created.etag != nil)
            #expect(created.header("client-request-id") == "b-1")
            #expect(created.requestID != nil && created.requestID != answer.response.requestID)
            #expect(created.requestHeaders == operations[0].recordedHeaders)
            #expect(responses[2]?.bcError?.code == "Request_EntityChanged")
            #expect(responses[2]?.bcError?.correlationID == responses[2]?.requestID)
            #expect(try Self.json(responses[3]!.body)["displayName"] == "Renamed")
            #expect(responses[3]?.etag == responses[1]?.etag)
            // The journal agrees: one line per committed operation, its digest the ledger's bytes.
            let journal = try await Self.journal(client)
            let batched = journal.filter { $0["batch_client_request_id"] == "the-batch" }
            #expect(batched.map { $0["client_request_id"] } == ["b-1", "b-2"])
            #expect(batched[0]["body_sha256"]?.stringValue == SHA256.hash(newBody).hex)
            #expect(batched[0]["request_id"]?.stringValue == created.requestID)
        }
    }

    @Test func aThrottledBatchIsSentAgainAndLandsOnce() async throws {
        try await SandboxIntegrationTests.withSandboxClient(faults: ["throttle:times=1,retry-after=0"]) { client, _ in
            let customers = try URLBuilder.entityURL(profile: client.profile, entitySet: "customers")
            let operations = (1...2).map {
                BCRequest(method: "POST", url: customers, body: Array(#"{"displayName":"T\#($0)"}"#.utf8), clientRequestID: "t-\($0)")
            }
            let answer = try await client.executeBatch(operations)
            #expect(answer.response.attempts == 2)
            #expect(answer.results.map { $0.response?.status } == [201, 201])
            #expect(try await Self.journal(client).map { $0["client_request_id"] } == ["t-1", "t-2"])
        }
    }

    @Test func aBatchWithNoAnswerLeavesEveryWriteUnknown() async throws {
        for fault in ["drop:request-id=n-2", "lose:request-id=n-2"] {
            try await SandboxIntegrationTests.withSandboxClient(faults: [fault]) { client, _ in
                let customers = try URLBuilder.entityURL(profile: client.profile, entitySet: "customers")
                let operations = (1...2).map {
                    BCRequest(method: "POST", url: customers, body: Array(#"{"displayName":"N\#($0)"}"#.utf8), clientRequestID: "n-\($0)")
                }
                do {
                    let answer = try await client.executeBatch(operations)
                    Issue.record("\(fault): expected no answer, got HTTP \(answer.response.status)")
                } catch let error as BCTransportError {
                    #expect(error.outcomeUnknown, "\(fault): \(error)")
                }
                // Sent once (never re-sent after it may have landed); the journal tells which it was.
                let journal = try await Self.journal(client).map { $0["client_request_id"] }
                #expect(journal == (fault.hasPrefix("drop") ? ["n-1", "n-2"] : []), "\(fault)")
            }
        }
    }
}

/// A second, independent encoding of the same operations (determinism check).
enum BatchEncodeRepeat {
    static func encode(_ operations: [BCRequest]) throws -> BCRequest {
        try BatchEnvelope.encode(operations.reversed().reversed(), clientRequestID: "outer")
    }
}
