import BusinessCentral
import Store

/// Why `batch rollback` will not touch a run. Every case is decided before anything is sent, and
/// each message names what to do instead. (bcli maps every refusal to exit 8.)
public enum RollbackRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// The run is a rollback or reconcile run (it has no writes of its own to undo): roll back its parent instead.
    case rollbackOfRollback(runID: String, parentRunID: String?)
    /// The run was imported from the Python tool's ledger: bcli holds no request bodies,
    /// pre-images or ETags for it, so it cannot plan a safe undo.
    case importedRun(runID: String)
    /// Another process holds the run's lock (it is still executing).
    case runLocked(runID: String)
    /// The profile the run recorded is gone from config.toml, so its `disable_writes` cannot be checked.
    case recordedProfileMissing(name: String)
    /// The profile the run recorded has `disable_writes = true`.
    case recordedProfileDisablesWrites(name: String)
    /// The profile chosen for the rollback has `disable_writes = true`.
    case profileDisablesWrites(name: String)
    /// The chosen profile points at another company than the one the run wrote to.
    case companyMismatch(runCompany: String, profile: String, profileCompany: String)
    /// Nothing is left to undo and the run is stamped `rolled_back`.
    case alreadyRolledBack(runID: String)

    public var description: String {
        switch self {
        case .rollbackOfRollback(let id, let parent):
            return "run \(id) is a rollback or reconcile run, which has no writes of its own to undo; roll back its parent \(parent ?? "?") instead"
        case .importedRun(let id):
            return "run \(id) was imported from the Python tool's ledger: bcli has no pre-images or ETags for it, so it cannot plan a safe undo — roll it back with the Python tool, or by hand from `bcli batch state \(id)`"
        case .runLocked(let id):
            return StoreError.runLocked(id).description
        case .recordedProfileMissing(let name):
            return "refusing to roll back: the run's profile '\(name)' is no longer configured, so its disable_writes setting cannot be checked — restore [profiles.\(name)] in config.toml"
        case .recordedProfileDisablesWrites(let name):
            return "refusing to roll back: the run's profile '\(name)' has disable_writes = true (no flag bypasses this)"
        case .profileDisablesWrites(let name):
            return "refusing to roll back: profile '\(name)' has disable_writes = true (no flag bypasses this)"
        case .companyMismatch(let runCompany, let profile, let profileCompany):
            return "refusing to roll back: the run wrote to company \(runCompany), profile '\(profile)' points at \(profileCompany); pass the run's profile with -p"
        case .alreadyRolledBack(let id):
            return "run \(id) is already fully rolled back; nothing to do"
        }
    }
}

/// What must hold before a rollback plans or sends anything, checked in this order: the run is a
/// batch run, no process holds its lock, the profile (`-p`, else the one the run recorded) loads,
/// the recorded profile is still configured and neither it nor the chosen one disables writes,
/// and the chosen profile points at the company the run wrote to.
public struct RollbackPreflight: Sendable {
    /// The run to roll back.
    public let original: RunRecord
    /// The profile the rollback uses (before a built-in sandbox gives it a base URL).
    public let profile: Profile

    /// - Parameters:
    ///   - lockHeld: whether a process holds the run's lock (`RunLock.isHeld`).
    ///   - requestedProfile: `-p`, if given.
    ///   - loadConfig: reads config.toml; called only when the run itself is not refused.
    /// - Throws: `RollbackRefusal`, or the `ConfigError` of loading config.toml or the chosen profile.
    public init(original: RunRecord, lockHeld: Bool, requestedProfile: String?,
                loadConfig: () throws(ConfigError) -> BCConfig) throws {
        if original.kind == .imported { throw RollbackRefusal.importedRun(runID: original.id) }
        // A resume run is rolled back like the batch run it continues (docs/recovery.md says in
        // which order: the resume runs first, newest first, then the original).
        guard original.kind == .batch || original.kind == .resume else {
            throw RollbackRefusal.rollbackOfRollback(runID: original.id, parentRunID: original.parentRunID)
        }
        if lockHeld { throw RollbackRefusal.runLocked(runID: original.id) }
        let config = try loadConfig()
        let recordedName = original.profile ?? BCConfig.fallbackProfileName
        let profile = try config.profile(named: requestedProfile ?? recordedName)
        let recorded: Profile
        do { recorded = try config.profile(named: recordedName) } catch {
            throw RollbackRefusal.recordedProfileMissing(name: recordedName)
        }
        if recorded.disableWrites { throw RollbackRefusal.recordedProfileDisablesWrites(name: recordedName) }
        if profile.disableWrites { throw RollbackRefusal.profileDisablesWrites(name: profile.name) }
        if let company = original.company, let current = profile.companyID, company != current {
            throw RollbackRefusal.companyMismatch(runCompany: company, profile: profile.name, profileCompany: current)
        }
        self.original = original
        self.profile = profile
    }

    /// Reads the run (`idOrPrefix`) and its lock from `store`, then checks as above.
    public static func check(store: LedgerStore, run idOrPrefix: String, requestedProfile: String?,
                             loadConfig: () throws(ConfigError) -> BCConfig) throws -> RollbackPreflight {
        let original = try store.run(idOrPrefix)
        return try RollbackPreflight(original: original, lockHeld: RunLock.isHeld(store: store.root, runID: original.id),
                                     requestedProfile: requestedProfile, loadConfig: loadConfig)
    }

    /// The rebasing of the run's recorded URLs onto `baseURL` (the base URL the rollback sends to).
    public func rebase(to baseURL: String?) -> URLRebase {
        URLRebase(from: original.baseURL, to: baseURL)
    }

    /// What a plan leaves to do: `.apply` when something can be undone (or marked undone);
    /// otherwise which note to print. A run stamped `rolled_back` with nothing left is refused.
    public func work(in plan: RollbackPlan) throws(RollbackRefusal) -> RollbackWork {
        guard plan.reversible.isEmpty && plan.alreadyUndone.isEmpty else { return .apply }
        if original.state == .rolledBack { throw .alreadyRolledBack(runID: original.id) }
        return plan.items.isEmpty ? .nothingToRollBack : .needsAPerson
    }
}

/// See `RollbackPreflight.work(in:)`.
public enum RollbackWork: Sendable, Equatable {
    /// Some compensations to send, or steps to mark undone.
    case apply
    /// The run wrote nothing.
    case nothingToRollBack
    /// Only irreversible writes are left.
    case needsAPerson
}

/// Maps a URL recorded at run time onto the base URL used now (e.g. the built-in sandbox on
/// another port): a URL under `from` gets `to` in its place; any other URL, or no `from`/`to`,
/// is unchanged.
public struct URLRebase: Sendable, Equatable {
    public let from: String?
    public let to: String?

    public init(from: String?, to: String?) {
        self.from = from
        self.to = to
    }

    public func callAsFunction(_ url: String) -> String {
        guard let from, let to, from != to, url.hasPrefix(from) else { return url }
        return to + url.dropFirst(from.count)
    }
}
