import BusinessCentral
import Hashing
import Store

/// A run row from its start to its stamp, as the runner and rollback record it: the row names
/// the profile it ran against (profile, environment, company, base URL), the run's lock is taken
/// before the row is written and held until the run is released, and `finish` stamps the final
/// state, writes the run record and moves `refs/head` (`LedgerStore.finishRun`).
///
/// While the lock is held, `state` and `list` read the run as `running`; once it is released an
/// unfinished run reads `interrupted` (or `in_doubt`). The kernel drops the lock if the process
/// dies, so a killed run is never mistaken for a live one.
final class LedgerRun: Sendable {
    let id: String
    let store: LedgerStore
    private let lock: RunLock

    /// Takes the lock of `row.id`, then commits `row` with `profile`'s names.
    init(_ row: NewRun, profile: Profile, store: LedgerStore) throws(StoreError) {
        var row = row
        row.profile = profile.name
        row.environment = profile.environment
        row.company = profile.companyID
        row.baseURL = profile.baseURL
        self.id = row.id
        self.store = store
        self.lock = try store.lock(runID: row.id)
        try store.ledger.startRun(row)
    }

    /// Stamps `state` and writes the run's record; returns the record's digest.
    @discardableResult
    func finish(_ state: RunState) throws(StoreError) -> Digest {
        try store.finishRun(id, state: state)
    }

    /// Releases the run's lock (also released when the value goes away).
    func release() { lock.release() }
}

/// What a writer of runs (the runner, the rollback executor) works with: the store it records
/// into, the one exchange that sends and records each request, and the profile it runs against.
struct RunContext: Sendable {
    let exchange: RecordedExchange
    let profile: Profile
    var store: LedgerStore { exchange.store }

    /// - Parameter transport: what sends the requests (a `BCClient`, or a stub in tests).
    init(store: LedgerStore, transport: any BCTransport, profile: Profile) {
        self.exchange = RecordedExchange(store: store, transport: transport)
        self.profile = profile
    }
}

/// A type that writes runs through a `RunContext`: its store, exchange and profile read through.
protocol RunWriter {
    var context: RunContext { get }
}

extension RunWriter {
    var store: LedgerStore { context.store }
    var exchange: RecordedExchange { context.exchange }
    var profile: Profile { context.profile }
}
