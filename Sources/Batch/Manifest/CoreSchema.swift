import Hashing

/// YAML 1.2 core-schema typing of a plain (unquoted) scalar, narrowed to what JSON can carry.
///
/// Why not Yams' own resolver: it implements YAML 1.1 (`no` → false, `2026-04-01` → a date,
/// `0123` → octal), which silently changes data sent to Business Central. Our rules:
/// - `null`, `Null`, `NULL`, `~` and the empty scalar are null;
/// - `true`/`True`/`TRUE`/`false`/`False`/`FALSE` are booleans (`yes`, `no`, `on`, `off` are strings);
/// - decimal, `0o` octal and `0x` hex integers and decimal floats are numbers;
/// - a number written with a leading zero (`0123`, `007.5`) stays a **string**, because in BC such
///   values are codes (post codes, account numbers) whose zeros matter;
/// - `.inf`, `.nan` and numbers that overflow are errors (JSON cannot carry them), and so are
///   integers beyond ±2^53, which a JSON number (a double) cannot hold exactly;
/// - everything else (dates included) is a string.
enum CoreSchema {
    enum Failure: Error, Equatable {
        /// `.inf`, `.nan`, `1e999`.
        case notRepresentable(String)
        /// An integer JSON cannot hold exactly.
        case integerTooLarge(String)
    }

    /// 2^53: the largest magnitude below which every integer is an exact double.
    static let maxExactInteger: Double = 9_007_199_254_740_992

    static func type(plain text: String) -> Result<JSONValue, Failure> {
        switch text {
        case "", "~", "null", "Null", "NULL": return .success(.null)
        case "true", "True", "TRUE": return .success(.bool(true))
        case "false", "False", "FALSE": return .success(.bool(false))
        default: break
        }
        var body = Substring(text)
        var negative = false
        if let first = body.first, first == "+" || first == "-" {
            negative = first == "-"
            body = body.dropFirst()
        }
        let lowered = body.lowercased()
        if lowered == ".inf" || (text.first != "+" && text.first != "-" && lowered == ".nan") {
            return .failure(.notRepresentable(text))
        }
        // Hex and octal integers (unsigned in the core schema).
        if body.count == text.count, body.hasPrefix("0x") || body.hasPrefix("0o") {
            let radix = body.hasPrefix("0x") ? 16 : 8
            let digits = body.dropFirst(2)
            guard !digits.isEmpty, digits.allSatisfy({ $0.isHexDigit && Int(String($0), radix: radix) != nil }) else {
                return .success(.string(text))
            }
            guard let value = UInt64(digits, radix: radix), Double(value) <= maxExactInteger else {
                return .failure(.integerTooLarge(text))
            }
            return .success(.number(Double(value)))
        }
        guard isDecimalNumber(body) else { return .success(.string(text)) }
        // Leading zero followed by another digit: a code, not a number.
        let chars = Array(body)
        if chars.count > 1, chars[0] == "0", chars[1].isASCIIDigit {
            return .success(.string(text))
        }
        let isInteger = body.allSatisfy(\.isASCIIDigit)
        guard let magnitude = Double(String(body.hasPrefix(".") ? "0" + body : body)) else {
            return .success(.string(text))
        }
        guard magnitude.isFinite else { return .failure(.notRepresentable(text)) }
        if isInteger, UInt64(body).map({ $0 > UInt64(maxExactInteger) }) ?? true { return .failure(.integerTooLarge(text)) }
        return .success(.number(negative ? -magnitude : magnitude))
    }

    /// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` — the core-schema float/int body after the sign.
    private static func isDecimalNumber(_ s: Substring) -> Bool {
        var i = s.startIndex
        func digits() -> Int {
            var n = 0
            while i < s.endIndex, s[i].isASCIIDigit { i = s.index(after: i); n += 1 }
            return n
        }
        let intDigits = digits()
        var fracDigits = 0
        if i < s.endIndex, s[i] == "." {
            i = s.index(after: i)
            fracDigits = digits()
            if intDigits == 0 && fracDigits == 0 { return false }
        } else if intDigits == 0 {
            return false
        }
        if i < s.endIndex, s[i] == "e" || s[i] == "E" {
            i = s.index(after: i)
            if i < s.endIndex, s[i] == "+" || s[i] == "-" { i = s.index(after: i) }
            if digits() == 0 { return false }
        }
        return i == s.endIndex
    }

    /// YAML 1.1 booleans that a YAML 1.1 reader (PyYAML, the Python bcli) turns into true/false when
    /// used unquoted — as mapping keys they would silently become `True`/`False`.
    static let yaml11BooleanWords: Set<String> = [
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
        "true", "True", "TRUE", "false", "False", "FALSE",
        "on", "On", "ON", "off", "Off", "OFF",
    ]
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
