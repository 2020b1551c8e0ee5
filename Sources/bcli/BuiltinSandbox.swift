import BusinessCentral
import Sandbox
import Store

/// The sandbox behind the built-in `sandbox` profile when `BCLI_SANDBOX_URL` names none: started
/// in-process for the command's lifetime, its data kept in `<store>/sandbox/` so records survive
/// between commands (a rollback sees what a run created).
enum BuiltinSandbox {
    /// The folder inside the store that holds the sandbox's SQLite file (`bcli sandbox reset` deletes it).
    static let folderName = "sandbox"

    /// Returns the profile to use (with the sandbox's base URL) and the server to stop afterwards,
    /// or the profile unchanged and nil when it needs no in-process sandbox.
    static func startIfNeeded(for profile: Profile, store: LedgerStore) async throws -> (Profile, SandboxServer?) {
        guard profile.isSandbox && profile.baseURL == nil else { return (profile, nil) }
        do {
            var configuration = SandboxConfiguration(dataDirectory: store.root + "/" + folderName)
            configuration.demoData = true
            let server = try SandboxServer(configuration: configuration)
            return (profile.withBaseURL(try await server.start()), server)
        } catch {
            throw CLIFailure(.failure, "cannot start the built-in sandbox: \(error) — or start one with `bcli sandbox serve` and set \(BuiltinProfiles.sandboxURLVariable)")
        }
    }
}
