import Foundation
import GRDB
import Testing
import TestSupport
import Hashing
@testable import Store

/// The ustar writer/reader, export, `verify --bundle` and import, on real files.
@Suite struct BundleTests {
    @Test func tarRoundTripsAndSystemTarReadsIt() throws {
        let dir = TempDir()
        let entries = [
            BundleTar.Entry(name: "z/last.bin", bytes: (0..<1025).map { UInt8(truncatingIfNeeded: $0 &* 7) }),
            BundleTar.Entry(name: "a.json", bytes: bytes("{\"a\":1}")),
            BundleTar.Entry(name: "empty", bytes: []),
            BundleTar.Entry(name: "exact", bytes: [UInt8](repeating: 65, count: 512)),
        ]
        let archive = BundleTar.write(entries)
        #expect(archive.count % 512 == 0)
        #expect(try BundleTar.read(archive).map(\.name) == ["a.json", "empty", "exact", "z/last.bin"])
        #expect(try BundleTar.read(archive) == entries.sorted { $0.name < $1.name })
        #expect(BundleTar.write(entries.reversed()) == archive)
        // GNU tar agrees on names, modes, owners, times and contents.
        let path = dir.path + "/t.tar"
        try Data(archive).write(to: URL(fileURLWithPath: path))
        let listing = try run("/usr/bin/tar", ["--numeric-owner", "-tvf", path]).out
        #expect(listing.split(separator: "\n").allSatisfy { $0.hasPrefix("-r--r--r-- 0/0") && $0.contains("1970-01-01 00:00") })
        let out = dir.path + "/x"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        #expect(try run("/usr/bin/tar", ["-xf", path, "-C", out]).status == 0)
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: out + "/z/last.bin"))) == entries[0].bytes)
    }

    @Test func damagedHeadersAndUnsafeNamesAreRefused() throws {
        var archive = BundleTar.write([.init(name: "a", bytes: bytes("x"))])
        archive[10] ^= 0x20
        #expect(throws: BundleTar.ReadError.badChecksum(offset: 0)) { try BundleTar.read(archive) }
        let truncated = Array(BundleTar.write([.init(name: "a", bytes: [UInt8](repeating: 1, count: 600))]).prefix(700))
        #expect(throws: BundleTar.ReadError.truncated(offset: 512)) { try BundleTar.read(truncated) }
        #expect(throws: BundleTar.ReadError.badName("../etc/passwd")) { try BundleTar.read(BundleTar.write([.init(name: "../etc/passwd", bytes: [])])) }
    }

    @Test func exportIsDeterministicAndVerifies() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let (_, second) = try StoreVerifyTests.twoRuns(store)
        let a = try RunBundle.export(runID: second, from: store)
        let b = try RunBundle.export(runID: second, from: store)
        #expect(a == b)
        let (report, bundle) = try RunBundle.verify(bytes: a)
        #expect(report.isOK, "\(report.problems.map(\.line))")
        let parsed = try #require(bundle)
        #expect(parsed.runID == second)
        #expect(parsed.recordDigest == (try store.run(second).recordDigest))
        #expect(parsed.previousRecordDigest == (try store.run(second).previousRecordDigest))
        // manifest + record + 2 steps × (request, request headers, response); headers dedupe across steps.
        #expect(parsed.blobs.count == 2 + 2 + 1 + 2)
        let names = try BundleTar.read(a).map(\.name)
        #expect(names.first == RunBundle.indexName)
        #expect(names.contains(RunBundle.blobFolder + parsed.recordDigest!.hex))
        // Rows are canonical JSON.
        let runJSON = try #require(try BundleTar.read(a).first { $0.name == RunBundle.runName }).bytes
        #expect(try JSONValue(parsing: runJSON).canonicalBytes() == runJSON)
    }

    @Test func flippedByteInABundleBlobIsNamed() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let (first, _) = try StoreVerifyTests.twoRuns(store)
        var archive = try RunBundle.export(runID: first, from: store)
        let request = try #require(try store.ledger.steps(runID: first)[0].requestDigest)
        // Find the blob's data block (the block after its header) and flip one bit in it.
        let entryName = Array((RunBundle.blobFolder + request.hex).utf8)
        var offset = 0
        while Array(archive[offset..<offset + entryName.count]) != entryName { offset += 512 }
        archive[offset + 512 + 2] ^= 0x01
        let (report, _) = try RunBundle.verify(bytes: archive)
        #expect(report.problems.count == 1)
        #expect(report.problems.first?.kind == .corrupt)
        #expect(report.problems.first?.digest == request)
        #expect(report.problems.first?.subject == RunBundle.blobFolder + request.hex)
    }

    /// Any flipped byte outside the index's informational fields fails verification (sampled).
    @Test func flippedBytesAnywhereAreCaught() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let (first, _) = try StoreVerifyTests.twoRuns(store)
        let archive = try RunBundle.export(runID: first, from: store)
        let indexSize = try #require(try BundleTar.read(archive).first { $0.name == RunBundle.indexName }).bytes.count
        let indexData = 512..<(512 + indexSize)  // the index is the first entry
        for position in stride(from: 0, to: archive.count, by: 61) where !indexData.contains(position) {
            var bad = archive
            bad[position] ^= 0x10
            let failed: Bool
            do { failed = !(try RunBundle.verify(bytes: bad).report.isOK) } catch { failed = true }
            #expect(failed, "flipping byte \(position) went unnoticed")
        }
    }

    @Test func editedRowsInABundleDoNotMatchTheRecord() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let (first, _) = try StoreVerifyTests.twoRuns(store)
        var entries = try BundleTar.read(try RunBundle.export(runID: first, from: store))
        let i = try #require(entries.firstIndex { $0.name == RunBundle.stepsName })
        let edited = String(decoding: entries[i].bytes, as: UTF8.self).replacingOccurrences(of: "http://127.0.0.1/x(1)", with: "http://127.0.0.1/x(7)")
        entries[i] = .init(name: RunBundle.stepsName, bytes: bytes(edited))
        let (report, _) = try RunBundle.verify(bytes: BundleTar.write(entries))
        #expect(report.problems.map(\.subject) == ["step 1 (s1) url"])
        #expect(report.problems.first?.kind == .rowChanged)
        // A removed blob entry is named as missing.
        let j = try #require(entries.firstIndex { $0.name.hasPrefix(RunBundle.blobFolder) })
        let gone = entries[j].name
        entries.remove(at: j)
        entries[entries.firstIndex { $0.name == RunBundle.stepsName }!] = .init(name: RunBundle.stepsName, bytes: try BundleTar.read(try RunBundle.export(runID: first, from: store)).first { $0.name == RunBundle.stepsName }!.bytes)
        let (r2, _) = try RunBundle.verify(bytes: BundleTar.write(entries))
        #expect(r2.problems.contains { $0.kind == .missing && $0.subject == gone })
    }

    @Test func notABundleIsAnError() throws {
        expectBundleError(.notABundle(BundleTar.ReadError.truncated(offset: 0).description)) { _ = try RunBundle.verify(bytes: bytes("hello")) }
        expectBundleError(.notABundle("it has no \(RunBundle.indexName)")) {
            _ = try RunBundle.verify(bytes: BundleTar.write([.init(name: "x", bytes: [])]))
        }
    }

    @Test func importIntoAFreshStoreVerifiesAndIsIdempotent() throws {
        let dir = TempDir()
        let source = try makeStore(dir)
        let (_, second) = try StoreVerifyTests.twoRuns(source)
        let path = dir.path + "/run.bcli.tar"
        try RunBundle.write(try RunBundle.export(runID: second, from: source), to: path)
        let target = try LedgerStore(root: dir.path + "/target")
        let result = try Importer.importBundle(fileAt: path, into: target)
        #expect(!result.alreadyPresent)
        #expect(result.blobsWritten == 7)
        #expect(try target.ledger.steps(runID: second).count == 2)
        let report = try StoreVerifier.verifyRun(second, in: target)
        #expect(report.isOK, "\(report.problems.map(\.line))")
        #expect(try StoreVerifier.verifyAll(in: target).isOK)
        #expect(try target.ledger.ref(LedgerStore.headRef) == nil)  // not on this store's chain
        // Again: a no-op.
        let again = try Importer.importBundle(fileAt: path, into: target)
        #expect(again.alreadyPresent)
        #expect(again.blobsWritten == 0)
        // The same run exported from the target is byte-identical except for local step ids.
        #expect(try RunBundle.verify(bytes: try RunBundle.export(runID: second, from: target)).report.isOK)
        // Importing into the source store (where it was made) is also a no-op: its blobs are
        // there (the small ones in the ledger), so none is written again.
        let home = try Importer.importBundle(fileAt: path, into: source)
        #expect(home.alreadyPresent)
        #expect(home.blobsWritten == 0)
        #expect(home.blobsDeduplicated == 7)
        #expect(InlineObjectsTests.blobFiles(source) == 2)  // the two run records
    }

    @Test func importRefusesAConflictingRunAndDamagedBundles() throws {
        let dir = TempDir()
        let source = try makeStore(dir)
        let (first, _) = try StoreVerifyTests.twoRuns(source)
        let path = dir.path + "/b.tar"
        let good = try RunBundle.export(runID: first, from: source)
        try RunBundle.write(good, to: path)
        let target = try LedgerStore(root: dir.path + "/target")
        _ = try Importer.importBundle(fileAt: path, into: target)
        try target.ledger.write { db in try db.execute(sql: "UPDATE run SET name = 'other' WHERE id = ?", arguments: [first]) }
        do {
            _ = try Importer.importBundle(fileAt: path, into: target)
            Issue.record("a conflicting run must be refused")
        } catch {
            guard case .conflict(let id, let detail) = error else { Issue.record("\(error)"); return }
            #expect(id == first)
            #expect(detail.contains("name"))
        }
        // A damaged bundle writes nothing.
        var bad = good
        let stepsHeader = Array(RunBundle.stepsName.utf8)
        var at = 0
        while Array(bad[at..<at + stepsHeader.count]) != stepsHeader { at += 512 }
        bad[at + 512 + 10] ^= 0x20  // inside rows/steps.json
        try RunBundle.write(bad, to: path)
        let fresh = try LedgerStore(root: dir.path + "/fresh")
        expectDamagedBundle { _ = try Importer.importBundle(fileAt: path, into: fresh) }
        #expect(try fresh.runs().isEmpty)
    }
}
