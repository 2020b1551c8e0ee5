import BusinessCentral
import Foundation
import NIOSSL
import PostgresNIO

/// A remote's URL, parsed: `postgresql://user@host:port/db?sslmode=…`, plus the password from
/// `password_env`, `PGPASSWORD` or the password file (libpq's `~/.pgpass`, or `PGPASSFILE`).
public struct HubURL: Sendable, Equatable {
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public let user: String
    public let host: String
    public let port: Int
    public let database: String
    public let sslMode: SSLMode
    /// `sslrootcert=PATH`: the CA file for verify-ca/verify-full (else the system's roots).
    public let sslRootCert: String?
    /// The URL's own password, if any (accepted on the command line of tests and for the admin
    /// URL of `scripts/pg-cluster`; config.toml refuses it). Never printed.
    let urlPassword: String?

    public static let parameters = RemoteConfig.urlParameters

    public init(parsing text: String) throws(HubError) {
        guard text.hasPrefix("postgresql://") || text.hasPrefix("postgres://") else {
            throw .invalidURL("\(Self.redact(text)) does not start with postgresql://")
        }
        guard let parts = URLComponents(string: text) else { throw .invalidURL("\(Self.redact(text)) is not a URL") }
        guard let host = parts.host, !host.isEmpty else { throw .invalidURL("\(Self.redact(text)) has no host") }
        guard let user = parts.user, !user.isEmpty else {
            throw .invalidURL("\(Self.redact(text)) names no user (postgresql://USER@host/db)")
        }
        if let problem = RemoteConfig.portProblem(parts) { throw .invalidURL("\(Self.redact(text)): \(problem)") }
        self.user = user.removingPercentEncoding ?? user
        // An IPv6 literal is written [::1] in a URL; the socket and TLS want it bare.
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.port = parts.port ?? 5432
        let db = String(parts.path.drop(while: { $0 == "/" }))
        self.database = db.isEmpty ? self.user : (db.removingPercentEncoding ?? db)
        self.urlPassword = parts.password.map { $0.removingPercentEncoding ?? $0 }
        var mode = SSLMode.disable
        var rootCert: String?
        for item in parts.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let m = SSLMode(rawValue: value) else {
                    throw .invalidURL("sslmode=\(item.value ?? "") is not one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                mode = m
            case "sslrootcert": rootCert = item.value
            case "application_name": break
            case _ where item.name.lowercased() == "password":
                throw .invalidURL(RemoteConfig.passwordParameterProblem)
            default:
                throw .invalidURL("unknown parameter \(item.name) (bcli reads \(Self.parameters.joined(separator: ", ")))")
            }
        }
        self.sslMode = mode
        self.sslRootCert = rootCert
    }

    /// The URL with any password replaced by `***` (in `user:password@` and in a `password=`
    /// parameter): the only form bcli prints.
    public static func redact(_ text: String) -> String {
        redactUserInfo(RemoteConfig.redactPasswordParameter(text))
    }

    static func redactUserInfo(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://") else { return text }
        let rest = text[schemeEnd.upperBound...]
        guard let at = rest.lastIndex(of: "@") else { return text }
        let userinfo = rest[rest.startIndex..<at]
        guard let colon = userinfo.firstIndex(of: ":") else { return text }
        return String(text[..<schemeEnd.upperBound]) + userinfo[userinfo.startIndex..<colon] + ":***" + rest[at...]
    }

    /// The password, in libpq's order with bcli's variable first: the variable `passwordEnv`
    /// names, the URL's own, `PGPASSWORD`, then the password file. Nil: connect without one (the
    /// server may allow trust or peer authentication).
    public func password(passwordEnv: String?, environment: [String: String]) -> String? {
        if let passwordEnv, let value = environment[passwordEnv], !value.isEmpty { return value }
        if let urlPassword { return urlPassword }
        if let value = environment["PGPASSWORD"], !value.isEmpty { return value }
        return PGPass.lookup(host: host, port: port, database: database, user: user, environment: environment)
    }

    /// postgres-nio's connection configuration (TLS as `sslmode` asks).
    func configuration(password: String?) throws(HubError) -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        do {
            switch sslMode {
            case .disable: tls = .disable
            case .prefer, .require:
                // libpq's prefer/require encrypt without checking the certificate.
                var c = TLSConfiguration.makeClientConfiguration()
                c.certificateVerification = .none
                let context = try NIOSSLContext(configuration: c)
                tls = sslMode == .prefer ? .prefer(context) : .require(context)
            case .verifyCA, .verifyFull:
                var c = TLSConfiguration.makeClientConfiguration()
                c.certificateVerification = sslMode == .verifyFull ? .fullVerification : .noHostnameVerification
                if let sslRootCert { c.trustRoots = .file(sslRootCert) }
                tls = .require(try NIOSSLContext(configuration: c))
            }
        } catch {
            throw .invalidURL("cannot set up TLS (\(sslMode.rawValue)): \(error)")
        }
        var config = PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tls)
        config.options.connectTimeout = .seconds(15)
        // No tlsServerName: postgres-nio sends the host as SNI (and NIOSSL checks the certificate
        // against it) when it is a name, and checks an IP literal against the certificate's IP
        // addresses without SNI — an IP in SNI is refused by NIOSSL (cannotUseIPAddressInSNI).
        return config
    }
}

/// libpq's password file: `hostname:port:database:username:password` lines, `*` matches
/// anything, `\:` and `\\` escape; `PGPASSFILE` or `~/.pgpass`. Like libpq, a file readable by
/// group or others is ignored.
enum PGPass {
    static func lookup(host: String, port: Int, database: String, user: String, environment: [String: String]) -> String? {
        let path = environment["PGPASSFILE"] ?? (environment["HOME"].map { $0 + "/.pgpass" } ?? NSHomeDirectory() + "/.pgpass")
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue, mode & 0o077 == 0,
              let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) where !line.hasPrefix("#") {
            let fields = split(String(line))
            guard fields.count == 5 else { continue }
            let wanted = [host, String(port), database, user]
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }

    static func split(_ line: String) -> [String] {
        var fields: [String] = [], current = "", escaped = false
        for c in line {
            if escaped { current.append(c); escaped = false }
            else if c == "\\" { escaped = true }
            else if c == ":" && fields.count < 4 { fields.append(current); current = "" }
            else { current.append(c) }
        }
        fields.append(current)
        return fields
    }
}

/// A remote ready to connect to: its name, parsed URL and password (kept in memory only).
public struct HubEndpoint: Sendable {
    public let name: String
    public let url: HubURL
    /// The URL as configured, password redacted: what messages show.
    public let display: String
    let password: String?

    public init(remote: RemoteConfig, environment: [String: String]) throws(HubError) {
        try self.init(name: remote.name, url: remote.url, passwordEnv: remote.passwordEnv, environment: environment)
    }

    public init(name: String, url text: String, passwordEnv: String?, environment: [String: String]) throws(HubError) {
        self.name = name
        self.url = try HubURL(parsing: text)
        self.display = HubURL.redact(text)
        self.password = url.password(passwordEnv: passwordEnv, environment: environment)
    }
}
