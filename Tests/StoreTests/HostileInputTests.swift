import Foundation
import Testing
import TestSupport
import Hashing
@testable import Store

/// Hostile or odd inputs (archives, numbers, keys): each must be a clear error, never a crash.
@Suite struct HostileInputTests {
    /// Rewrites the size field of the first tar header and fixes its checksum, so only the size is wrong.
    static func withSizeField(_ archive: [UInt8], _ octal: String) -> [UInt8] {
        var a = archive
        for (i, b) in Array(octal.utf8).enumerated() { a[124 + i] = b }
        for i in 148..<156 { a[i] = 0x20 }
        let sum = a[0..<512].reduce(0) { $0 + Int($1) }
        let text = String(sum, radix: 8)
        let field = Array((String(repeating: "0", count: 6 - text.count) + text).utf8) + [0, 0x20]
        for (i, b) in field.enumerated() { a[148 + i] = b }
        return a
    }

    @Test(arguments: [("777777777777", BundleTar.ReadError.badSize(offset: 0)), ("77777777777\0", .truncated(offset: 512))])
    func oversizedTarEntryIsRefusedNotACrash(size: String, refusal: BundleTar.ReadError) throws {
        let archive = BundleTar.write([.init(name: "a", bytes: bytes("x"))])
        let damaged = Self.withSizeField(archive, size)
        #expect(throws: refusal) { try BundleTar.read(damaged) }
        // Through the bundle verifier too: still a tar archive, so a failed verification naming
        // the archive, not a thrown error and not a trap.
        let (report, bundle) = try RunBundle.verify(bytes: damaged)
        #expect(bundle == nil)
        #expect(report.problems.map(\.kind) == [.bundle])
        #expect(report.problems.map(\.subject) == ["archive"])
    }

    @Test func outOfRangeNumbersInABundleAreProblems() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let run = try startRun(store)
        _ = try addStep(store, run: run, seq: 1, status: .committed)
        try store.finishRun(run, state: .completed)
        var entries = try BundleTar.read(try RunBundle.export(runID: run, from: store))
        let i = try #require(entries.firstIndex { $0.name == RunBundle.indexName })
        var index = try #require(try JSONValue(parsing: entries[i].bytes).objectValue)
        var blobs = try #require(index["blobs"]?.arrayValue)
        var first = try #require(blobs[0].objectValue)
        first["size"] = .number(1e19)
        blobs[0] = .object(first)
        index["blobs"] = .array(blobs)
        entries[i] = .init(name: entries[i].name, bytes: try JSONValue.object(index).canonicalBytes())
        let (report, _) = try RunBundle.verify(bytes: BundleTar.write(entries))
        #expect(!report.isOK)
    }

    @Test func bundleWithoutFormatVersionIsAProblem() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let run = try startRun(store)
        try store.finishRun(run, state: .completed)
        var entries = try BundleTar.read(try RunBundle.export(runID: run, from: store))
        let i = try #require(entries.firstIndex { $0.name == RunBundle.indexName })
        var index = try #require(try JSONValue(parsing: entries[i].bytes).objectValue)
        index["format_version"] = nil
        entries[i] = .init(name: entries[i].name, bytes: try JSONValue.object(index).canonicalBytes())
        let (report, _) = try RunBundle.verify(bytes: BundleTar.write(entries))
        #expect(report.problems.contains { $0.detail.contains("format_version") })
    }

    /// An unfinished run has no record to check its rows against: importing it is refused.
    @Test func unfinishedRunIsNotImported() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let run = try startRun(store)
        _ = try addStep(store, run: run, seq: 1, status: nil)
        let path = dir.path + "/unfinished.tar"
        try Data(try RunBundle.export(runID: run, from: store)).write(to: URL(fileURLWithPath: path))
        let other = try LedgerStore(root: dir.path + "/other")
        do {
            _ = try Importer.importBundle(fileAt: path, into: other)
            Issue.record("an unfinished run must not be imported")
        } catch {
            guard case .unfinished(let id) = error else { Issue.record("\(error)"); return }
            #expect(id == run)
        }
        #expect(try other.runs().isEmpty)
    }
}
