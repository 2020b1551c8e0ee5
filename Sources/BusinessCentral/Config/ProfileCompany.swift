import Foundation

extension Profile {
    /// The profile with its company chosen by `value` (`-c`/`--company`, `BCLI_COMPANY`), in
    /// this order: an alias of `[profiles.NAME.companies]` (exact, then ignoring case) → its id
    /// and name; a GUID → that id; anything else → a company *name*, with `companyID` cleared,
    /// for `CompanyResolver` to look up through the companies endpoint.
    ///
    /// Why a name is not an error here: the Python tool has no name lookup (an unknown alias is
    /// its exit 2), but a config-only rule cannot tell a name from a typo; the resolver can, and its
    /// error lists the aliases and the companies that exist.
    public func selectingCompany(_ value: String) throws(ConfigError) -> Profile {
        var copy = self
        if let alias = companies[value] ?? companies.first(where: { $0.key.lowercased() == value.lowercased() })?.value {
            copy.companyID = alias.id
            copy.companyName = alias.name.isEmpty ? value : alias.name
        } else if Self.isGUID(value) {
            copy.companyID = value
            copy.companyName = nil
        } else {
            copy.companyID = nil
            copy.companyName = value
        }
        return copy
    }

    /// True when the company is known only by name: `CompanyResolver.resolve` must run before a
    /// URL can be built.
    public var needsCompanyResolution: Bool {
        (companyID ?? "").isEmpty && !(companyName ?? "").isEmpty
    }

    /// `8-4-4-4-12` hexadecimal digits, optionally in braces.
    public static func isGUID(_ text: String) -> Bool {
        var t = Substring(text)
        if t.hasPrefix("{") && t.hasSuffix("}") { t = t.dropFirst().dropLast() }
        let groups = t.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.map(\.count) == [8, 4, 4, 4, 12] else { return false }
        return groups.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }
}

extension ConfigReader {
    /// Keys a project `.bcli.toml` may not set: where requests and tokens go. A repository's
    /// file must not be able to send a profile's secret or token to another host.
    static let projectForbiddenKeys = ["base_url", "token_url"]

    func checkProjectFile(_ root: TOMLTable) throws(ConfigError) {
        if root["remotes"] != nil {
            throw .invalidValue(
                path: path, line: root.line(of: "remotes"), table: "top level", key: "remotes",
                message: "a project .bcli.toml may not define remotes (it would decide where a hub password is sent); use `bcli batch remote add`, which writes your own config.toml")
        }
        guard case .table(let profiles)? = root["profiles"] else { return }
        for name in profiles.keys {
            guard case .table(let t)? = profiles[name] else { continue }
            for key in Self.projectForbiddenKeys where t[key] != nil {
                throw .invalidValue(
                    path: path, line: t.line(of: key), table: "profiles.\(name)", key: key,
                    message: "a project .bcli.toml may not set \(key) (it would decide where the profile's token is sent); set it in your own config.toml")
            }
        }
    }
}
