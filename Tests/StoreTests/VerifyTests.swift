import Foundation
import GRDB
import Testing
import TestSupport
import Hashing
@testable import Store

/// `StoreVerifier`: blobs re-hashed (size first), records against rows, the chain of records.
@Suite struct StoreVerifyTests {
    /// Two finished runs with request, response and headers blobs: a tiny real chain.
    static func twoRuns(_ store: LedgerStore) throws -> (first: String, second: String) {
        var ids: [String] = []
        for name in ["first", "second"] {
            let run = try startRun(store, name: name)
            for seq in 1...2 {
                var intent = StepIntent(runID: run, seq: seq, name: "s\(seq)", method: "POST", url: "http://127.0.0.1/x(\(seq))")
                intent.request = try store.put(bytes("{\"run\":\"\(name)\",\"seq\":\(seq)}"), mediaType: "application/json")
                intent.requestHeaders = try store.put(bytes("[[\"Content-Type\",\"application/json\"]]"), mediaType: "application/vnd.bcli.headers+json")
                let id = try store.ledger.writeIntent(intent)
                var o = StepOutcome(status: .committed)
                o.httpStatus = 201
                o.response = try store.put(bytes("{\"id\":\"\(name)-\(seq)\"}"), mediaType: "application/json")
                o.etag = "W/\"\(seq)\""
                try store.ledger.writeOutcome(stepID: id, o)
            }
            try store.finishRun(run, state: .completed)
            ids.append(run)
        }
        return (ids[0], ids[1])
    }

    static func damage(_ store: LedgerStore, _ digest: Digest, _ change: (inout [UInt8]) -> Void) throws {
        try BlobDamage.change(store, digest, change)
    }

    @Test func cleanRunsVerifyWithTheirChain() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let (first, second) = try Self.twoRuns(store)
        let report = try StoreVerifier.verifyRun(second, in: store)
        #expect(report.isOK, "\(report.problems.map(\.line))")
        #expect(report.chain == [try store.run(second).recordDigest!, try store.run(first).recordDigest!])
        #expect(report.blobsChecked == 2 * 4 + 2)  // 4 per step, manifest, record
        let all = try StoreVerifier.verifyAll(in: store)
        #expect(all.isOK, "\(all.problems.map(\.line))")
        #expect(all.runsChecked.count == 2)
    }

    @Test func flippedBitIsNamed() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let (_, second) = try Self.twoRuns(store)
        let response = try #require(try store.ledger.steps(runID: second)[1].responseDigest)
        try Self.damage(store, response) { $0[3] ^= 0x01 }
        let report = try StoreVerifier.verifyRun(second, in: store)
        #expect(report.problems.count == 1)
        let p = try #require(report.problems.first)
        #expect(p.kind == .corrupt)
        #expect(p.digest == response)
        #expect(p.subject == "step 2 (s2) response")
        #expect(p.runID == second)
    }

    @Test func sizeIsCheckedBeforeTheHash() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let (first, _) = try Self.twoRuns(store)
        let manifest = try #require(try store.run(first).manifestDigest)
        try Self.damage(store, manifest) { $0.append(10) }
        let report = try StoreVerifier.verifyRun(first, in: store)
        #expect(report.problems.map(\.kind) == [.wrongSize])
        #expect(report.problems.first?.subject == "manifest")
        // Missing blob.
        try BlobDamage.remove(store, manifest)
        #expect(try StoreVerifier.verifyRun(first, in: store).problems.map(\.kind) == [.missing])
    }

    @Test func rowEditedAfterFinishIsReported() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let (first, _) = try Self.twoRuns(store)
        try store.ledger.write { db in
            try db.execute(sql: "UPDATE step SET url = 'http://evil/x', etag = 'W/\"9\"' WHERE run_id = ? AND seq = 1", arguments: [first])
            try db.execute(sql: "UPDATE run SET profile = 'prod' WHERE id = ?", arguments: [first])
        }
        let report = try StoreVerifier.verifyRun(first, in: store)
        #expect(report.problems.allSatisfy { $0.kind == .rowChanged })
        #expect(Set(report.problems.map(\.subject)) == ["run profile", "step 1 (s1) etag", "step 1 (s1) url"])
        #expect(report.problems.first { $0.subject.hasSuffix("url") }?.detail.contains("http://evil/x") == true)
    }

    @Test func rollbackChangesAreAccepted() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let (first, _) = try Self.twoRuns(store)
        let steps = try store.ledger.steps(runID: first)
        try store.ledger.setStepStatus(stepID: steps[0].id, .rolledBack)
        try store.ledger.setStepStatus(stepID: steps[1].id, .rollbackFailed)
        try store.ledger.restampRun(first, state: .rolledBack)
        #expect(try StoreVerifier.verifyRun(first, in: store).isOK)
        // But not any status: a step flipped to failed by hand is a changed row.
        try store.ledger.write { db in try db.execute(sql: "UPDATE step SET status = 'failed' WHERE id = ?", arguments: [steps[0].id]) }
        #expect(try StoreVerifier.verifyRun(first, in: store).problems.map(\.subject) == ["step 1 (s1) status"])
    }

    @Test func deletedRunRowBreaksTheChain() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let (first, second) = try Self.twoRuns(store)
        let record = try #require(try store.run(first).recordDigest)
        try store.ledger.queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA foreign_keys = OFF")
            try db.execute(sql: "DELETE FROM step WHERE run_id = ?", arguments: [first])
            try db.execute(sql: "DELETE FROM run WHERE id = ?", arguments: [first])
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        let all = try StoreVerifier.verifyAll(in: store)
        let broken = all.problems.filter { $0.kind == .chainBroken }
        #expect(broken.count == 1)
        #expect(broken.first?.runID == first)
        #expect(broken.first?.digest == record)
        #expect(broken.first?.detail.contains("row was deleted") == true)
        // The surviving run itself still verifies, but its chain walk finds the hole too.
        #expect(try StoreVerifier.verifyRun(second, in: store).problems.map(\.kind) == [.chainBroken])
    }

    @Test func recordDigestRepointedIsReported() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let (first, second) = try Self.twoRuns(store)
        // Point the first run at the second run's record: the record names another run.
        let other = try #require(try store.run(second).recordDigest)
        try store.ledger.write { db in try db.execute(sql: "UPDATE run SET record_digest = ? WHERE id = ?", arguments: [other.hex, first]) }
        let report = try StoreVerifier.verifyAll(in: store)
        #expect(report.problems.contains { $0.kind == .recordInvalid && $0.runID == first })
        #expect(report.problems.contains { $0.kind == .chainBroken })
    }

    @Test func manifestFileMustBeByteIdentical() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let (first, _) = try Self.twoRuns(store)
        let same = dir.path + "/same.yaml", other = dir.path + "/other.yaml"
        try Data(bytes("name: first\nsteps: []\n")).write(to: URL(fileURLWithPath: same))
        try Data(bytes("name: first\nsteps: [] \n")).write(to: URL(fileURLWithPath: other))
        #expect(try StoreVerifier.verifyRun(first, in: store, manifestFile: same).isOK)
        let bad = try StoreVerifier.verifyRun(first, in: store, manifestFile: other)
        #expect(bad.problems.map(\.kind) == [.manifestMismatch])
        #expect(bad.problems[0].detail.contains(SHA256.hash(bytes("name: first\nsteps: [] \n")).description))
        #expect(bad.problems[0].detail.contains(try store.run(first).manifestDigest!.description))
    }

    @Test func unfinishedRunHasNoRecordButBlobsAreChecked() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let run = try startRun(store)
        _ = try addStep(store, run: run, seq: 1, status: nil)
        let report = try StoreVerifier.verifyRun(run, in: store)
        #expect(report.isOK)
        #expect(report.blobsChecked == 2)
        #expect(report.notes.contains { $0.contains("has not finished") })
    }
}
