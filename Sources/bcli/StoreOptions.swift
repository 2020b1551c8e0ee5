import ArgumentParser
import Foundation
import Store

/// `--store` and `--durability`, shared by every command that touches a store.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The store folder (default: $BCLI_STORE, else $XDG_DATA_HOME/bcli, else ~/.local/share/bcli).",
        valueName: "dir"))
    var store: String?

    @Option(name: .long, help: "process: survive a crash of bcli; full: also survive power loss (fsync).")
    var durability: DurabilityOption = .process

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// `--store ''` is a mistake (an unset variable in a script), not "the default store".
    func validate() throws {
        if let store, store.isEmpty {
            throw ValidationError("--store needs a folder path; leave it out to use $BCLI_STORE or the default (~/.local/share/bcli)")
        }
    }

    var storePath: String { StoreLocation.resolve(explicit: store, environment: environment) }

    /// Opens the store, creating it on first use (commands that record runs). A damaged,
    /// read-only or full store fails with exit 9 and a message naming the cause.
    func open() throws -> LedgerStore {
        do { return try LedgerStore(root: storePath, durability: durability.value) } catch {
            throw CLIFailure(error.exitStatus, error.unusableCause != nil ? error.description : "cannot open the store at \(storePath): \(error)")
        }
    }

    /// Opens a store that must already exist (commands that only read): no ledger is exit 4,
    /// unless the folder has blobs, a `refs/head` file or run lock files — then the ledger is gone and the store
    /// is damaged (exit 9). Nothing is created either way.
    func openExisting() throws -> LedgerStore {
        let path = storePath
        guard FileManager.default.fileExists(atPath: path + "/" + LedgerStore.databaseName) else {
            if let damage = LedgerStore.damage(root: path) { throw CLIFailure(damage) }
            throw CLIFailure(.notFound, Self.noStore(path))
        }
        return try open()
    }

    /// `openExisting`, except that no store at all is nil (a machine where nothing ran yet):
    /// `list` then lists nothing. A damaged store still fails (exit 9).
    func openIfExists() throws -> LedgerStore? {
        let path = storePath
        guard FileManager.default.fileExists(atPath: path + "/" + LedgerStore.databaseName) else {
            if let damage = LedgerStore.damage(root: path) { throw CLIFailure(damage) }
            return nil
        }
        return try open()
    }

    static func noStore(_ path: String) -> String {
        "no bcli store at \(path) — pass --store DIR or set BCLI_STORE to the folder a run used"
    }
}

enum DurabilityOption: String, ExpressibleByArgument, CaseIterable {
    case process, full
    var value: Durability { self == .full ? .full : .process }
}

/// `--format text|json` for commands that print tables. `table` (the Python tool's name for
/// its default, and what `bcli -f table …` moves here) means `text`.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json

    init?(argument: String) {
        self.init(rawValue: argument == "table" ? "text" : argument)
    }
}
