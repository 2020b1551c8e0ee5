import ArgumentParser
import BusinessCentral
import Foundation
import Hub
import Support

/// What push, pull and `remote init` share: picking the remote from config.toml and turning it
/// into an endpoint (the password read from the environment or ~/.pgpass, never printed).
enum HubRemotes {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    static func config() throws -> BCConfig {
        do { return try BCConfig.load(environment: environment) } catch { throw CLIFailure(error) }
    }

    /// The remote named `name`; without a name, `origin` if configured, else the only remote.
    static func endpoint(_ name: String?) throws -> HubEndpoint {
        let config = try config()
        let remotes = config.remotes
        let chosen: RemoteConfig
        if let name {
            guard let remote = remotes[name] else {
                let hint = Suggestion.closest(to: name, in: Array(remotes.keys)).map { " Did you mean '\($0)'?" } ?? ""
                throw CLIFailure(.usage, "no remote named '\(name)' in \(config.path)\(hint) Remotes: \(remotes.keys.sorted().joined(separator: ", ").ifEmpty("none")) — the first argument names the remote, as in git (`bcli batch push origin RUN`); add one with `bcli batch remote add NAME URL`")
            }
            chosen = remote
        } else if let origin = remotes["origin"] {
            chosen = origin
        } else if remotes.count == 1, let only = remotes.values.first {
            chosen = only
        } else {
            throw CLIFailure(.usage, remotes.isEmpty
                ? "no remote configured in \(config.path) — add one with `bcli batch remote add origin postgresql://USER@HOST:5432/DB`"
                : "several remotes and none is named origin (\(remotes.keys.sorted().joined(separator: ", "))) — name one: the first argument")
        }
        do { return try HubEndpoint(remote: chosen, environment: environment) } catch { throw CLIFailure(ExitStatus(error), error.description) }
    }

    /// Runs `body` on a connection to the hub; hub errors become CLIFailures from the exit table.
    static func with<T: Sendable>(_ endpoint: HubEndpoint, checkSchema: Bool = true, _ body: (HubSession) async throws -> T) async throws -> T {
        do {
            return try await HubSession.with(endpoint, checkSchema: checkSchema, body)
        } catch let error as HubError {
            throw CLIFailure(ExitStatus(error), error.description)
        }
    }
}

extension String {
    func ifEmpty(_ other: String) -> String { isEmpty ? other : self }
}

extension ExitStatus {
    /// A hub error: unreachable or failing server → 7; login refused → 3; no hub schema, a newer
    /// or older hub → 9 (the hub, like a store, cannot be used); refused by PostgreSQL's grants or
    /// the append-only triggers, or a run id the hub holds with another record → 8; no such run
    /// → 4; an ambiguous prefix → 2; a bad url or role name → 5; what the hub returned does not
    /// verify → 1.
    init(_ error: HubError) {
        switch error {
        case .invalidURL, .invalidRole, .unpushable: self = .invalidInput
        case .connection, .server: self = .remote5xx
        case .authentication: self = .auth
        case .notInitialized, .newerHub, .olderHub: self = .storeUnusable
        case .permissionDenied, .conflict: self = .refused
        case .runNotFound: self = .notFound
        case .ambiguousRun: self = .usage
        case .damaged: self = .failure
        }
    }
}
