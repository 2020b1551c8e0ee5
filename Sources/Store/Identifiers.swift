#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Run ids: 32 lowercase hex, time-ordered (48-bit milliseconds, then 80 random bits), so ids sort
/// by start time like ULIDs and are safe as file names.
public enum RunID {
    /// The fewest characters a run id is shown with. Ids begin with a millisecond clock, so runs
    /// made within about a minute share 8; `Ledger.abbreviations` grows a shown id past this
    /// until it is unique, as git does.
    public static let displayLength = 8

    public static func generate() -> String {
        let ms = Timestamp.epochMilliseconds()
        var hex = String(ms, radix: 16)
        hex = String(repeating: "0", count: max(0, 12 - hex.count)) + hex
        var rng = SystemRandomNumberGenerator()
        // 80 random bits: 16 hex from one word, 4 more from a second (two getrandom calls).
        let a = rng.next() as UInt64, b = rng.next() as UInt64
        let high = String(a, radix: 16), low = String(b & 0xffff, radix: 16)
        hex += String(repeating: "0", count: 16 - high.count) + high
        hex += String(repeating: "0", count: 4 - low.count) + low
        return hex
    }

    /// True when `text` is a complete run id (32 lowercase hex).
    public static func isValid(_ text: String) -> Bool {
        text.utf8.count == 32 && isHex(text)
    }

    static func isHex(_ text: String) -> Bool {
        text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }
}

/// Random UUIDs (version 4, lowercase), used as `client-request-id` so ledger rows join BC telemetry.
public enum UUIDString {
    public static func generate() -> String {
        var rng = SystemRandomNumberGenerator()
        // Two words, not sixteen bytes: one getrandom call per 8 bytes, on every step's hot path.
        let words = [rng.next() as UInt64, rng.next() as UInt64]
        var b = words.flatMap { w in (0..<8).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } }
        b[6] = (b[6] & 0x0f) | 0x40
        b[8] = (b[8] & 0x3f) | 0x80
        let hex = b.map { byte -> String in
            let s = String(byte, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
        let c = Array(hex)
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-"
            + String(c[16..<20]) + "-" + String(c[20..<32])
    }
}
