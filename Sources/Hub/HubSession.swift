import Logging
import NIOCore
import PostgresNIO

/// One connection to a hub. Every statement binds its values (`PostgresQuery` interpolation);
/// the only SQL built from text is the migrations' fixed statements and a role name quoted by
/// `quoteIdentifier` after validation.
public struct HubSession: Sendable {
    public let endpoint: HubEndpoint
    let connection: PostgresConnection
    let logger: Logger

    /// Connects (TLS as the URL's sslmode asks). Errors never include the password.
    public static func connect(_ endpoint: HubEndpoint) async throws -> HubSession {
        let logger = Logger(label: "bcli.hub", factory: { _ in SwiftLogNoOpLogHandler() })
        let configuration = try endpoint.url.configuration(password: endpoint.password)
        do {
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
            return HubSession(endpoint: endpoint, connection: connection, logger: logger)
        } catch {
            throw map(error, endpoint: endpoint, connecting: true)
        }
    }

    /// Connects, checks the hub's schema version (refusing a newer or an uninitialised hub), runs
    /// `body`, and closes the connection on every path.
    public static func with<T: Sendable>(_ endpoint: HubEndpoint, checkSchema: Bool = true,
                                         _ body: (HubSession) async throws -> T) async throws -> T {
        let session = try await connect(endpoint)
        do {
            if checkSchema { try await HubSchema.check(session) }
            let value = try await body(session)
            await session.close()
            return value
        } catch {
            await session.close()
            throw error
        }
    }

    public func close() async {
        try? await connection.close()
    }

    /// Runs a statement and collects its rows.
    @discardableResult
    public func query(_ query: PostgresQuery) async throws -> [PostgresRow] {
        do {
            return try await connection.query(query, logger: logger).collect()
        } catch {
            throw Self.map(error, endpoint: endpoint, connecting: false)
        }
    }

    /// Runs `body` inside BEGIN … COMMIT; any error rolls back (best effort: a lost connection
    /// rolls back on the server anyway).
    public func transaction<T>(_ body: () async throws -> T) async throws -> T {
        try await query("BEGIN")
        do {
            let value = try await body()
            try await query("COMMIT")
            return value
        } catch {
            _ = try? await query("ROLLBACK")
            throw error
        }
    }

    /// The server's SQLSTATE of an error (nil when it is not a server error).
    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// A postgres-nio error as a `HubError`: the server's message (never the statement or its
    /// bound values), or what went wrong on the wire.
    static func map(_ error: any Error, endpoint: HubEndpoint, connecting: Bool) -> HubError {
        if let hub = error as? HubError { return hub }
        let remote = "\(endpoint.name) (\(endpoint.display))"
        guard let psql = error as? PSQLError else {
            return .connection(remote: remote, detail: "\(error)")
        }
        if let info = psql.serverInfo {
            let state = info[.sqlState] ?? ""
            var message = info[.message] ?? "error"
            if let detail = info[.detail] { message += " (\(detail))" }
            message += " [SQLSTATE \(state)]"
            switch state {
            case "28P01", "28000": return .authentication(remote: remote, detail: message)
            case "42501": return .permissionDenied(remote: remote, detail: message, sqlState: state)
            case "3D000": return .connection(remote: remote, detail: message)
            default:
                if state.hasPrefix("08") || state.hasPrefix("57P") { return .connection(remote: remote, detail: message) }
                return .server(remote: remote, detail: message, sqlState: state)
            }
        }
        switch psql.code {
        case .saslError, .authMechanismRequiresPassword, .unsupportedAuthMechanism:
            return .authentication(remote: remote, detail: psql.code.description
                + (psql.code == .authMechanismRequiresPassword ? ": the server wants a password and none was found" : ""))
        default:
            let underlying = psql.underlying.map { ": \($0)" } ?? ""
            return .connection(remote: remote, detail: "\(psql.code)\(underlying)")
        }
    }

    /// Names PostgreSQL's GRANT reads as something other than a role: `TO public` is everybody,
    /// `current_user` and friends are whoever runs the statement; `pg_*` roles are the server's own.
    static let reservedRoleNames: Set<String> = ["public", "none", "current_user", "session_user", "current_role"]

    /// A role name, validated and double-quoted for GRANT (identifiers cannot be bound).
    static func quoteIdentifier(_ name: String) throws -> String {
        guard !name.isEmpty, name.utf8.count <= 63, name.unicodeScalars.allSatisfy({
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-"
        }) else {
            throw HubError.invalidRole(name, reason: "a role name is letters, digits, '_' and '-' (at most 63)")
        }
        let lower = name.lowercased()
        if reservedRoleNames.contains(lower) {
            throw HubError.invalidRole(name, reason: "\(lower) is not a role to PostgreSQL's GRANT (\(lower == "public" ? "it means every role" : "it is a reserved name")); create a role and name it")
        }
        if lower.hasPrefix("pg_") {
            throw HubError.invalidRole(name, reason: "names starting with pg_ are PostgreSQL's own roles")
        }
        return "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
