import Foundation
import Support

/// The parsed config file plus the built-in profiles, and the rules for picking one.
///
/// Layers, as the Python tool reads them: the global file, then a project `.bcli.toml` (in the
/// working directory or the nearest parent that has one) merged over it key by key, then the
/// environment (`BCLI_PROFILE`, `BCLI_FORMAT`, `BCLI_TIMEOUT`; and `BCLI_ENVIRONMENT`,
/// `BCLI_COMPANY`, which `-e`/`-c` before the subcommand set).
///
/// Precedence of the profile name: `-p/--profile` (passed by the caller) > `BCLI_PROFILE` >
/// `[defaults].profile` > `"default"`. A missing config file is not an error: the built-in
/// `sandbox` profile still works.
public struct BCConfig: Sendable {
    /// The `[defaults]` table.
    public struct Defaults: Sendable, Equatable {
        public var profile: String?
        /// Applied to profiles that do not set their own `timeout`.
        public var timeoutSeconds: Double?
        /// The default output format (a Python tool format name, lower-cased).
        public var format: String?
        /// Records per page for GET paging.
        public var pageSize: Int?
        /// `rate_limit_*` for profiles that do not set their own (each key on its own).
        public var rateLimitRequests: Int?
        public var rateLimitWindowSeconds: Double?
        public var rateLimitConcurrent: Int?

        /// The rate limit a profile gets from these defaults, BC's limits where none is set.
        public var rateLimit: RateLimit {
            RateLimit(
                requests: rateLimitRequests ?? RateLimit.businessCentral.requests,
                windowSeconds: rateLimitWindowSeconds ?? RateLimit.businessCentral.windowSeconds,
                concurrent: rateLimitConcurrent ?? RateLimit.businessCentral.concurrent)
        }
    }

    public static let profileVariable = "BCLI_PROFILE"
    public static let formatVariable = "BCLI_FORMAT"
    public static let timeoutVariable = "BCLI_TIMEOUT"
    /// Replaces the chosen profile's `environment` (what `-e` before the subcommand sets).
    public static let environmentVariable = "BCLI_ENVIRONMENT"
    /// A company alias, id or name for the chosen profile (what `-c` before the subcommand sets).
    public static let companyVariable = "BCLI_COMPANY"
    /// The project file's name, looked for in the working directory and its parents.
    public static let projectFileName = ".bcli.toml"
    public static let fallbackProfileName = "default"

    /// The config file's path (whether or not it exists).
    public let path: String
    public let fileExists: Bool
    public let defaults: Defaults
    /// Profiles defined in the file, by name.
    public let fileProfiles: [String: Profile]
    let environment: [String: String]
    /// The project `.bcli.toml` merged over the file, if one was found.
    public var projectPath: String?
    /// The merged tables as read (for `bcli config check`); empty without a file.
    public var root = TOMLTable()
    /// `[remotes.NAME]` tables: shared hubs for `batch push`/`pull` (docs/hub.md).
    public var remotes: [String: RemoteConfig] = [:]

    /// Loads `$XDG_CONFIG_HOME/bcli/config.toml` (else `~/.config/bcli/config.toml`) and the
    /// project `.bcli.toml` found from `workingDirectory` upward.
    public static func load(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        workingDirectory: String? = FileManager.default.currentDirectoryPath
    ) throws(ConfigError) -> BCConfig {
        try load(path: ConfigPaths.configFile(environment: environment), environment: environment,
                 projectPath: workingDirectory.flatMap(findProjectFile))
    }

    /// Loads the config file at `path` (a missing file is an empty config), with the project file
    /// at `projectPath` merged over it.
    public static func load(path: String, environment: [String: String], projectPath: String? = nil) throws(ConfigError) -> BCConfig {
        var root = TOMLTable()
        let exists = FileManager.default.fileExists(atPath: path)
        if exists { root = try readTable(path) }
        if let projectPath {
            let project = try readTable(projectPath)
            try ConfigReader(path: projectPath).checkProjectFile(project)
            root = merge(root, over: project)
        }
        var config = try parse(root: root, path: projectPath.map { "\(path) (with \($0) over it)" } ?? path, environment: environment)
        config = BCConfig(path: path, fileExists: exists || projectPath != nil, defaults: config.defaults,
                          fileProfiles: config.fileProfiles, environment: environment, projectPath: projectPath, root: root,
                          remotes: config.remotes)
        return config
    }

    /// Parses config text (`path` is used in messages only).
    public static func parse(_ text: String, path: String, environment: [String: String]) throws(ConfigError) -> BCConfig {
        try parse(root: try parseTable(text, path: path), path: path, environment: environment)
    }

    static func readTable(_ path: String) throws(ConfigError) -> TOMLTable {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(path: path, reason: error.localizedDescription)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .unreadable(path: path, reason: "the file is not valid UTF-8")
        }
        return try parseTable(text, path: path)
    }

    static func parseTable(_ text: String, path: String) throws(ConfigError) -> TOMLTable {
        do {
            return try TOMLParser.parse(text)
        } catch {
            throw .syntax(path: path, error)
        }
    }

    static func parse(root: TOMLTable, path: String, environment: [String: String]) throws(ConfigError) -> BCConfig {
        let reader = ConfigReader(path: path)
        try reader.checkKeys(root, table: "top level", valid: ConfigReader.topLevelKeys + ConfigReader.notUsedTables)

        var defaults = Defaults()
        if let value = root["defaults"] {
            let table = try reader.table(value, in: "top level", key: "defaults", line: root.line(of: "defaults"))
            defaults = try reader.defaults(table)
        }
        try applyEnvironment(environment, to: &defaults)

        var profiles: [String: Profile] = [:]
        if let value = root["profiles"] {
            let table = try reader.table(value, in: "top level", key: "profiles", line: root.line(of: "profiles"))
            for name in table.keys {
                let profileTable = try reader.table(
                    table[name]!, in: "profiles", key: name, line: table.line(of: name))
                profiles[name] = try reader.profile(named: name, profileTable, defaults: defaults)
            }
        }
        var remotes: [String: RemoteConfig] = [:]
        if let value = root["remotes"] {
            let table = try reader.table(value, in: "top level", key: "remotes", line: root.line(of: "remotes"))
            remotes = try reader.remotes(table)
        }
        return BCConfig(path: path, fileExists: true, defaults: defaults, fileProfiles: profiles, environment: environment, root: root,
                        remotes: remotes)
    }

    /// `BCLI_FORMAT` and `BCLI_TIMEOUT` replace `[defaults] format` and `timeout`.
    static func applyEnvironment(_ environment: [String: String], to defaults: inout Defaults) throws(ConfigError) {
        if let format = environment[formatVariable], !format.isEmpty {
            defaults.format = try ConfigReader.checkFormat(format) { m throws(ConfigError) in
                throw .invalidEnvironment(variable: formatVariable, message: m)
            }
        }
        if let text = environment[timeoutVariable], !text.isEmpty {
            guard let seconds = Double(text.trimmingCharacters(in: .whitespaces)), seconds.isFinite, seconds > 0, seconds <= 86_400 else {
                throw .invalidEnvironment(variable: timeoutVariable, message: "`\(text)` is not a number of seconds from 1 to 86400")
            }
            defaults.timeoutSeconds = seconds
        }
    }

    /// `.bcli.toml` in `directory` or its nearest parent that has one, up to `/`.
    public static func findProjectFile(from directory: String) -> String? {
        var dir = URL(fileURLWithPath: directory).standardizedFileURL.path
        while true {
            let candidate = dir == "/" ? "/\(projectFileName)" : "\(dir)/\(projectFileName)"
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue {
                return candidate
            }
            if dir == "/" || dir.isEmpty { return nil }
            dir = (dir as NSString).deletingLastPathComponent
        }
    }

    /// `over`'s keys replace `base`'s; tables present in both are merged key by key.
    static func merge(_ base: TOMLTable, over: TOMLTable) -> TOMLTable {
        var result = base
        for key in over.keys {
            let line = over.line(of: key) ?? 0
            if case .table(let a)? = base[key], case .table(let b)? = over[key] {
                result.set(key, .table(merge(a, over: b)), line: line)
            } else {
                result.set(key, over[key]!, line: line)
            }
        }
        return result
    }

    /// Every profile name a user can pick: the file's, plus the built-in `sandbox`; sorted.
    public var profileNames: [String] {
        Array(Set(fileProfiles.keys).union([BuiltinProfiles.sandboxName])).sorted()
    }

    /// The profile name that applies, by the precedence rules above.
    public func selectedProfileName(cliProfile: String?) -> String {
        if let cliProfile, !cliProfile.isEmpty { return cliProfile }
        if let env = environment[Self.profileVariable], !env.isEmpty { return env }
        if let fromFile = defaults.profile, !fromFile.isEmpty { return fromFile }
        return Self.fallbackProfileName
    }

    /// The profile to use. `named` is the `-p/--profile` value, if any. A profile in the file
    /// named `sandbox` replaces the built-in one.
    ///
    /// `BCLI_ENVIRONMENT` replaces its environment; `BCLI_COMPANY` picks its company (see
    /// `Profile.selectingCompany(_:)`).
    public func profile(named cliProfile: String?) throws(ConfigError) -> Profile {
        try applyOverrides(to: baseProfile(named: cliProfile))
    }

    private func applyOverrides(to profile: Profile) throws(ConfigError) -> Profile {
        var profile = profile
        if let env = environment[Self.environmentVariable], !env.isEmpty {
            profile.environment = env
        }
        if let company = environment[Self.companyVariable], !company.isEmpty {
            profile = try profile.selectingCompany(company)
        }
        return profile
    }

    private func baseProfile(named cliProfile: String?) throws(ConfigError) -> Profile {
        let name = selectedProfileName(cliProfile: cliProfile)
        if let profile = fileProfiles[name] { return profile }
        if name == BuiltinProfiles.sandboxName {
            var profile = BuiltinProfiles.sandbox(environment: environment)
            if let url = profile.baseURL, let problem = BaseURL.problem(url) {
                throw .invalidEnvironment(variable: BuiltinProfiles.sandboxURLVariable, message: problem)
            }
            if let timeout = defaults.timeoutSeconds { profile.timeoutSeconds = timeout }
            profile.defaultFormat = defaults.format
            profile.pageSize = defaults.pageSize ?? Profile.defaultPageSize
            profile.rateLimit = defaults.rateLimit
            return profile
        }
        let known = profileNames
        if !fileExists && fileProfiles.isEmpty { throw .noConfigFile(profile: name, path: path, builtIn: known) }
        throw .unknownProfile(
            name: name, known: known, suggestion: Suggestion.closest(to: name, in: known), path: path)
    }
}
