import Foundation
import Support
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("Atomic file write: the whole new file or the old one, and every failing call named")
struct AtomicFileTests {
    @Test func writesAndReplacesWithTheModeAndNoTempFileLeft() throws {
        let dir = TempDir("bcli-atomic")
        let path = dir.path + "/out.json"
        try AtomicFile.write(Array("first\n".utf8), to: path, mode: 0o600)
        try AtomicFile.write(Array("second\n".utf8), to: path, mode: 0o600)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "second\n")
        var st = stat()
        #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["out.json"])
    }

    @Test func aMissingFolderFailsAtCreate() {
        let dir = TempDir("bcli-atomic")
        #expect {
            try AtomicFile.write([1], to: dir.path + "/no/such/out")
        } throws: { error in
            guard let failure = error as? AtomicFile.Failure else { return false }
            return failure.operation == "create" && failure.errno == ENOENT
        }
    }

    @Test func aRenameOntoAFolderFailsAtRenameAndRemovesTheTempFile() throws {
        let dir = TempDir("bcli-atomic")
        try FileManager.default.createDirectory(atPath: dir.path + "/taken/inner", withIntermediateDirectories: true)
        #expect {
            try AtomicFile.write([1, 2, 3], to: dir.path + "/taken")
        } throws: { error in
            guard let failure = error as? AtomicFile.Failure else { return false }
            return failure.operation == "rename" && failure.path == dir.path + "/taken"
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["taken"])
    }
}

@Suite("Seeded generator: a seed always gives the same numbers")
struct SeededGeneratorTests {
    @Test func splitMix64ReferenceValues() {
        var rng = SeededGenerator(seed: 0)
        #expect(rng.next() == 0xE220_A839_7B1D_CDAF)
        #expect(rng.next() == 0x6E78_9E6A_A1B9_65F4)
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42)
        #expect((0..<100).map { _ in a.next() } == (0..<100).map { _ in b.next() })
    }
}
