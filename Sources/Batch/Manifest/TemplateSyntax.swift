import Support
/// The `${{ … }}` reference syntax, shared by static validation and run-time resolution.
///
/// Grammar: `${{`, optional spaces, `params` or `steps`, then one or more `.segment` where a
/// segment is letters, digits, `_` or `-`, optional spaces, `}}`. Unlike the Python tool, which
/// left anything else (`${{ foo.x }}`) in the string literally, a malformed or unterminated
/// reference is an error: it is almost always a typo that would otherwise be sent to BC verbatim.
enum TemplateSyntax {
    static let opener = "${{"
    static let closer = "}}"

    struct ParsedReference: Hashable {
        let namespace: Reference.Namespace
        let name: String
        let path: [String]
        /// As written, `${{ … }}` included.
        let text: String
    }

    enum Part: Hashable {
        case literal(String)
        case reference(ParsedReference)
    }

    struct SyntaxError: Error, Hashable {
        let message: String
        let fix: String
        /// The offending text, to point at it within the line.
        let snippet: String
    }

    static func containsTemplate(_ s: String) -> Bool { s.contains(opener) }

    /// Splits `s` into literal text and references.
    static func parse(_ s: String) -> Result<[Part], SyntaxError> {
        var parts: [Part] = []
        var rest = Substring(s)
        while let open = rest.range(of: opener) {
            if open.lowerBound > rest.startIndex { parts.append(.literal(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].range(of: closer) else {
                let snippet = String(rest[open.lowerBound...].prefix(40))
                return .failure(SyntaxError(message: "unterminated reference '\(snippet)' (missing '}}')",
                                            fix: "close it with '}}', e.g. ${{ params.name }}", snippet: opener))
            }
            let text = String(rest[open.lowerBound..<close.upperBound])
            let inner = rest[open.upperBound..<close.lowerBound].trimmingSpaces()
            switch reference(inner, text: text) {
            case .success(let ref): parts.append(.reference(ref))
            case .failure(let e): return .failure(e)
            }
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.literal(String(rest))) }
        return .success(parts)
    }

    /// The reference when `s`, ignoring surrounding whitespace, is exactly one reference; such a
    /// value takes the referenced JSON type instead of being interpolated into a string.
    static func exactReference(_ parts: [Part]) -> ParsedReference? {
        var found: ParsedReference?
        for part in parts {
            switch part {
            case .literal(let text):
                if !text.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }) { return nil }
            case .reference(let ref):
                if found != nil { return nil }
                found = ref
            }
        }
        return found
    }

    private static func reference(_ inner: Substring, text: String) -> Result<ParsedReference, SyntaxError> {
        let segments = inner.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let namespace = segments.first ?? ""
        guard let ns = Reference.Namespace(rawValue: namespace) else {
            let guess = Suggestion.didYouMean(namespace, in: ["params", "steps"])
            return .failure(SyntaxError(message: "unknown reference '\(text)': references start with 'params.' or 'steps.'\(guess)",
                                        fix: "write ${{ params.<name> }} or ${{ steps.<step>.<field> }}", snippet: text))
        }
        guard segments.count >= 2 else {
            return .failure(SyntaxError(message: "reference '\(text)' names no \(ns == .params ? "param" : "step")",
                                        fix: ns == .params ? "write ${{ params.<name> }}" : "write ${{ steps.<step>.<field> }}",
                                        snippet: text))
        }
        for segment in segments.dropFirst() where !isSegment(segment) {
            let what = segment.isEmpty ? "an empty segment" : "the segment '\(segment)'"
            return .failure(SyntaxError(message: "malformed reference '\(text)': \(what) is not allowed",
                                        fix: "use dot-separated names of letters, digits, '_' or '-' (list items by index: steps.find.0.id)",
                                        snippet: text))
        }
        return .success(ParsedReference(namespace: ns, name: segments[1], path: Array(segments.dropFirst(2)), text: text))
    }

    static func isSegment<S: StringProtocol>(_ s: S) -> Bool {
        !s.isEmpty && s.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "_" || $0 == "-" }
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
