import Foundation
import GRDB
import Hashing
import Testing
import TestSupport
@testable import Store

/// Small blobs stored in the ledger (`object_data`) beside the rows that name them: where a blob
/// goes, that its bytes commit with its row or not at all, and that every reader finds, re-hashes
/// and removes it as it does a file.
@Suite struct InlineObjectsTests {
    /// The number of blob files under `objects/sha256`.
    static func blobFiles(_ store: LedgerStore) -> Int {
        store.objects.walk().filter { if case .blob = $0.kind { return true } else { return false } }.count
    }

    @Test func smallBlobsGoToTheLedgerAndLargerOnesToFiles() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let small = try store.put(bytes("{\"displayName\":\"small\"}"), mediaType: "application/json")
        let edge = try store.put([UInt8](repeating: 0x61, count: LedgerStore.inlineLimit), mediaType: nil)
        let large = try store.put([UInt8](repeating: 0x62, count: LedgerStore.inlineLimit + 1), mediaType: nil)
        #expect(small.inlineBytes != nil && edge.inlineBytes != nil)
        #expect(large.inlineBytes == nil)
        // A ref carrying its bytes stores nothing until a row names it: a run killed between the
        // put and the commit leaves no trace.
        #expect(!store.objects.contains(small.digest))
        #expect(Self.blobFiles(store) == 1)
        try store.ledger.indexObjects([small, edge, large])
        #expect(Self.blobFiles(store) == 1)
        for blob in [small, edge, large] {
            #expect(store.objects.contains(blob.digest))
            #expect(store.objects.verify(blob.digest, expectedSize: blob.size) == .ok(size: blob.size))
            #expect(try store.objects.get(blob.digest).count == Int(blob.size))
            #expect(try store.objects.resolve(prefix: String(blob.digest.hex.prefix(10))) == blob.digest)
        }
        #expect(try BlobDamage.isInLedger(store, small.digest) && BlobDamage.isInLedger(store, edge.digest))
        #expect(!BlobDamage.hasFile(store, small.digest) && !BlobDamage.hasFile(store, edge.digest))
        #expect(try !BlobDamage.isInLedger(store, large.digest) && BlobDamage.hasFile(store, large.digest))
        #expect(try store.objects.get(small.digest) == bytes("{\"displayName\":\"small\"}"))
        #expect(store.objects.location(for: small.digest).contains("object_data"))
        #expect(store.objects.location(for: large.digest) == store.objects.path(for: large.digest))
        #expect(try Fsck.check(store).isClean)
    }

    @Test func theBytesCommitWithTheRowThatNamesThemOrNotAtAll() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let run = try startRun(store)
        var intent = StepIntent(runID: "0123456789abcdef0123456789abcdef", seq: 1, name: "s1", method: "POST", url: "http://127.0.0.1/x")
        intent.request = try store.put(bytes("{\"lost\":true}"), mediaType: "application/json")
        // No such run: the intent's transaction fails on its foreign key, and takes the bytes with it.
        #expect(throws: StoreError.self) { try store.ledger.writeIntent(intent) }
        #expect(!store.objects.contains(intent.request!.digest))
        #expect(throws: StoreError.self) { try store.objects.get(intent.request!.digest) }

        intent = StepIntent(runID: run, seq: 1, name: "s1", method: "POST", url: "http://127.0.0.1/x")
        intent.request = try store.put(bytes("{\"kept\":true}"), mediaType: "application/json")
        let id = try store.ledger.writeIntent(intent)
        #expect(try store.objects.get(intent.request!.digest) == bytes("{\"kept\":true}"))
        #expect(try store.ledger.step(id: id)?.requestDigest == intent.request!.digest)
    }

    @Test func aBlobIsReadableFromInsideALedgerTransaction() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let blob = try store.put(bytes("read me while the ledger is busy"), mediaType: nil)
        try store.ledger.indexObjects([blob])
        // The ledger's connection is not reentrant; the object reader has its own.
        let read = try store.ledger.write { _ in try store.objects.get(blob.digest) }
        #expect(read == bytes("read me while the ledger is busy"))
    }

    @Test func gcRemovesAnOldUnreferencedBlobAndAWriterThatNamesItAgainStoresItAgain() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let run = try startRun(store)
        let blob = try store.put(bytes("{\"reused\":1}"), mediaType: "application/json")
        try store.ledger.indexObjects([blob])
        try BlobDamage.age(store, blob.digest, days: 30)
        let young = try store.put(bytes("{\"young\":1}"), mediaType: "application/json")
        try store.ledger.indexObjects([young])

        let report = try GC.collect(store, options: GCOptions())
        #expect(report.blobs == [GCReport.Blob(digest: blob.digest, size: blob.size)])
        #expect(report.youngUnreferenced == 1)
        #expect(!store.objects.contains(blob.digest))
        #expect(store.objects.contains(young.digest))
        let left = try store.ledger.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM object_data WHERE digest = ?", arguments: [blob.digest.hex]) }
        #expect(left == 0)

        // A writer that held the ref across the gc names it: the ref carries the bytes.
        var intent = StepIntent(runID: run, seq: 1, name: "s1", method: "POST", url: "http://127.0.0.1/x")
        intent.request = blob
        try store.ledger.writeIntent(intent)
        #expect(try store.objects.get(blob.digest) == bytes("{\"reused\":1}"))
        #expect(try Fsck.check(store).isClean)
    }

    @Test func damageInTheLedgerIsFoundLikeDamageInAFile() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let blob = try store.put(bytes("{\"id\":\"abc\",\"displayName\":\"x\"}"), mediaType: "application/json")
        try store.ledger.indexObjects([blob])
        try BlobDamage.change(store, blob.digest) { $0[4] ^= 0x02 }
        guard case .corrupt = store.objects.verify(blob.digest, expectedSize: blob.size) else {
            Issue.record("a flipped bit in the ledger's copy was not found")
            return
        }
        #expect(throws: StoreError.self) { try store.objects.get(blob.digest) }
        let findings = try Fsck.check(store).problems
        #expect(findings.map(\.kind) == ["corrupt"])
        #expect(findings.first?.path.contains("object_data") == true)
    }

    @Test func aFileAndALedgerCopyOfOneBlobAreBothStoredAndAGoodCopyWins() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        // A blob written as a file (by an older bcli, or an import) and named by a row.
        let content = bytes("{\"from\":\"a file\"}")
        let old = BlobRef(try store.objects.put(content), mediaType: "application/json")
        try store.ledger.indexObjects([old])
        // The same bytes named again as a small blob: the ledger stores its copy too.
        let again = try store.put(content, mediaType: "application/json")
        try store.ledger.indexObjects([again])
        #expect(BlobDamage.hasFile(store, old.digest))
        #expect(try BlobDamage.isInLedger(store, old.digest))
        #expect(try Fsck.check(store).isClean)

        // The file goes bad: reads use the ledger's good copy, and fsck names the file.
        try BlobDamage.change(store, old.digest) { $0[3] ^= 0x10 }
        #expect(try store.objects.get(old.digest) == content)
        #expect(store.objects.verify(old.digest, expectedSize: old.size).isOK)
        #expect(!store.objects.verifyFile(old.digest, expectedSize: old.size).isOK)
        let problems = try Fsck.check(store).problems
        #expect(problems.map(\.kind) == ["corrupt"])
        #expect(problems.first?.path == store.objects.path(for: old.digest))
        #expect(problems.first?.detail.contains("the ledger holds a good copy") == true)

        // Unreferenced and old: gc removes the file and the ledger's copy, and reports it once.
        try BlobDamage.age(store, old.digest, days: 30)
        let report = try GC.collect(store, options: GCOptions())
        #expect(report.blobs.map(\.digest) == [old.digest])
        #expect(!store.objects.contains(old.digest))
        #expect(try !BlobDamage.isInLedger(store, old.digest))
    }

    @Test func namingAnOldSmallBlobAgainRestartsItsGracePeriod() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let run = try startRun(store)
        let blob = try store.put(bytes("{\"used\":\"again\"}"), mediaType: "application/json")
        try store.ledger.indexObjects([blob])
        try BlobDamage.age(store, blob.digest, days: 30)
        // A step names it again, then that step's run is gone (pruned): the blob is unreferenced,
        // but its last use was now, so gc keeps it for the grace period.
        var intent = StepIntent(runID: run, seq: 1, name: "s1", method: "POST", url: "http://127.0.0.1/x")
        intent.request = blob
        let id = try store.ledger.writeIntent(intent)
        try store.ledger.write { db in try db.execute(sql: "DELETE FROM step WHERE id = ?", arguments: [id]) }
        let report = try GC.collect(store, options: GCOptions())
        #expect(report.blobs.isEmpty)
        #expect(report.youngUnreferenced >= 1)
        #expect(store.objects.contains(blob.digest))
    }

    /// A store whose only run never finished has no blob file and no `refs/head`; its run lock is
    /// what says its ledger had history, so a deleted ledger is damage, not a new store.
    @Test func aStoreWithOnlyAnUnfinishedRunIsDamagedWithoutItsLedger() throws {
        let dir = TempDir()
        let root: String
        do {
            let store = try makeStore(dir)
            root = store.root
            let run = try startRun(store)
            let lock = try store.lock(runID: run)
            _ = try addStep(store, run: run, seq: 1, status: nil)
            lock.release()
            #expect(Self.blobFiles(store) == 0)
        }
        for suffix in ["", "-wal", "-shm"] { unlink(root + "/" + LedgerStore.databaseName + suffix) }
        expectStoreError(.unusable(.damaged, path: root, detail: "ledger.sqlite3 is missing, but the store has run lock files: the ledger that recorded them is gone")) {
            _ = try LedgerStore(root: root)
        }
        #expect(!FileManager.default.fileExists(atPath: root + "/" + LedgerStore.databaseName))
    }
}
