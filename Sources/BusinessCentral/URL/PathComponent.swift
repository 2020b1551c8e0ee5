import Foundation

/// Rules for values that go into one URL path segment (record ids, tenant, environment, company)
/// and for the base URL.
///
/// Why: a record id such as `../../companies(x)` or `1?$filter=…` must never change which resource
/// a request hits; an id is validated as ONE segment before it is put in a URL.
public enum PathComponent {
    /// Why `value` cannot be a single path segment, or `nil` when it can.
    public static func problem(_ value: String) -> String? {
        if value.isEmpty { return "is empty" }
        if value == "." || value == ".." { return "is a relative path segment (`.`/`..`)" }
        for scalar in value.unicodeScalars {
            if scalar.properties.isWhitespace { return "contains whitespace" }
            if scalar.value < 0x20 || scalar.value == 0x7F { return "contains a control character" }
            switch scalar {
            case "/", "\\": return "contains `\(scalar)` (it must be a single path segment)"
            case "?", "#": return "contains `\(scalar)` (it would start a query or fragment)"
            case "%": return "contains `%` (percent-escapes are not accepted; give the raw value)"
            default: continue
            }
        }
        return nil
    }

    /// Percent-encodes what RFC 3986 does not allow in a segment (pchar); a validated GUID or BC
    /// number comes out unchanged.
    public static func encode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: pcharAllowed) ?? value
    }

    /// RFC 3986 unreserved: letters, digits and `-._~`, never percent-encoded.
    static let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")

    /// RFC 3986 pchar = unreserved / sub-delims / ":" / "@".
    static let pcharAllowed = unreserved.union(CharacterSet(charactersIn: "!$&'()*+,;=:@"))

    /// True for an OData identifier (entity set or action name part): a letter or `_`, then
    /// letters, digits or `_`.
    public static func isIdentifier(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, isASCIILetter(first) || first == "_" else { return false }
        return s.unicodeScalars.allSatisfy { isASCIILetter($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    private static func isASCIILetter(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c)
    }
}

/// Rules for `base_url` / `token_url`.
public enum BaseURL {
    /// Why `raw` is not an acceptable base or token URL, or `nil`. Plain `http` is accepted only
    /// for loopback hosts (a local sandbox), so a bearer token never crosses a network in clear.
    public static func problem(_ raw: String) -> String? {
        guard let components = URLComponents(string: raw), let scheme = components.scheme?.lowercased() else {
            return "`\(raw)` is not a valid URL; expected e.g. https://api.businesscentral.dynamics.com"
        }
        guard scheme == "https" || scheme == "http" else {
            return "`\(raw)`: the scheme must be https (or http for a local sandbox)"
        }
        guard let host = components.host, !host.isEmpty else {
            return "`\(raw)` has no host"
        }
        if components.user != nil || components.password != nil {
            return "`\(raw)` must not contain a user name or password"
        }
        if components.query != nil || components.fragment != nil {
            return "`\(raw)` must not contain a query (?…) or fragment (#…)"
        }
        if scheme == "http" && !isLoopback(host) {
            return "`\(raw)` uses plain http to a non-loopback host; use https (http is allowed only for 127.0.0.1, ::1 or localhost)"
        }
        return nil
    }

    public static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return h == "localhost" || h == "::1" || h.hasPrefix("127.")
    }
}
