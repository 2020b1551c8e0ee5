extension JSONValue {
    /// Human-readable JSON for terminals and `diff`: keys in JCS order (UTF-16 code units), two
    /// spaces of indent, strings and numbers written exactly as the canonical form writes them, so
    /// it only differs from `canonicalString()` by whitespace. No trailing newline.
    ///
    /// Empty arrays and objects print as `[]` and `{}`. It never fails: a hand-built NaN or
    /// ±Infinity prints as `NaN`/`Infinity`/`-Infinity` (not valid JSON, but honest), whereas
    /// `canonicalBytes()` throws for them.
    public func prettyPrinted() -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        JSONPrettyPrinter.append(self, indent: 0, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

enum JSONPrettyPrinter {
    static func append(_ value: JSONValue, indent: Int, to out: inout [UInt8]) {
        switch value {
        case .null, .bool, .string:
            // Cannot throw: only numbers can.
            try? CanonicalJSON.append(value, to: &out)
        case .number(let d):
            ECMAScriptNumber.append(d, to: &out)
        case .array(let elements):
            guard !elements.isEmpty else {
                out.append(contentsOf: "[]".utf8)
                return
            }
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1, &out)
                append(element, indent: indent + 1, to: &out)
            }
            newline(indent, &out)
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            guard !members.isEmpty else {
                out.append(contentsOf: "{}".utf8)
                return
            }
            out.append(UInt8(ascii: "{"))
            for (i, member) in CanonicalJSON.sortedMembers(members).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1, &out)
                CanonicalJSON.appendString(member.key, to: &out)
                out.append(contentsOf: ": ".utf8)
                append(member.value, indent: indent + 1, to: &out)
            }
            newline(indent, &out)
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func newline(_ indent: Int, _ out: inout [UInt8]) {
        out.append(0x0A)
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * 2))
    }
}
