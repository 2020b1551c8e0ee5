#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// UTC timestamps as the ledger stores them: `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
///
/// Fixed width and lexically ordered, so SQL can sort and compare them as text.
public enum Timestamp {
    public static func now() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return format(seconds: Int(ts.tv_sec), micros: Int(ts.tv_nsec / 1000))
    }

    public static func format(seconds: Int, micros: Int = 0) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))T"
            + "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2)).\(pad(micros, 6))Z"
    }

    /// Milliseconds since the Unix epoch, for time-ordered ids.
    public static func epochMilliseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec / 1_000_000)
    }

    /// Parses the date forms users type for `--since`: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ`
    /// (fraction optional). Returns the normalised ledger form, or nil.
    public static func normalise(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        func num(_ r: Range<Int>) -> Int? {
            guard r.upperBound <= bytes.count else { return nil }
            var v = 0
            for i in r {
                let b = bytes[i]
                guard b >= 48 && b <= 57 else { return nil }
                v = v * 10 + Int(b - 48)
            }
            return v
        }
        guard bytes.count >= 10, bytes[4] == 45, bytes[7] == 45,
              let y = num(0..<4), let mo = num(5..<7), let d = num(8..<10),
              (1...12).contains(mo), (1...31).contains(d) else { return nil }
        var h = 0, mi = 0, s = 0, micros = 0
        if bytes.count > 10 {
            guard bytes.count >= 20, bytes[10] == 84 || bytes[10] == 32, bytes[13] == 58, bytes[16] == 58,
                  let hh = num(11..<13), let mm = num(14..<16), let ss = num(17..<19),
                  hh < 24, mm < 60, ss < 61 else { return nil }
            h = hh; mi = mm; s = ss
            var i = 19
            if bytes[i] == 46 {
                i += 1
                var digits = 0
                while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 {
                    if digits < 6 { micros = micros * 10 + Int(bytes[i] - 48) }
                    digits += 1; i += 1
                }
                guard digits > 0 else { return nil }
                for _ in min(digits, 6)..<6 { micros *= 10 }
            }
            guard i == bytes.count - 1, bytes[i] == 90 else { return nil }
        }
        var parts = tm()
        parts.tm_year = Int32(y - 1900); parts.tm_mon = Int32(mo - 1); parts.tm_mday = Int32(d)
        parts.tm_hour = Int32(h); parts.tm_min = Int32(mi); parts.tm_sec = Int32(s)
        let secs = timegm(&parts)
        return format(seconds: Int(secs), micros: micros)
    }
}
