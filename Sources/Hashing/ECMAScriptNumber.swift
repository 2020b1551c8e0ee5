/// ECMAScript's `Number.prototype.toString` (ECMA-262 Number::toString, radix 10) for doubles.
///
/// Why: RFC 8785 (JCS) prescribes exactly this text for numbers, and Swift's own `description`
/// differs in layout (`1e+20` where ECMAScript writes `100000000000000000000`, `1e-07` where it
/// writes `1e-7`). We take Swift's shortest round-trip digits (which, like ECMAScript, pick the
/// candidate closest to the exact value) and lay them out per the ECMA-262 steps.
public enum ECMAScriptNumber {
    /// The ECMAScript string for `value`. `-0` gives `"0"`; non-finite values give `"NaN"`,
    /// `"Infinity"` and `"-Infinity"` as ECMAScript does (JCS rejects those before calling this).
    public static func format(_ value: Double) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(26)
        append(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the ECMAScript form of `value` as ASCII bytes; the encoder's allocation-light path.
    static func append(_ value: Double, to out: inout [UInt8]) {
        if value.isNaN {
            out.append(contentsOf: "NaN".utf8)
            return
        }
        if value.isInfinite {
            out.append(contentsOf: (value < 0 ? "-Infinity" : "Infinity").utf8)
            return
        }
        if value == 0 {  // both +0 and -0
            out.append(UInt8(ascii: "0"))
            return
        }
        // Fast path: integers below 2^53 are exact and ECMAScript prints them plainly.
        if value.magnitude < 9_007_199_254_740_992, value == value.rounded(.towardZero) {
            appendInteger(Int64(value), to: &out)
            return
        }
        if value < 0 { out.append(UInt8(ascii: "-")) }
        let (digits, n) = shortestDigits(value.magnitude)
        layout(digits: digits, n: n, to: &out)
    }

    private static func appendInteger(_ v: Int64, to out: inout [UInt8]) {
        out.append(contentsOf: String(v).utf8)  // ≤ 17 chars: a small string, no allocation
    }

    /// The shortest round-trip decimal digits `s` (no leading/trailing zeros, k = s.count) and the
    /// exponent `n` such that value = 0.s × 10^n, i.e. s × 10^(n−k) — ECMA-262's k, n and s.
    /// Extracted from Swift's `description`, whatever layout it chose ("1.25e-07", "100.0", "0.001").
    static func shortestDigits(_ magnitude: Double) -> (digits: [UInt8], n: Int) {
        var digits: [UInt8] = []
        digits.reserveCapacity(17)
        var digitsBeforePoint = 0
        var seenPoint = false
        var exponent = 0
        var exponentNegative = false
        var inExponent = false
        for byte in magnitude.description.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if inExponent {
                    exponent = exponent * 10 + Int(byte &- UInt8(ascii: "0"))
                } else {
                    digits.append(byte)
                    if !seenPoint { digitsBeforePoint += 1 }
                }
            case UInt8(ascii: "."):
                seenPoint = true
            case UInt8(ascii: "e"), UInt8(ascii: "E"):
                inExponent = true
            case UInt8(ascii: "-"):
                exponentNegative = true  // only reachable inside the exponent: magnitude >= 0
            default:
                break  // "+"
            }
        }
        if exponentNegative { exponent = -exponent }
        // Drop leading zeros ("0.001" → "1", each one moves the point left) and trailing zeros.
        var lead = 0
        while lead < digits.count - 1, digits[lead] == UInt8(ascii: "0") { lead += 1 }
        var end = digits.count
        while end > lead + 1, digits[end - 1] == UInt8(ascii: "0") { end -= 1 }
        let n = digitsBeforePoint - lead + exponent
        return (Array(digits[lead..<end]), n)
    }

    /// ECMA-262 Number::toString steps 6–10 for a positive value 0.digits × 10^n.
    static func layout(digits: [UInt8], n: Int, to out: inout [UInt8]) {
        let k = digits.count
        let zero = UInt8(ascii: "0")
        if k <= n && n <= 21 {
            out.append(contentsOf: digits)
            out.append(contentsOf: repeatElement(zero, count: n - k))
        } else if 0 < n && n <= 21 {
            out.append(contentsOf: digits[0..<n])
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: digits[n...])
        } else if -6 < n && n <= 0 {
            out.append(zero)
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: repeatElement(zero, count: -n))
            out.append(contentsOf: digits)
        } else {
            out.append(digits[0])
            if k > 1 {
                out.append(UInt8(ascii: "."))
                out.append(contentsOf: digits[1...])
            }
            out.append(UInt8(ascii: "e"))
            let e = n - 1
            out.append(e < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
            out.append(contentsOf: String(e.magnitude).utf8)
        }
    }
}
