import Foundation
import Testing
import TestSupport
@testable import Hashing

/// SHA-256 through OpenSSL must agree with coreutils' sha256sum byte for byte.
@Suite struct SHA256Tests {
    static func sha256sum(_ path: String) throws -> String {
        String(try run("/usr/bin/sha256sum", [path]).out.prefix(64))
    }

    static func pseudoRandom(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    @Test(arguments: [0, 1, 55, 56, 63, 64, 65, 127, 128, 1 << 20 - 1, 1 << 20, 1 << 20 + 1])
    func matchesSha256sum(size: Int) throws {
        let data = Self.pseudoRandom(size, seed: UInt64(size) + 7)
        let dir = TempDir("bcli-sha")
        let path = try dir.write("data", data)
        let expected = try Self.sha256sum(path)
        #expect(SHA256.hash(data).hex == expected)
        let streamed = try SHA256.hash(fileAt: path)
        #expect(streamed.digest.hex == expected)
        #expect(streamed.size == Int64(size))
    }

    @Test func knownVectors() {
        #expect(SHA256.hash([UInt8]()).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hash(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func incrementalEqualsOneShot() {
        let data = Self.pseudoRandom(10_000, seed: 3)
        var h = SHA256()
        for chunk in stride(from: 0, to: data.count, by: 777) {
            h.update(data[chunk..<min(chunk + 777, data.count)])
        }
        #expect(h.finalize() == SHA256.hash(data))
    }

    /// A 1 GiB file streamed in chunks (never whole in memory). Sparse with scattered data so it is
    /// cheap to create; hashing still reads every byte.
    @Test func oneGibibyteFile() async throws {
        // Blocking I/O and hashing run on a thread of their own, not on the few threads (one per
        // core, shared with Dispatch's global queues on Linux) that in-process servers in other
        // tests need.
        try await offload { try Self.hashOneGibibyte() }
    }

    static func hashOneGibibyte() throws {
        let dir = TempDir("bcli-sha-1g")
        let path = dir.path + "/data"
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        #expect(fd >= 0)
        #expect(ftruncate(fd, 1 << 30) == 0)
        for i in 0..<64 {
            let chunk = pseudoRandom(4096, seed: UInt64(i))
            _ = chunk.withUnsafeBytes { pwrite(fd, $0.baseAddress, 4096, off_t(i) * (1 << 24) + off_t(i * 131)) }
        }
        close(fd)
        let streamed = try SHA256.hash(fileAt: path)
        #expect(streamed.size == 1 << 30)
        #expect(streamed.digest.hex == (try sha256sum(path)))
    }

    @Test func unreadableFileIsAClearError() {
        let error = #expect(throws: FileHashError.self) { try SHA256.hash(fileAt: "/nonexistent/bcli/file") }
        #expect(error?.path == "/nonexistent/bcli/file")
        #expect(error?.errno == ENOENT)
        #expect(error?.description.contains("/nonexistent/bcli/file") == true)
        #expect(error?.description.contains("No such file") == true)
    }
}
