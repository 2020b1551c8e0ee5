import Foundation
import GRDB
import Testing
import TestSupport
import Hashing
import Store

/// `bcli batch verify` as a child process on runs made by `bcli batch run` against a sandbox.
@Suite struct VerifyCommandTests {
    static let quickstart = Paths.packageRoot + "/examples/quickstart.yaml"

    /// Runs the quickstart `count` times into a fresh store; returns the store path and run ids.
    static func runs(_ sandbox: LiveSandbox, _ dir: TempDir, count: Int) async throws -> (store: String, ids: [String]) {
        let store = dir.path + "/store"
        var ids: [String] = []
        for _ in 0..<count {
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", quickstart], env: sandbox.env(store: store))
            try #require(r.status == 0, "\(r.stderr)")
            ids.append(try #require(runID(fromStderr: r.stderr)))
        }
        return (store, ids)
    }

    /// A run's step blobs (bodies and headers) are stored in the ledger, not as a file each: the
    /// only file a run adds is its run record, and every blob still reads back by digest.
    @Test func aRunAddsOneFileAndEveryStepBlobReadsBack() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let (store, ids) = try await Self.runs(sandbox, dir, count: 1)
            let ledger = try LedgerStore(root: store)
            let files = ledger.objects.walk().compactMap { file -> Digest? in
                if case .blob(let d) = file.kind { return d } else { return nil }
            }
            #expect(files == [try #require(try ledger.run(ids[0]).recordDigest)])
            let steps = try ledger.ledger.steps(runID: ids[0])
            let digests = steps.flatMap { [$0.requestDigest, $0.requestHeadersDigest, $0.responseDigest, $0.responseHeadersDigest] }.compactMap { $0 }
            #expect(digests.count >= 3 * steps.count)
            for digest in digests {
                let r = try await bcliAsync(["batch", "cat", String(digest.hex.prefix(12))], env: sandbox.env(store: store))
                #expect(r.status == 0, "\(r.stderr)")
                #expect([UInt8](r.stdout) == (try ledger.objects.get(digest)))
            }
        }
    }

    @Test func flippedBitInOneBlobIsNamedAndExitsOne() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let (store, ids) = try await Self.runs(sandbox, dir, count: 1)
            let env = sandbox.env(store: store)
            let ok = try await bcliAsync(["batch", "verify", ids[0]], env: env)
            #expect(ok.status == 0, "\(ok.out)\(ok.stderr)")
            #expect(ok.stderr.contains("OK"))

            let ledger = try LedgerStore(root: store)
            let step = try ledger.ledger.steps(runID: ids[0])[3]
            let response = try #require(step.responseDigest)
            try BlobDamage.change(ledger, response) { $0[$0.count / 2] ^= 0x01 }

            let bad = try await bcliAsync(["batch", "verify", ids[0], "--format", "json"], env: env)
            #expect(bad.status == 1)
            let doc = try JSONValue(parsing: [UInt8](bad.stdout))
            #expect(doc["format_version"] == 1)
            #expect(doc["ok"] == false)
            let problems = doc["problems"]?.arrayValue ?? []
            #expect(problems.count == 1)
            #expect(problems.first?["kind"]?.stringValue == "corrupt")
            #expect(problems.first?["digest"]?.stringValue == response.description)
            #expect(problems.first?["subject"]?.stringValue == "step 4 (update_coho) response")
            let text = try await bcliAsync(["batch", "verify", ids[0]], env: env)
            #expect(text.status == 1)
            #expect(text.out.contains(response.description))
        }
    }

    @Test func deletedRunRowBreaksTheChainForVerifyAll() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let (store, ids) = try await Self.runs(sandbox, dir, count: 2)
            let env = sandbox.env(store: store)
            #expect(try await bcliAsync(["batch", "verify", "--all"], env: env).status == 0)
            let record = try #require(try LedgerStore(root: store).run(ids[0]).recordDigest)

            // Delete the first run by hand, as someone with the SQLite file could.
            try Self.deleteRunByHand(store: store, runID: ids[0])

            let r = try await bcliAsync(["batch", "verify", "--all"], env: env)
            #expect(r.status == 1)
            let line = try #require(r.out.split(separator: "\n").first { $0.hasPrefix("chain-broken") })
            #expect(line.contains(ids[0]))
            #expect(line.contains(record.description))
            #expect(line.contains("deleted"))
        }
    }

    /// What someone with the SQLite file could do: delete a run's steps and row.
    static func deleteRunByHand(store: String, runID: String) throws {
        let db = try DatabaseQueue(path: store + "/" + LedgerStore.databaseName)
        try db.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA foreign_keys = OFF")
            try db.execute(sql: "DELETE FROM step WHERE run_id = ?", arguments: [runID])
            try db.execute(sql: "DELETE FROM run WHERE id = ?", arguments: [runID])
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        try db.close()
    }

    @Test func manifestDifferingByOneByteExitsOneWithBothDigests() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let (store, ids) = try await Self.runs(sandbox, dir, count: 1)
            let env = sandbox.env(store: store)
            let same = try await bcliAsync(["batch", "verify", ids[0], "--manifest", Self.quickstart], env: env)
            #expect(same.status == 0, "\(same.out)\(same.stderr)")

            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.quickstart)))
            bytes[bytes.count - 2] ^= 0x01
            let edited = dir.path + "/edited.yaml"
            try Data(bytes).write(to: URL(fileURLWithPath: edited))
            let r = try await bcliAsync(["batch", "verify", ids[0], "--manifest", edited], env: env)
            #expect(r.status == 1)
            #expect(r.out.hasPrefix("manifest-mismatch"))
            #expect(r.out.contains(SHA256.hash(bytes).description))
            #expect(r.out.contains(SHA256.hash([UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.quickstart)))).description))
        }
    }

    @Test func usageAndErrorsExitTwo() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        #expect(try await bcliAsync(["batch", "verify"], env: ["BCLI_STORE": dir.path + "/s"]).status == 2)
        #expect(try await bcliAsync(["batch", "verify", "--all", "0123456"], env: ["BCLI_STORE": dir.path + "/s"]).status == 2)
        let missing = try await bcliAsync(["batch", "verify", "0123456789"], env: ["BCLI_STORE": dir.path + "/s"])
        #expect(missing.status == 4)
        #expect(missing.stderr.contains("no bcli store"))
        #expect(try await bcliAsync(["batch", "verify", "--bundle", dir.path + "/nope.tar"]).status == 4)
    }
}
