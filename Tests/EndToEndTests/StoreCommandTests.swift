import Foundation
import Testing
import TestSupport
import Hashing
import Store

/// `bcli batch hash`, `cat` and `fsck` run as a child process against a real store.
@Suite struct StoreCommandTests {
    @Test func hashAgreesWithSha256sum() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        var files: [String] = []
        for (i, size) in [0, 1, 64, 65, 100_000].enumerated() {
            let path = dir.path + "/f\(i) with space.bin"
            try Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }).write(to: URL(fileURLWithPath: path))
            files.append(path)
        }
        let ours = try await bcliAsync(["batch", "hash"] + files)
        #expect(ours.status == 0)
        let paths = files
        let theirs = try await offload { try run("/usr/bin/sha256sum", paths) }
        let expected = theirs.out.split(separator: "\n").map { "sha256:" + $0 }
        #expect(ours.out.split(separator: "\n").map(String.init) == expected)
    }

    @Test func hashOfMissingFileFailsClearly() async throws {
        try requireBinary(Paths.bcli)
        let r = try await bcliAsync(["batch", "hash", "/nonexistent/manifest.yaml"])
        #expect(r.status == 4)
        #expect(r.stderr.contains("/nonexistent/manifest.yaml"))
        #expect(r.out.isEmpty)
    }

    @Test func catPrintsExactBytesByPrefix() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let store = try LedgerStore(root: dir.path + "/s")
        let payload: [UInt8] = [0, 1, 2, 255, 10, 13] + Array("{\"é\":1}".utf8)
        let blob = try store.put(payload, mediaType: nil)
        try store.ledger.indexObjects([blob])
        for query in [blob.digest.description, blob.digest.hex, String(blob.digest.hex.prefix(9))] {
            let r = try await bcliAsync(["batch", "cat", "--store", store.root, query])
            #expect(r.status == 0)
            #expect([UInt8](r.stdout) == payload)
        }
        let bad = try await bcliAsync(["batch", "cat", "--store", store.root, "../../etc/passwd"])
        #expect(bad.status == 5)
        #expect(bad.stderr.contains("sha256:<64 lowercase hex"))
        let unknown = try await bcliAsync(["batch", "cat", "--store", store.root, "0000000"])
        #expect(unknown.status == 4)
    }

    /// fsck finds a flipped bit, a truncated blob, a zero-byte blob and a lost one, and names
    /// each: in blob files and in the small blobs the ledger holds.
    @Test(arguments: [false, true])
    func fsckFindsDamage(inLedger: Bool) async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let store = try LedgerStore(root: dir.path + "/s")
        var blobs: [BlobRef] = []
        let padding = inLedger ? "" : String(repeating: ".", count: LedgerStore.inlineLimit)
        for i in 0..<5 {
            let blob = try store.put(Array("blob number \(i) with some content\(padding)".utf8), mediaType: "text/plain")
            blobs.append(blob)
        }
        try store.ledger.indexObjects(blobs)
        #expect(try blobs.allSatisfy { try BlobDamage.isInLedger(store, $0.digest) == inLedger && BlobDamage.hasFile(store, $0.digest) != inLedger })
        let clean = try await bcliAsync(["batch", "fsck", "--store", store.root])
        #expect(clean.status == 0, "\(clean.stderr)")

        try BlobDamage.change(store, blobs[0].digest) { $0[5] ^= 0x04 }            // one bit flipped
        try BlobDamage.change(store, blobs[1].digest) { $0.removeLast(3) }         // truncated
        try BlobDamage.change(store, blobs[2].digest) { $0 = [] }                  // zero bytes
        try BlobDamage.remove(store, blobs[4].digest)                              // lost
        let r = try await bcliAsync(["batch", "fsck", "--store", store.root, "--format", "json"])
        #expect(r.status == 1)
        let report = try JSONValue(parsing: [UInt8](r.stdout))
        #expect(report["format_version"] == 1)
        #expect(report["clean"] == false)
        let findings = report["findings"]?.arrayValue ?? []
        func kind(of blob: BlobRef) -> String? {
            findings.first { $0["digest"]?.stringValue == blob.digest.description }?["kind"]?.stringValue
        }
        #expect(kind(of: blobs[0]) == "corrupt")
        #expect(kind(of: blobs[1]) == "wrong-size")
        #expect(kind(of: blobs[2]) == "zero-byte")
        #expect(kind(of: blobs[3]) == nil)
        #expect(kind(of: blobs[4]) == "missing")
        let text = try await bcliAsync(["batch", "fsck", "--store", store.root])
        #expect(text.status == 1)
        #expect(text.out.contains(blobs[0].digest.description))
    }

    @Test func fsckReportsTempLeftoversWithoutFailing() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let store = try LedgerStore(root: dir.path + "/s")
        let blob = BlobRef(try store.objects.put(Array("x".utf8)), mediaType: nil)
        try store.ledger.indexObjects([blob])
        let fan = store.objects.objectsDirectory + "/" + blob.digest.hex.prefix(2)
        FileManager.default.createFile(atPath: fan + "/" + ObjectStore.tempPrefix + "123-456", contents: Data([1, 2]))
        let r = try await bcliAsync(["batch", "fsck", "--store", store.root])
        #expect(r.status == 0)
        #expect(r.out.contains("temp-leftover"))
    }

    @Test func missingStoreIsAClearError() async throws {
        try requireBinary(Paths.bcli)
        let r = try await bcliAsync(["batch", "fsck", "--store", "/nonexistent/bcli-store"])
        #expect(r.status == 4)
        #expect(r.stderr.contains("--store"))
    }

    @Test func usageErrorsExitTwo() async throws {
        try requireBinary(Paths.bcli)
        let r = try await bcliAsync(["batch", "hash"])
        #expect(r.status == 2)
        let v = try await bcliAsync(["--version"])
        #expect(v.status == 0)
        #expect(v.out.trimmingCharacters(in: .whitespacesAndNewlines) == ToolVersion.current)
    }
}
