import GRDB
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Hashing

/// A store check in the spirit of `git fsck`: every indexed blob is re-hashed (a file, or bytes the
/// ledger holds), every file on disk is matched to its name, and the database checks itself.
public struct FsckReport: Sendable {
    public enum Severity: String, Sendable { case problem, notice }

    public struct Finding: Sendable, Equatable {
        public let severity: Severity
        /// `missing`, `corrupt`, `zero-byte`, `wrong-size`, `misnamed`, `database`, `ledger-damaged`,
        /// `head-mismatch`, `head-ahead`, `temp-leftover`, `unindexed`.
        public let kind: String
        public let path: String
        public let digest: Digest?
        public let detail: String
    }

    public var findings: [Finding] = []
    public var objectsChecked = 0
    public var filesOnDisk = 0

    public var problems: [Finding] { findings.filter { $0.severity == .problem } }
    public var isClean: Bool { problems.isEmpty }
}

public enum Fsck {
    /// `check(_:)` for the store at `root`, where a damaged ledger (missing or empty beside blobs
    /// or `refs/head`, not a database, corrupt) is a finding, not an error. Other reasons the store
    /// cannot be used (read-only, disk full) are thrown.
    public static func check(root: String, durability: Durability = .process) throws(StoreError) -> FsckReport {
        do {
            return try check(try LedgerStore(root: root, durability: durability))
        } catch {
            guard let cause = error.unusableCause, cause.isDamage else { throw error }
            var report = FsckReport()
            report.findings.append(.init(severity: .problem, kind: "ledger-damaged", path: root + "/" + LedgerStore.databaseName,
                                         digest: nil, detail: error.description))
            return report
        }
    }

    /// Checks the whole store. Reads everything; writes nothing.
    public static func check(_ store: LedgerStore) throws(StoreError) -> FsckReport {
        var report = FsckReport()
        let objects = store.objects

        // 0. The `refs/head` file agrees with the ledger's head.
        switch try HeadCheck.check(store) {
        case .ok: break
        case .finishNotCommitted(let record, let runID):
            report.findings.append(.init(severity: .notice, kind: "head-ahead", path: HeadFile.path(root: store.root), digest: record,
                                         detail: "\(HeadFile.relativePath) names the record of run \(runID), whose finish was not committed; the run reads as unfinished"))
        case .mismatch(let file, _, let detail):
            report.findings.append(.init(severity: .problem, kind: "head-mismatch", path: HeadFile.path(root: store.root), digest: file,
                                         detail: detail))
        }

        // 1. The database checks itself.
        let integrity = try store.ledger.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
        if integrity != ["ok"] {
            report.findings.append(.init(severity: .problem, kind: "database", path: store.ledger.path, digest: nil,
                                         detail: integrity.prefix(5).joined(separator: "; ")))
        }
        let fkProblems = try store.ledger.read { db in try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").count }
        if fkProblems > 0 {
            report.findings.append(.init(severity: .problem, kind: "database", path: store.ledger.path, digest: nil,
                                         detail: "\(fkProblems) rows name a blob or run that is not indexed"))
        }

        // 2. Every indexed blob is present, non-empty, the right size and hashes to its name.
        let indexed = try store.ledger.objects()
        var indexedHex = Set<String>()
        for blob in indexed {
            indexedHex.insert(blob.digest.hex)
            report.objectsChecked += 1
            // A file is checked on its own first: a damaged file is a problem even when the
            // ledger holds a good copy of the same blob (which every read then uses).
            let fileVerdict = objects.verifyFile(blob.digest, expectedSize: blob.size)
            if fileVerdict.isOK { continue }
            let verdict: ObjectStore.Verification, path: String, what: String, note: String
            if fileVerdict == .missing {
                verdict = objects.verify(blob.digest, expectedSize: blob.size)  // the ledger's copy
                if verdict.isOK { continue }
                (path, what, note) = (objects.location(for: blob.digest), "the ledger's copy", "")
            } else {
                verdict = fileVerdict
                (path, what) = (objects.path(for: blob.digest), "the file")
                note = objects.verify(blob.digest, expectedSize: blob.size).isOK
                    ? "; the ledger holds a good copy, which every read uses (move the file aside to clear this)" : ""
            }
            switch verdict {
            case .ok: break
            case .missing:
                report.findings.append(.init(severity: .problem, kind: "missing", path: path, digest: blob.digest,
                                             detail: "indexed blob is neither a file nor stored in the ledger"))
            case .empty:
                report.findings.append(.init(severity: .problem, kind: "zero-byte", path: path, digest: blob.digest,
                                             detail: "\(what) is empty, expected \(blob.size) bytes\(note)"))
            case .wrongSize(let expected, let actual):
                report.findings.append(.init(severity: .problem, kind: "wrong-size", path: path, digest: blob.digest,
                                             detail: "\(what) has \(actual) bytes, expected \(expected) (truncated or appended)\(note)"))
            case .corrupt(let actual, _):
                report.findings.append(.init(severity: .problem, kind: "corrupt", path: path, digest: blob.digest,
                                             detail: "\(what) hashes to \(actual)\(note)"))
            case .unreadable(let why):
                report.findings.append(.init(severity: .problem, kind: "database", path: store.ledger.path, digest: blob.digest,
                                             detail: "the blob has no file and the ledger could not be read: \(why)"))
            }
        }

        // 3. Walk the disk: temp leftovers, blobs no row indexes, files that do not match their name.
        for file in objects.walk() {
            switch file.kind {
            case .temp:
                report.findings.append(.init(severity: .notice, kind: "temp-leftover", path: file.path, digest: nil,
                                             detail: "unfinished write from an interrupted process (harmless; `bcli batch gc` removes it)"))
            case .streamedTemp:
                report.findings.append(.init(severity: .notice, kind: "temp-leftover", path: file.path, digest: nil,
                                             detail: "unfinished streamed write (harmless; `bcli batch gc` removes it)"))
            case .misnamed:
                report.filesOnDisk += 1
                report.findings.append(.init(severity: .problem, kind: "misnamed", path: file.path, digest: nil,
                                             detail: "a file in the object folder whose name is not a digest"))
            case .blob(let digest):
                report.filesOnDisk += 1
                if indexedHex.contains(digest.hex) { continue }
                let verdict = objects.verify(digest)
                if verdict.isOK {
                    report.findings.append(.init(severity: .notice, kind: "unindexed", path: file.path, digest: digest,
                                                 detail: "intact blob that no committed row names (written just before a crash; `bcli batch gc` removes it after the grace period)"))
                } else {
                    report.findings.append(.init(severity: .problem, kind: verdict == .empty ? "zero-byte" : "corrupt",
                                                 path: file.path, digest: digest, detail: "unindexed file does not match its name"))
                }
            }
        }
        return report
    }
}
