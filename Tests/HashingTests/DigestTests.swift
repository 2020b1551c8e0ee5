import Testing
@testable import Hashing

@Suite struct DigestTests {
    let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    @Test func parsesPrefixedAndBare() throws {
        let a = try Digest(parsing: "sha256:" + hex)
        let b = try Digest(parsing: hex)
        #expect(a == b)
        #expect(a.description == "sha256:" + hex)
        #expect(a.hex == hex)
        #expect(a.short == String(hex.prefix(12)))
    }

    @Test func rejectsUppercase() {
        #expect(throws: DigestError.uppercase("sha256:" + hex.uppercased())) { try Digest(parsing: "sha256:" + hex.uppercased()) }
    }

    @Test(arguments: [
        "sha256:" + String(repeating: "a", count: 63),
        String(repeating: "a", count: 65),
        "",
        "sha256:",
    ])
    func rejectsWrongLength(text: String) {
        do {
            _ = try Digest(parsing: text)
            Issue.record("accepted \(text)")
        } catch {
            guard case .wrongLength = error else { Issue.record("expected wrongLength, got \(error)"); return }
            #expect(error.description.contains("expected 64"))
        }
    }

    @Test(arguments: [("md5", 32), ("sha512", 128), ("SHA256", 64)])
    func rejectsOtherAlgorithms(algorithm: String, hexCount: Int) {
        let text = algorithm + ":" + String(repeating: "a", count: hexCount)
        let error = #expect(throws: DigestError.unsupportedAlgorithm(algorithm)) { try Digest(parsing: text) }
        #expect(error?.description.contains("only sha256") == true)
        #expect(throws: DigestError.unsupportedAlgorithm(algorithm)) { try Digest.parsePrefix(text) }
    }

    /// Anything that could become a path trick is refused before it touches the filesystem.
    @Test(arguments: [
        "../" + String(repeating: "a", count: 61),
        "/" + String(repeating: "a", count: 63),
        String(repeating: "a", count: 32) + "/" + String(repeating: "a", count: 31),
        String(repeating: "a", count: 63) + "\0",
        String(repeating: "g", count: 64),
        " " + String(repeating: "a", count: 63),
    ])
    func rejectsPathTricks(text: String) {
        #expect(throws: DigestError.invalidCharacter(text)) { try Digest(parsing: text) }
        #expect(throws: DigestError.invalidCharacter(text)) { try Digest.parsePrefix(text) }
    }

    @Test func prefixRules() throws {
        #expect(try Digest.parsePrefix("e3b0c44") == "e3b0c44")
        #expect(try Digest.parsePrefix("sha256:e3b0c44298") == "e3b0c44298")
        #expect(throws: DigestError.prefixTooShort("e3b0c4")) { try Digest.parsePrefix("e3b0c4") }
        #expect(throws: DigestError.uppercase("E3B0C44")) { try Digest.parsePrefix("E3B0C44") }
    }

    @Test func rawBytesRoundTrip() throws {
        let d = try #require(Digest(rawBytes: Array(repeating: 0xab, count: 32)))
        #expect(d.hex == String(repeating: "ab", count: 32))
        #expect(Digest(rawBytes: [1, 2, 3]) == nil)
    }
}
