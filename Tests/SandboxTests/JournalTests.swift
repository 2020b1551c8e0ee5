import Foundation
import Hashing
import Testing
import TestSupport
@testable import Sandbox

@Suite("The journal of committed writes")
struct JournalTests {
    @Test("POST, PATCH and DELETE are journaled with path, entity, ETags and client-request-id; reads and failures are not")
    func journal() async throws {
        try await Harness.with { h in
            let created = try await h.create("customers", ["displayName": "J"], headers: ["client-request-id": "s1"])
            let id = created.id!
            _ = try await h.get("customers(\(id))")
            let patched = try await h.send(.PATCH, h.url("customers(\(id))"), json: ["displayName": "J2"],
                                           headers: ["If-Match": created.etag!, "client-request-id": "s2"])
            _ = try await h.send(.PATCH, h.url("customers(\(id))"), json: ["displayName": "J3"],
                                 headers: ["If-Match": created.etag!, "client-request-id": "stale"])
            _ = try await h.send(.POST, h.url("customers"), json: ["number": created["number"]!])
            _ = try await h.send(.DELETE, h.url("customers(\(id))"), headers: ["If-Match": patched.json.etag!])

            let lines = try await h.journal()
            #expect(lines.map { $0["method"] } == ["POST", "PATCH", "DELETE"])
            let post = lines[0], patch = lines[1], delete = lines[2]
            #expect(post["entity_set"] == "customers")
            #expect(post["entity_id"] == .string(id))
            #expect(post["company_id"] == .string(SandboxDefaults.companyID))
            #expect(post["path"]?.stringValue?.hasSuffix("/customers") == true)
            #expect(post["etag_before"] == .null)
            #expect(post["etag_after"] == .string(created.etag!))
            #expect(post["client_request_id"] == "s1")
            #expect(post["status"] == 201)
            #expect(post["format_version"] == 1)
            #expect(Set(post.objectValue?.keys.map { $0 } ?? []) == [
                "format_version", "seq", "time", "method", "path", "company_id", "entity_set", "entity_id", "etag_before",
                "etag_after", "status", "client_request_id", "request_id", "body_sha256",
                "batch_request_id", "batch_client_request_id",
            ])
            #expect(post["time"]?.stringValue?.hasSuffix("Z") == true)
            #expect(patch["etag_before"] == .string(created.etag!))
            #expect(patch["etag_after"] == .string(patched.json.etag!))
            #expect(patch["client_request_id"] == "s2")
            #expect(delete["etag_before"] == .string(patched.json.etag!))
            #expect(delete["etag_after"] == .null)
            #expect(delete["client_request_id"] == .null)
            #expect(lines.map { $0["seq"]?.doubleValue ?? 0 } == [1, 2, 3])
            let after = try await h.send(.GET, "\(h.baseURL)/_sandbox/journal?after=2", auth: false)
            #expect(after.text.split(separator: "\n").count == 1)
            #expect(after.header("Content-Type") == "application/x-ndjson")
        }
    }
}
