import GRDB

// The store-wide side of idempotency replay: a manifest with `idempotency: store` asks the whole
// ledger, not only its own run, which step sent a key first (docs/ledger.md, "Idempotency replay").

extension Ledger {
    /// The run kinds whose writes a keyed write of another run may replay: runs that sent the
    /// manifest's own writes. Not `rollback` (compensations), `reconcile` (GETs) or `imported` (the
    /// Python tool's runs: no response bytes to give the replay its outputs).
    public static let idempotencyOriginKinds: [RunKind] = [.batch, .resume]

    /// Every write row sent with idempotency key `key` by a run of kind `batch` or `resume`
    /// (`idempotencyOriginKinds`), oldest first, with its status as it stands now (a rollback's
    /// `rolled_back`, a reconcile's decision). Rows that sent nothing — `replayed` and `skipped` —
    /// are left out. With `family` only rows of that batch run and of its children (its resume
    /// runs) are read. Uses the index on `step.idempotency_key`.
    public func keyedWrites(key: String, family root: String? = nil) throws(StoreError) -> [StepRecord] {
        try read { db in
            let kinds = Self.idempotencyOriginKinds.map(\.rawValue)
            var origins = RunRow.select(RunRow.Columns.id).filter(kinds.contains(RunRow.Columns.kind))
            if let root { origins = origins.filter(RunRow.Columns.id == root || RunRow.Columns.parentRunID == root) }
            let writes = [StepMethod.post, .patch, .delete].map(\.rawValue)
            let sentNothing = [StepStatus.replayed, .skipped].map(\.rawValue)
            let request = StepRow.filter(StepRow.Columns.idempotencyKey == key)
                .filter(origins.contains(StepRow.Columns.runID))
                .filter(writes.contains(StepRow.Columns.method))
                .filter(StepRow.Columns.status == nil || !sentNothing.contains(StepRow.Columns.status))
            return try StepRow.fetchRecords(db, request.order(StepRow.Columns.id))
        }
    }
}
