/// Why a URL could not be built.
public enum URLBuildError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `what` (e.g. "record id") is not a single path segment.
    case invalidPathComponent(what: String, value: String, reason: String)
    /// The entity set is not an OData identifier.
    case invalidEntitySet(String)
    /// An action target is neither `entitySet(key)/Namespace.action` nor `Namespace.action`.
    case invalidAction(target: String, reason: String)
    /// The profile has no `company_id`.
    case missingCompanyID(profile: String)
    /// The profile has no base URL (the built-in sandbox before it is started).
    case missingBaseURL(profile: String)

    public var description: String {
        switch self {
        case .invalidPathComponent(let what, let value, let reason):
            return "invalid \(what) `\(value)`: it \(reason). Give the id exactly as Business Central returns it (a GUID or a number such as C00030)."
        case .invalidEntitySet(let name):
            return "invalid entity set `\(name)`: expected an OData name such as customers or salesInvoices (letters, digits, `_`)."
        case .invalidAction(let target, let reason):
            return "invalid action `\(target)`: \(reason). Use `entitySet(id)/Microsoft.NAV.action` (bound) or `Namespace.action` (unbound)."
        case .missingCompanyID(let profile):
            return "profile `\(profile)` has no company_id; add company_id = \"<company GUID>\" under [profiles.\(profile)] in config.toml."
        case .missingBaseURL(let profile):
            return "profile `\(profile)` has no base URL; set base_url, or for the built-in sandbox set BCLI_SANDBOX_URL or start one in-process."
        }
    }
}

/// Builds Business Central API URLs. Pure functions: no I/O, easy to test.
///
/// Shapes:
/// - standard: `<base>/v2.0/<tenant>/<environment>/api/v2.0/companies(<company>)/<entitySet>[(<id>)]`
/// - custom:   `<base>/v2.0/<tenant>/<environment>/api/<publisher>/<group>/<version>/companies(…)/…`
/// - bound action:   `…/companies(<company>)/<entitySet>(<id>)/<Namespace.action>`
/// - unbound action: `…/companies(<company>)/<Namespace.action>`
public enum URLBuilder {
    /// `<base>/v2.0/<tenant>/<environment>/api/<route>` (no trailing slash).
    public static func apiRoot(profile: Profile, route: APIRoute? = nil) throws(URLBuildError) -> String {
        guard let base = profile.baseURL else { throw .missingBaseURL(profile: profile.name) }
        let tenant = try segment(profile.tenantID, what: "tenant_id")
        let environment = try segment(profile.environment, what: "environment")
        let routePath: String
        switch route ?? profile.defaultRoute {
        case .standard:
            routePath = "v2.0"
        case .custom(let publisher, let group, let version):
            routePath = [
                try segment(publisher, what: "API publisher"),
                try segment(group, what: "API group"),
                try segment(version, what: "API version"),
            ].joined(separator: "/")
        }
        return "\(base)/v2.0/\(tenant)/\(environment)/api/\(routePath)"
    }

    /// `…/api/<route>/companies(<company>)`.
    public static func companyURL(profile: Profile, route: APIRoute? = nil) throws(URLBuildError) -> String {
        guard let company = profile.companyID else { throw .missingCompanyID(profile: profile.name) }
        let root = try apiRoot(profile: profile, route: route)
        return "\(root)/companies(\(try segment(company, what: "company_id")))"
    }

    /// An entity set, or one record of it when `recordID` is given.
    public static func entityURL(
        profile: Profile, entitySet: String, recordID: String? = nil, route: APIRoute? = nil
    ) throws(URLBuildError) -> String {
        guard PathComponent.isIdentifier(entitySet) else { throw .invalidEntitySet(entitySet) }
        var url = "\(try companyURL(profile: profile, route: route))/\(entitySet)"
        if let recordID {
            url += "(\(try segment(recordID, what: "record id")))"
        }
        return url
    }

    /// A bound action: `…/<entitySet>(<id>)/<Namespace.action>`.
    public static func boundActionURL(
        profile: Profile, entitySet: String, recordID: String, action: String, route: APIRoute? = nil
    ) throws(URLBuildError) -> String {
        guard isQualifiedActionName(action) else {
            throw .invalidAction(target: action, reason: "the action name must be namespace-qualified, e.g. Microsoft.NAV.post")
        }
        let record = try entityURL(profile: profile, entitySet: entitySet, recordID: recordID, route: route)
        return "\(record)/\(action)"
    }

    /// An unbound action: `…/companies(<company>)/<Namespace.action>`.
    public static func unboundActionURL(
        profile: Profile, action: String, route: APIRoute? = nil
    ) throws(URLBuildError) -> String {
        guard isQualifiedActionName(action) else {
            throw .invalidAction(target: action, reason: "the action name must be namespace-qualified, e.g. Microsoft.NAV.post")
        }
        return "\(try companyURL(profile: profile, route: route))/\(action)"
    }

    /// True when `target` looks like an OData action (`entitySet(key)/Ns.action` or `Ns.action`)
    /// rather than an entity set name.
    public static func isActionTarget(_ target: String) -> Bool {
        target.contains(".")
    }

    /// Parses and builds an action target: `entitySet(key)/Namespace.action` or `Namespace.action`.
    public static func actionURL(profile: Profile, target: String, route: APIRoute? = nil) throws(URLBuildError) -> String {
        guard let slash = target.lastIndex(of: "/") else {
            return try unboundActionURL(profile: profile, action: target, route: route)
        }
        let head = target[..<slash]
        let action = String(target[target.index(after: slash)...])
        guard let open = head.firstIndex(of: "("), head.hasSuffix(")") else {
            throw .invalidAction(target: target, reason: "a bound action needs the record key in parentheses before the slash")
        }
        let entitySet = String(head[..<open])
        let key = String(head[head.index(after: open)..<head.index(before: head.endIndex)])
        return try boundActionURL(profile: profile, entitySet: entitySet, recordID: key, action: action, route: route)
    }

    /// `Namespace.action`: two or more identifiers joined by dots.
    static func isQualifiedActionName(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count >= 2 && parts.allSatisfy { PathComponent.isIdentifier(String($0)) }
    }

    /// OData query options, percent-encoded; `""` when none, else starting with `?`.
    /// Order is fixed ($filter, $select, $top, $skip, $orderby, $expand) so the same step always
    /// produces the same URL.
    public static func queryString(
        filter: String? = nil, select: String? = nil, top: Int? = nil, skip: Int? = nil,
        orderby: String? = nil, expand: String? = nil
    ) -> String {
        ODataQuery(filter: filter, select: select, top: top, skip: skip, orderby: orderby, expand: expand).queryString
    }

    private static func segment(_ value: String, what: String) throws(URLBuildError) -> String {
        if let reason = PathComponent.problem(value) {
            throw .invalidPathComponent(what: what, value: value, reason: reason)
        }
        return PathComponent.encode(value)
    }
}
