import Hashing

/// What `batch diff` ignores by default: values the server changes on every run although the
/// data is the same, so two identical re-runs compare equal.
///
/// - members named `@odata.etag`, `lastModifiedDateTime`, `systemCreatedAt`, `id`, `systemId` (at any depth);
/// - string values equal to an id the server generated during that run (the `id`/`systemId` of a
///   record a POST created), and such ids inside longer strings (URLs, filters, messages);
/// - the correlation id BC appends to error messages (`CorrelationId: <uuid>`).
///
/// `--include-volatile` turns all of this off.
public struct VolatileFields: Sendable {
    /// Members skipped wherever they appear.
    public static let memberNames: Set<String> = ["@odata.etag", "lastModifiedDateTime", "systemCreatedAt", "id", "systemId"]
    /// What a server-generated id is shown as once normalised.
    public static let idPlaceholder = "{server-id}"
    static let correlationMarker = "CorrelationId: "
    static let correlationPlaceholder = "CorrelationId: {volatile}"

    /// Ids the server generated in this run (lowercased).
    public let serverIDs: Set<String>

    public init(serverIDs: Set<String>) {
        self.serverIDs = Set(serverIDs.map { $0.lowercased() })
    }

    public static let none = VolatileFields(serverIDs: [])

    /// The ids a run's server generated: `id` and `systemId` of the bodies its successful POSTs
    /// returned (a GET of an existing record returns ids that are stable, so they are not here).
    public static func serverIDs(postResponses: [JSONValue]) -> Set<String> {
        var out = Set<String>()
        for body in postResponses {
            for key in ["id", "systemId"] {
                if let s = body[key]?.stringValue, !s.isEmpty { out.insert(s.lowercased()) }
            }
        }
        return out
    }

    /// `text` with volatile parts replaced by placeholders: the whole string when it is a server
    /// id, GUIDs inside it that are server ids, and the correlation id of a BC error message.
    public func normalise(_ text: String) -> String {
        if serverIDs.contains(text.lowercased()) { return Self.idPlaceholder }
        var out = text
        if !serverIDs.isEmpty, text.utf8.count >= 36 { out = replaceServerGUIDs(out) }
        if out.contains(Self.correlationMarker) { out = Self.maskCorrelationIDs(out) }
        return out
    }

    /// Replaces every GUID-shaped token that is one of `serverIDs` with the placeholder.
    func replaceServerGUIDs(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        var changed = false
        while i < bytes.count {
            if i + 36 <= bytes.count, Self.isGUID(bytes, at: i),
               i == 0 || !Self.isHex(bytes[i - 1]), i + 36 == bytes.count || !Self.isHex(bytes[i + 36]) {
                let token = String(decoding: bytes[i..<(i + 36)], as: UTF8.self).lowercased()
                if serverIDs.contains(token) {
                    out.append(contentsOf: Self.idPlaceholder.utf8)
                    i += 36
                    changed = true
                    continue
                }
            }
            out.append(bytes[i])
            i += 1
        }
        return changed ? String(decoding: out, as: UTF8.self) : text
    }

    /// `… CorrelationId: 8c1f….` → `… CorrelationId: {volatile}.`
    static func maskCorrelationIDs(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        while let r = rest.firstRange(of: correlationMarker) {
            out += rest[..<r.lowerBound]
            out += correlationPlaceholder
            var tail = rest[r.upperBound...]
            while let c = tail.first, c.isHexDigit || c == "-" { tail = tail.dropFirst() }
            rest = tail
        }
        out += rest
        return out
    }

    static func isHex(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46)
    }

    /// 8-4-4-4-12 hex digits at `i`.
    static func isGUID(_ b: [UInt8], at i: Int) -> Bool {
        for k in 0..<36 {
            let c = b[i + k]
            if k == 8 || k == 13 || k == 18 || k == 23 {
                if c != 0x2D { return false }
            } else if !isHex(c) {
                return false
            }
        }
        return true
    }
}
