import BusinessCentral
import Foundation
import Hashing
import Store

/// The `$filter` text a POST's reconcile search sends, and the times it compares: OData v4
/// literals as Business Central reads them, and the ledger's and BC's timestamps as seconds.
///
/// Pure: no I/O. The filter is returned unencoded; `ODataQuery.queryString` percent-encodes it
/// (the one query encoder).
public enum ReconcileFilter {
    /// The OData literal for a value the POST sent, or nil for one a filter cannot compare
    /// (an array or an object).
    ///
    /// - text: in single quotes, a `'` doubled (`'O''Brien'`);
    /// - text shaped like a GUID (`8-4-4-4-12` hex), a date (`2024-01-31`) or a date-time
    ///   (`2024-01-31T10:00:00Z`): bare, because BC's `Edm.Guid`, `Edm.Date` and
    ///   `Edm.DateTimeOffset` fields take bare literals and refuse quoted ones (a text field whose
    ///   value merely looks like one then answers 400, and the step stays undecidable);
    /// - numbers as JSON writes them (`10`, `10.5`), booleans `true`/`false`, `null`.
    public static func literal(_ value: JSONValue) -> String? {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let d): return d.isFinite ? ECMAScriptNumber.format(d) : nil
        case .string(let s):
            if isBareLiteral(s) { return s }
            return "'" + s.replacingOccurrences(of: "'", with: "''") + "'"
        case .array, .object: return nil
        }
    }

    /// True when `text` is written bare in a filter: a GUID (no braces), a date or a date-time.
    static func isBareLiteral(_ text: String) -> Bool {
        if !text.hasPrefix("{"), Profile.isGUID(text) { return true }
        if isDate(text) { return true }
        return text.count > 10 && text.contains("T") && seconds(text) != nil
    }

    /// `YYYY-MM-DD`.
    static func isDate(_ text: String) -> Bool {
        let b = Array(text.utf8)
        guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") else { return false }
        return [0, 1, 2, 3, 5, 6, 8, 9].allSatisfy { b[$0] >= 48 && b[$0] <= 57 }
    }

    /// `field eq literal and …` for `(field, value)` pairs; nil when a value has no literal.
    public static func equalities(_ pairs: [(field: String, value: JSONValue)]) -> String? {
        var terms: [String] = []
        for (field, value) in pairs {
            guard let lit = literal(value) else { return nil }
            terms.append("\(field) eq \(lit)")
        }
        return terms.joined(separator: " and ")
    }

    /// Seconds since 1970 UTC for the ledger's timestamps (`2026-12-02T06:27:13.123456Z`) and
    /// BC's (`2024-05-01T12:34:56.789Z`, `…56.1234567Z`, `…56+02:00`, minutes-only `T10:00Z`);
    /// nil for anything else.
    public static func seconds(_ text: String) -> Double? {
        let b = Array(text.utf8)
        func num(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var v = 0
            for i in from..<(from + count) {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard isDate(String(decoding: b.prefix(10), as: UTF8.self)), b.count > 16, b[10] == UInt8(ascii: "T"),
              let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), (1...12).contains(mo), (1...31).contains(d),
              let h = num(11, 2), b[13] == UInt8(ascii: ":"), let mi = num(14, 2), h < 24, mi < 60
        else { return nil }
        var i = 16
        var sec = 0.0
        if i < b.count, b[i] == UInt8(ascii: ":") {
            guard let s = num(i + 1, 2), s < 61 else { return nil }
            sec = Double(s)
            i += 3
            if i < b.count, b[i] == UInt8(ascii: ".") {
                i += 1
                var digits = 0, scale = 1
                let start = i
                while i < b.count, b[i] >= 48, b[i] <= 57 {
                    if i - start < 9 { digits = digits * 10 + Int(b[i] - 48); scale *= 10 }
                    i += 1
                }
                guard i > start else { return nil }
                sec += Double(digits) / Double(scale)
            }
        }
        var offset = 0
        guard i < b.count else { return nil }
        if b[i] == UInt8(ascii: "Z"), i == b.count - 1 {
            offset = 0
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-"), b.count == i + 6, b[i + 3] == UInt8(ascii: ":"),
                  let oh = num(i + 1, 2), let om = num(i + 4, 2), oh < 24, om < 60 {
            offset = (oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "-") ? -1 : 1)
        } else {
            return nil
        }
        return Double(daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 - offset) + sec
    }

    /// A bare OData date-time literal in UTC, whole seconds rounded down: `2026-12-02T06:25:13Z`.
    public static func dateTimeLiteral(seconds: Double) -> String {
        let whole = Int(seconds.rounded(.down))
        let stamp = Timestamp.format(seconds: whole)  // YYYY-MM-DDTHH:MM:SS.ffffffZ
        return String(stamp.prefix(19)) + "Z"
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }
}
