import Hashing

/// A literal in a `$filter` expression.
enum ODataLiteral: Sendable, Equatable {
    case null
    case string(String)
    case number(Double)
    case bool(Bool)
    case guid(String)          // lowercase
    case date(String)          // YYYY-MM-DD
    case dateTime(Double)      // seconds since 1970 UTC

    /// `8-4-4-4-12` hex digits.
    static func isGUID(_ s: some StringProtocol) -> Bool {
        let utf8 = Array(s.utf8)
        guard utf8.count == 36 else { return false }
        for (i, c) in utf8.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                if c != UInt8(ascii: "-") { return false }
            } else if !isHex(c) {
                return false
            }
        }
        return true
    }

    static func isHex(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)
    }

    /// `YYYY-MM-DD` → the same string when valid.
    static func parseDate(_ s: some StringProtocol) -> (year: Int, month: Int, day: Int)? {
        let parts = s.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
              (1...12).contains(m), (1...31).contains(d)
        else { return nil }
        return (y, m, d)
    }

    /// `YYYY-MM-DDThh:mm[:ss[.fff]](Z|±hh:mm)` → seconds since the epoch.
    static func parseDateTime(_ s: some StringProtocol) -> Double? {
        let text = String(s)
        guard let t = text.firstIndex(of: "T"), let date = parseDate(text[..<t]) else { return nil }
        var rest = text[text.index(after: t)...]
        var offsetSeconds = 0
        if rest.hasSuffix("Z") || rest.hasSuffix("z") {
            rest = rest.dropLast()
        } else if let signIndex = rest.lastIndex(where: { $0 == "+" || $0 == "-" }) {
            let offset = rest[rest.index(after: signIndex)...].split(separator: ":")
            guard offset.count == 2, let oh = Int(offset[0]), let om = Int(offset[1]) else { return nil }
            offsetSeconds = (oh * 3600 + om * 60) * (rest[signIndex] == "-" ? -1 : 1)
            rest = rest[..<signIndex]
        } else {
            return nil
        }
        let hms = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard hms.count == 2 || hms.count == 3, let h = Int(hms[0]), let mi = Int(hms[1]),
              (0...23).contains(h), (0...59).contains(mi)
        else { return nil }
        var seconds = 0.0
        if hms.count == 3 {
            guard let sec = Double(hms[2]), sec >= 0, sec < 61 else { return nil }
            seconds = sec
        }
        let days = daysFromCivil(date.year, date.month, date.day)
        return Double(days * 86400 + h * 3600 + mi * 60 - offsetSeconds) + seconds
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// (year, month, day) for days since 1970-01-01.
    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}

/// UTC timestamps in the form BC uses for `systemCreatedAt` and `lastModifiedDateTime`
/// (`2024-05-01T12:34:56.789Z`).
enum Timestamp {
    static func now() -> (text: String, seconds: Double) {
        let millis = nowMillis()
        return (format(millis: millis), Double(millis) / 1000)
    }

    /// Milliseconds since the epoch, from the wall clock.
    static func nowMillis() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int(ts.tv_sec) * 1000 + Int(ts.tv_nsec) / 1_000_000
    }

    static func format(millis: Int) -> String {
        let days = millis >= 0 ? millis / 86_400_000 : (millis - 86_399_999) / 86_400_000
        let rem = millis - days * 86_400_000
        let (y, m, d) = ODataLiteral.civilFromDays(days)
        let h = rem / 3_600_000, mi = rem / 60_000 % 60, s = rem / 1000 % 60, ms = rem % 1000
        func pad(_ v: Int, _ w: Int) -> String {
            let t = String(v)
            return String(repeating: "0", count: max(0, w - t.count)) + t
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2)).\(pad(ms, 3))Z"
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
