/// Anything wrong with the config file or the profile asked for. Each message names the fix.
public enum ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The config file exists but could not be read.
    case unreadable(path: String, reason: String)
    /// The file is not valid TOML (or uses a construct bcli's reader does not support).
    case syntax(path: String, TOMLError)
    /// A key bcli does not know. Never ignored: a typo must not silently change behaviour.
    case unknownKey(path: String, line: Int?, table: String, key: String, valid: [String], suggestion: String?)
    /// A known key with a value of the wrong type or shape.
    case invalidValue(path: String, line: Int?, table: String, key: String, message: String)
    /// A required key is missing from a profile.
    case missingKey(path: String, profile: String, key: String)
    /// No profile of that name (in the file or built in).
    case unknownProfile(name: String, known: [String], suggestion: String?, path: String)
    /// A profile was asked for and there is no config file at all (only built-in profiles).
    case noConfigFile(profile: String, path: String, builtIn: [String])
    /// The built-in `sandbox` profile has no base URL yet.
    case sandboxNotStarted
    /// An environment variable bcli reads has an unusable value.
    case invalidEnvironment(variable: String, message: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            return "cannot read config file \(path): \(reason). Fix its permissions, or set XDG_CONFIG_HOME to another folder."
        case .syntax(let path, let e):
            return "\(path):\(e.line): \(e.message)"
        case .unknownKey(let path, let line, let table, let key, let valid, let suggestion):
            let hint = suggestion.map { " Did you mean `\($0)`?" } ?? ""
            return "\(location(path, line)): unknown key `\(key)` in [\(table)].\(hint) Valid keys: \(valid.joined(separator: ", "))."
        case .invalidValue(let path, let line, let table, let key, let message):
            return "\(location(path, line)): [\(table)] \(key): \(message)"
        case .missingKey(let path, let profile, let key):
            return "\(path): profile `\(profile)` has no `\(key)`; add `\(key) = \"…\"` under [profiles.\(profile)]."
        case .noConfigFile(let name, let path, let builtIn):
            return "unknown profile `\(name)`: there is no config file (\(path) does not exist). "
                + "Write a commented starter file with `bcli config init` and fill in [profiles.\(name)]"
                + (builtIn.isEmpty ? "." : ", or use a built-in profile: \(builtIn.joined(separator: ", ")) (e.g. -p sandbox).")
        case .unknownProfile(let name, let known, let suggestion, let path):
            let hint = suggestion.map { " Did you mean `\($0)`?" } ?? ""
            return "unknown profile `\(name)`.\(hint) Known profiles: \(known.joined(separator: ", ")). "
                + "Pick one with -p/--profile or BCLI_PROFILE, or add [profiles.\(name)] to \(path)."
        case .sandboxNotStarted:
            return "the built-in sandbox profile has no base URL: set BCLI_SANDBOX_URL to a running `bcli sandbox serve`, or start one in-process and use `withBaseURL(_:)`."
        case .invalidEnvironment(let variable, let message):
            return "environment variable \(variable): \(message). Fix or unset it."
        }
    }

    private func location(_ path: String, _ line: Int?) -> String {
        line.map { "\(path):\($0)" } ?? path
    }
}
