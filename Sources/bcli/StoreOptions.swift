import ArgumentParser
import Foundation
import Store

/// `--store`, shared by every command that touches a store. Commands that write to it take
/// `WritingStoreOptions`, which adds `--durability`: a command that only reads has no use for it,
/// so its help does not offer it.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The store folder (default: $BCLI_STORE, else $XDG_DATA_HOME/bcli, else ~/.local/share/bcli).",
        valueName: "dir"), completion: .directory)
    var store: String?

    /// Readers open with `process` (the setting only changes how writes are synced).
    var durability: DurabilityOption { .process }

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
    func open(durability: DurabilityOption = .process) throws -> LedgerStore {
        do { return try LedgerStore(root: storePath, durability: durability.value) } catch {
            throw CLIFailure(error.exitStatus, error.unusableCause != nil ? error.description : "cannot open the store at \(storePath): \(error)")
        }
    }

    /// Opens a store that must already exist (commands that only read): no ledger is exit 4,
    /// unless the folder has blobs, a `refs/head` file or run lock files — then the ledger is gone and the store
    /// is damaged (exit 9). Nothing is created either way.
    func openExisting(durability: DurabilityOption = .process) throws -> LedgerStore {
        let path = storePath
        guard FileManager.default.fileExists(atPath: path + "/" + LedgerStore.databaseName) else {
            if let damage = LedgerStore.damage(root: path) { throw CLIFailure(damage) }
            throw CLIFailure(.notFound, Self.noStore(path))
        }
        return try open(durability: durability)
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

/// `--store` and `--durability`, for the commands that record runs or change the store (`run`,
/// `resume`, `rollback`, `reconcile`, `import`, `import-python-ledger`, `gc`).
struct WritingStoreOptions: ParsableArguments {
    @OptionGroup var location: StoreOptions

    @Option(name: .long, help: "process: survive a crash of bcli; full: also survive power loss (fsync).")
    var durability: DurabilityOption = .process

    var store: String? { location.store }
    var environment: [String: String] { location.environment }
    var storePath: String { location.storePath }

    func open() throws -> LedgerStore { try location.open(durability: durability) }
    func openExisting() throws -> LedgerStore { try location.openExisting(durability: durability) }
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

/// Files a command writes (`-o`, `--result-out`): checked before anything runs, so a run is never
/// made only to fail at writing its result, and the error names the real cause.
enum OutputPath {
    /// A path that names a folder (existing, or written with a trailing `/`) is a usage error.
    static func validate(_ path: String?, flag: String) throws {
        guard let path else { return }
        if path.isEmpty { throw ValidationError("\(flag) needs a file path") }
        var isDirectory: ObjCBool = false
        if path.hasSuffix("/") || (FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue) {
            let name = URL(fileURLWithPath: path).appendingPathComponent("result.json").path
            throw ValidationError("\(flag) \(path) is a folder, not a file — give a file path, e.g. \(flag) \(name)")
        }
    }
}
