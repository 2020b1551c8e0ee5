#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Hashing

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
    case runLocked(String)
    case invalidState(String)

    public var description: String {
        switch self {
        case .io(let op, let path, let e):
            return "\(op) \(path) failed: \(String(cString: strerror(e))) — check that the store folder is writable and the disk is not full"
        case .blobMissing(let d):
            return "blob \(d) is not in the store — run `bcli batch fsck` to check the store, or import the bundle that holds it"
        case .blobCorrupt(let d, let actual, _):
            return "blob \(d) is corrupt (its bytes hash to \(actual)) — run `bcli batch fsck` and restore it from a bundle or backup"
        case .blobWrongSize(let d, let expected, let actual):
            return "blob \(d) has \(actual) bytes, expected \(expected) — run `bcli batch fsck` and restore it from a bundle or backup"
        case .shortWrite(let path, let expected, let written):
            return "short write to \(path): \(written) of \(expected) bytes — check free disk space"
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
            return "'\(s)' is not a run id: give 6 to 32 lowercase hex characters (see `bcli batch list`)"
        case .runLocked(let id):
            return "run \(id) is still running (another bcli process holds its lock) — wait for it to finish or stop it first"
        case .invalidState(let m):
            return m
        }
    }
}
