import Foundation
import Hashing
import Store
import Testing
import TestSupport

/// `batch run --batch-size N`: consecutive ready writes go as one OData `$batch`, each keeping
/// its own intent, outcome and response blob; a `$batch` that gets no answer leaves every write
/// of it unknown.
@Suite struct BatchSizeTests {
    static func posts(_ dir: TempDir, _ count: Int, tag: String = "B") throws -> String {
        try writeManifest(dir, "posts.yaml", "steps:\n" + (1...count).map {
            "  - {name: c\($0), action: post, endpoint: customers, data: {displayName: \"\(tag) \($0)\"}}"
        }.joined(separator: "\n") + "\n")
    }

    static func steps(_ store: String) throws -> [StepRecord] {
        let ledger = try LedgerStore(root: store).ledger
        return try ledger.steps(runID: try #require(try ledger.runs().first).id)
    }

    /// Ten POSTs in batches of four: three `$batch` requests carry them (the journal names the
    /// batch of each), every step is committed with its own response, and the run verifies.
    @Test func writesGoInBatchesAndEachKeepsItsOwnRows() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let store = dir.path + "/store"
            let env = sandbox.env(store: store)
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", "--batch-size", "4", try Self.posts(dir, 10)], env: env)
            #expect(r.status == 0, "\(r.stderr)")
            let journal = try await sandbox.journal()
            #expect(journal.count == 10)
            let batches = Set(journal.compactMap { $0["batch_request_id"]?.stringValue })
            #expect(batches.count == 3, "10 writes in batches of 4 take 3 $batch requests: \(batches)")
            let rows = try Self.steps(store)
            #expect(rows.count == 10 && rows.allSatisfy { $0.status == .committed && $0.httpStatus == 201 })
            #expect(Set(rows.compactMap(\.responseDigest)).count == 10, "each operation has its own response blob")
            #expect(Set(rows.map(\.clientRequestID)) == Set(journal.compactMap { $0["client_request_id"]?.stringValue }))
            // The body each operation carried is the one the ledger stored.
            let store_ = try LedgerStore(root: store)
            for row in rows {
                let line = try #require(journal.first { $0["client_request_id"]?.stringValue == row.clientRequestID })
                let body = try store_.objects.get(try #require(row.requestDigest))
                #expect(line["body_sha256"]?.stringValue == SHA256.hash(body).hex)
            }
            let verify = try await bcliAsync(["batch", "verify", try #require(runID(fromStderr: r.stderr))], env: env)
            #expect(verify.status == 0, "\(verify.stderr)")
        }
    }

    /// A `$batch` lost on the way (the server never processed it): every write of it reads
    /// unknown, none committed, none failed; bcli exits 1 (in doubt).
    @Test func aLostBatchLeavesEveryWriteUnknown() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox(faults: ["lose:nth=1"]) { sandbox in
            let dir = TempDir()
            let store = dir.path + "/store"
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", "--batch-size", "5", try Self.posts(dir, 5)],
                                        env: sandbox.env(store: store))
            #expect(r.status == 1, "\(r.stderr)")
            let rows = try Self.steps(store)
            #expect(rows.count == 5)
            #expect(rows.allSatisfy { $0.status == nil }, "\(rows.map(\.statusName))")
            #expect(try await sandbox.journal().isEmpty)
        }
    }

    /// A `$batch` whose writes all committed before the answer was dropped: every write reads
    /// unknown (never committed without evidence), and `batch reconcile` then finds each one.
    @Test func aDroppedBatchIsUnknownThenReconciled() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox(faults: ["drop:nth=1"]) { sandbox in
            let dir = TempDir()
            let store = dir.path + "/store"
            let env = sandbox.env(store: store)
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", "--batch-size", "3", try Self.posts(dir, 3, tag: "Dropped")], env: env)
            #expect(r.status == 1, "\(r.stderr)")
            #expect(try Self.steps(store).allSatisfy { $0.status == nil })
            #expect(try await sandbox.journal().count == 3, "the server committed all three")
            _ = try await sandbox.setFaults([])
            let id = try #require(runID(fromStderr: r.stderr))
            let reconcile = try await bcliAsync(["batch", "reconcile", id], env: env)
            #expect(reconcile.status == 0, "\(reconcile.stderr)")
            let after = try LedgerStore(root: store).ledger.steps(runID: id)
            #expect(after.allSatisfy { $0.status == .reconciledApplied }, "\(after.map(\.statusName))")
        }
    }

    /// PATCHes in a `$batch` read their pre-images first (a `$batch` of GETs), so the run rolls
    /// back like a sequential one.
    @Test func batchedPatchesKeepPreImagesAndRollBack() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            var ids: [String] = []
            for i in 1...3 {
                let created = try await sandbox.send("POST", sandbox.entityURL("customers"), body: #"{"displayName":"Before \#(i)"}"#)
                ids.append(try #require(created.json["id"]?.stringValue))
            }
            let dir = TempDir()
            let store = dir.path + "/store"
            let env = sandbox.env(store: store)
            let manifest = try writeManifest(dir, "patch.yaml", "steps:\n" + ids.enumerated().map { i, id in
                "  - {name: p\(i + 1), action: patch, endpoint: customers, id: \"\(id)\", data: {displayName: \"After \(i + 1)\"}}"
            }.joined(separator: "\n") + "\n")
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", "--batch-size", "10", manifest], env: env)
            #expect(r.status == 0, "\(r.stderr)")
            let rows = try Self.steps(store)
            #expect(rows.allSatisfy { $0.status == .committed && $0.preImageDigest != nil && $0.ifMatch != nil })
            #expect(Set(try await sandbox.journal().compactMap { $0["batch_request_id"]?.stringValue }).count == 1)
            let rollback = try await bcliAsync(["batch", "rollback", try #require(runID(fromStderr: r.stderr)), "--yes"], env: env)
            #expect(rollback.status == 0, "\(rollback.stderr)")
            for (i, id) in ids.enumerated() {
                let record = try await sandbox.send("GET", sandbox.entityURL("customers", id: id))
                #expect(record.json["displayName"]?.stringValue == "Before \(i + 1)")
            }
        }
    }

    @Test func batchSizeOutOfRangeIsAUsageError() throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let r = try bcli(["batch", "run", "-p", "sandbox", "--batch-size", "101", try Self.posts(dir, 1)], env: ["BCLI_STORE": dir.path + "/s"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("give 1 to 100"))
    }
}
