import Foundation
import Testing
import TestSupport
import Hashing
import Store

/// `bcli batch gc` on a real store.
@Suite struct GCCommandTests {
    @Test func gcRemovesOnlyOldUnreferencedBlobsAndPruningKeepsTheChain() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let (store, ids) = try await VerifyCommandTests.runs(sandbox, dir, count: 2)
            let env = sandbox.env(store: store)
            let ledger = try LedgerStore(root: store)
            let orphan = try ledger.objects.put(Array("left behind by a crash".utf8))
            let referenced = try #require(try ledger.run(ids[0]).manifestDigest)
            for d in [orphan.digest, referenced] { try BlobDamage.age(ledger, d, days: 30) }

            let dry = try await bcliAsync(["batch", "gc", "--dry-run"], env: env)
            #expect(dry.status == 0, "\(dry.stderr)")
            #expect(dry.out == "would remove blob \(orphan.digest) \(orphan.size) bytes\n")
            #expect(ledger.objects.contains(orphan.digest))

            let real = try await bcliAsync(["batch", "gc", "--format", "json"], env: env)
            #expect(real.status == 0)
            let doc = try JSONValue(parsing: [UInt8](real.stdout))
            #expect(doc["format_version"] == 1)
            #expect(doc["blobs"]?.arrayValue?.map { $0["digest"]?.stringValue } == [orphan.digest.description])
            #expect(doc["bytes_freed"]?.doubleValue == Double(orphan.size))
            #expect(!ledger.objects.contains(orphan.digest))
            #expect(ledger.objects.contains(referenced))
            #expect(try await bcliAsync(["batch", "verify", "--all"], env: env).status == 0)

            // Prune everything finished; the records stay and the chain still verifies.
            let prune = try await bcliAsync(["batch", "gc", "--prune-runs-older-than", "0s", "--grace", "0s"], env: env)
            #expect(prune.status == 0, "\(prune.stderr)")
            #expect(prune.out.contains("pruned run \(ids[0])"))
            #expect(prune.out.contains("pruned run \(ids[1])"))
            #expect(try ledger.runs().isEmpty)
            let verify = try await bcliAsync(["batch", "verify", "--all", "--format", "json"], env: env)
            #expect(verify.status == 0, "\(verify.out)")
            #expect(try JSONValue(parsing: [UInt8](verify.stdout))["chain"]?.arrayValue?.count == 2)
            #expect(try await bcliAsync(["batch", "fsck"], env: env).status == 0)
            #expect(try await bcliAsync(["batch", "gc", "--grace", "soon"], env: env).status == 2)
        }
    }
}
