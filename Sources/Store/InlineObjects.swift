import Foundation
import GRDB
import Hashing

/// Read access to the small blobs stored in the ledger (`object_data`), for `ObjectStore`.
///
/// It has its own read-only connection, opened on first use, so a blob can be read from inside
/// a ledger transaction (the ledger's queue is not reentrant) and readers never wait for the
/// writer (WAL). It sees committed rows only, which is all a reader may trust: a blob's bytes
/// commit with the row that names them.
public final class InlineObjects: @unchecked Sendable {
    public let databasePath: String
    /// Guards `queue` (`Synchronization.Mutex` needs macOS 15; the package supports 14).
    private let lock = NSLock()
    private var queue: DatabaseQueue?

    public init(databasePath: String) {
        self.databasePath = databasePath
    }

    /// The stored bytes of `digest` (not yet re-hashed), or nil when the ledger has none.
    public func bytes(_ digest: Digest) throws(StoreError) -> [UInt8]? {
        try read { db in
            try Data.fetchOne(db, sql: "SELECT data FROM object_data WHERE digest = ?", arguments: [digest.hex]).map { [UInt8]($0) }
        } ?? nil
    }

    public func contains(_ digest: Digest) throws(StoreError) -> Bool {
        (try read { db in try Bool.fetchOne(db, sql: "SELECT 1 FROM object_data WHERE digest = ?", arguments: [digest.hex]) } ?? nil) != nil
    }

    /// Digests of stored blobs whose hex starts with `hexPrefix` (at most `limit`, in order).
    public func digests(withPrefix hexPrefix: String, limit: Int = 16) throws(StoreError) -> [Digest] {
        (try read { db in
            try String.fetchAll(db, sql: "SELECT digest FROM object_data WHERE digest >= ? AND digest < ? ORDER BY digest LIMIT ?",
                                arguments: [hexPrefix, hexPrefix + "g", limit])
        } ?? []).compactMap { try? Digest(parsing: $0) }
    }

    /// The read connection, opened on first use (a failed open is tried again next time).
    private func connection() throws -> DatabaseQueue {
        lock.lock()
        defer { lock.unlock() }
        if let queue { return queue }
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(10)
        config.label = "bcli.ledger.objects"
        let opened = try DatabaseQueue(path: databasePath, configuration: config)
        queue = opened
        return opened
    }

    /// Runs `body` on the read connection; nil when the ledger has no `object_data` table (one
    /// opened read-only before the migration that adds it stores no blob).
    private func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T? {
        do {
            return try connection().read(body)
        } catch let error as DatabaseError where error.message?.hasPrefix("no such table") == true {
            return nil
        } catch {
            throw StoreError.classify(error, path: databasePath)
        }
    }
}
