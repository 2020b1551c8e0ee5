import AsyncHTTPClient
import Foundation
import Hashing
import Testing
import TestSupport
@testable import Sandbox

/// `lose`: the request is read in full, then the connection closes with no answer and nothing done.
@Suite("Faults: lose (sent but not processed)")
struct LoseFaultTests {
    private static func port(of baseURL: String) -> Int { Int(baseURL.split(separator: ":").last!)! }

    @Test("lose reads the whole request, then closes the connection with zero bytes; nothing is written or journaled")
    func loseRawSocket() async throws {
        try await Harness.with { h in
            _ = try await h.setFaults(["lose:request-id=lost-1"])
            let path = "/v2.0/sandbox/production/api/v2.0/companies(\(SandboxDefaults.companyID))/customers"
            let body = #"{"displayName":"Never"}"#
            let request = """
                POST \(path) HTTP/1.1\r
                Host: 127.0.0.1\r
                Authorization: Bearer \(h.token)\r
                Content-Type: application/json\r
                client-request-id: lost-1\r
                Content-Length: \(body.utf8.count)\r
                \r
                \(body)
                """
            let outcome = try await RawSocket.exchange(port: Self.port(of: h.baseURL), request: request)
            #expect(outcome.closedByPeer)
            #expect(outcome.bytes.isEmpty, "got: \(String(decoding: outcome.bytes, as: UTF8.self))")
            #expect(try await h.journal().isEmpty)
            #expect(try await h.get("customers").values.isEmpty)
            // another request is answered normally, and the number series did not move
            let next = try await h.create("customers", ["displayName": "Kept"])
            #expect(next["number"] == "C00010")
            let state = try await h.faultState()
            #expect(state["faults"]?.arrayValue?.first?["spec"] == "lose:request-id=lost-1")
            #expect(state["faults"]?.arrayValue?.first?["fired"] == 1)
        }
    }

    @Test("lose:method=PATCH,nth=2 loses the second PATCH only: the HTTP client sees an error, the record is unchanged")
    func loseNthPatchWithHTTPClient() async throws {
        let configuration = SandboxConfiguration(faults: [try SandboxFault(parsing: "lose:method=PATCH,nth=2")])
        try await Harness.with(configuration) { h in
            let created = try await h.create("customers", ["displayName": "one"])
            let first = try await h.send(.PATCH, h.url("customers(\(created.id!))"), json: ["displayName": "two"],
                                         headers: ["If-Match": created.etag!])
            #expect(first.status == 200)
            do {
                let response = try await h.send(.PATCH, h.url("customers(\(created.id!))"), json: ["displayName": "three"],
                                                headers: ["If-Match": "*"])
                Issue.record("expected the connection to close, got HTTP \(response.status)")
            } catch {
                #expect(error is HTTPClientError, "\(error)")
            }
            let now = try await h.get("customers(\(created.id!))")
            #expect(now.json["displayName"] == "two")
            #expect(now.json.etag == first.json.etag)
            #expect(try await h.journal().map { $0["method"] } == ["POST", "PATCH"])
            // the third PATCH is answered
            let third = try await h.send(.PATCH, h.url("customers(\(created.id!))"), json: ["displayName": "three"],
                                         headers: ["If-Match": "*"])
            #expect(third.status == 200)
        }
    }

    @Test("lose with no filter counts every request, reads included; a 429 chosen first stops it counting")
    func loseSelectionAndPrecedence() async throws {
        try await Harness.with { h in
            _ = try await h.setFaults(["lose:every=2"])
            #expect(try await h.get("customers").status == 200)
            await #expect(throws: (any Error).self) { _ = try await h.get("customers") }
            #expect(try await h.get("customers").status == 200)

            _ = try await h.setFaults(["throttle:nth=1", "lose:times=1"])
            #expect(try await h.get("customers").status == 429)
            let state = try await h.faultState()
            #expect(state["faults"]?.arrayValue?.last?["matched"] == 0)
            await #expect(throws: (any Error).self) { _ = try await h.get("customers") }
            #expect(try await h.get("customers").status == 200)
        }
    }

    @Test("lose specs parse and print back")
    func parsing() throws {
        for spec in ["lose", "lose:nth=1,method=POST", "lose:every=3,times=2,request-id=x", "lose:method=write"] {
            let fault = try SandboxFault(parsing: spec)
            #expect(fault.kind == .lose)
            #expect(try SandboxFault(parsing: fault.description) == fault, "\(spec)")
        }
        #expect(try SandboxFault(parsing: "lose:method=post,nth=1").description == "lose:nth=1,method=POST")
    }
}
