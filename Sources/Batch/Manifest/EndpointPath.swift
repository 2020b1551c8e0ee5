/// A step's `endpoint`, parsed into the shapes Business Central's API v2.0 accepts below
/// `companies({id})/`:
///
/// | written | shape |
/// |---|---|
/// | `customers` | an entity set |
/// | `purchaseInvoices(<id>)/purchaseInvoiceLines` | an entity set reached through a parent record |
/// | `purchaseInvoices(<id>)/Microsoft.NAV.post` | a bound action |
/// | `Microsoft.NAV.someAction` | an unbound action |
///
/// The record a GET/PATCH/DELETE targets is given by the step's `id`, never inside the endpoint.
/// Keys are checked to be a single path component (no `/ \ ? #`, not `.` or `..`), so a value
/// pulled from a reference cannot redirect the request elsewhere.
public struct EndpointPath: Sendable, Hashable, CustomStringConvertible {
    public struct Segment: Sendable, Hashable {
        public let entitySet: String
        /// The parent record's key, e.g. a GUID; nil on the last segment.
        public let key: String?
    }

    /// Entity-set navigation; empty for an unbound action.
    public let segments: [Segment]
    /// `Microsoft.NAV.post` for bound and unbound actions.
    public let action: String?

    /// Bound or unbound OData action (invoked with POST).
    public var isAction: Bool { action != nil }
    /// The entity set the request addresses (the last segment), nil for an unbound action.
    public var entitySet: String? { action == nil ? segments.last?.entitySet : nil }

    /// The endpoint in canonical text form (as the URL path below `companies({id})/`).
    public var description: String {
        var parts = segments.map { s in s.key.map { "\(s.entitySet)(\($0))" } ?? s.entitySet }
        if let action { parts.append(action) }
        return parts.joined(separator: "/")
    }

    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public let message: String
        public let fix: String
        public var description: String { "\(message); \(fix)" }
    }

    public static func parse(_ text: String) -> Result<EndpointPath, ParseError> {
        func fail(_ m: String, _ f: String) -> Result<EndpointPath, ParseError> { .failure(ParseError(message: m, fix: f)) }
        if text.isEmpty { return fail("endpoint is empty", "name an entity set, e.g. endpoint: customers") }
        let lower = text.lowercased()
        if lower.hasPrefix("http:") || lower.hasPrefix("https:") || text.hasPrefix("/") || lower.hasPrefix("companies(") {
            return fail("endpoint '\(text)' must be relative to the company",
                        "write only the part after companies({id})/, e.g. endpoint: customers")
        }
        if text.contains("?") || text.contains("#") {
            return fail("endpoint '\(text)' contains a query string",
                        "put query options under the step's params: (filter, select, top, skip, orderby, expand)")
        }
        let parts = splitOutsideParentheses(text)
        var segments: [Segment] = []
        var action: String?
        for (index, part) in parts.enumerated() {
            let isLast = index == parts.count - 1
            if part.isEmpty { return fail("endpoint '\(text)' has an empty path segment", "remove the doubled or trailing '/'") }
            if let open = part.firstIndex(of: "(") {
                guard part.hasSuffix(")") else {
                    return fail("endpoint segment '\(part)' is malformed", "write entitySet(key), e.g. purchaseInvoices(<id>)/purchaseInvoiceLines")
                }
                let name = String(part[..<open])
                let key = String(part[part.index(after: open)..<part.index(before: part.endIndex)])
                guard isIdentifier(name) else {
                    return fail("'\(name)' is not a valid entity set name", "use the entity set's name as in the API, e.g. customers")
                }
                if let problem = keyProblem(key) {
                    return fail("key '\(key)' in endpoint '\(text)' \(problem)", "give a single record id, e.g. a GUID")
                }
                if isLast {
                    return fail("endpoint '\(text)' addresses a single record",
                                "write endpoint: \(name) and put the record id in id: \(key)")
                }
                segments.append(Segment(entitySet: name, key: key))
            } else if part.contains(".") {
                guard isLast else {
                    return fail("action '\(part)' must be the last part of endpoint '\(text)'", "remove what follows the action")
                }
                guard part.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ isIdentifier(String($0)) }),
                      part.split(separator: ".").count >= 2 else {
                    return fail("'\(part)' is not a valid action name", "write Namespace.action, e.g. Microsoft.NAV.post")
                }
                action = String(part)
            } else {
                guard isIdentifier(String(part)) else {
                    return fail("'\(part)' is not a valid entity set name", "use the entity set's name as in the API, e.g. customers")
                }
                guard isLast else {
                    return fail("entity set '\(part)' in endpoint '\(text)' needs a key to navigate further",
                                "write \(part)(<id>)/… to reach records under one \(part) record")
                }
                segments.append(Segment(entitySet: String(part), key: nil))
            }
        }
        return .success(EndpointPath(segments: segments, action: action))
    }

    /// `customers(<id>)` → (`customers`, `<id>`); `parent(<p>)/children(<id>)` →
    /// (`parent(<p>)/children`, `<id>`): an endpoint whose last segment addresses one record, split
    /// into the collection and the record key, as the step's `id:` gives it. Nil when the last
    /// segment has no key. The parts are not validated here (`parse` and `keyProblem` do that).
    public static func splitRecordKey(_ text: String) -> (collection: String, key: String)? {
        let parts = splitOutsideParentheses(text)
        guard let last = parts.last, last.hasSuffix(")"), let open = last.firstIndex(of: "("), open != last.startIndex else {
            return nil
        }
        let name = last[..<open]
        let key = last[last.index(after: open)..<last.index(before: last.endIndex)]
        let prefix = parts.dropLast().map(String.init)
        return ((prefix + [String(name)]).joined(separator: "/"), String(key))
    }

    /// Why `key` cannot be one path component, or nil when it can.
    static func keyProblem(_ key: String) -> String? {
        if key.isEmpty { return "is empty" }
        if key == "." || key == ".." { return "is '\(key)'" }
        if let bad = key.first(where: { "/\\?#()".contains($0) || $0.isWhitespace || $0.isNewline }) {
            return "contains '\(bad == "\n" ? "\\n" : String(bad))'"
        }
        return nil
    }

    static func isIdentifier(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic || first == "_" else { return false }
        return s.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") }
    }

    /// Splits at `/` except inside parentheses (a quoted key may not contain `/` anyway, but the
    /// error is clearer when the segment stays whole).
    private static func splitOutsideParentheses(_ s: String) -> [Substring] {
        var parts: [Substring] = []
        var depth = 0
        var start = s.startIndex
        for i in s.indices {
            switch s[i] {
            case "(": depth += 1
            case ")": depth -= 1
            case "/" where depth == 0:
                parts.append(s[start..<i])
                start = s.index(after: i)
            default: break
            }
        }
        parts.append(s[start...])
        return parts
    }
}
