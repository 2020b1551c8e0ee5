import GRDB
import Hashing

/// One thing `verify` found wrong, naming the run, the row or blob, and what is off.
public struct VerifyProblem: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// A blob a row names is not there.
        case missing
        /// A blob's bytes do not hash to its name.
        case corrupt
        /// A blob's size differs from the object index (or the bundle's list).
        case wrongSize = "wrong-size"
        /// A blob is empty (zero bytes) though its digest is not that of nothing.
        case empty = "zero-byte"
        /// A blob has no file, and the ledger that holds small blobs could not be read.
        case unreadable
        /// The run record is not a run record, or names another run.
        case recordInvalid = "record-invalid"
        /// A row differs from what the run record captured when the run finished.
        case rowChanged = "row-changed"
        /// The chain of run records from `refs/head` is broken or leaves a run out.
        case chainBroken = "chain-broken"
        /// `--manifest FILE` is not byte-identical to what the run ran.
        case manifestMismatch = "manifest-mismatch"
        /// A bundle is damaged or inconsistent beyond one blob.
        case bundle
        /// The store's ledger is missing, empty, not a database or corrupt, while the store has
        /// blobs, a `refs/head` file or run lock files: its history is gone.
        case ledgerDamaged = "ledger-damaged"
        /// The `refs/head` file and the ledger's head disagree: the ledger was replaced.
        case headMismatch = "head-mismatch"
        /// A paged GET's recorded body is not the assembly of its recorded pages (`PageAssembly`).
        case pagesMismatch = "pages-mismatch"
        /// Not a failure (kept in `VerifyReport.hashOnly`, never in `problems`): a value an
        /// imported run holds only as a hash, with no bytes anywhere (the Python tool's
        /// `manifest_hash` and `body_hash`), so there is nothing to re-hash.
        case hashOnly = "hash-only"
    }

    public let kind: Kind
    public let runID: String?
    /// What was checked, e.g. `step 3 (update_coho) response` or `manifest`.
    public let subject: String
    public let digest: Digest?
    public let detail: String

    public init(_ kind: Kind, runID: String?, subject: String, digest: Digest?, detail: String) {
        self.kind = kind
        self.runID = runID
        self.subject = subject
        self.digest = digest
        self.detail = detail
    }

    /// One human line: `corrupt  run 0190…  step 3 (x) response  sha256:…  detail`.
    public var line: String {
        [kind.rawValue, runID.map { "run \($0)" } ?? "-", subject, digest?.description ?? "-", detail].joined(separator: "  ")
    }
}

/// What `verify` checked and found. Empty `problems` means every check passed.
public struct VerifyReport: Sendable {
    public var problems: [VerifyProblem] = []
    /// Facts worth telling a human that are not failures (e.g. an unfinished run has no record).
    public var notes: [String] = []
    public var runsChecked: [String] = []
    public var blobsChecked = 0
    public var bytesChecked: Int64 = 0
    /// Record digests walked from `refs/head` (newest first), when the chain was checked.
    public var chain: [Digest] = []
    /// Findings that are not failures: values imported runs hold as hashes only ("hash only, no
    /// bytes"). A hash-only value is never reported `missing`.
    public var hashOnly: [VerifyProblem] = []
    public var isOK: Bool { problems.isEmpty }

    public init() {}
}

/// The blob a row names, with the role it plays (`manifest`, `step 2 (x) request`, …).
public struct NamedBlob: Sendable, Equatable {
    public let subject: String
    public let digest: Digest
}

/// `batch verify` against a store: re-hash every blob a run names (size first), check the run
/// record against the rows, and walk the chain of records back from the run (or from `refs/head`).
///
/// Why records and rows are compared: SQLite rows can be edited by anyone with the file; the record
/// is content-addressed and chained, so an edit either breaks a digest or shows as a row that no
/// longer matches its record. Only changes a rollback legitimately makes are accepted (see
/// `RecordComparison`).
public struct StoreVerifier {
    public let store: LedgerStore
    private var sizes: [String: Int64] = [:]
    private var verdicts: [Digest: ObjectStore.Verification] = [:]
    private let pruned: [String: String]  // run id -> record hex
    private let imported: [String: String]  // run id -> record hex

    /// The ref prefix under which `batch import` keeps imported runs' records (off the local chain).
    public static let importedRefPrefix = "refs/imported/"

    public init(store: LedgerStore) throws(StoreError) {
        self.store = store
        (pruned, imported) = try store.ledger.read { db in
            let pruned = try PrunedRunRow.fetchAll(db).map { ($0.id, $0.recordDigest) }
            let imported = try RefRow.filter(RefRow.Columns.name.like(Self.importedRefPrefix + "%")).fetchAll(db)
                .map { (String($0.name.dropFirst(Self.importedRefPrefix.count)), $0.digest) }
            return (Dictionary(pruned, uniquingKeysWith: { a, _ in a }), Dictionary(imported, uniquingKeysWith: { a, _ in a }))
        }
    }

    /// Checks one run: its blobs, its record, the chain back from it, and optionally that
    /// `manifestFile` is byte-identical to the manifest it ran.
    public static func verifyRun(_ runID: String, in store: LedgerStore, manifestFile: String? = nil) throws(StoreError) -> VerifyReport {
        var verifier = try StoreVerifier(store: store)
        var report = VerifyReport()
        let run = try store.run(runID)
        let steps = try store.ledger.steps(runID: run.id)
        try verifier.loadSizes(for: Self.blobs(run: run, steps: steps).map(\.digest))
        verifier.checkRun(run, steps: steps, into: &report)
        if let manifestFile { Self.checkManifest(manifestFile, run: run, into: &report) }
        if run.recordDigest != nil, verifier.imported[run.id] == nil {
            try verifier.walkChain(from: run.recordDigest, into: &report)
        } else if verifier.imported[run.id] != nil {
            report.notes.append("run \(run.id) was imported from a bundle; its previous record (\(run.previousRecordDigest?.description ?? "none")) belongs to the store it came from")
        }
        return report
    }

    /// `verifyAll(in:)` for the store at `root`, where a damaged ledger (missing or empty beside
    /// blobs or `refs/head`, not a database, corrupt) is a finding, not an error. Other reasons the
    /// store cannot be used (read-only, disk full) are thrown.
    public static func verifyAll(root: String, durability: Durability = .process) throws(StoreError) -> VerifyReport {
        do {
            return try verifyAll(in: try LedgerStore(root: root, durability: durability))
        } catch {
            guard let cause = error.unusableCause, cause.isDamage else { throw error }
            var report = VerifyReport()
            report.problems.append(.init(.ledgerDamaged, runID: nil, subject: LedgerStore.databaseName, digest: nil,
                                         detail: error.description))
            return report
        }
    }

    /// Checks every run in the store, that every finished run is on the chain from `refs/head`
    /// (or was imported, or pruned), and that the `refs/head` file agrees with the ledger.
    public static func verifyAll(in store: LedgerStore) throws(StoreError) -> VerifyReport {
        var verifier = try StoreVerifier(store: store)
        var report = VerifyReport()
        switch try HeadCheck.check(store) {
        case .ok: break
        case .finishNotCommitted(let record, let runID):
            report.notes.append("\(HeadFile.relativePath) names record \(record) of run \(runID), whose finish was not committed (the process stopped between writing the file and the commit); the run reads as unfinished")
        case .mismatch(let file, _, let detail):
            report.problems.append(.init(.headMismatch, runID: nil, subject: "\(HeadFile.relativePath) file", digest: file, detail: detail))
        }
        for blob in try store.ledger.objects() { verifier.sizes[blob.digest.hex] = blob.size }
        let head = try store.ledger.ref(LedgerStore.headRef)
        let onChain = try verifier.walkChain(from: head, into: &report)
        let runs = try store.runs()
        for run in runs.reversed() {
            let steps = try store.ledger.steps(runID: run.id)
            verifier.checkRun(run, steps: steps, into: &report)
            guard run.finishedAt != nil, let record = run.recordDigest else { continue }
            if verifier.imported[run.id] == nil && !onChain.contains(record) {
                report.problems.append(.init(.chainBroken, runID: run.id, subject: "record", digest: record,
                    detail: "the run's record is not on the chain from \(LedgerStore.headRef) (a later record no longer points back to it: a run row was deleted or edited)"))
            }
        }
        if head == nil && runs.contains(where: { $0.recordDigest != nil && verifier.imported[$0.id] == nil }) {
            report.problems.append(.init(.chainBroken, runID: nil, subject: LedgerStore.headRef, digest: nil,
                detail: "finished runs exist but \(LedgerStore.headRef) is not set"))
        }
        return report
    }

    /// Every blob a run's rows name, in a stable order.
    public static func blobs(run: RunRecord, steps: [StepRecord]) -> [NamedBlob] {
        var out: [NamedBlob] = []
        if let d = run.manifestDigest { out.append(.init(subject: "manifest", digest: d)) }
        if let d = run.paramsDigest { out.append(.init(subject: "params", digest: d)) }
        for step in steps {
            for (role, d) in step.digests {
                out.append(.init(subject: "step \(step.seq) (\(step.name)) \(role.replacingOccurrences(of: "_", with: " "))", digest: d))
            }
        }
        if let d = run.recordDigest { out.append(.init(subject: "record", digest: d)) }
        return out
    }

    /// Compares `file`'s bytes with the manifest the run recorded; both digests are named on mismatch.
    static func checkManifest(_ file: String, run: RunRecord, into report: inout VerifyReport) {
        let actual: Digest
        do { actual = try SHA256.hash(fileAt: file).digest } catch {
            report.problems.append(.init(.manifestMismatch, runID: run.id, subject: "manifest", digest: run.manifestDigest,
                                         detail: "cannot read \(file): \(error)"))
            return
        }
        guard let recorded = run.manifestDigest else {
            report.problems.append(.init(.manifestMismatch, runID: run.id, subject: "manifest", digest: nil,
                                         detail: "the run recorded no manifest; \(file) is \(actual)"))
            return
        }
        if actual != recorded {
            report.problems.append(.init(.manifestMismatch, runID: run.id, subject: "manifest", digest: recorded,
                detail: "\(file) is \(actual), but the run ran \(recorded) — the files differ (`bcli batch show \(run.id) > ran.yaml` and diff them)"))
        }
    }

    // MARK: - Internals

    mutating func checkRun(_ run: RunRecord, steps: [StepRecord], into report: inout VerifyReport) {
        report.runsChecked.append(run.id)
        for named in Self.blobs(run: run, steps: steps) {
            let verdict = verdict(named.digest)
            report.blobsChecked += 1
            if case .ok(let size) = verdict { report.bytesChecked += size }
            if let problem = Self.problem(for: verdict, runID: run.id, subject: named.subject, digest: named.digest) {
                report.problems.append(problem)
            }
        }
        for step in steps where !step.pages.isEmpty { checkPages(step, runID: run.id, into: &report) }
        let reconciledSeqs = checkReconciled(run, steps: steps, into: &report)
        if run.kind == .imported { checkImported(run, steps: steps, into: &report) }
        guard let recordDigest = run.recordDigest else {
            if run.finishedAt != nil {
                report.problems.append(.init(.recordInvalid, runID: run.id, subject: "record", digest: nil,
                                             detail: "the run finished but has no run record"))
            } else {
                report.notes.append("run \(run.id) has not finished: it has no run record yet (blobs were checked)")
            }
            return
        }
        guard verdict(recordDigest).isOK, let bytes = try? store.objects.get(recordDigest) else { return }
        let rowRun = RunRecordDocument.runJSON(run).objectValue ?? [:]
        let rowSteps = steps.map { RunRecordDocument.stepJSON($0).objectValue ?? [:] }
        report.problems += RecordComparison.compare(recordBytes: bytes, recordDigest: recordDigest, runID: run.id,
                                                    previous: run.previousRecordDigest, run: rowRun, steps: rowSteps,
                                                    strictLocalIDs: imported[run.id] == nil, reconciledSeqs: reconciledSeqs)
        if run.kind == .reconcile, let doc = try? JSONValue(parsing: bytes), let now = try? store.ledger.reconciliationsJSON(byRun: run.id) {
            let was = doc[RunRecordDocument.reconciliationsKey] ?? .null
            if was != now {
                report.problems.append(.init(.rowChanged, runID: run.id, subject: "reconciliations", digest: recordDigest,
                    detail: "the reconcile run's decisions changed since it finished: record \(RecordComparison.show(was)), rows \(RecordComparison.show(now))"))
            }
        }
    }

    /// A step `batch reconcile` decided must have the reconciliation that decided it; a reconcile
    /// run's found records are blobs like any other. Returns the seqs of `steps` whose decided
    /// status is backed by evidence (their record may read `unknown`).
    mutating func checkReconciled(_ run: RunRecord, steps: [StepRecord], into report: inout VerifyReport) -> Set<Int> {
        let ofSteps = (try? store.ledger.reconciliations(ofSteps: steps.map(\.id))) ?? []
        // A step a reconciliation decided may have moved on since (a rollback undid it).
        let byStep = Dictionary(grouping: ofSteps.filter { $0.decision != .undecidable }, by: \.targetStepID)
        // Only the status the decision gave (or, for an applied write, a rollback's status on top).
        let undone: Set<StepStatus> = [.rolledBack, .rollbackSkipped, .rollbackFailed]
        let backed = Set(steps.filter { step in
            (byStep[step.id] ?? []).contains { r in
                r.decision.stepStatus == step.status || (r.decision == .applied && step.status.map(undone.contains) == true)
            }
        }.map(\.seq))
        for step in steps where step.status == .reconciledApplied || step.status == .reconciledNotApplied {
            if !(byStep[step.id] ?? []).contains(where: { $0.decision.stepStatus == step.status }) {
                report.problems.append(.init(.rowChanged, runID: run.id, subject: "step \(step.seq) (\(step.name)) status", digest: nil,
                    detail: "the step reads \(step.statusName) but no reconcile run decided it (no reconciliation row): the status was edited"))
            }
        }
        if run.kind == .reconcile {
            for r in (try? store.ledger.reconciliations(byRun: run.id)) ?? [] {
                guard let digest = r.recordDigest else { continue }
                if sizes[digest.hex] == nil { try? loadSizes(for: [digest]) }
                let verdict = verdict(digest)
                report.blobsChecked += 1
                if case .ok(let size) = verdict { report.bytesChecked += size }
                if let problem = Self.problem(for: verdict, runID: run.id, subject: "reconciled record of step \(r.targetStepID)", digest: digest) {
                    report.problems.append(problem)
                }
            }
        }
        return backed
    }

    /// A GET that followed `@odata.nextLink` and got every page: its recorded body must be the
    /// assembly of its page blobs (`PageAssembly`), byte for byte. Skipped when a blob is missing
    /// or damaged (already reported) or a page failed (the body is then that page's error).
    mutating func checkPages(_ step: StepRecord, runID: String, into report: inout VerifyReport) {
        guard step.pages.allSatisfy({ (200..<300).contains($0.httpStatus ?? 0) }), let recorded = step.responseDigest,
              verdict(recorded).isOK else { return }
        var bodies: [[UInt8]] = []
        for page in step.pages {
            guard let d = page.responseDigest, verdict(d).isOK, let bytes = try? store.objects.get(d) else { return }
            bodies.append(bytes)
        }
        let subject = "step \(step.seq) (\(step.name)) pages"
        do {
            let assembled = SHA256.hash(try PageAssembly.assemble(bytes: bodies))
            if assembled != recorded {
                report.problems.append(.init(.pagesMismatch, runID: runID, subject: subject, digest: recorded,
                    detail: "the recorded response is not the assembly of its \(step.pages.count) pages (they assemble to \(assembled))"))
            }
        } catch {
            report.problems.append(.init(.pagesMismatch, runID: runID, subject: subject, digest: recorded,
                                         detail: "the recorded pages cannot be assembled: \(error)"))
        }
    }

    /// An imported run: its source blob (the Python tool's file) is re-hashed like any blob, its
    /// import facts must equal those its record captured, and its hash-only values are reported
    /// as such ("hash only, no bytes"), not as missing blobs.
    mutating func checkImported(_ run: RunRecord, steps: [StepRecord], into report: inout VerifyReport) {
        guard let facts = try? store.ledger.importedFacts(runID: run.id) else {
            report.problems.append(.init(.recordInvalid, runID: run.id, subject: "imported", digest: nil,
                                         detail: "the run is of kind imported but has no import facts (imported_run row)"))
            return
        }
        if sizes[facts.sourceDigest.hex] == nil { try? loadSizes(for: [facts.sourceDigest]) }
        let verdict = verdict(facts.sourceDigest)
        report.blobsChecked += 1
        if case .ok(let size) = verdict { report.bytesChecked += size }
        if let problem = Self.problem(for: verdict, runID: run.id, subject: "python source \(facts.sourceFile)", digest: facts.sourceDigest) {
            report.problems.append(problem)
        }
        if let record = run.recordDigest, self.verdict(record).isOK, let bytes = try? store.objects.get(record),
           let doc = try? JSONValue(parsing: bytes) {
            let was = doc[RunRecordDocument.importedKey] ?? .null
            if was != facts.json {
                report.problems.append(.init(.rowChanged, runID: run.id, subject: "imported", digest: record,
                    detail: "the import facts changed since the run was imported: record \(RecordComparison.show(was)), rows \(RecordComparison.show(facts.json))"))
            }
        }
        let note = "hash only, no bytes"
        if let hash = facts.pythonManifestHash {
            report.hashOnly.append(.init(.hashOnly, runID: run.id, subject: "manifest (python manifest_hash)", digest: nil,
                detail: "\(note): sha256 \(hash) of the manifest file the Python tool ran; it kept no copy"))
        }
        let names = Dictionary(steps.map { ($0.seq, $0.name) }, uniquingKeysWith: { a, _ in a })
        for step in facts.steps {
            guard let hash = step.pythonBodyHash else { continue }
            report.hashOnly.append(.init(.hashOnly, runID: run.id, subject: "step \(step.seq) (\(names[step.seq] ?? "?")) python body_hash", digest: nil,
                detail: "\(note): sha256 \(hash) of json.dumps(data, sort_keys=True), not of the bytes sent; the Python tool kept no body"))
        }
        let count = report.hashOnly.filter { $0.runID == run.id }.count
        report.notes.append("run \(run.id) was imported from the Python tool's \(facts.sourceFile) (kept as \(facts.sourceDigest)\(facts.sourceWalRecovered ? ", its -wal recovered into it" : "")); \(count) value(s) are hash only, no bytes")
    }

    /// Walks records back through `previous_record`; returns the record digests seen.
    @discardableResult
    mutating func walkChain(from start: Digest?, into report: inout VerifyReport) throws(StoreError) -> Set<Digest> {
        var seen = Set<Digest>()
        var current = start
        var newer: Digest?
        while let digest = current {
            if seen.contains(digest) {
                report.problems.append(.init(.chainBroken, runID: nil, subject: "chain", digest: digest, detail: "the chain loops back to this record"))
                break
            }
            seen.insert(digest)
            report.chain.append(digest)
            if sizes[digest.hex] == nil { try loadSizes(for: [digest]) }
            let after = newer.map { " (the record before \($0))" } ?? ""
            let v = verdict(digest)
            if let problem = Self.problem(for: v, runID: nil, subject: "chain record\(after)", digest: digest) {
                report.problems.append(.init(.chainBroken, runID: nil, subject: problem.subject, digest: digest,
                                             detail: problem.detail + " — the chain cannot be followed past it"))
                break
            }
            report.blobsChecked += 1
            guard let bytes = try? store.objects.get(digest), let doc = try? JSONValue(parsing: bytes),
                  doc["type"]?.stringValue == RunRecordDocument.recordType, let runID = doc["run"]?["id"]?.stringValue else {
                report.problems.append(.init(.chainBroken, runID: nil, subject: "chain record\(after)", digest: digest,
                                             detail: "not a bcli run record"))
                break
            }
            let row = try store.ledger.read { db in try RunRow.fetchOne(db, key: runID).map(\.recordDigest) }
            if let row {
                if row != digest.hex {
                    report.problems.append(.init(.chainBroken, runID: runID, subject: "chain record\(after)", digest: digest,
                        detail: "the chain names this record for run \(runID), but its row names \(row.map { "sha256:" + $0 } ?? "no record") (the row was edited)"))
                }
            } else if pruned[runID] != digest.hex {
                report.problems.append(.init(.chainBroken, runID: runID, subject: "chain record\(after)", digest: digest,
                    detail: "run \(runID) (record \(digest)) is on the chain but not in the ledger and was never pruned: its row was deleted"))
            }
            newer = digest
            switch doc["previous_record"] {
            case .string(let s)?:
                guard let d = try? Digest(parsing: s) else {
                    report.problems.append(.init(.chainBroken, runID: runID, subject: "chain record", digest: digest, detail: "previous_record is not a digest"))
                    return seen
                }
                current = d
            default:
                current = nil
            }
        }
        return seen
    }

    mutating func verdict(_ digest: Digest) -> ObjectStore.Verification {
        if let cached = verdicts[digest] { return cached }
        let v = store.objects.verify(digest, expectedSize: sizes[digest.hex])
        verdicts[digest] = v
        return v
    }

    mutating func loadSizes(for digests: [Digest]) throws(StoreError) {
        let hexes = Array(Set(digests.map(\.hex)))
        let rows = try store.ledger.read { db in try ObjectRow.fetchAll(db, digests: hexes) }
        for row in rows { sizes[row.digest] = row.size }
    }

    static func problem(for verdict: ObjectStore.Verification, runID: String?, subject: String, digest: Digest) -> VerifyProblem? {
        switch verdict {
        case .ok: return nil
        case .missing:
            return .init(.missing, runID: runID, subject: subject, digest: digest, detail: "the blob is not in the store (restore it with `bcli batch import BUNDLE`)")
        case .empty:
            return .init(.empty, runID: runID, subject: subject, digest: digest, detail: "the blob is empty (0 bytes)")
        case .wrongSize(let expected, let actual):
            return .init(.wrongSize, runID: runID, subject: subject, digest: digest, detail: "the blob has \(actual) bytes, the index says \(expected)")
        case .corrupt(let actual, _):
            return .init(.corrupt, runID: runID, subject: subject, digest: digest, detail: "the blob's bytes hash to \(actual)")
        case .unreadable(let why):
            return .init(.unreadable, runID: runID, subject: subject, digest: digest,
                         detail: "the blob has no file and the ledger that holds small blobs could not be read: \(why)")
        }
    }
}

/// Compares a run record (the snapshot taken when the run finished) with the rows as they are now.
///
/// Accepted differences, the ones a rollback makes: a step's `status` becoming `rolled_back`,
/// `rollback_skipped` or `rollback_failed` (and its `outcome_at`, if it had none, being set at the
/// same time); the run's `state` becoming `rolled_back`. Anything else is "row changed since the
/// run finished". `step_id` and `target_step_id` are the store's row numbers: compared for runs
/// made in this store, not for runs imported from a bundle (import renumbers them).
public enum RecordComparison {
    /// The columns `Ledger.writeReconciliation` may fill on an unknown step.
    static let reconcileFilled: Set<String> = ["outcome_at", "record_id", "etag", "rollback_url"]

    static let rollbackStatuses: Set<String> = [StepStatus.rolledBack.rawValue, StepStatus.rollbackSkipped.rawValue, StepStatus.rollbackFailed.rawValue]

    public static func compare(recordBytes: [UInt8], recordDigest: Digest, runID: String, previous: Digest?,
                               run: [String: JSONValue], steps: [[String: JSONValue]], strictLocalIDs: Bool,
                               reconciledSeqs: Set<Int> = []) -> [VerifyProblem] {
        var problems: [VerifyProblem] = []
        func add(_ kind: VerifyProblem.Kind, _ subject: String, _ detail: String) {
            problems.append(.init(kind, runID: runID, subject: subject, digest: recordDigest, detail: detail))
        }
        guard let doc = try? JSONValue(parsing: recordBytes), doc["type"]?.stringValue == RunRecordDocument.recordType,
              let recordRun = doc["run"]?.objectValue, let recordSteps = doc["steps"]?.arrayValue else {
            add(.recordInvalid, "record", "the blob is not a bcli run record")
            return problems
        }
        if doc["format_version"]?.doubleValue != Double(RunRecordDocument.formatVersion) {
            add(.recordInvalid, "record", "unknown record format_version \(doc["format_version"].map(show) ?? "null") — upgrade bcli")
            return problems
        }
        if recordRun["id"]?.stringValue != runID {
            add(.recordInvalid, "record", "the record is for run \(recordRun["id"].map(show) ?? "null"), not \(runID)")
            return problems
        }
        let recordPrevious: JSONValue = doc["previous_record"] ?? .null
        let rowPrevious: JSONValue = previous.map { .string($0.description) } ?? .null
        if recordPrevious != rowPrevious {
            add(.rowChanged, "run previous_record_digest", "row changed since the run finished: record \(show(recordPrevious)), row \(show(rowPrevious))")
        }
        for key in Set(recordRun.keys).union(run.keys).sorted() {
            if let problem = keyProblem(key, inRecord: recordRun[key] != nil, row: run, known: knownRunKeys) {
                add(.rowChanged, "run \(key)", problem)
                continue
            }
            let was = recordRun[key] ?? .null, now = run[key] ?? .null
            if was == now { continue }
            if key == "state" && now.stringValue == RunState.rolledBack.rawValue { continue }
            add(.rowChanged, "run \(key)", "row changed since the run finished: record \(show(was)), row \(show(now))")
        }
        var rowsBySeq: [Int: [String: JSONValue]] = [:]
        for s in steps { if let seq = s["seq"]?.doubleValue.flatMap({ Int(exactly: $0) }) { rowsBySeq[seq] = s } }
        var seenSeqs = Set<Int>()
        for item in recordSteps {
            guard let was = item.objectValue, let seq = was["seq"]?.doubleValue.flatMap({ Int(exactly: $0) }) else {
                add(.recordInvalid, "record", "a step in the record has no valid seq")
                continue
            }
            seenSeqs.insert(seq)
            let label = "step \(seq) (\(was["name"]?.stringValue ?? "?"))"
            guard let now = rowsBySeq[seq] else {
                add(.rowChanged, label, "row changed since the run finished: the step row is gone")
                continue
            }
            let rowStatus = now["status"]?.stringValue ?? ""
            let rolledBack = rollbackStatuses.contains(rowStatus)
            // An unknown step `batch reconcile` decided (with a reconciliation row as evidence,
            // checked by the caller) gains a status, an outcome time and, when it landed, the
            // record's id, ETag and URL — only where the record had none.
            let reconciled = reconciledSeqs.contains(seq) && (was["status"]?.stringValue ?? "") == StepStatus.unknownName
            for key in Set(was.keys).union(now.keys).sorted() {
                if let problem = keyProblem(key, inRecord: was[key] != nil, row: now, known: knownStepKeys) {
                    add(.rowChanged, "\(label) \(key)", problem)
                    continue
                }
                let a = was[key] ?? .null, b = now[key] ?? .null
                if a == b { continue }
                if !strictLocalIDs && (key == "step_id" || key == "target_step_id") { continue }
                if key == "status" && rolledBack { continue }
                if key == "outcome_at" && rolledBack && a == .null { continue }
                if reconciled && (key == "status" || (Self.reconcileFilled.contains(key) && a == .null)) { continue }
                add(.rowChanged, "\(label) \(key)", "row changed since the run finished: record \(show(a)), row \(show(b))")
            }
        }
        for seq in rowsBySeq.keys.sorted() where !seenSeqs.contains(seq) {
            add(.rowChanged, "step \(seq) (\(rowsBySeq[seq]?["name"]?.stringValue ?? "?"))", "row changed since the run finished: the step was added after the record was written")
        }
        return problems
    }

    /// A field the record has must be in the row; a field the row has that the record lacks is
    /// accepted only if this bcli writes it (a record made by an older bcli) and it is null.
    static func keyProblem(_ key: String, inRecord: Bool, row: [String: JSONValue], known: Set<String>) -> String? {
        if inRecord {
            return row[key] == nil ? "row changed since the run finished: the field is gone" : nil
        }
        if !known.contains(key) { return "row changed since the run finished: unknown field" }
        return nil
    }

    static let knownRunKeys: Set<String> = Set(RunRecordDocument.runJSON(RunRecord(
        id: "", kind: .batch, stampedState: .running, state: .running, interrupted: false, startedAt: "", toolVersion: "",
        durability: .process, counts: StepCounts())).objectValue?.keys ?? [:].keys)

    static let knownStepKeys: Set<String> = Set(RunRecordDocument.stepJSON(StepRecord(
        id: 0, runID: "", seq: 0, name: "", method: .get, url: "", clientRequestID: "", intentAt: "")).objectValue?.keys ?? [:].keys)

    /// A short JSON rendering for messages.
    static func show(_ v: JSONValue) -> String {
        let text = (try? v.canonicalString()) ?? v.prettyPrinted()
        return text.count > 120 ? String(text.prefix(117)) + "…" : text
    }
}

extension RunRecordDocument {
    /// The record's `type` field.
    public static let recordType = "bcli.run-record"
}
