import ArgumentParser
import BusinessCentral
import Foundation
import Hub
import Store
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

/// `--remote NAME` on `list`, `state`, `show` and `diff`: read the hub behind a remote instead of
/// the store (docs/hub.md, "Read a hub in place").
struct RemoteReadOption: ParsableArguments {
    @Option(help: ArgumentHelp("Read the hub behind this remote (config.toml [remotes.NAME]) instead of the store; nothing is written here.", valueName: "name"))
    var remote: String?

    /// `--store` names a store to read; with `--remote` nothing would read it.
    func validate(with store: StoreOptions) throws {
        if remote != nil, store.store != nil {
            throw ValidationError("--remote reads the hub, not a store: drop --store (or --remote)")
        }
    }
}

extension HubRemotes {
    /// `with` for the `--remote` reads: what does not verify is damage of the hub, exit 9 (the
    /// hub cannot be used for this, as a damaged store cannot; `diff` keeps 1 for "different"),
    /// with the command that checks the whole hub.
    static func reading<T: Sendable>(_ endpoint: HubEndpoint, _ body: (HubSession) async throws -> T) async throws -> T {
        let hint = " — `bcli batch verify --remote \(endpoint.name)` checks the whole hub"
        return try await with(endpoint) { session in
            do {
                return try await body(session)
            } catch let error as HubError {
                if case .damaged = error { throw CLIFailure(.storeUnusable, error.description + hint) }
                throw error
            } catch let error as BundleError {
                if case .damaged(let report) = error { for p in report.problems { Terminal.note(p.line) } }
                throw CLIFailure(.storeUnusable, "the hub returned a run that does not verify: \(error.description)" + hint)
            } catch let error as StoreError {
                throw CLIFailure(error)
            }
        }
    }

    /// The hub's runs named by `texts` (ids, prefixes, `latest~N` as the hub orders them), pulled
    /// with their ancestors and `followers` into a throwaway store, each verified as `pull`
    /// verifies it. The caller closes the view; `ids` are the full ids, in the order asked.
    static func view(_ remote: String, runs texts: [String], followers: HubRead.Followers) async throws -> (view: RemoteView, ids: [String]) {
        let endpoint = try endpoint(remote)
        let view: RemoteView
        do { view = try RemoteView() } catch let error as StoreError {
            throw CLIFailure(error.exitStatus, "cannot make a temporary store to read the hub \(endpoint.name) into: \(error.description) (set TMPDIR to a writable folder)")
        }
        do {
            let ids = try await reading(endpoint) { session in
                var runs: [HubRun] = []
                for text in texts { runs.append(try await HubPull.resolve(text, session)) }
                try await HubRead.fill(view.view, with: runs, followers: followers, session)
                return runs.map(\.id)
            }
            return (view, ids)
        } catch {
            view.close()
            throw error
        }
    }
}

/// A throwaway store for a `--remote` read: removed by `close()`, and on SIGINT, SIGTERM or SIGHUP
/// before the process exits (130, 143, 129), so bodies read from the hub do not stay on disk. The
/// handlers are in place before the folder is made.
final class RemoteView: @unchecked Sendable {
    private(set) var view: HubView!
    private var sources: [DispatchSourceSignal] = []
    private let folder = LockedPath()
    static let signals: [(Int32, Int32)] = [(SIGINT, 130), (SIGTERM, 143), (SIGHUP, 129)]

    init() throws {
        let folder = self.folder
        for (number, status) in Self.signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: DispatchQueue(label: "bcli.remote-view"))
            source.setEventHandler {
                if let path = folder.get() { try? FileManager.default.removeItem(atPath: path) }
                _exit(status)
            }
            source.resume()
            sources.append(source)
        }
        do {
            view = try HubView(made: { path in folder.set(path) })
        } catch {
            close()
            throw error
        }
    }

    var store: LedgerStore { view.store }

    func close() {
        view?.remove()
        for source in sources { source.cancel() }
        sources = []
        for (number, _) in Self.signals { signal(number, SIG_DFL) }
    }
}

/// The throwaway folder's path, shared with the signal handlers' queue.
final class LockedPath: @unchecked Sendable {
    private let lock = NSLock()
    private var path: String?
    func get() -> String? { lock.lock(); defer { lock.unlock() }; return path }
    func set(_ value: String) { lock.lock(); path = value; lock.unlock() }
}
