/// A SHA-256 digest, the name of every blob in the store.
///
/// Printed in the OCI grammar `sha256:<64 lowercase hex>` so it can be pasted into other tools.
/// Parsing is strict on purpose: a digest from the command line or a database row becomes a path
/// on disk, so anything but 64 lowercase hex characters is refused before it touches the filesystem.
public struct Digest: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The 64 lowercase hex characters (no algorithm prefix).
    public let hex: String

    public static let algorithm = "sha256"
    public static let prefix = "sha256:"
    /// The shortest prefix accepted for unique-prefix lookup, as with git's abbreviated ids.
    public static let minimumPrefixLength = 7

    /// Wraps 32 raw digest bytes.
    public init?(rawBytes: [UInt8]) {
        guard rawBytes.count == 32 else { return nil }
        let table = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for b in rawBytes {
            out.append(table[Int(b >> 4)])
            out.append(table[Int(b & 0x0f)])
        }
        hex = String(decoding: out, as: UTF8.self)
    }

    /// Parses `sha256:<64 lowercase hex>` or the bare 64-hex form.
    public init(parsing text: String) throws(DigestError) {
        var body = Substring(text)
        if let colon = text.firstIndex(of: ":") {
            let algo = text[..<colon]
            guard algo == "sha256" else { throw .unsupportedAlgorithm(String(algo)) }
            body = text[text.index(after: colon)...]
        }
        try Digest.checkHex(body, original: text, exactLength: true)
        hex = String(body)
    }

    /// Trusted constructor for hex that was validated already (e.g. produced by `SHA256`).
    init(validatedHex: String) { hex = validatedHex }

    public var description: String { Digest.prefix + hex }

    /// The first 12 hex characters, for tables.
    public var short: String { String(hex.prefix(12)) }

    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.hex < rhs.hex }

    /// Validates a unique-prefix query (`sha256:` optional, ≥ 7 lowercase hex, ≤ 64) and returns
    /// the bare hex prefix.
    public static func parsePrefix(_ text: String) throws(DigestError) -> String {
        var body = Substring(text)
        if let colon = text.firstIndex(of: ":") {
            let algo = text[..<colon]
            guard algo == "sha256" else { throw .unsupportedAlgorithm(String(algo)) }
            body = text[text.index(after: colon)...]
        }
        try checkHex(body, original: text, exactLength: false)
        guard body.utf8.count >= minimumPrefixLength else { throw .prefixTooShort(text) }
        return String(body)
    }

    private static func checkHex(_ body: Substring, original: String, exactLength: Bool) throws(DigestError) {
        var count = 0
        for c in body.utf8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"):
                count += 1
            case UInt8(ascii: "A")...UInt8(ascii: "F"):
                throw .uppercase(original)
            default:
                throw .invalidCharacter(original)
            }
        }
        if exactLength {
            guard count == 64 else { throw .wrongLength(original, count) }
        } else {
            guard count <= 64 else { throw .wrongLength(original, count) }
        }
    }
}

/// Why a string is not a digest; each message says what a valid one looks like.
public enum DigestError: Error, Equatable, Sendable, CustomStringConvertible {
    case unsupportedAlgorithm(String)
    case uppercase(String)
    case invalidCharacter(String)
    case wrongLength(String, Int)
    case prefixTooShort(String)

    public var description: String {
        switch self {
        case .unsupportedAlgorithm(let a):
            return "unsupported digest algorithm '\(a)': only sha256 is used (write sha256:<64 hex>)"
        case .uppercase(let s):
            return "invalid digest '\(s)': hex must be lowercase (write it as \(s.lowercased()))"
        case .invalidCharacter(let s):
            return "invalid digest '\(printable(s))': expected sha256:<64 lowercase hex characters>"
        case .wrongLength(let s, let n):
            return "invalid digest '\(printable(s))': \(n) hex characters, expected 64 (sha256:<64 lowercase hex>)"
        case .prefixTooShort(let s):
            return "digest prefix '\(s)' is too short: give at least \(Digest.minimumPrefixLength) hex characters"
        }
    }

    private func printable(_ s: String) -> String {
        String(s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? "?" : Character($0) })
    }
}
