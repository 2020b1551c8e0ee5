import BusinessCentral

/// A step the profile's endpoint policy does not allow (see `PolicyGate`).
public struct PolicyRefusal: Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// `disable_standard_api = true` and the profile names no custom API.
        case standardAPIDisabled
        /// An entity set (or unbound action) outside `allowed_endpoints`/`allowed_categories`.
        case notAllowed(entitySet: String, category: EntityCategory?)
        /// The entity set's name comes from a `${{ }}` reference, so it cannot be checked before the run.
        case notKnownBeforeRun
    }

    public let seq: Int
    public let name: String
    public let endpoint: String
    public let reason: Reason

    public var description: String {
        let head = "step \(seq) '\(name)' (\(endpoint))"
        switch reason {
        case .standardAPIDisabled:
            return "\(head): the profile has disable_standard_api = true and names no custom API (api_publisher, api_group, api_version), so every step would use the standard API v2.0"
        case .notAllowed(let entitySet, let category):
            let cat = category.map { "category \($0.rawValue)" } ?? "no category in the standard catalogue"
            return "\(head): \(entitySet) (\(cat)) is not in allowed_endpoints or allowed_categories"
        case .notKnownBeforeRun:
            return "\(head): the entity set comes from a ${{ }} reference, so the endpoint policy cannot check it before the run; write its name literally"
        }
    }
}

/// The endpoint policy of a profile — `disable_standard_api`, `allowed_endpoints`,
/// `allowed_categories` — checked on the whole manifest before any request (a refusal is exit 8,
/// like the `disable_writes` gate).
///
/// Rules (the Python tool uses these keys only to filter its endpoint registry; bcli makes them a
/// policy):
/// - no key set: every step is allowed;
/// - `disable_standard_api = true`: every step is refused unless the profile names a custom API
///   (`api_publisher`/`api_group`/`api_version`), since without one every request goes to the
///   standard API v2.0;
/// - allow-lists: an entity set is allowed when `allowed_endpoints` lists it, or its category (from
///   `StandardCatalogue`) is in `allowed_categories`; with only one list given, only that list
///   applies. Names and categories match ignoring case. Every entity set on the step's path counts
///   (`salesOrders(…)/salesOrderLines` needs both), a bound action counts as its entity set, and an
///   unbound action (`Microsoft.NAV.x`) must itself be in `allowed_endpoints`;
/// - an entity-set name given by a `${{ }}` reference is refused while an allow-list is set: it
///   cannot be checked before the run.
public enum PolicyGate {
    public static func check(_ steps: [StepTemplate], profile: Profile) -> [PolicyRefusal] {
        check(steps.map { ($0.seq, $0.name, $0.endpoint) }, profile: profile)
    }

    /// The same, on (seq, name, endpoint as written) triples.
    public static func check(_ steps: [(seq: Int, name: String, endpoint: String)], profile: Profile) -> [PolicyRefusal] {
        guard profile.hasEndpointPolicy else { return [] }
        let endpoints = Set(profile.allowedEndpoints.map { $0.lowercased() })
        let categories = Set(profile.allowedCategories.map { $0.lowercased() })
        var refusals: [PolicyRefusal] = []
        for step in steps {
            func refuse(_ reason: PolicyRefusal.Reason) {
                refusals.append(PolicyRefusal(seq: step.seq, name: step.name, endpoint: step.endpoint, reason: reason))
            }
            if profile.disableStandardAPI, profile.defaultRoute == .standard {
                refuse(.standardAPIDisabled)
                continue
            }
            guard !endpoints.isEmpty || !categories.isEmpty else { continue }
            for name in names(in: step.endpoint) {
                if name.contains("${{") {
                    refuse(.notKnownBeforeRun)
                    break
                }
                let category = StandardCatalogue.category(of: name)
                let byName = endpoints.contains(name.lowercased())
                let byCategory = category.map { categories.contains($0.rawValue) } ?? false
                if !(byName || byCategory) {
                    refuse(.notAllowed(entitySet: name, category: category))
                    break
                }
            }
        }
        return refusals
    }

    /// The entity-set names on an endpoint's path (keys and bound actions dropped), or the
    /// action's name for an unbound action.
    static func names(in endpoint: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var depth = 0
        var braces = 0
        for c in endpoint {
            switch c {
            case "(": depth += 1
            case ")": depth -= 1
            case "{": braces += 1
            case "}": braces -= 1
            default: break
            }
            if c == "/" && depth == 0 && braces == 0 {
                parts.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        parts.append(current)
        var names: [String] = []
        for (index, part) in parts.enumerated() where !part.isEmpty {
            var name = part
            if !part.hasPrefix("${{"), let open = part.firstIndex(of: "(") { name = String(part[..<open]) }
            let isAction = !name.contains("${{") && name.contains(".")
            if isAction && (index > 0) { continue }  // bound action: its entity set is checked
            names.append(name)
        }
        return names
    }

    /// The exit-8 message for `refusals` on `profile`.
    public static func message(_ refusals: [PolicyRefusal], profile: String) -> String {
        let lines = refusals.prefix(10).map { "  \($0)" }
        let more = refusals.count > 10 ? ["  … and \(refusals.count - 10) more"] : []
        return (["refusing to run: \(refusals.count) step(s) are outside profile '\(profile)''s endpoint policy (disable_standard_api, allowed_endpoints, allowed_categories); nothing was sent"]
                + lines + more).joined(separator: "\n")
    }
}
