/// Why a hub could not be used, or refused what was asked. Messages never carry a password:
/// URLs are printed redacted (`HubURL.redacted`), and server messages are the server's own text.
public enum HubError: Error, Sendable, CustomStringConvertible {
    /// The remote's URL is not one bcli can use (config, `remote add`).
    case invalidURL(String)
    /// No server answered, TLS failed, or the connection dropped.
    case connection(remote: String, detail: String)
    /// The server refused the login (wrong password, no such role, pg_hba).
    case authentication(remote: String, detail: String)
    /// The database has no bcli hub schema: `bcli batch remote init` has not been run.
    case notInitialized(remote: String)
    /// The hub was migrated by a newer bcli: this one refuses to read or write it.
    case newerHub(remote: String, hubVersion: Int, known: Int)
    /// The hub is older than this bcli: its owner runs `bcli batch remote init` to migrate it.
    case olderHub(remote: String, hubVersion: Int, known: Int)
    /// PostgreSQL refused the statement for this role (grants, the append-only triggers).
    case permissionDenied(remote: String, detail: String, sqlState: String = "42501")
    /// The hub holds this run with another record (a different run under the same id).
    case conflict(runID: String, detail: String)
    /// No run in the hub has this id or prefix.
    case runNotFound(String)
    /// A prefix names several runs in the hub.
    case ambiguousRun(String, [String])
    /// What the hub returned does not verify (wrong bytes, a broken entry).
    case damaged(runID: String?, detail: String)
    /// Any other server error.
    case server(remote: String, detail: String, sqlState: String? = nil)
    /// A role name `remote init --pusher/--reader` cannot use, and why.
    case invalidRole(String, reason: String)
    /// A run this hub cannot hold as it is (a value out of the hub's range).
    case unpushable(runID: String, detail: String)

    /// The server's SQLSTATE, when PostgreSQL refused or failed the statement.
    public var sqlState: String? {
        switch self {
        case .permissionDenied(_, _, let state): return state
        case .server(_, _, let state): return state
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .invalidURL(let why): return "invalid hub url: \(why)"
        case .connection(let remote, let detail):
            return "cannot reach the hub \(remote): \(detail) — check the url's host and port, and that the server is running"
        case .authentication(let remote, let detail):
            return "the hub \(remote) refused the login: \(detail) — check the user and the password (password_env, PGPASSWORD or ~/.pgpass)"
        case .notInitialized(let remote):
            return "\(remote) has no bcli hub schema — its owner runs `bcli batch remote init NAME` once (docs/hub.md)"
        case .newerHub(let remote, let v, let known):
            return "the hub \(remote) has schema version \(v), newer than this bcli understands (\(known)) — upgrade bcli"
        case .olderHub(let remote, let v, let known):
            return "the hub \(remote) has schema version \(v); this bcli needs \(known) — the hub's owner runs `bcli batch remote init NAME` to migrate it"
        case .permissionDenied(let remote, let detail, _):
            return "the hub \(remote) refused: \(detail) — the role lacks the grant (docs/hub.md, \"Roles\")"
        case .conflict(let id, let detail):
            return "run \(id) is already in the hub with different content (\(detail)); refusing to push it"
        case .runNotFound(let id): return "no run \(id) in the hub"
        case .ambiguousRun(let prefix, let ids):
            return "run prefix \(prefix) names \(ids.count) runs in the hub (\(ids.prefix(4).joined(separator: ", "))\(ids.count > 4 ? ", …" : "")) — give more characters"
        case .damaged(let id, let detail):
            return "the hub returned a run that does not verify\(id.map { " (run \($0))" } ?? ""): \(detail); nothing was written"
        case .server(let remote, let detail, _): return "the hub \(remote) failed: \(detail)"
        case .invalidRole(let name, let reason): return "role name \(name) cannot be granted: \(reason)"
        case .unpushable(let id, let detail): return "run \(id) cannot be pushed: \(detail)"
        }
    }
}
