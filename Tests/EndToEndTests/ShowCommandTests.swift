import Foundation
import Testing
import TestSupport
import Hashing
import Store

/// `bcli batch show` prints the exact stored bytes.
@Suite struct ShowCommandTests {
    @Test func showPrintsStoredBytesAndExplainsWhatIsMissing() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let (store, ids) = try await VerifyCommandTests.runs(sandbox, dir, count: 1)
            let env = sandbox.env(store: store)
            let id = ids[0]
            let ledger = try LedgerStore(root: store)
            let steps = try ledger.ledger.steps(runID: id)

            let manifest = try await bcliAsync(["batch", "show", id], env: env)
            #expect(manifest.status == 0)
            #expect(manifest.stdout == (try Data(contentsOf: URL(fileURLWithPath: VerifyCommandTests.quickstart))))

            func expectBytes(_ args: [String], _ digest: Digest?) async throws {
                let r = try await bcliAsync(["batch", "show", id] + args, env: env)
                #expect(r.status == 0, "\(args) \(r.stderr)")
                #expect([UInt8](r.stdout) == (try ledger.objects.get(try #require(digest))), "\(args)")
                #expect(SHA256.hash([UInt8](r.stdout)) == digest)
            }
            try await expectBytes(["--step", "4", "--request"], steps[3].requestDigest)
            try await expectBytes(["--step", "update_coho", "--response"], steps[3].responseDigest)
            try await expectBytes(["--step", "4", "--pre-image"], steps[3].preImageDigest)
            try await expectBytes(["--step", "4", "--headers"], steps[3].requestHeadersDigest)
            try await expectBytes(["--step", "4", "--headers", "--response"], steps[3].responseHeadersDigest)

            let pretty = try await bcliAsync(["batch", "show", id, "--step", "1", "--response", "--pretty"], env: env)
            #expect(pretty.status == 0)
            #expect(try JSONValue(parsing: [UInt8](pretty.stdout)) == JSONValue(parsing: try ledger.objects.get(steps[0].responseDigest!)))
            #expect(pretty.out.contains("\n  \""))

            let row = try await bcliAsync(["batch", "show", id, "--step", "2"], env: env)
            let doc = try JSONValue(parsing: [UInt8](row.stdout))
            #expect(doc["format_version"] == 1)
            #expect(doc["client_request_id"]?.stringValue == steps[1].clientRequestID)

            let get = try await bcliAsync(["batch", "show", id, "--step", "read_back", "--request"], env: env)
            #expect(get.status == 4)
            #expect(get.stderr.contains("GET"))
            #expect(get.stderr.contains("--response"))
            #expect(get.out.isEmpty)
            let none = try await bcliAsync(["batch", "show", id, "--step", "nope"], env: env)
            #expect(none.status == 4)
            #expect(none.stderr.contains("update_coho"))
            #expect(try await bcliAsync(["batch", "show", id, "--request"], env: env).status == 2)
            let manifestPretty = try await bcliAsync(["batch", "show", id, "--pretty"], env: env)
            #expect(manifestPretty.status == 5)  // YAML is not JSON
        }
    }
}
