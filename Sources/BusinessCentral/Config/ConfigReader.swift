import Foundation
import Support

/// Turns TOML tables into `BCConfig.Defaults` and `Profile`s, strictly: unknown keys and
/// wrongly typed values are errors that name the file, line, key and fix.
struct ConfigReader {
    let path: String

    /// Top-level tables bcli reads.
    static let topLevelKeys = ["defaults", "profiles", "remotes"]
    /// Top-level tables of the Python tool's features bcli does not have: accepted (so its files
    /// load) with any content, never read; `bcli config check` lists them as not used.
    static let notUsedTables = ["telemetry", "audit", "extract", "context", "ask", "etl", "agent"]
    /// bcli's own rate-limit keys (the Python tool has none), in `[defaults]` and in a profile.
    static let rateLimitKeys = ["rate_limit_requests", "rate_limit_window_seconds", "rate_limit_concurrent"]
    static let defaultsKeys = ["profile", "format", "page_size", "timeout"] + rateLimitKeys
    static let profileKeys = [
        "tenant_id", "environment", "company_id", "company_name", "companies", "auth_method", "client_id",
        "client_secret_env", "disable_writes", "disable_standard_api", "allowed_categories", "allowed_endpoints",
        "api_publisher", "api_group", "api_version", "base_url", "token_url", "timeout",
    ] + rateLimitKeys
    static let companyAliasKeys = ["id", "name"]
    /// The Python tool's output format names (`[defaults] format`, `BCLI_FORMAT`).
    static let formatNames = ["table", "markdown", "md", "records", "record", "r", "vertical", "json", "csv", "ndjson", "raw"]

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
        d.timeoutSeconds = try timeout(t, table: "defaults", quotedNumbers: true)
        if let format = try string(t, "format", table: "defaults") {
            d.format = try Self.checkFormat(format) { m throws(ConfigError) in throw invalid(t, "format", "defaults", m) }
        }
        if t["page_size"] != nil {
            guard let size = quotedOrInteger(t["page_size"]!), (1...100_000).contains(size) else {
                throw invalid(t, "page_size", "defaults", "expected a whole number of records from 1 to 100000, got \(Self.describe(t["page_size"]!))")
            }
            d.pageSize = Int(size)
        }
        try readRateLimit(t, table: "defaults", into: &d)
        return d
    }

    /// Reads the `rate_limit_*` keys of `t` over what `d` holds. Strict: whole numbers in range,
    /// 0 turning the window or the cap off.
    func readRateLimit(_ t: TOMLTable, table: String, into d: inout BCConfig.Defaults) throws(ConfigError) {
        if let n = try integer(t, "rate_limit_requests", table: table) {
            guard (0...Int64(RateLimit.maxRequests)).contains(n) else {
                throw invalid(t, "rate_limit_requests", table,
                              "expected requests per window from 1 to \(RateLimit.maxRequests), or 0 for no window; got \(n). Business Central allows 6000 per 300 s")
            }
            d.rateLimitRequests = Int(n)
        }
        if let value = t["rate_limit_window_seconds"] {
            let seconds: Double
            switch value {
            case .integer(let i): seconds = Double(i)
            case .float(let f): seconds = f
            default: throw invalid(t, "rate_limit_window_seconds", table, "expected a number of seconds, got \(value.typeName)")
            }
            guard seconds.isFinite, seconds >= 0.001, seconds <= RateLimit.maxWindowSeconds else {
                throw invalid(t, "rate_limit_window_seconds", table,
                              "must be a positive number of seconds, at most \(Int(RateLimit.maxWindowSeconds)); Business Central's window is 300. To turn the window off, set rate_limit_requests = 0")
            }
            d.rateLimitWindowSeconds = seconds
        }
        if let n = try integer(t, "rate_limit_concurrent", table: table) {
            guard (0...Int64(RateLimit.maxConcurrent)).contains(n) else {
                throw invalid(t, "rate_limit_concurrent", table,
                              "expected requests at once from 1 to \(RateLimit.maxConcurrent), or 0 for no cap; got \(n). Business Central runs 5 per user")
            }
            d.rateLimitConcurrent = Int(n)
        }
    }

    /// `value` when it is one of the Python tool's format names; else `fail` with the fix.
    static func checkFormat(_ value: String, fail: (String) throws(ConfigError) -> Never) throws(ConfigError) -> String {
        let lowered = value.lowercased()
        if formatNames.contains(lowered) { return lowered }
        let hint = Suggestion.closest(to: lowered, in: formatNames).map { " Did you mean `\($0)`?" } ?? ""
        try fail("`\(value)` is not an output format.\(hint) Use one of \(formatNames.joined(separator: ", "))")
    }

    static func describe(_ value: TOMLValue) -> String {
        switch value {
        case .string(let s): return "\"\(s)\""
        case .integer(let i): return String(i)
        case .float(let f): return String(f)
        case .boolean(let b): return String(b)
        default: return value.typeName
        }
    }

    /// An integer, or a string holding one: the Python tool's `config set` writes `page_size = "100"`.
    func quotedOrInteger(_ value: TOMLValue) -> Int64? {
        switch value {
        case .integer(let i): return i
        case .string(let s): return Int64(s.trimmingCharacters(in: .whitespaces))
        default: return nil
        }
    }

    func profile(named name: String, _ t: TOMLTable, defaults: BCConfig.Defaults) throws(ConfigError) -> Profile {
        let table = "profiles.\(name)"
        if t["client_secret"] != nil {
            throw invalid(
                t, "client_secret", table,
                "a client secret must not be written in the config file. Delete this line, put the secret in an environment variable and name it: client_secret_env = \"BCLI_SECRET\" (then `export BCLI_SECRET=…`). The secret has been on disk: consider rotating it")
        }
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
                let hint = Suggestion.closest(to: normalized, in: AuthMethod.allCases.map(\.rawValue)).map { " Did you mean `\($0)`?" } ?? ""
                throw invalid(t, "auth_method", table, "`\(raw)` is not a supported auth method.\(hint) Use \(valid)")
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

        var profile = Profile(
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
        profile.companyName = try string(t, "company_name", table: table)
        if let value = t["companies"] {
            let aliases = try self.table(value, in: table, key: "companies", line: t.line(of: "companies"))
            for alias in aliases.keys {
                let aliasTable = "\(table).companies.\(alias)"
                let a = try self.table(aliases[alias]!, in: "\(table).companies", key: alias, line: aliases.line(of: alias))
                try checkKeys(a, table: aliasTable, valid: Self.companyAliasKeys)
                guard let id = try string(a, "id", table: aliasTable), !id.isEmpty else {
                    throw .invalidValue(path: path, line: aliases.line(of: alias), table: aliasTable, key: "id",
                                        message: "a company alias needs the company's id: add id = \"<company GUID>\"")
                }
                profile.companies[alias] = CompanyAlias(id: id, name: try string(a, "name", table: aliasTable) ?? "")
            }
        }
        profile.disableStandardAPI = try bool(t, "disable_standard_api", table: table) ?? false
        profile.allowedCategories = try stringList(t, "allowed_categories", table: table)
        profile.allowedEndpoints = try stringList(t, "allowed_endpoints", table: table)
        profile.defaultFormat = defaults.format
        profile.pageSize = defaults.pageSize ?? Profile.defaultPageSize
        var limits = defaults
        try readRateLimit(t, table: table, into: &limits)
        profile.rateLimit = limits.rateLimit
        return profile
    }

    /// An array of strings (an absent key is an empty list).
    func stringList(_ t: TOMLTable, _ key: String, table: String) throws(ConfigError) -> [String] {
        guard let value = t[key] else { return [] }
        guard case .array(let items) = value else {
            throw invalid(t, key, table, "expected an array of strings, e.g. [\"customers\", \"vendors\"], got \(value.typeName)")
        }
        var result: [String] = []
        for item in items {
            guard case .string(let s) = item else {
                throw invalid(t, key, table, "expected an array of strings (in double quotes), found \(item.typeName)")
            }
            result.append(s)
        }
        return result
    }

    // MARK: Typed accessors

    /// The value of `key` when `extract` accepts it, nil when the key is absent, else the error
    /// naming what was `expected`: the one shape of every typed accessor below.
    private func typed<T>(_ t: TOMLTable, _ key: String, _ table: String, expected: String,
                          _ extract: (TOMLValue) -> T?) throws(ConfigError) -> T? {
        guard let value = t[key] else { return nil }
        guard let typed = extract(value) else {
            throw invalid(t, key, table, "expected \(expected), got \(value.typeName)")
        }
        return typed
    }

    func string(_ t: TOMLTable, _ key: String, table: String) throws(ConfigError) -> String? {
        try typed(t, key, table, expected: "a string (in double quotes)") { if case .string(let s) = $0 { s } else { nil } }
    }

    func bool(_ t: TOMLTable, _ key: String, table: String) throws(ConfigError) -> Bool? {
        try typed(t, key, table, expected: "true or false (unquoted)") { if case .boolean(let b) = $0 { b } else { nil } }
    }

    func integer(_ t: TOMLTable, _ key: String, table: String) throws(ConfigError) -> Int64? {
        try typed(t, key, table, expected: "an integer") { if case .integer(let i) = $0 { i } else { nil } }
    }

    /// `quotedNumbers`: also a string holding a number (the Python tool's `config set` writes
    /// `timeout = "45"` in [defaults]).
    func timeout(_ t: TOMLTable, table: String, quotedNumbers: Bool = false) throws(ConfigError) -> Double? {
        guard let value = t["timeout"] else { return nil }
        let seconds: Double
        switch value {
        case .integer(let i): seconds = Double(i)
        case .float(let f): seconds = f
        case .string(let s) where quotedNumbers && Double(s.trimmingCharacters(in: .whitespaces)) != nil:
            seconds = Double(s.trimmingCharacters(in: .whitespaces))!
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
