import Foundation

/// A `[remotes.NAME]` table of config.toml: a shared hub on PostgreSQL (docs/hub.md).
///
/// ```toml
/// [remotes.origin]
/// url = "postgresql://ci_pusher@hub.example.com:5432/bcli?sslmode=verify-full"
/// password_env = "BCLI_HUB_PASSWORD"     # optional; else PGPASSWORD, else ~/.pgpass
/// ```
///
/// The URL never carries a password: config files are copied, committed and pasted into
/// tickets, so a URL with `user:password@` is refused (the password comes from the variable
/// `password_env` names, `PGPASSWORD` or `~/.pgpass`). A project `.bcli.toml` may not define
/// remotes: it would decide where a password is sent.
public struct RemoteConfig: Sendable, Equatable {
    public let name: String
    public let url: String
    public let passwordEnv: String?

    public init(name: String, url: String, passwordEnv: String?) {
        self.name = name
        self.url = url
        self.passwordEnv = passwordEnv
    }

    public static let keys = ["url", "password_env"]

    /// Why `name` cannot name a remote (letters, digits, `_`, `-`; starts with a letter), or nil.
    public static func nameProblem(_ name: String) -> String? {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) || ("A"..."Z").contains(first) else {
            return "a remote name starts with a letter"
        }
        guard name.count <= 64, name.unicodeScalars.allSatisfy({
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-"
        }) else {
            return "a remote name has at most 64 letters, digits, '_' and '-'"
        }
        return nil
    }

    /// The URL parameters bcli reads (`HubURL`); any other is refused when config.toml loads.
    public static let urlParameters = ["sslmode", "sslrootcert", "application_name"]

    public static let passwordParameterProblem =
        "the url carries a password (password=…); bcli never keeps one in a file — remove it and set password_env, PGPASSWORD or ~/.pgpass"

    /// Why the URL's port is not one to connect to (1…65535), or nil (no port: 5432).
    public static func portProblem(_ parts: URLComponents) -> String? {
        guard parts.rangeOfPort != nil else { return nil }
        guard let port = parts.port, (1...65535).contains(port) else {
            return "the port is not a number from 1 to 65535"
        }
        return nil
    }

    /// `text` with the value of any `password=` query parameter (any case) replaced by `***`.
    public static func redactPasswordParameter(_ text: String) -> String {
        guard let q = text.firstIndex(of: "?") else { return text }
        let head = text[..<q]
        var rest = String(text[text.index(after: q)...])
        var fragment = ""
        if let hash = rest.firstIndex(of: "#") { fragment = String(rest[hash...]); rest = String(rest[..<hash]) }
        let items = rest.split(separator: "&", omittingEmptySubsequences: false).map { item -> String in
            let name = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let decoded = name.removingPercentEncoding ?? name
            return decoded.lowercased() == "password" && item.contains("=") ? name + "=***" : String(item)
        }
        return head + "?" + items.joined(separator: "&") + fragment
    }

    /// Why `url` is not a hub URL bcli accepts, or nil: `postgresql://` or `postgres://`, a host,
    /// a port from 1 to 65535, only the parameters bcli reads, and no password in it.
    public static func urlProblem(_ url: String) -> String? {
        guard url.hasPrefix("postgresql://") || url.hasPrefix("postgres://") else {
            return "a remote url starts with postgresql:// (e.g. postgresql://user@host:5432/db?sslmode=verify-full)"
        }
        guard let parts = URLComponents(string: url), let host = parts.host, !host.isEmpty else {
            return "the url has no host (postgresql://user@host:5432/db)"
        }
        if parts.password != nil {
            return "the url carries a password; bcli never keeps one in a file — remove it and set password_env, PGPASSWORD or ~/.pgpass"
        }
        if let problem = portProblem(parts) { return problem }
        for item in parts.queryItems ?? [] where !urlParameters.contains(item.name) {
            if item.name.lowercased() == "password" { return passwordParameterProblem }
            return "unknown url parameter \(item.name) (bcli reads \(urlParameters.joined(separator: ", ")))"
        }
        return nil
    }
}

extension ConfigReader {
    /// `[remotes]`: one table per remote, each with `url` (required) and `password_env`.
    func remotes(_ t: TOMLTable) throws(ConfigError) -> [String: RemoteConfig] {
        var out: [String: RemoteConfig] = [:]
        for name in t.keys {
            let table = try self.table(t[name]!, in: "remotes", key: name, line: t.line(of: name))
            if let problem = RemoteConfig.nameProblem(name) {
                throw .invalidValue(path: path, line: t.line(of: name), table: "remotes", key: name, message: problem)
            }
            let tableName = "remotes.\(name)"
            try checkKeys(table, table: tableName, valid: RemoteConfig.keys)
            guard let url = try string(table, "url", table: tableName) else {
                throw .invalidValue(path: path, line: t.line(of: name), table: tableName, key: "url",
                                    message: "a remote needs url = \"postgresql://user@host:5432/db\"")
            }
            if let problem = RemoteConfig.urlProblem(url) { throw invalid(table, "url", tableName, problem) }
            let env = try string(table, "password_env", table: tableName)
            if let env, !Self.isEnvironmentVariableName(env) {
                throw invalid(table, "password_env", tableName, "expected the name of an environment variable (letters, digits, _)")
            }
            out[name] = RemoteConfig(name: name, url: url, passwordEnv: env)
        }
        return out
    }
}
