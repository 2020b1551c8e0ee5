/// A path segment of the API, e.g. `customers` or `customers(5f0c…)`.
struct ResourceSegment: Sendable, Equatable {
    var name: String
    var key: String?
}

/// Which API a URL addresses: the standard `v2.0` or a custom `{publisher}/{group}/{version}`.
enum APINamespace: Sendable, Equatable {
    case standard
    case custom(publisher: String, group: String, version: String)

    /// Prefix of entity-set names stored for this API (custom sets are kept apart from standard ones).
    var storagePrefix: String {
        switch self {
        case .standard: return ""
        case .custom(let p, let g, let v): return "\(p)/\(g)/\(v)/"
        }
    }
}

/// Where a request goes, decided from its method and path alone.
enum SandboxRoute: Sendable, Equatable {
    case token(tenant: String)
    /// `/{tenant}/oauth2/v2.0/devicecode`: the device authorization request.
    case deviceCode(tenant: String)
    case journal
    case faults
    case release
    case health
    case api(tenant: String?, environment: String, namespace: APINamespace, resources: [ResourceSegment])
    case notFound(segment: String)

    /// Parses a raw (percent-encoded) request path.
    ///
    /// Shapes: `/{tenant}/oauth2/v2.0/token` and `…/devicecode`; `/_sandbox/{journal|faults|release|health}`;
    /// `/v2.0/[{tenant}/]{environment}/api/v2.0/…` and `/v2.0/[{tenant}/]{environment}/api/{publisher}/{group}/{version}/…`.
    static func parse(path rawPath: String) throws(SandboxAPIError) -> SandboxRoute {
        let segments = rawPath.split(separator: "/", omittingEmptySubsequences: true)
            .map { FormDecoding.percentDecode($0, plusIsSpace: false) }
        guard let first = segments.first else { return .notFound(segment: "/") }
        if first == "_sandbox", segments.count == 2 {
            switch segments[1] {
            case "journal": return .journal
            case "faults": return .faults
            case "release": return .release
            case "health": return .health
            default: return .notFound(segment: segments[1])
            }
        }
        if segments.count == 4, segments[1] == "oauth2", segments[2] == "v2.0", segments[3] == "token" {
            return .token(tenant: first)
        }
        if segments.count == 4, segments[1] == "oauth2", segments[2] == "v2.0", segments[3] == "devicecode" {
            return .deviceCode(tenant: first)
        }
        guard first == "v2.0" else { return .notFound(segment: first) }
        guard let apiIndex = segments.firstIndex(of: "api") else {
            return .notFound(segment: segments.count > 1 ? segments[segments.count - 1] : first)
        }
        let prefix = segments[1..<apiIndex]
        let tenant: String?
        let environment: String
        switch prefix.count {
        case 1:
            tenant = nil
            environment = prefix[prefix.startIndex]
        case 2:
            tenant = prefix[prefix.startIndex]
            environment = prefix[prefix.startIndex + 1]
        default:
            return .notFound(segment: prefix.last ?? "api")
        }
        var rest = segments[(apiIndex + 1)...]
        let namespace: APINamespace
        if rest.first == "v2.0" {
            namespace = .standard
            rest = rest.dropFirst()
        } else if rest.count >= 3 {
            let p = rest[rest.startIndex], g = rest[rest.startIndex + 1], v = rest[rest.startIndex + 2]
            namespace = .custom(publisher: p, group: g, version: v)
            rest = rest.dropFirst(3)
        } else {
            return .notFound(segment: rest.first ?? "api")
        }
        var resources: [ResourceSegment] = []
        for segment in rest { resources.append(try parseSegment(segment)) }
        return .api(tenant: tenant, environment: environment, namespace: namespace, resources: resources)
    }

    /// `name` or `name(key)`; a key may be a bare GUID or `id=GUID`.
    static func parseSegment(_ text: String) throws(SandboxAPIError) -> ResourceSegment {
        guard let open = text.firstIndex(of: "(") else { return ResourceSegment(name: text, key: nil) }
        guard text.hasSuffix(")") else { throw .badRequest("Bad Request - Error in query syntax: '\(text)'.") }
        let name = String(text[..<open])
        var key = String(text[text.index(after: open)..<text.index(before: text.endIndex)]).trimmingWhitespace
        if key.hasPrefix("id=") { key = String(key.dropFirst(3)) }
        return ResourceSegment(name: name, key: key)
    }
}
