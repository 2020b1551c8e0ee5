import GRDB
import Hashing

/// What `batch reconcile` decided about one unknown step, with its evidence.
///
/// Why a row of its own: the decision changes the original step's status (so the run's state
/// reads true), but the *reason* — which GET, which rule, which record, which candidates — must
/// survive for an auditor, including for `undecidable`, which changes nothing on the step.
public enum ReconcileDecision: String, Sendable, Codable, CaseIterable {
    /// The unknown write landed: the step becomes `reconciled_applied`.
    case applied
    /// It did not land: the step becomes `reconciled_not_applied`.
    case notApplied = "not_applied"
    /// The evidence does not say: the step stays unknown.
    case undecidable

    /// The status the original step gets, if any.
    public var stepStatus: StepStatus? {
        switch self {
        case .applied: return .reconciledApplied
        case .notApplied: return .reconciledNotApplied
        case .undecidable: return nil
        }
    }
}

/// A reconciliation as `Ledger.writeReconciliation` commits it.
public struct NewReconciliation: Sendable {
    public var reconcileRunID: String
    /// The original step whose outcome was unknown.
    public var targetStepID: Int64
    /// The reconcile run's GET that is the evidence; nil when none could be sent.
    public var evidenceStepID: Int64?
    public var decision: ReconcileDecision
    /// A stable rule id (`delete.gone`, `post.one-match`, …; docs/recovery.md).
    public var rule: String
    /// One sentence for the operator.
    public var detail: String
    /// For `applied`: the record as found, its id and ETag, and (a POST's) record URL.
    public var recordID: String?
    public var etag: String?
    public var record: BlobRef?
    public var rollbackURL: String?
    /// For `undecidable` POSTs: the ids of the records that matched.
    public var candidates: [String] = []

    public init(reconcileRunID: String, targetStepID: Int64, decision: ReconcileDecision, rule: String, detail: String) {
        self.reconcileRunID = reconcileRunID
        self.targetStepID = targetStepID
        self.decision = decision
        self.rule = rule
        self.detail = detail
    }
}

/// A reconciliation as read back.
public struct Reconciliation: Sendable, Equatable {
    public var reconcileRunID: String
    public var targetStepID: Int64
    public var evidenceStepID: Int64?
    public var decision: ReconcileDecision
    public var rule: String
    public var detail: String
    public var recordID: String?
    public var etag: String?
    public var recordDigest: Digest?
    public var candidates: [String]
    public var decidedAt: String
}

/// A row of `reconciliation` (migration 9).
struct ReconciliationRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "reconciliation"

    var reconcileRunID: String
    var targetStepID: Int64
    var evidenceStepID: Int64?
    var decision: String
    var rule: String
    var detail: String
    var recordID: String?
    var etag: String?
    var recordDigest: String?
    var candidates: String?
    var decidedAt: String

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case reconcileRunID = "reconcile_run_id", targetStepID = "target_step_id", evidenceStepID = "evidence_step_id"
        case decision, rule, detail, recordID = "record_id", etag, recordDigest = "record_digest", candidates
        case decidedAt = "decided_at"

        /// The columns that name a blob.
        static let digests = [CodingKeys.recordDigest].map { Column($0) }
    }

    typealias Columns = CodingKeys

    func record() throws(StoreError) -> Reconciliation {
        guard let decision = ReconcileDecision(rawValue: decision) else {
            throw .database("reconciliation of step \(targetStepID) has decision '\(self.decision)', which bcli never records")
        }
        var ids: [String] = []
        if let candidates, let parsed = try? JSONValue(parsing: candidates) {
            ids = parsed.arrayValue?.compactMap(\.stringValue) ?? []
        }
        return Reconciliation(
            reconcileRunID: reconcileRunID, targetStepID: targetStepID, evidenceStepID: evidenceStepID, decision: decision,
            rule: rule, detail: detail, recordID: recordID, etag: etag,
            recordDigest: recordDigest.flatMap { try? Digest(parsing: $0) }, candidates: ids, decidedAt: decidedAt)
    }
}

extension Ledger {
    /// Commits a reconciliation, and for `applied`/`not_applied` the original step's new status,
    /// in one transaction. The step must still be unknown (no outcome): a decided status is never
    /// replaced, and `unknown` is replaced only here, with the evidence beside it. For `applied`,
    /// the step's record id, ETag and rollback URL are filled where the row has none, so
    /// references, `resume` and `rollback` can use the record that was found.
    public func writeReconciliation(_ r: NewReconciliation) throws(StoreError) {
        try write { db in
            guard let step = try StepRow.fetchOne(db, key: r.targetStepID) else {
                throw StoreError.invalidState("no step with id \(r.targetStepID) to reconcile")
            }
            if let status = step.status {
                throw StoreError.invalidState("step \(step.seq) (\(step.name)) of run \(step.runID) already reads \(status); only an unknown step is reconciled")
            }
            if let record = r.record { try Ledger.indexObjects([record], db) }
            let candidates = r.candidates.isEmpty ? nil : (try? JSONValue.array(r.candidates.map { .string($0) }).canonicalString())
            try ReconciliationRow(
                reconcileRunID: r.reconcileRunID, targetStepID: r.targetStepID, evidenceStepID: r.evidenceStepID,
                decision: r.decision.rawValue, rule: r.rule, detail: r.detail, recordID: r.recordID, etag: r.etag,
                recordDigest: r.record?.digest.hex, candidates: candidates, decidedAt: Timestamp.now()
            ).insert(db)
            guard let status = r.decision.stepStatus else { return }
            typealias Key = StepRow.CodingKeys
            var assignments = [Column(Key.status).set(to: status.rawValue), Column(Key.outcomeAt).set(to: Timestamp.now())]
            if r.decision == .applied {
                if step.recordID == nil, let id = r.recordID { assignments.append(Column(Key.recordID).set(to: id)) }
                if step.etag == nil, let etag = r.etag { assignments.append(Column(Key.etag).set(to: etag)) }
                if step.rollbackURL == nil, let url = r.rollbackURL { assignments.append(Column(Key.rollbackURL).set(to: url)) }
            }
            _ = try StepRow.filter(key: r.targetStepID).updateAll(db, assignments)
        }
    }

    /// The reconciliations a reconcile run made, in the order of their original steps.
    public func reconciliations(byRun runID: String) throws(StoreError) -> [Reconciliation] {
        try read { db in
            try ReconciliationRow.filter(ReconciliationRow.Columns.reconcileRunID == runID)
                .order(ReconciliationRow.Columns.targetStepID).fetchAll(db)
        }.map { row throws(StoreError) in try row.record() }
    }

    /// Every reconciliation of the given original steps, oldest first.
    public func reconciliations(ofSteps stepIDs: [Int64]) throws(StoreError) -> [Reconciliation] {
        try read { db in
            var rows: [ReconciliationRow] = []
            for start in stride(from: 0, to: stepIDs.count, by: 500) {
                let chunk = Array(stepIDs[start..<min(start + 500, stepIDs.count)])
                rows += try ReconciliationRow.filter(chunk.contains(ReconciliationRow.Columns.targetStepID)).fetchAll(db)
            }
            return rows.sorted { ($0.decidedAt, $0.targetStepID) < ($1.decidedAt, $1.targetStepID) }
        }.map { row throws(StoreError) in try row.record() }
    }

    /// Runs whose parent is `runID` (rollbacks, reconciles, resumes), oldest first.
    public func children(of runID: String) throws(StoreError) -> [String] {
        try read { db in
            try String.fetchAll(db, RunRow.select(RunRow.Columns.id).filter(RunRow.Columns.parentRunID == runID)
                .order(RunRow.Columns.startedAt, RunRow.Columns.id))
        }
    }
}

extension ReconciliationRow {
    /// A reconcile run's reconciliations as its run record (and `state --format json`) carry them:
    /// steps named by run id and seq, which survive export and import (row ids do not).
    static func recordJSON(reconcileRunID: String, _ db: Database) throws -> JSONValue {
        let rows = try ReconciliationRow.filter(Columns.reconcileRunID == reconcileRunID).order(Columns.targetStepID).fetchAll(db)
        var items: [JSONValue] = []
        for row in rows {
            let target = try StepRow.fetchOne(db, key: row.targetStepID)
            let evidence = try row.evidenceStepID.flatMap { try StepRow.fetchOne(db, key: $0) }
            func str(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
            let candidates = row.candidates.flatMap { try? JSONValue(parsing: $0) } ?? .array([])
            items.append(.object([
                "target": .object(["run_id": str(target?.runID), "seq": target.map { .number(Double($0.seq)) } ?? .null]),
                "evidence_seq": evidence.map { .number(Double($0.seq)) } ?? .null,
                "decision": .string(row.decision), "rule": .string(row.rule), "detail": .string(row.detail),
                "record_id": str(row.recordID), "etag": str(row.etag), "record_digest": str(row.recordDigest),
                "candidates": candidates, "decided_at": .string(row.decidedAt),
            ]))
        }
        return .array(items)
    }
}

extension Ledger {
    /// `ReconciliationRow.recordJSON` for one reconcile run (verify compares it with the record).
    public func reconciliationsJSON(byRun runID: String) throws(StoreError) -> JSONValue {
        try read { db in try ReconciliationRow.recordJSON(reconcileRunID: runID, db) }
    }
}
