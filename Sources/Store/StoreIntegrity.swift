#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GRDB
import Hashing

/// `<store>/refs/head`: the digest of the newest finished run's record, in a file beside the
/// database (`sha256:<64 hex>\n`). The database keeps the same ref; the file is what catches a
/// database that was deleted, emptied or replaced by an older copy of itself, because it does not
/// go with the database.
public enum HeadFile {
    public static let relativePath = "refs/head"

    public static func path(root: String) -> String { root + "/" + relativePath }

    /// What the file holds.
    public enum Contents: Sendable, Equatable {
        case absent
        case digest(Digest)
        /// The file exists but does not hold `sha256:<64 hex>\n`.
        case invalid(String)
    }

    public static func read(root: String) -> Contents {
        let file = path(root: root)
        guard POSIX.exists(file) else { return .absent }
        guard let bytes = try? POSIX.readFile(file) else { return .invalid("cannot read \(file)") }
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.hasSuffix("\n"), let digest = try? Digest(parsing: String(text.dropLast())),
              text == digest.description + "\n" else {
            return .invalid("\(file) does not hold sha256:<64 hex> and a newline")
        }
        return .digest(digest)
    }

    /// Writes the file atomically and durably: temp file, fsync, rename, fsync of `refs/`.
    static func write(_ digest: Digest, root: String) throws(StoreError) {
        try POSIX.makeDirectory(root + "/refs")
        try POSIX.writeAtomically(Array((digest.description + "\n").utf8), to: path(root: root), mode: 0o600)
    }
}

/// The checks that keep a damaged store from passing for a new, empty one.
enum StoreIntegrity {
    /// True when the folder holds any trace of history: a blob (or a blob's temp file) under
    /// `objects/sha256/`, a `refs/head` file, or a run's lock file.
    static func hasHistory(root: String) -> Bool {
        !evidence(root: root).isEmpty
    }

    static func hasBlobs(root: String) -> Bool {
        let objects = root + "/objects/sha256"
        for fan in POSIX.listDirectory(objects) where !POSIX.listDirectory(objects + "/" + fan).isEmpty {
            return true
        }
        return false
    }

    /// A lock file of a run (`locks/<32 hex>`): every run leaves one, and since small blobs live in
    /// the ledger, a store whose runs never finished may have no blob file at all.
    static func hasRunLocks(root: String) -> Bool {
        POSIX.listDirectory(root + "/locks").contains { name in
            name.utf8.count == 32 && name.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
        }
    }

    /// What in the folder says runs were recorded here: blob files, a `refs/head` file, run locks.
    static func evidence(root: String) -> [String] {
        var found: [String] = []
        if hasBlobs(root: root) { found.append("blobs") }
        if POSIX.exists(HeadFile.path(root: root)) { found.append("a refs/head file") }
        if hasRunLocks(root: root) { found.append("run lock files") }
        return found
    }

    /// The damage that forbids opening `root`, or nil: a ledger that is missing or zero bytes in a
    /// folder that has history. Reads only; creates nothing.
    static func damage(root: String) -> StoreError? {
        let database = root + "/" + LedgerStore.databaseName
        let size = POSIX.fileSize(database)
        if let size, size > 0 { return nil }
        let evidence = evidence(root: root)
        guard !evidence.isEmpty else { return nil }
        let what = size == nil ? "ledger.sqlite3 is missing" : "ledger.sqlite3 is empty (0 bytes)"
        let listed = evidence.count == 1 ? evidence[0] : evidence.dropLast().joined(separator: ", ") + " and " + evidence.last!
        return .unusable(.damaged, path: root, detail: "\(what), but the store has \(listed): the ledger that recorded them is gone")
    }
}

/// The exclusive `flock` on `<store>/locks/migrate` held while a process opens (creates, migrates)
/// the ledger, so that processes opening one new store at the same moment take turns: the first
/// creates and migrates, the others find the schema done.
final class MigrationLock {
    private var fd: Int32

    private init(fd: Int32) { self.fd = fd }

    deinit { release() }

    static func acquire(root: String) throws(StoreError) -> MigrationLock {
        try POSIX.makeDirectory(root + "/locks")
        let file = root + "/locks/migrate"
        var fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 && (errno == EROFS || errno == EACCES) {
            fd = open(file, O_RDONLY | O_CLOEXEC)  // a read-only store: SQLite will say what it can do
        }
        guard fd >= 0 else { throw .io(operation: "open", path: file, errno: errno) }
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let e = errno
            close(fd)
            throw .io(operation: "flock", path: file, errno: e)
        }
        return MigrationLock(fd: fd)
    }

    func release() {
        if fd >= 0 {
            flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
    }
}

extension LedgerStore {
    /// Why the folder `root` must not be opened (a missing or empty ledger beside blobs or a
    /// `refs/head` file), or nil. Reads only; creates nothing.
    public static func damage(root: String) -> StoreError? { StoreIntegrity.damage(root: root) }
}

/// How the `refs/head` file and the ledger's `refs/head` row agree.
public enum HeadCheck: Sendable, Equatable {
    case ok
    /// The file is one record ahead of the ledger: that run's finish wrote the file and then its
    /// commit was lost (a crash or a full disk in between). The run reads as not finished.
    case finishNotCommitted(record: Digest, runID: String)
    /// They disagree in a way no crash explains: `detail` says how.
    case mismatch(file: Digest?, ledger: Digest?, detail: String)

    /// Compares the file with the ledger's head.
    static func check(_ store: LedgerStore) throws(StoreError) -> HeadCheck {
        let ledgerHead = try store.ledger.ref(LedgerStore.headRef)
        let file = HeadFile.path(root: store.root)
        switch HeadFile.read(root: store.root) {
        case .absent:
            guard let ledgerHead else { return .ok }
            return .mismatch(file: nil, ledger: ledgerHead, detail: "the ledger's refs/head is \(ledgerHead), but the file \(file) is missing (it is written at every finish) — it was deleted, or the ledger comes from another store; restore the file from a backup of this store (or, if this ledger is the one you trust, write its head into it: `printf '%s\\n' \(ledgerHead) > \(file)`)")
        case .invalid(let why):
            return .mismatch(file: nil, ledger: ledgerHead, detail: why)
        case .digest(let digest):
            if digest == ledgerHead { return .ok }
            if let runID = try uncommittedFinish(digest, ledgerHead: ledgerHead, store) {
                return .finishNotCommitted(record: digest, runID: runID)
            }
            let head = ledgerHead.map { "the ledger's is \($0)" } ?? "the ledger has none"
            return .mismatch(file: digest, ledger: ledgerHead, detail: "the file \(file) names record \(digest) as the newest finished run, but \(head): the ledger was replaced by an older copy, emptied or had runs removed — restore the ledger that matches refs/head")
        }
    }

    /// The run id when `record` is the record of a run the ledger holds unfinished, chained to
    /// the ledger's head: the file moved, the commit that would have moved the row did not.
    private static func uncommittedFinish(_ record: Digest, ledgerHead: Digest?, _ store: LedgerStore) throws(StoreError) -> String? {
        guard let bytes = try? store.objects.get(record), let doc = try? JSONValue(parsing: bytes),
              doc["type"]?.stringValue == RunRecordDocument.recordType,
              let runID = doc["run"]?["id"]?.stringValue else { return nil }
        let previous = doc["previous_record"]?.stringValue
        guard previous == ledgerHead?.description else { return nil }
        let finished = try store.ledger.read { db in
            try Row.fetchOne(db, sql: "SELECT finished_at FROM run WHERE id = ?", arguments: [runID])
        }
        guard let finished, finished["finished_at"] as String? == nil else { return nil }
        return runID
    }
}
