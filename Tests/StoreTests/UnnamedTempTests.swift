import Foundation
import Testing
import TestSupport
import Hashing
@testable import Store

/// `ObjectStore.putOne` writes a blob as an unnamed temp file (`O_TMPFILE`) and links it into
/// place; where that is not possible it falls back to a named temp file and a rename. Both paths
/// must leave the same store: the same file under the same name, mode 0444, verifiable, no temp
/// file behind (docs/architecture.md, "Writing a blob").
@Suite struct UnnamedTempTests {
    static let samples: [[UInt8]] = [
        [], [0x7b], bytes("{\"displayName\":\"Customer 1\"}"),
        (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) },  // larger than a page
    ]

    @Test(arguments: Durability.allCases)
    func unnamedAndNamedTempsStoreTheSameFiles(durability: Durability) throws {
        #if os(Linux)
        // This machine's file systems (ext4, tmpfs) support O_TMPFILE: the fast path is the one
        // measured, so it must really be taken here.
        #expect(UnnamedTemp.supported)
        #endif
        let dir = TempDir()
        let unnamed = try ObjectStore(root: dir.path + "/u", durability: durability, unnamedTemps: true)
        let named = try ObjectStore(root: dir.path + "/n", durability: durability, unnamedTemps: false)
        for sample in Self.samples {
            let a = try unnamed.put(sample)
            let b = try named.put(sample)
            #expect(a == b)
            #expect(!a.deduplicated)
            #expect(a.digest == SHA256.hash(sample))
            for store in [unnamed, named] {
                let file = store.path(for: a.digest)
                #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == Data(sample))
                let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
                #expect(mode == 0o444)
                #expect(store.verify(a.digest, expectedSize: Int64(sample.count)) == .ok(size: Int64(sample.count)))
                #expect(try store.get(a.digest) == sample)
            }
            // The same relative path in both stores.
            #expect(unnamed.path(for: a.digest).dropFirst(unnamed.root.count) == named.path(for: b.digest).dropFirst(named.root.count))
        }
        // Nothing but blobs: no `.tmp-*` file and nothing misnamed in either store.
        for store in [unnamed, named] {
            let files = store.walk()
            #expect(files.count == Self.samples.count)
            #expect(files.allSatisfy { if case .blob = $0.kind { return true } else { return false } })
        }
    }

    /// putAll in `process` (one at a time) takes the unnamed path for each blob, dedups within
    /// the call, and a second put of the same bytes is a dedup that touches the file.
    @Test func putAllAndDedupThroughTheUnnamedPath() throws {
        let dir = TempDir()
        let objects = try ObjectStore(root: dir.path, durability: .process, unnamedTemps: true)
        let results = try objects.putAll([bytes("a"), bytes("b"), bytes("a")])
        #expect(results.map(\.deduplicated) == [false, false, true])
        let file = objects.path(for: results[0].digest)
        let old = Date(timeIntervalSince1970: 1_000_000)
        chmod(file, 0o644)
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: file)
        chmod(file, 0o444)
        let again = try objects.put(bytes("a"))
        #expect(again.deduplicated)
        let mtime = try FileManager.default.attributesOfItem(atPath: file)[.modificationDate] as? Date
        #expect((mtime ?? old) > old)
        #expect(objects.walk().count == 2)
    }

    /// A bad file under the final name is quarantined and replaced by the linked file, as on the
    /// named path.
    @Test func aBadCopyIsQuarantinedAndReplaced() throws {
        let dir = TempDir()
        let objects = try ObjectStore(root: dir.path, durability: .process, unnamedTemps: true)
        let data = bytes("the bytes that belong under this name")
        let digest = SHA256.hash(data)
        let file = objects.path(for: digest)
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes("torn")).write(to: URL(fileURLWithPath: file))
        let put = try objects.put(data)
        #expect(!put.deduplicated)
        #expect(try objects.get(digest) == data)
        let quarantined = try FileManager.default.contentsOfDirectory(atPath: objects.quarantineDirectory)
        #expect(quarantined.count == 1 && quarantined[0].hasPrefix(digest.hex))
    }

    /// `link` reports EEXIST rather than replacing a file (the put then checks that file), and a
    /// missing fan-out folder is created by `open`.
    @Test func linkNeverReplacesAFile() throws {
        #if os(Linux)
        let dir = TempDir()
        let folder = dir.path + "/fan"
        let fd = try #require(try UnnamedTemp.open(in: folder))
        defer { close(fd) }
        #expect(FileManager.default.fileExists(atPath: folder))
        _ = "new".withCString { write(fd, $0, 3) }
        try Data("old".utf8).write(to: URL(fileURLWithPath: folder + "/x"))
        #expect(UnnamedTemp.link(fd, to: folder + "/x") == EEXIST)
        #expect(try String(contentsOfFile: folder + "/x", encoding: .utf8) == "old")
        #expect(UnnamedTemp.link(fd, to: folder + "/y") == 0)
        #expect(try String(contentsOfFile: folder + "/y", encoding: .utf8) == "new")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["x", "y"])
        #endif
    }
}
