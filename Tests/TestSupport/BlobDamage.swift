import Foundation
import GRDB
import Hashing
import Store

/// Damage and age a stored blob wherever its bytes live — its file under `objects/`, or the
/// ledger's `object_data` row — the way a bad disk, a bad hand or time would, so tests of verify,
/// fsck and gc exercise both places.
public enum BlobDamage {
    /// True when the ledger holds the blob's bytes (`object_data`), whether or not a file does too.
    public static func isInLedger(_ store: LedgerStore, _ digest: Digest) throws -> Bool {
        var found = false
        try withLedger(store) { db in
            found = try Bool.fetchOne(db, sql: "SELECT 1 FROM object_data WHERE digest = ?", arguments: [digest.hex]) != nil
        }
        return found
    }

    /// True when the blob has a file under `objects/sha256`.
    public static func hasFile(_ store: LedgerStore, _ digest: Digest) -> Bool {
        FileManager.default.fileExists(atPath: store.objects.path(for: digest))
    }

    /// Rewrites the stored bytes through `change`.
    public static func change(_ store: LedgerStore, _ digest: Digest, _ change: (inout [UInt8]) -> Void) throws {
        let path = store.objects.path(for: digest)
        if FileManager.default.fileExists(atPath: path) {
            chmod(path, 0o644)
            var data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            change(&data)
            try Data(data).write(to: URL(fileURLWithPath: path))
            return
        }
        try withLedger(store) { db in
            guard let stored = try Data.fetchOne(db, sql: "SELECT data FROM object_data WHERE digest = ?", arguments: [digest.hex]) else {
                throw BlobDamageError.notStored(digest)
            }
            var bytes = [UInt8](stored)
            change(&bytes)
            try db.execute(sql: "UPDATE object_data SET data = ? WHERE digest = ?", arguments: [Data(bytes), digest.hex])
        }
    }

    /// Deletes the stored bytes; the index row stays (a blob lost, as by a bad disk).
    public static func remove(_ store: LedgerStore, _ digest: Digest) throws {
        let path = store.objects.path(for: digest)
        if FileManager.default.fileExists(atPath: path) {
            unlink(path)
            return
        }
        try withLedger(store) { db in
            try db.execute(sql: "DELETE FROM object_data WHERE digest = ?", arguments: [digest.hex])
        }
    }

    /// Makes the blob `days` old as gc sees it: its file's mtime, and its index row's
    /// `created_at` (the age of bytes stored in the ledger).
    public static func age(_ store: LedgerStore, _ digest: Digest, days: Int) throws {
        let seconds = time(nil) - days * 86_400
        let path = store.objects.path(for: digest)
        if FileManager.default.fileExists(atPath: path) {
            var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
            utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
        }
        try withLedger(store) { db in
            try db.execute(sql: "UPDATE object SET created_at = ? WHERE digest = ?",
                           arguments: [Timestamp.format(seconds: seconds), digest.hex])
        }
    }

    private static func withLedger(_ store: LedgerStore, _ body: (Database) throws -> Void) throws {
        let queue = try DatabaseQueue(path: store.root + "/" + LedgerStore.databaseName)
        try queue.write(body)
    }
}

public enum BlobDamageError: Error, CustomStringConvertible {
    case notStored(Digest)
    public var description: String {
        switch self { case .notStored(let d): "blob \(d) is neither a file nor stored in the ledger" }
    }
}
