import Batch
import BusinessCentral
import Dispatch
import Sandbox
import Store

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs `body` in a session that owns what a command starts around its requests: the built-in
/// sandbox when the profile asks for one (unless `startSandbox` is false, e.g. a dry run), and,
/// once `body` calls `connect`, the client and the SIGINT handler. All of them are stopped on
/// every path out of `body` — return or throw — in reverse order: the handler, the client, then
/// the sandbox (awaited).
func withRunSession<T>(profile: Profile, store: LedgerStore, environment: [String: String], startSandbox: Bool = true,
                       _ body: (RunSession) async throws -> T) async throws -> T {
    let (sessionProfile, sandbox) = startSandbox ? try await BuiltinSandbox.startIfNeeded(for: profile, store: store) : (profile, nil)
    let session = RunSession(profile: sessionProfile, environment: environment, sandbox: sandbox)
    let result: T
    do {
        result = try await body(session)
    } catch {
        await session.close()
        throw error
    }
    await session.close()
    return result
}

/// See `withRunSession`.
final class RunSession {
    /// The profile to send with: the one given, with the built-in sandbox's base URL when the
    /// session started it.
    let profile: Profile
    /// Set by the first SIGINT after `connect`; the runner and the rollback check it between steps.
    let cancellation = CancellationFlag()
    private let environment: [String: String]
    private let sandbox: SandboxServer?
    private var client: BCClient?
    private var signals: SignalWatcher?

    fileprivate init(profile: Profile, environment: [String: String], sandbox: SandboxServer?) {
        self.profile = profile
        self.environment = environment
        self.sandbox = sandbox
    }

    /// The client for `profile`, with a token already got — so a missing secret or a rejected
    /// client is one clear error (exit 3) before anything is recorded — and the SIGINT handler
    /// installed: the first SIGINT prints `interruptNote` and sets `cancellation`; the second
    /// exits 130 at once (the ledger still tells the truth).
    func connect(interruptNote: String) async throws -> BCClient {
        let client = BCClient(profile: profile, environment: environment, tokenCache: profile.isSandbox ? .memoryOnly : .standard)
        self.client = client
        do {
            _ = try await client.tokens.token()
        } catch {
            throw CLIFailure(.auth, error.description)
        }
        let cancellation = cancellation
        signals = SignalWatcher(onFirst: {
            Terminal.note(interruptNote)
            cancellation.cancel()
        })
        return client
    }

    fileprivate func close() async {
        signals?.stop()
        signals = nil
        await client?.shutdown()
        client = nil
        await sandbox?.stop()
    }
}

/// SIGINT handling for a run: the first signal asks for a clean stop, the second exits at once.
final class SignalWatcher: @unchecked Sendable {
    private let source: DispatchSourceSignal
    private var count = 0

    init(onFirst: @escaping @Sendable () -> Void) {
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: DispatchQueue(label: "bcli.sigint"))
        source.setEventHandler { [unowned self] in
            self.count += 1
            if self.count == 1 { onFirst() } else {
                Terminal.note("aborted; the ledger keeps every intent written so far (`bcli batch state` shows them)")
                _exit(130)
            }
        }
        source.resume()
    }

    func stop() {
        source.cancel()
        signal(SIGINT, SIG_DFL)
    }
}
