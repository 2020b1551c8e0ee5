import Foundation
import GRDB
import Testing
import TestSupport
import Hashing
@testable import Store

/// `GC.collect`: grace periods by mtime, the live set, dry runs, temp leftovers, pruning.
@Suite struct GCTests {
    static func age(_ path: String, days: Int) {
        var times = [timespec(tv_sec: time(nil) - days * 86_400, tv_nsec: 0), timespec(tv_sec: time(nil) - days * 86_400, tv_nsec: 0)]
        utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
    }

    @Test func removesOnlyOldUnreferencedBlobs() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let (first, _) = try StoreVerifyTests.twoRuns(store)
        let old = try store.put(bytes("orphan, old"), mediaType: nil)
        try store.ledger.indexObjects([old])  // indexed but named by no row
        let unindexed = try store.objects.put(bytes("orphan, old, never indexed"))
        let young = try store.objects.put(bytes("orphan, young"))
        let referenced = try #require(try store.run(first).manifestDigest)
        for d in [old.digest, unindexed.digest, referenced] { try BlobDamage.age(store, d, days: 30) }

        var options = GCOptions()
        options.dryRun = true
        let dry = try GC.collect(store, options: options)
        #expect(Set(dry.blobs.map(\.digest)) == [old.digest, unindexed.digest])
        #expect(dry.youngUnreferenced == 1)
        #expect(store.objects.contains(old.digest) && store.objects.contains(unindexed.digest))
        #expect(try store.ledger.objects().contains { $0.digest == old.digest })

        let real = try GC.collect(store, options: GCOptions())
        #expect(Set(real.blobs.map(\.digest)) == [old.digest, unindexed.digest])
        #expect(real.bytesFreed == old.size + unindexed.size)
        #expect(!store.objects.contains(old.digest) && !store.objects.contains(unindexed.digest))
        #expect(store.objects.contains(young.digest) && store.objects.contains(referenced))
        #expect(!(try store.ledger.objects().contains { $0.digest == old.digest }))
        #expect(try StoreVerifier.verifyAll(in: store).isOK)
        #expect(try Fsck.check(store).isClean)
        // Nothing left to do.
        #expect(try GC.collect(store, options: GCOptions()).blobs.isEmpty)
    }

    @Test func tempLeftoversGoAfterAnHour() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let blob = try store.objects.put(bytes("x"))
        let fan = String(store.objects.path(for: blob.digest).split(separator: "/").dropLast().joined(separator: "/"))
        let oldTemp = "/" + fan + "/" + ObjectStore.tempPrefix + "1-2"
        let newTemp = "/" + fan + "/" + ObjectStore.tempPrefix + "1-3"
        try FileManager.default.createDirectory(atPath: store.root + "/tmp", withIntermediateDirectories: true)
        let streamed = store.root + "/tmp/" + ObjectStore.tempPrefix + "9-9"
        for p in [oldTemp, newTemp, streamed] { try Data(bytes("partial")).write(to: URL(fileURLWithPath: p)) }
        Self.age(oldTemp, days: 1)
        Self.age(streamed, days: 1)
        let report = try GC.collect(store, options: GCOptions())
        #expect(Set(report.temps.map(\.path)) == [oldTemp, streamed])
        #expect(!FileManager.default.fileExists(atPath: oldTemp) && !FileManager.default.fileExists(atPath: streamed))
        #expect(FileManager.default.fileExists(atPath: newTemp))
    }

    @Test func pruningKeepsRecordsAndTheChainVerifies() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let (first, second) = try StoreVerifyTests.twoRuns(store)
        let record1 = try #require(try store.run(first).recordDigest)
        let unfinished = try startRun(store, name: "unfinished")
        _ = try addStep(store, run: unfinished, seq: 1, status: .committed)
        // Make every blob old so gc may take what pruning frees.
        for blob in try store.ledger.objects() { try BlobDamage.age(store, blob.digest, days: 200) }

        var options = GCOptions()
        options.pruneRunsOlderThan = 0
        options.dryRun = true
        let dry = try GC.collect(store, options: options)
        #expect(Set(dry.prunedRuns.map(\.id)) == [first, second])
        #expect(!dry.blobs.isEmpty)
        #expect(try store.runs().count == 3)  // dry run: nothing changed
        #expect(dry.blobs.allSatisfy { store.objects.contains($0.digest) })

        // A locked run is never pruned.
        let lock = try store.lock(runID: second)
        options.dryRun = false
        let real = try GC.collect(store, options: options)
        lock.release()
        #expect(real.prunedRuns.map(\.id) == [first])
        #expect(real.keptRuns.map(\.id) == [second])
        #expect(Set(try store.runs().map(\.id)) == [second, unfinished])
        #expect(store.objects.contains(record1))
        #expect(!store.objects.contains(try #require(dry.blobs.first).digest) || dry.blobs.count > real.blobs.count)
        let pruned = try store.ledger.read { db in try String.fetchAll(db, sql: "SELECT id FROM pruned_run") }
        #expect(pruned == [first])
        let all = try StoreVerifier.verifyAll(in: store)
        #expect(all.isOK, "\(all.problems.map(\.line))")
        #expect(all.chain.count == 2)
        #expect(try StoreVerifier.verifyRun(second, in: store).isOK)
    }

    @Test func rollbackParentIsKeptWhileItsRollbackIsKept() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let parent = try startRun(store, name: "parent")
        let target = try addStep(store, run: parent, seq: 1, status: .committed)
        try store.finishRun(parent, state: .completed)
        var child = NewRun(toolVersion: "t")
        child.kind = .rollback
        child.parentRunID = parent
        try store.ledger.startRun(child)
        var intent = StepIntent(runID: child.id, seq: 1, name: "undo", method: "DELETE", url: "http://127.0.0.1/x(1)")
        intent.targetStepID = target
        let undo = try store.ledger.writeIntent(intent)
        try store.ledger.writeOutcome(stepID: undo, StepOutcome(status: .committed))
        // The rollback is still running (unfinished): the parent must stay.
        var options = GCOptions()
        options.pruneRunsOlderThan = 0
        let report = try GC.collect(store, options: options)
        #expect(report.prunedRuns.isEmpty)
        #expect(report.keptRuns.contains { $0.id == parent })
        // Once both are finished and old, both go, and the chain still verifies.
        try store.finishRun(child.id, state: .completed)
        let both = try GC.collect(store, options: options)
        #expect(Set(both.prunedRuns.map(\.id)) == [parent, child.id])
        #expect(try store.runs().isEmpty)
        #expect(try StoreVerifier.verifyAll(in: store).isOK)
    }

    @Test(arguments: [("90d", 7_776_000), ("2w", 1_209_600), ("12h", 43_200), ("30m", 1_800), ("45s", 45), ("0", 0)])
    func durations(text: String, seconds: Int) {
        #expect(DurationText.seconds(parsing: text) == seconds)
    }

    @Test(arguments: ["", "d", "-1d", "1y", "1.5d", "99999999999999999999d"])
    func badDurations(text: String) {
        #expect(DurationText.seconds(parsing: text) == nil)
    }
}
