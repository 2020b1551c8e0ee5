#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GRDB
import Hashing

/// What `batch gc` may remove, and how old things must be first.
public struct GCOptions: Sendable {
    /// Unreferenced blobs younger than this (a file's mtime; a small blob's `object.created_at`,
    /// moved to now whenever a row names it again) are kept, so a run that has written a
    /// blob but not yet committed the row naming it is never broken (git's `gc.pruneExpire`).
    public var grace: Int = GCOptions.defaultGrace
    /// Temp files (`.tmp-*` in fan-out folders, `<store>/tmp/*`) younger than this are kept: a
    /// write in progress owns them. Effective value: `min(tempGrace, grace)`.
    public var tempGrace: Int = GCOptions.defaultTempGrace
    /// With a value, finished runs whose `finished_at` is older than this many seconds lose their
    /// step and run rows; their run records are kept (table `pruned_run`) so the chain verifies.
    public var pruneRunsOlderThan: Int?
    /// Report what would be removed; change nothing.
    public var dryRun = false

    public static let defaultGrace = 14 * 86_400
    public static let defaultTempGrace = 3_600

    public init() {}
}

/// What `batch gc` removed (or, with `dryRun`, would remove).
public struct GCReport: Sendable {
    public struct Blob: Sendable, Equatable { public let digest: Digest; public let size: Int64 }
    public struct Temp: Sendable, Equatable { public let path: String; public let size: Int64 }
    public struct PrunedRun: Sendable, Equatable {
        public let id: String
        public let recordDigest: Digest
        public let finishedAt: String
        public let steps: Int
    }

    public var dryRun = false
    public var blobs: [Blob] = []
    public var temps: [Temp] = []
    public var prunedRuns: [PrunedRun] = []
    /// Runs old enough to prune that were kept, with the reason (locked, a newer run depends on it…).
    public var keptRuns: [(id: String, reason: String)] = []
    /// Object index rows dropped because nothing names them and their file is gone.
    public var indexRowsDropped = 0
    /// Unreferenced blobs kept because they are younger than the grace period.
    public var youngUnreferenced = 0
    public var bytesFreed: Int64 { blobs.reduce(0) { $0 + $1.size } + temps.reduce(0) { $0 + $1.size } }
}

/// `batch gc`: removes blobs no row names and temp leftovers, each only past its grace period,
/// and optionally prunes old finished runs while keeping their run records.
///
/// The live set is every digest a run, step, ref or pruned run names. Blobs outside it are found
/// both through the object index and by walking the disk (a crash can leave an intact blob no row
/// names). Unfinished runs and runs whose lock is held are never pruned; nor is a run that a
/// newer, unpruned run depends on (a rollback's parent or its target steps). Quarantined files are
/// evidence and are never removed.
public enum GC {
    public static func collect(_ store: LedgerStore, options: GCOptions) throws(StoreError) -> GCReport {
        var report = GCReport()
        report.dryRun = options.dryRun
        let now = Int(time(nil))
        let graceCutoff = now - max(0, options.grace)
        let tempCutoff = now - max(0, min(options.tempGrace, options.grace))

        // 1. Prune (rolled back on a dry run) and compute the live set as it would then be.
        var referenced = Set<String>()
        var indexed: [String: (size: Int64, createdAt: String)] = [:]
        var inline = Set<String>()  // digests whose bytes the ledger holds (object_data)
        do {
            try store.ledger.queue.inTransaction(.immediate) { db in
                if let age = options.pruneRunsOlderThan {
                    var ts = timespec()
                    clock_gettime(CLOCK_REALTIME, &ts)
                    let cutoff = Timestamp.format(seconds: Int(ts.tv_sec) - max(0, age), micros: Int(ts.tv_nsec / 1000))
                    try prune(olderThan: cutoff, store: store, db, &report)
                }
                referenced = try liveSet(db)
                for object in try ObjectRow.fetchAll(db) {
                    indexed[object.digest] = (object.size, object.createdAt)
                }
                inline = Set(try String.fetchAll(db, sql: "SELECT digest FROM object_data"))
                return options.dryRun ? .rollback : .commit
            }
        } catch let e as StoreError { throw e } catch { throw .database("\(error)") }

        // 2. Unreferenced blobs, by disk walk and by index; temp leftovers in fan-out folders.
        var candidates: [String: Int64] = [:]  // hex -> size on disk
        var onDisk = Set<String>()
        let objects = store.objects
        for file in objects.walk() {
            switch file.kind {
            case .temp, .streamedTemp:
                if let m = POSIX.modificationTime(file.path), m < tempCutoff {
                    report.temps.append(.init(path: file.path, size: POSIX.fileSize(file.path) ?? 0))
                }
            case .misnamed:
                continue  // fsck reports these
            case .blob(let digest):
                onDisk.insert(digest.hex)
                guard !referenced.contains(digest.hex) else { continue }
                if let m = POSIX.modificationTime(file.path), m < graceCutoff {
                    candidates[digest.hex] = POSIX.fileSize(file.path) ?? 0
                } else {
                    report.youngUnreferenced += 1
                }
            }
        }
        let graceStamp = Timestamp.format(seconds: graceCutoff)
        // Blobs stored in the ledger: their age is their index row's. Removing one is safe even
        // if a writer is about to name it again: a writer's ref carries the bytes and stores them
        // anew (`Ledger.indexObjects`).
        var inlineCandidates: [String: Int64] = [:]
        for hex in inline where !referenced.contains(hex) && !onDisk.contains(hex) {
            guard let row = indexed[hex] else { continue }
            if row.createdAt < graceStamp { inlineCandidates[hex] = row.size } else { report.youngUnreferenced += 1 }
        }
        let staleRows = indexed.filter {
            !referenced.contains($0.key) && !onDisk.contains($0.key) && !inline.contains($0.key) && $0.value.createdAt < graceStamp
        }.map(\.key)

        // 3. Remove, re-checking the live set under the write lock so a row committed meanwhile wins.
        if options.dryRun {
            report.blobs = candidates.merging(inlineCandidates) { file, _ in file }.sorted { $0.key < $1.key }.compactMap { hex, size in
                (try? Digest(parsing: hex)).map { GCReport.Blob(digest: $0, size: size) }
            }
            report.indexRowsDropped = staleRows.count
            return report
        }
        try store.ledger.write { db in
            let live = try liveSet(db)
            for (hex, size) in candidates.sorted(by: { $0.key < $1.key }) where !live.contains(hex) {
                guard let digest = try? Digest(parsing: hex) else { continue }
                let path = objects.path(for: digest)
                // A writer that reused this blob since the scan touched it (ObjectStore's dedup
                // does) and is about to commit a row naming it: keep it.
                if let m = POSIX.modificationTime(path), m >= graceCutoff { continue }
                if unlink(path) != 0 && errno != ENOENT { throw StoreError.io(operation: "unlink", path: path, errno: errno) }
                try ObjectRow.deleteOne(db, key: hex)
                report.blobs.append(.init(digest: digest, size: size))
            }
            for (hex, size) in inlineCandidates.sorted(by: { $0.key < $1.key }) where !live.contains(hex) {
                guard let digest = try? Digest(parsing: hex) else { continue }
                if try ObjectRow.deleteOne(db, key: hex) { report.blobs.append(.init(digest: digest, size: size)) }
            }
            report.blobs.sort { $0.digest < $1.digest }
            for hex in staleRows where !live.contains(hex) {
                if try ObjectRow.deleteOne(db, key: hex) { report.indexRowsDropped += 1 }
            }
        }
        var removedTemps: [GCReport.Temp] = []
        for temp in report.temps where unlink(temp.path) == 0 || errno == ENOENT { removedTemps.append(temp) }
        report.temps = removedTemps
        return report
    }

    /// Every digest a row names: runs, steps, refs, and the records of pruned runs. One UNION
    /// over the records' digest columns, so SQLite removes duplicates.
    static func liveSet(_ db: Database) throws -> Set<String> {
        let columns: [(table: String, columns: [Column])] = [
            (RunRow.databaseTableName, RunRow.Columns.digests),
            (StepRow.databaseTableName, StepRow.Columns.digests),
            (StepPageRow.databaseTableName, StepPageRow.Columns.digests),
            (ReconciliationRow.databaseTableName, ReconciliationRow.Columns.digests),
            (RefRow.databaseTableName, [RefRow.Columns.digest]),
            (PrunedRunRow.databaseTableName, [PrunedRunRow.Columns.recordDigest]),
        ]
        let sql = columns.flatMap { table, columns in columns.map { "SELECT \($0.name) FROM \(table)" } }
            .joined(separator: " UNION ")
        return Set(try String?.fetchAll(db, sql: sql).compactMap { $0 })
    }

    /// Deletes the step and run rows of old finished runs, keeping their records in `pruned_run`.
    static func prune(olderThan cutoff: String, store: LedgerStore, _ db: Database, _ report: inout GCReport) throws {
        let runs = try RunRow.filter(RunRow.Columns.finishedAt != nil && RunRow.Columns.finishedAt < cutoff)
            .order(RunRow.Columns.id).fetchAll(db)
        var candidates: [String: GCReport.PrunedRun] = [:]
        for run in runs {
            let id = run.id
            guard let hex = run.recordDigest, let digest = try? Digest(parsing: hex) else {
                report.keptRuns.append((id, "it has no run record"))
                continue
            }
            if RunLock.isHeld(store: store.root, runID: id) {
                report.keptRuns.append((id, "a process holds its lock"))
                continue
            }
            let steps = try StepRow.filter(StepRow.Columns.runID == id).fetchCount(db)
            candidates[id] = .init(id: id, recordDigest: digest, finishedAt: run.finishedAt ?? "", steps: steps)
        }
        // A run another (kept) run depends on stays: rollback parents and rollback target steps.
        var dependencies: [(child: String, parent: String)] = []
        for run in try RunRow.filter(RunRow.Columns.parentRunID != nil).fetchAll(db) {
            if let parent = run.parentRunID { dependencies.append((run.id, parent)) }
        }
        let target = TableAlias<StepRow>()
        let crossRun = StepRow.select(StepRow.Columns.runID, target[StepRow.Columns.runID]).distinct()
            .joining(required: StepRow.target.aliased(target))
            .filter(StepRow.Columns.runID != target[StepRow.Columns.runID])
            .asRequest(of: Row.self)
        for row in try crossRun.fetchAll(db) {
            dependencies.append((row[0], row[1]))
        }
        var changed = true
        while changed {
            changed = false
            for (child, parent) in dependencies where candidates[parent] != nil && candidates[child] == nil {
                candidates[parent] = nil
                report.keptRuns.append((parent, "run \(child), which is kept, depends on it"))
                changed = true
            }
        }
        guard !candidates.isEmpty else { return }
        try db.execute(sql: "PRAGMA defer_foreign_keys = ON")
        let now = Timestamp.now()
        for run in candidates.values.sorted(by: { $0.id < $1.id }) {
            try PrunedRunRow(id: run.id, recordDigest: run.recordDigest.hex, prunedAt: now).insert(db, onConflict: .replace)
            try StepRow.filter(StepRow.Columns.runID == run.id && StepRow.Columns.targetStepID != nil)
                .updateAll(db, StepRow.Columns.targetStepID.set(to: nil))
            try StepRow.filter(StepRow.Columns.runID == run.id).deleteAll(db)
            report.prunedRuns.append(run)
        }
        for run in candidates.values.sorted(by: { $0.id > $1.id }) {
            try RunRow.deleteOne(db, key: run.id)
        }
    }
}

/// Durations as users type them for gc: `90d`, `2w`, `12h`, `30m`, `45s` (or `0`).
public enum DurationText {
    public static func seconds(parsing text: String) -> Int? {
        if text == "0" { return 0 }
        guard let unit = text.last, let n = Int(text.dropLast()), n >= 0 else { return nil }
        let factor: Int
        switch unit {
        case "s": factor = 1
        case "m": factor = 60
        case "h": factor = 3_600
        case "d": factor = 86_400
        case "w": factor = 604_800
        default: return nil
        }
        let (v, overflow) = n.multipliedReportingOverflow(by: factor)
        return overflow ? nil : v
    }
}
