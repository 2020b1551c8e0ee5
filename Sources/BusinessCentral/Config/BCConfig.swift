import Foundation
import Support

/// The parsed config file plus the built-in profiles, and the rules for picking one.
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
    }

    public static let profileVariable = "BCLI_PROFILE"
    public static let fallbackProfileName = "default"

    /// The config file's path (whether or not it exists).
    public let path: String
    public let fileExists: Bool
    public let defaults: Defaults
    /// Profiles defined in the file, by name.
    public let fileProfiles: [String: Profile]
    let environment: [String: String]

    /// Loads `$XDG_CONFIG_HOME/bcli/config.toml` (else `~/.config/bcli/config.toml`).
    public static func load(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> BCConfig {
        try load(path: ConfigPaths.configFile(environment: environment), environment: environment)
    }

    /// Loads the config file at `path`; a missing file yields an empty config.
    public static func load(path: String, environment: [String: String]) throws(ConfigError) -> BCConfig {
        guard FileManager.default.fileExists(atPath: path) else {
            return BCConfig(path: path, fileExists: false, defaults: Defaults(), fileProfiles: [:], environment: environment)
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(path: path, reason: error.localizedDescription)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .unreadable(path: path, reason: "the file is not valid UTF-8")
        }
        return try parse(text, path: path, environment: environment)
    }

    /// Parses config text (`path` is used in messages only).
    public static func parse(_ text: String, path: String, environment: [String: String]) throws(ConfigError) -> BCConfig {
        let root: TOMLTable
        do {
            root = try TOMLParser.parse(text)
        } catch {
            throw .syntax(path: path, error)
        }
        let reader = ConfigReader(path: path)
        try reader.checkKeys(root, table: "top level", valid: ["defaults", "profiles"])

        var defaults = Defaults()
        if let value = root["defaults"] {
            let table = try reader.table(value, in: "top level", key: "defaults", line: root.line(of: "defaults"))
            defaults = try reader.defaults(table)
        }

        var profiles: [String: Profile] = [:]
        if let value = root["profiles"] {
            let table = try reader.table(value, in: "top level", key: "profiles", line: root.line(of: "profiles"))
            for name in table.keys {
                let profileTable = try reader.table(
                    table[name]!, in: "profiles", key: name, line: table.line(of: name))
                profiles[name] = try reader.profile(named: name, profileTable, defaults: defaults)
            }
        }
        return BCConfig(path: path, fileExists: true, defaults: defaults, fileProfiles: profiles, environment: environment)
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
    public func profile(named cliProfile: String?) throws(ConfigError) -> Profile {
        let name = selectedProfileName(cliProfile: cliProfile)
        if let profile = fileProfiles[name] { return profile }
        if name == BuiltinProfiles.sandboxName {
            var profile = BuiltinProfiles.sandbox(environment: environment)
            if let url = profile.baseURL, let problem = BaseURL.problem(url) {
                throw .invalidEnvironment(variable: BuiltinProfiles.sandboxURLVariable, message: problem)
            }
            if let timeout = defaults.timeoutSeconds { profile.timeoutSeconds = timeout }
            return profile
        }
        let known = profileNames
        throw .unknownProfile(
            name: name, known: known, suggestion: Suggestion.closest(to: name, in: known), path: path)
    }
}
