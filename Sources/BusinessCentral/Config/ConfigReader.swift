import Foundation
import Support

/// Turns TOML tables into `BCConfig.Defaults` and `Profile`s, strictly: unknown keys and
/// wrongly typed values are errors that name the file, line, key and fix.
struct ConfigReader {
    let path: String

    /// `format` and `page_size` (the Python tool's) are not accepted: bcli has no use for them, and
    /// a key that is read but ignored would mislead (use `--format` on each command).
    static let defaultsKeys = ["profile", "timeout"]
    static let profileKeys = [
        "tenant_id", "environment", "company_id", "auth_method", "client_id", "client_secret_env",
        "disable_writes", "api_publisher", "api_group", "api_version", "base_url", "token_url", "timeout",
    ]

    func checkKeys(_ table: TOMLTable, table name: String, valid: [String]) throws(ConfigError) {
        for key in table.keys where !valid.contains(key) {
            throw .unknownKey(
                path: path, line: table.line(of: key), table: name, key: key, valid: valid,
                suggestion: Suggestion.closest(to: key, in: valid))
        }
    }

    func table(_ value: TOMLValue, in parent: String, key: String, line: Int?) throws(ConfigError) -> TOMLTable {
        guard case .table(let t) = value else {
            throw .invalidValue(
                path: path, line: line, table: parent, key: key,
                message: "expected a table ([\(parent == "top level" ? key : "\(parent).\(key)")]), got \(value.typeName)")
        }
        return t
    }

    func defaults(_ t: TOMLTable) throws(ConfigError) -> BCConfig.Defaults {
        try checkKeys(t, table: "defaults", valid: Self.defaultsKeys)
        var d = BCConfig.Defaults()
        d.profile = try string(t, "profile", table: "defaults")
        d.timeoutSeconds = try timeout(t, table: "defaults")
        return d
    }

    func profile(named name: String, _ t: TOMLTable, defaults: BCConfig.Defaults) throws(ConfigError) -> Profile {
        let table = "profiles.\(name)"
        try checkKeys(t, table: table, valid: Self.profileKeys)

        guard let tenant = try string(t, "tenant_id", table: table), !tenant.isEmpty else {
            throw .missingKey(path: path, profile: name, key: "tenant_id")
        }
        guard let environment = try string(t, "environment", table: table), !environment.isEmpty else {
            throw .missingKey(path: path, profile: name, key: "environment")
        }

        var authMethod = AuthMethod.clientCredentials
        if let raw = try string(t, "auth_method", table: table) {
            let normalized = raw.replacingOccurrences(of: "-", with: "_")
            guard let method = AuthMethod(rawValue: normalized) else {
                let valid = AuthMethod.allCases.map(\.rawValue).joined(separator: " | ")
                let extra = ["browser", "device_code"].contains(normalized)
                    ? " (interactive sign-in is not supported; use client_credentials, or static_token with BCLI_TOKEN)" : ""
                throw invalid(t, "auth_method", table, "`\(raw)` is not a supported auth method\(extra); use \(valid)")
            }
            authMethod = method
        }

        let secretEnv = try string(t, "client_secret_env", table: table)
        if let secretEnv, !Self.isEnvironmentVariableName(secretEnv) {
            throw invalid(
                t, "client_secret_env", table,
                "must be the NAME of an environment variable (letters, digits, `_`), not the secret itself; e.g. client_secret_env = \"BC_PROD_SECRET\"")
        }

        let publisher = try string(t, "api_publisher", table: table)
        let group = try string(t, "api_group", table: table)
        let version = try string(t, "api_version", table: table)
        let routeKeys = [publisher, group, version].compactMap { $0 }
        if !routeKeys.isEmpty && routeKeys.count != 3 {
            let missing = [("api_publisher", publisher), ("api_group", group), ("api_version", version)]
                .filter { $0.1 == nil }.map(\.0).joined(separator: ", ")
            throw .invalidValue(
                path: path, line: t.line(of: "api_publisher") ?? t.line(of: "api_group") ?? t.line(of: "api_version"),
                table: table, key: "api_publisher/api_group/api_version",
                message: "a custom API route needs all three keys; add \(missing)")
        }
        for (key, value) in [("api_publisher", publisher), ("api_group", group), ("api_version", version)] {
            if let value, let problem = PathComponent.problem(value) {
                throw invalid(t, key, table, "`\(value)` \(problem)")
            }
        }

        let baseURL = try url(t, "base_url", table: table)
        let tokenURL = try url(t, "token_url", table: table)
        let timeout = try timeout(t, table: table) ?? defaults.timeoutSeconds ?? Profile.defaultTimeoutSeconds

        return Profile(
            name: name,
            tenantID: tenant,
            environment: environment,
            companyID: try string(t, "company_id", table: table),
            authMethod: authMethod,
            clientID: try string(t, "client_id", table: table),
            clientSecretEnv: secretEnv,
            disableWrites: try bool(t, "disable_writes", table: table) ?? false,
            apiPublisher: publisher,
            apiGroup: group,
            apiVersion: version,
            baseURL: baseURL ?? Profile.defaultBaseURL,
            tokenURL: tokenURL,
            timeoutSeconds: timeout
        )
    }

    // MARK: Typed accessors

    func string(_ t: TOMLTable, _ key: String, table: String) throws(ConfigError) -> String? {
        guard let value = t[key] else { return nil }
        guard case .string(let s) = value else {
            throw invalid(t, key, table, "expected a string (in double quotes), got \(value.typeName)")
        }
        return s
    }

    func bool(_ t: TOMLTable, _ key: String, table: String) throws(ConfigError) -> Bool? {
        guard let value = t[key] else { return nil }
        guard case .boolean(let b) = value else {
            throw invalid(t, key, table, "expected true or false (unquoted), got \(value.typeName)")
        }
        return b
    }

    func integer(_ t: TOMLTable, _ key: String, table: String) throws(ConfigError) -> Int64? {
        guard let value = t[key] else { return nil }
        guard case .integer(let i) = value else {
            throw invalid(t, key, table, "expected an integer, got \(value.typeName)")
        }
        return i
    }

    func timeout(_ t: TOMLTable, table: String) throws(ConfigError) -> Double? {
        guard let value = t["timeout"] else { return nil }
        let seconds: Double
        switch value {
        case .integer(let i): seconds = Double(i)
        case .float(let f): seconds = f
        default: throw invalid(t, "timeout", table, "expected a number of seconds, got \(value.typeName)")
        }
        guard seconds.isFinite, seconds > 0, seconds <= 86_400 else {
            throw invalid(t, "timeout", table, "must be a positive number of seconds, at most 86400")
        }
        return seconds
    }

    func url(_ t: TOMLTable, _ key: String, table: String) throws(ConfigError) -> String? {
        guard let raw = try string(t, key, table: table) else { return nil }
        if let problem = BaseURL.problem(raw) {
            throw invalid(t, key, table, problem)
        }
        return Profile.trimTrailingSlashes(raw)
    }

    func invalid(_ t: TOMLTable, _ key: String, _ table: String, _ message: String) -> ConfigError {
        .invalidValue(path: path, line: t.line(of: key), table: table, key: key, message: message)
    }

    static func isEnvironmentVariableName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return s.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_"
        }
    }
}
