#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GRDB
import Hashing

/// Why a store cannot be used at all (exit 9 from every command), each naming its cause.
public enum StoreUnusableCause: String, Sendable {
    /// The store has blobs, a `refs/head` file or run lock files, but its ledger is missing, empty or was never
    /// created: a history that was there is gone, and the store must not pass for a new one.
    case damaged
    /// `ledger.sqlite3` is not an SQLite database.
    case notADatabase = "not-a-database"
    /// SQLite found the database file corrupt.
    case corrupt
    /// The store's folder or file system refuses writes (EROFS, EACCES, SQLITE_READONLY).
    case readOnly = "read-only"
    /// The disk holding the store is full (ENOSPC, EDQUOT, SQLITE_FULL).
    case diskFull = "disk-full"
    /// The ledger file cannot be opened (SQLITE_CANTOPEN).
    case cannotOpen = "cannot-open"
    /// The disk reported an I/O error (EIO, SQLITE_IOERR).
    case ioError = "io-error"

    /// True for the causes `verify --all` and `fsck` report as a finding (the store's content is
    /// damaged) rather than refuse with exit 9 (the store cannot be reached or written).
    public var isDamage: Bool { self == .damaged || self == .notADatabase || self == .corrupt }
}

/// Everything the store can refuse or fail at, each with the action that fixes it.
public enum StoreError: Error, CustomStringConvertible, Sendable {
    case io(operation: String, path: String, errno: Int32)
    case blobMissing(Digest)
    case blobCorrupt(Digest, actual: Digest, size: Int64)
    case blobWrongSize(Digest, expected: Int64, actual: Int64)
    case shortWrite(path: String, expected: Int, written: Int)
    case invalidDigest(DigestError)
    case unknownPrefix(String)
    case ambiguousPrefix(String, candidates: [Digest])
    case database(String)
    case newerSchema(applied: [String])
    case runNotFound(String)
    case ambiguousRunID(String, candidates: [String])
    case invalidRunID(String)
    /// `latest~N` reaches past the oldest run (`runs` is how many the store holds).
    case latestOutOfRange(String, runs: Int)
    case runLocked(String)
    case invalidState(String)
    /// The store cannot be used: `path` is the file or folder at fault, `detail` what was seen.
    case unusable(StoreUnusableCause, path: String, detail: String)

    public var description: String {
        switch self {
        case .io(let op, let path, let e) where StoreError.cause(errno: e) == .diskFull:
            return "the disk holding the store is full (\(op) \(path): \(String(cString: strerror(e)))) — free space on it and run the command again; `bcli batch list` shows what was recorded"
        case .io(let op, let path, let e) where StoreError.cause(errno: e) == .readOnly:
            return "the store is read-only (\(op) \(path): \(String(cString: strerror(e)))) — remount it read-write or fix its permissions, or pass --store with a writable folder"
        case .io(let op, let path, let e):
            return "\(op) \(path) failed: \(String(cString: strerror(e))) — check that the store folder is writable and the disk is not full"
        case .blobMissing(let d):
            return "blob \(d) is not in the store — run `bcli batch fsck` to check the store, or import the bundle that holds it"
        case .blobCorrupt(let d, let actual, _):
            return "blob \(d) is corrupt (its bytes hash to \(actual)) — run `bcli batch fsck` and restore it from a bundle or backup"
        case .blobWrongSize(let d, let expected, let actual):
            return "blob \(d) has \(actual) bytes, expected \(expected) — run `bcli batch fsck` and restore it from a bundle or backup"
        case .shortWrite(let path, let expected, let written):
            return "the disk holding the store is full (short write to \(path): \(written) of \(expected) bytes) — free space on it and run the command again"
        case .invalidDigest(let e):
            return e.description
        case .unknownPrefix(let p):
            return "no blob in the store starts with '\(p)' — run `bcli batch state RUN --format json` to see a run's digests"
        case .ambiguousPrefix(let p, let c):
            return "digest prefix '\(p)' is ambiguous (\(c.count) blobs match, e.g. \(c.prefix(3).map(\.short).joined(separator: ", "))) — give more characters"
        case .database(let m):
            return "ledger database error: \(m)"
        case .newerSchema(let applied):
            return "the ledger was written by a newer bcli (unknown migrations: \(applied.joined(separator: ", "))) — upgrade bcli to read this store"
        case .runNotFound(let id):
            return "no run '\(id)' in this store — run `bcli batch list` to see run ids (or pass --store)"
        case .ambiguousRunID(let p, let c):
            return "run id prefix '\(p)' is ambiguous (\(c.prefix(5).joined(separator: ", "))) — give more characters"
        case .invalidRunID(let s):
            return "'\(s)' is not a run id: give a unique prefix of the id `bcli batch list` shows (6 to 32 hex characters), `latest` or `latest~N`"
        case .latestOutOfRange(let asked, let total):
            return total == 0
                ? "'\(asked)' names no run: this store has no runs yet — run `bcli batch run FILE` first (or pass --store)"
                : "'\(asked)' names no run: this store has \(total) run\(total == 1 ? "" : "s"), latest to latest~\(total - 1) — see `bcli batch list`"
        case .runLocked(let id):
            return "run \(id) is still running (another bcli process holds its lock) — wait for it to finish or stop it first"
        case .invalidState(let m):
            return m
        case .unusable(let cause, let path, let detail):
            switch cause {
            case .damaged:
                return "the store at \(path) is damaged: \(detail) — restore ledger.sqlite3 from a backup (or import the runs' bundles into a new store with --store); nothing was written"
            case .notADatabase:
                return "\(path) is not a bcli ledger (not an SQLite database: \(detail)) — restore ledger.sqlite3 from a backup, or pass --store with the right folder"
            case .corrupt:
                return "the ledger \(path) is corrupt (\(detail)) — restore it from a backup; `bcli batch fsck` lists what else is damaged"
            case .readOnly:
                return "the store at \(path) is read-only (\(detail)) — remount it read-write or fix its permissions, or pass --store with a writable folder"
            case .diskFull:
                return "the disk holding the store at \(path) is full (\(detail)) — free space on it and run the command again; `bcli batch list` shows what was recorded"
            case .cannotOpen:
                return "cannot open the ledger \(path) (\(detail)) — check that the store folder exists, is a folder and is readable and writable"
            case .ioError:
                return "the disk reported an I/O error on \(path) (\(detail)) — check the disk (dmesg), then `bcli batch fsck`"
            }
        }
    }

    /// The cause that makes the store unusable, if this error is one (exit 9): damage found on
    /// open, SQLite's and the file system's refusals, a newer schema, any other ledger error.
    public var unusableCause: StoreUnusableCause? {
        switch self {
        case .unusable(let cause, _, _): return cause
        case .io(_, _, let e): return StoreError.cause(errno: e) ?? .ioError
        case .shortWrite: return .diskFull
        default: return nil
        }
    }

    /// The store-unusable cause an errno names, if any.
    public static func cause(errno e: Int32) -> StoreUnusableCause? {
        switch e {
        case ENOSPC, EDQUOT: return .diskFull
        case EROFS, EACCES, EPERM: return .readOnly
        case EIO: return .ioError
        default: return nil
        }
    }

    /// Turns an error from GRDB/SQLite into a typed `StoreError`: SQLITE_NOTADB, _CORRUPT,
    /// _READONLY, _CANTOPEN, _FULL and _IOERR become `unusable` with their cause; when SQLite's
    /// code is vague (CANTOPEN, IOERR), the file system of `path` is asked whether it is
    /// read-only or full. Anything else stays a `database` error.
    public static func classify(_ error: any Error, path: String) -> StoreError {
        if let e = error as? StoreError { return e }
        guard let db = error as? DatabaseError else { return .database("\(error)") }
        let detail = db.message ?? "\(db)"
        switch db.resultCode {
        case .SQLITE_NOTADB:
            return .unusable(.notADatabase, path: path, detail: detail)
        case .SQLITE_CORRUPT:
            return .unusable(.corrupt, path: path, detail: detail)
        case .SQLITE_FULL:
            return .unusable(.diskFull, path: path, detail: detail)
        case .SQLITE_READONLY:
            return .unusable(.readOnly, path: path, detail: detail)
        case .SQLITE_CANTOPEN, .SQLITE_IOERR:
            if let cause = FileSystemState.cause(at: path) { return .unusable(cause, path: path, detail: detail) }
            return .unusable(db.resultCode == .SQLITE_CANTOPEN ? .cannotOpen : .ioError, path: path, detail: detail)
        default:
            return .database("\(error)")
        }
    }
}

/// What the file system holding a path says about it: read-only, or out of space.
enum FileSystemState {
    static func cause(at path: String) -> StoreUnusableCause? {
        var folder = path
        var st = stat()
        if stat(folder, &st) != 0 || (st.st_mode & S_IFMT) != S_IFDIR {
            if let slash = folder.lastIndex(of: "/") { folder = slash == folder.startIndex ? "/" : String(folder[..<slash]) }
        }
        var fs = statvfs()
        guard statvfs(folder, &fs) == 0 else { return nil }
        if fs.f_flag & UInt(ST_RDONLY) != 0 { return .readOnly }
        if fs.f_bfree == 0 || fs.f_favail == 0 && fs.f_files > 0 { return .diskFull }
        if access(folder, W_OK) != 0 && (errno == EROFS || errno == EACCES) { return .readOnly }
        return nil
    }
}
