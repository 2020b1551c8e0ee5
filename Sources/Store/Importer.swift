import GRDB
import Hashing

/// What `batch import` did.
public struct ImportResult: Sendable, Equatable {
    public let runID: String
    /// True when the store already held this exact run (nothing but missing blobs was written).
    public let alreadyPresent: Bool
    public let blobsWritten: Int
    public let blobsDeduplicated: Int
    public let steps: Int
    public let recordDigest: Digest?
}

/// `batch import`: adds a verified bundle's run to a store.
///
/// The bundle is verified first and nothing is written unless it passes. Blobs go through
/// `ObjectStore.put` (so they dedupe and are checked like any write) before the rows that name
/// them; the rows, the object index and a `refs/imported/<run-id>` ref to the run record are then
/// inserted in one transaction. The run keeps its id, its record and its `previous_record_digest`,
/// but is not put on this store's chain (`refs/head` does not move): its chain lives in the store
/// it came from, and the ref marks it as imported for `verify --all`. Step row ids are local to a
/// store, so they are renumbered; a rollback step's target is re-linked by (run id, seq).
/// Importing the same bundle again is a no-op (missing blobs are restored); a run id that exists
/// with different rows is refused.
public enum Importer {
    public static func importBundle(fileAt path: String, into store: LedgerStore) throws(BundleError) -> ImportResult {
        let (report, parsed) = try RunBundle.verify(fileAt: path)
        guard report.isOK, let bundle = parsed else { throw .damaged(report) }
        // Without a run record nothing vouches for the rows: they would enter the ledger unchecked.
        guard bundle.run["record_digest"]?.stringValue != nil else { throw .unfinished(runID: bundle.runID) }
        return try importVerified(bundle, into: store)
    }

    /// Imports a bundle that `RunBundle.verify` passed.
    public static func importVerified(_ bundle: RunBundle, into store: LedgerStore) throws(BundleError) -> ImportResult {
        do {
            if let existing = try? store.ledger.run(bundle.runID) {
                try checkSame(existing, bundle, store)
                let (written, deduped) = try putBlobs(bundle, store)
                try store.ledger.indexObjects(bundle.blobs.map { BlobRef(digest: $0.digest, size: $0.size, mediaType: $0.mediaType) })
                return ImportResult(runID: bundle.runID, alreadyPresent: true, blobsWritten: written, blobsDeduplicated: deduped,
                                    steps: bundle.steps.count, recordDigest: bundle.recordDigest)
            }
            if let parent = bundle.run["parent_run_id"]?.stringValue, (try? store.ledger.run(parent)) == nil {
                throw BundleError.missingParent(runID: bundle.runID, parent: parent)
            }
            // A target in the bundle's own run is a `replayed` row naming its original step, which
            // this import inserts first (steps go in seq order); any other is a rollback's parent.
            for step in bundle.steps {
                if let targetRun = step["target_step"]?["run_id"]?.stringValue, targetRun != bundle.runID,
                   (try? store.ledger.run(targetRun)) == nil {
                    throw BundleError.missingParent(runID: bundle.runID, parent: targetRun)
                }
            }
            let (written, deduped) = try putBlobs(bundle, store)
            try store.ledger.write { db in
                try Ledger.indexObjects(bundle.blobs.map { BlobRef(digest: $0.digest, size: $0.size, mediaType: $0.mediaType) }, db)
                try insertRun(bundle, db)
                for step in bundle.steps { try insertStep(step, runID: bundle.runID, db) }
                try insertReconciliations(bundle, db)
                if let record = bundle.recordDigest {
                    try Ledger.setRef(StoreVerifier.importedRefPrefix + bundle.runID, record, db)
                }
            }
            return ImportResult(runID: bundle.runID, alreadyPresent: false, blobsWritten: written, blobsDeduplicated: deduped,
                                steps: bundle.steps.count, recordDigest: bundle.recordDigest)
        } catch let e as BundleError {
            throw e
        } catch let e as StoreError {
            throw .store(e)
        } catch {
            throw .store(.database("\(error)"))
        }
    }

    // MARK: - Internals

    static func putBlobs(_ bundle: RunBundle, _ store: LedgerStore) throws(StoreError) -> (Int, Int) {
        var written = 0, deduped = 0
        for blob in bundle.blobs {
            guard let bytes = bundle.contents[blob.digest] else { throw .blobMissing(blob.digest) }
            // Already here and good — a file or a small blob in the ledger: nothing to restore.
            if store.objects.verify(blob.digest, expectedSize: Int64(bytes.count)).isOK {
                deduped += 1
                continue
            }
            let result = try store.objects.put(bytes)
            guard result.digest == blob.digest else { throw .blobCorrupt(blob.digest, actual: result.digest, size: result.size) }
            if result.deduplicated { deduped += 1 } else { written += 1 }
        }
        return (written, deduped)
    }

    /// The same run (rows and record) is already here, or the import is refused.
    static func checkSame(_ existing: RunRecord, _ bundle: RunBundle, _ store: LedgerStore) throws(BundleError) {
        var run = RunRecordDocument.runJSON(existing).objectValue ?? [:]
        run["record_digest"] = existing.recordDigest.map { .string($0.description) } ?? .null
        run["previous_record_digest"] = existing.previousRecordDigest.map { .string($0.description) } ?? .null
        do {
            if existing.kind == .reconcile { run[RunRecordDocument.reconciliationsKey] = try store.ledger.reconciliationsJSON(byRun: existing.id) }
            let decided = try RunBundle.reconciledBy(steps: store.ledger.steps(runID: existing.id), store: store)
            if !decided.isEmpty || bundle.run[RunBundle.reconciledByKey] != nil { run[RunBundle.reconciledByKey] = .array(decided) }
        } catch { throw .store(error) }
        for key in Set(run.keys).union(bundle.run.keys).sorted() where (run[key] ?? .null) != (bundle.run[key] ?? .null) {
            throw .conflict(runID: bundle.runID, detail: "run \(key): here \(RecordComparison.show(run[key] ?? .null)), bundle \(RecordComparison.show(bundle.run[key] ?? .null))")
        }
        let steps: [StepRecord]
        do { steps = try store.ledger.steps(runID: existing.id) } catch { throw .store(error) }
        guard steps.count == bundle.steps.count else {
            throw .conflict(runID: bundle.runID, detail: "\(steps.count) steps here, \(bundle.steps.count) in the bundle")
        }
        let local: Set<String> = ["step_id", "target_step_id", "target_step"]
        for (here, there) in zip(steps.map { RunRecordDocument.stepJSON($0).objectValue ?? [:] }, bundle.steps) {
            for key in Set(here.keys).union(there.keys).subtracting(local).sorted() where (here[key] ?? .null) != (there[key] ?? .null) {
                throw .conflict(runID: bundle.runID, detail: "step \(RecordComparison.show(here["seq"] ?? .null)) \(key): here \(RecordComparison.show(here[key] ?? .null)), bundle \(RecordComparison.show(there[key] ?? .null))")
            }
        }
    }

    /// A reconcile run's decisions: each names its original step by run id and seq (that run must
    /// be here: it is the bundle's parent) and its evidence by seq in this run. An original step
    /// still unknown here gets the decided status, as `Ledger.writeReconciliation` gave it.
    static func insertReconciliations(_ bundle: RunBundle, _ db: Database) throws {
        guard let items = bundle.run[RunRecordDocument.reconciliationsKey]?.arrayValue else { return }
        for item in items {
            guard let r = item.objectValue, let target = r["target"]?.objectValue, let runID = target["run_id"]?.stringValue,
                  let seq = target["seq"]?.doubleValue.flatMap({ Int(exactly: $0) }),
                  let decision = try text(r, "decision").flatMap(ReconcileDecision.init(rawValue:)) else {
                throw BundleError.notABundle("a reconciliation has no valid target or decision")
            }
            guard let step = try StepRow.filter(StepRow.Columns.runID == runID && StepRow.Columns.seq == seq).fetchOne(db),
                  let stepID = step.id else {
                throw BundleError.missingParent(runID: bundle.runID, parent: runID)
            }
            var evidence: Int64?
            if let seq = try int(r, "evidence_seq") {
                evidence = try StepRow.filter(StepRow.Columns.runID == bundle.runID && StepRow.Columns.seq == Int(seq)).fetchOne(db)?.id
            }
            let candidates = r["candidates"]?.arrayValue.flatMap { $0.isEmpty ? nil : try? JSONValue.array($0).canonicalString() }
            let decidedAt = try required(r, "decided_at")
            try ReconciliationRow(
                reconcileRunID: bundle.runID, targetStepID: stepID, evidenceStepID: evidence, decision: decision.rawValue,
                rule: try required(r, "rule"), detail: try required(r, "detail"), recordID: try text(r, "record_id"),
                etag: try text(r, "etag"), recordDigest: try hex(r, "record_digest"), candidates: candidates, decidedAt: decidedAt
            ).insert(db)
            if step.status == nil, let status = decision.stepStatus {
                typealias Key = StepRow.CodingKeys
                var assignments = [Column(Key.status).set(to: status.rawValue), Column(Key.outcomeAt).set(to: decidedAt)]
                if decision == .applied {
                    if step.recordID == nil, let id = try text(r, "record_id") { assignments.append(Column(Key.recordID).set(to: id)) }
                    if step.etag == nil, let etag = try text(r, "etag") { assignments.append(Column(Key.etag).set(to: etag)) }
                }
                _ = try StepRow.filter(key: stepID).updateAll(db, assignments)
            }
        }
    }

    /// The run as `list` and `state` report it, from a bundle's two row members alone
    /// (`rows/run.json`, `rows/steps.json`): the record importing them would read back, derived
    /// by the same rule, with no ledger. `batch list --remote` uses it, so listing a hub costs two
    /// small blobs per run instead of whole bundles. No process holds a lock on such a run.
    ///
    /// `reconciledBy`: the `rows/run.json` of reconcile runs whose parent this run is, in the
    /// order they would be imported. As `insertReconciliations` does on import, each decision
    /// about a step still unknown gives it the decided status (the first decision wins), so a run
    /// pushed in doubt and reconciled later reads as a store that pulled both reads it.
    public static func record(runRow: [UInt8], stepsRow: [UInt8], reconciledBy: [[UInt8]] = []) throws(BundleError) -> RunRecord {
        do {
            guard let run = try JSONValue(parsing: runRow).objectValue else { throw BundleError.notABundle("\(RunBundle.runName) is not a JSON object") }
            guard let items = try JSONValue(parsing: stepsRow).arrayValue else { throw BundleError.notABundle("\(RunBundle.stepsName) is not a JSON array") }
            guard let id = run["id"]?.stringValue, RunID.isValid(id) else { throw BundleError.notABundle("\(RunBundle.runName) has no valid id") }
            var decided: [Int: StepStatus] = [:]
            for reconcileRow in reconciledBy {
                guard let reconcile = try JSONValue(parsing: reconcileRow).objectValue else { throw BundleError.notABundle("a reconcile run's row is not a JSON object") }
                for item in reconcile[RunRecordDocument.reconciliationsKey]?.arrayValue ?? [] {
                    guard let r = item.objectValue, let target = r["target"]?.objectValue, target["run_id"]?.stringValue == id,
                          let seq = target["seq"]?.doubleValue.flatMap({ Int(exactly: $0) }),
                          let status = try text(r, "decision").flatMap(ReconcileDecision.init(rawValue:))?.stepStatus,
                          decided[seq] == nil else { continue }
                    decided[seq] = status
                }
            }
            var counts = StepCounts()
            for item in items {
                guard let step = item.objectValue else { throw BundleError.notABundle("a step of \(RunBundle.stepsName) is not a JSON object") }
                counts.total += 1
                var name = try text(step, "status")
                if name == nil || name == StepStatus.unknownName, let seq = try int(step, "seq"), let status = decided[Int(seq)] {
                    name = status.rawValue
                }
                guard let name, name != StepStatus.unknownName else { counts.unknown += 1; continue }
                guard let status = StepStatus(rawValue: name) else { throw BundleError.notABundle("step status '\(name)' is not one bcli records") }
                switch status {
                case .committed: counts.committed += 1
                case .replayed: counts.committed += 1; counts.replayed += 1
                case .failed: counts.failed += 1
                case .skipped: counts.skipped += 1
                case .rolledBack: counts.rolledBack += 1
                case .rollbackSkipped: counts.rollbackSkipped += 1
                case .rollbackFailed: counts.rollbackFailed += 1
                case .reconciledApplied: counts.reconciledApplied += 1
                case .reconciledNotApplied: counts.reconciledNotApplied += 1
                }
            }
            return try Self.runRow(run, id: id).record(counts: counts, lockHeld: { _ in false })
        } catch let error as BundleError {
            throw error
        } catch {
            throw .notABundle("the run's rows are not valid: \(error)")
        }
    }

    static func insertRun(_ bundle: RunBundle, _ db: Database) throws {
        try runRow(bundle.run, id: bundle.runID).insert(db)
    }

    static func runRow(_ r: [String: JSONValue], id: String) throws -> RunRow {
        RunRow(
            id: id, kind: try required(r, "kind"), parentRunID: try text(r, "parent_run_id"), name: try text(r, "name"),
            manifestDigest: try hex(r, "manifest_digest"), manifestPath: try text(r, "manifest_path"),
            paramsDigest: try hex(r, "params_digest"), profile: try text(r, "profile"), environment: try text(r, "environment"),
            company: try text(r, "company"), baseURL: try text(r, "base_url"), state: try required(r, "state"),
            startedAt: try required(r, "started_at"), finishedAt: try text(r, "finished_at"),
            toolVersion: try required(r, "tool_version"), durability: try required(r, "durability"),
            recordDigest: try hex(r, "record_digest"), previousRecordDigest: try hex(r, "previous_record_digest"),
            stepCount: try int(r, "step_count").map(Int.init)
        )
    }

    static func insertStep(_ s: [String: JSONValue], runID: String, _ db: Database) throws {
        var target: Int64?
        if let t = s["target_step"]?.objectValue, let targetRun = t["run_id"]?.stringValue,
           let seq = t["seq"]?.doubleValue.flatMap({ Int(exactly: $0) }) {
            target = try StepRow.filter(StepRow.Columns.runID == targetRun && StepRow.Columns.seq == seq).fetchOne(db)?.id
            if target == nil { throw BundleError.missingParent(runID: runID, parent: targetRun) }
        }
        let status = try text(s, "status")
        guard let seq = try int(s, "seq") else { throw BundleError.notABundle("seq is missing") }
        try StepRow(
            id: nil, runID: runID, seq: Int(seq), name: try required(s, "name"), method: try method(s), url: try required(s, "url"),
            requestDigest: try hex(s, "request_digest"), requestHeadersDigest: try hex(s, "request_headers_digest"),
            idempotencyKey: try text(s, "idempotency_key"), clientRequestID: try required(s, "client_request_id"),
            ifMatch: try text(s, "if_match"), preImageDigest: try hex(s, "pre_image_digest"), targetStepID: target,
            intentAt: try required(s, "intent_at"), outcomeAt: try text(s, "outcome_at"),
            status: status == StepStatus.unknownName ? nil : status, httpStatus: try int(s, "http_status").map(Int.init),
            responseDigest: try hex(s, "response_digest"), responseHeadersDigest: try hex(s, "response_headers_digest"),
            etag: try text(s, "etag"), recordID: try text(s, "record_id"), requestID: try text(s, "request_id"),
            msCorrelationX: try text(s, "ms_correlation_x"), correlationRequestID: try text(s, "correlation_request_id"),
            bcErrorCode: try text(s, "bc_error_code"), bcErrorMessage: try text(s, "bc_error_message"),
            bcCorrelationID: try text(s, "bc_correlation_id"), rollbackURL: try text(s, "rollback_url"),
            errorMessage: try text(s, "error_message"), durationMs: try int(s, "duration_ms").map(Int.init)
        ).insert(db)
        let stepID = db.lastInsertedRowID
        switch s["pages"] {
        case nil, .null?: break
        case .array(let pages)?:
            for item in pages {
                guard let p = item.objectValue, let page = try int(p, "page"), page >= 1 else {
                    throw BundleError.notABundle("a page of step \(seq) has no valid page number")
                }
                try StepPageRow(stepID: stepID, page: Int(page), url: try required(p, "url"),
                                httpStatus: try int(p, "http_status").map(Int.init), responseDigest: try hex(p, "response_digest"),
                                responseHeadersDigest: try hex(p, "response_headers_digest"), requestID: try text(p, "request_id"),
                                durationMs: try int(p, "duration_ms").map(Int.init)).insert(db)
            }
        default:
            throw BundleError.notABundle("pages of step \(seq) is not an array")
        }
    }

    /// A step's `method`, refused unless bcli records that spelling (reading the row back would fail).
    static func method(_ row: [String: JSONValue]) throws -> String {
        let spelling = try required(row, "method")
        guard RecordedMethod(rawValue: spelling) != nil else {
            throw BundleError.notABundle("a step's method '\(spelling)' is not one bcli records")
        }
        return spelling
    }

    static func text(_ row: [String: JSONValue], _ key: String) throws -> String? {
        switch row[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        default: throw BundleError.notABundle("\(key) is not a string")
        }
    }

    /// A string a NOT NULL column needs.
    static func required(_ row: [String: JSONValue], _ key: String) throws -> String {
        guard let value = try text(row, key) else { throw BundleError.notABundle("\(key) is missing") }
        return value
    }

    static func int(_ row: [String: JSONValue], _ key: String) throws -> Int64? {
        switch row[key] {
        case nil, .null?: return nil
        case .number(let d)? where d == d.rounded() && abs(d) < 9e15: return Int64(d)
        default: throw BundleError.notABundle("\(key) is not an integer")
        }
    }

    static func hex(_ row: [String: JSONValue], _ key: String) throws -> String? {
        guard let s = try text(row, key) else { return nil }
        guard let d = try? Digest(parsing: s) else { throw BundleError.notABundle("\(key) is not a digest") }
        return d.hex
    }
}
