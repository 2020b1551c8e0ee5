/// The states a run can read (the `run.state` CHECK enum). See `RunStateRule` for how a run's
/// state is decided; `docs/architecture.md` ("Run state") has the table.
public enum RunState: String, Sendable, CaseIterable, Codable {
    case planned
    case running
    case partiallyCommitted = "partially_committed"
    case completed
    case failed
    case cancelled
    case rolledBack = "rolled_back"
    /// At least one step's outcome is unknown (an intent with no outcome): data may have reached
    /// the server. Never `failed`, never `completed`.
    case inDoubt = "in_doubt"
    /// The run stopped before its last manifest step: its process is gone (no one holds its lock),
    /// it never finished, and no step is unknown.
    case interrupted
}

/// The statuses an outcome can give a step. A step with an intent and no outcome has no status:
/// it is reported as `unknown` (the request may or may not have reached the server).
public enum StepStatus: String, Sendable, CaseIterable, Codable {
    case committed
    case failed
    case skipped
    case replayed
    case rolledBack = "rolled_back"
    case rollbackSkipped = "rollback_skipped"
    case rollbackFailed = "rollback_failed"
    /// `batch reconcile` found that this unknown write landed (evidence: a `reconciliation` row
    /// and its GET). Counts as landed, like `committed`.
    case reconciledApplied = "reconciled_applied"
    /// `batch reconcile` found that this unknown write did not land: nothing to undo; `batch
    /// resume` sends the step again.
    case reconciledNotApplied = "reconciled_not_applied"

    /// The name shown for an intent-only row.
    public static let unknownName = "unknown"
}

/// What kind of run a row records.
public enum RunKind: String, Sendable, CaseIterable, Codable {
    case batch
    case rollback
    /// A run the Python tool (bc-cli) recorded, brought in by `batch import-python-ledger`: its
    /// rows and states as that tool wrote them, no blobs but its source file (see `PythonLedger`).
    case imported
    /// `batch reconcile RUN`: GETs that decide what RUN's unknown steps did (parent: RUN).
    case reconcile
    /// `batch resume RUN`: the steps of RUN's manifest that were not done, sent in order (parent:
    /// the original batch run).
    case resume
}

/// The version of bcli recorded on every run row.
public enum ToolVersion {
    public static let current = "0.1.0"
}

/// The one rule that decides a run's state, used four ways: the runner stamps a finished run
/// with it, `batch rollback` stamps its own run with it (`rollbackStamp`), `state`/`list` report it, and its SQL twin (`RunQuery.derivedState`, proved equal to
/// it on every combination by the tests) filters `list --state` in the database.
///
/// Precedence, first match wins:
///
/// | # | condition | state |
/// |---|---|---|
/// | 1 | not finished and a process holds the run's lock | `running` |
/// | 2 | a step is unknown (intent, no outcome) | `in_doubt` |
/// | 3 | stamped `rolled_back` (by `batch rollback`, every reversible write undone) | `rolled_back` |
/// | 4 | finished and stamped `cancelled` (SIGINT) | `cancelled` |
/// | 5 | the manifest's step count is known and every one of its steps landed | `completed` |
/// | 6 | not finished (its process is gone) | `interrupted` |
/// | 7 | finished, step count unknown (a run recorded before step counts existed) | the stamped state |
/// | 8 | finished, some step landed | `partially_committed` |
/// | 9 | finished, nothing landed | `failed` |
///
/// A step *landed* when its write was committed at some point: `committed`, `replayed`,
/// `reconciled_applied` (an unknown write `batch reconcile` found landed), or one of the statuses a
/// rollback gives a committed step (`rolled_back`, `rollback_skipped`, `rollback_failed`), so marking steps during a partial rollback does not change the run's
/// state. In a rollback run (kind `rollback`) a `skipped` compensation counts as done: it was a
/// deliberate decision, reported on the original step.
///
/// **A rollback run's stamp.** A rollback run records no step count (its rows — compensations,
/// `check_` GETs, skip notes — are not one per plan item), so from rule 7 on it reads the state
/// it was stamped with. `rollbackStamp` decides that stamp with this same rule, the run's
/// *steps* being the compensations it owed: the plan's items less those it skipped by decision
/// (irreversible, blocked by a newer compensation, no ETag). A compensation landed when it was
/// rolled back (sent and answered, or found already done). So, first match wins:
///
/// | # | rollback run | stamp |
/// |---|---|---|
/// | 4 | SIGINT stopped it between compensations | `cancelled` |
/// | 5 | no compensation failed (every owed one rolled back; none owed also counts) | `completed` |
/// | 8 | some failed, some rolled back | `partially_committed` |
/// | 9 | some failed, none rolled back | `failed` |
///
/// A compensation with no answer is a failed one here (`rollback_failed`); the rollback run
/// then reads `in_doubt` anyway (rule 2), from its step rows.
public enum RunStateRule {
    /// - Parameters:
    ///   - stamped: the state on the row (`running` until the run finishes; the runner passes
    ///     `cancelled` when SIGINT stopped it, anything else otherwise).
    ///   - finished: the row has `finished_at`.
    ///   - lockHeld: a process holds the run's lock (it is executing, or being rolled back).
    ///   - stepCount: the manifest's step count recorded at start (`nil` for runs recorded
    ///     before the column existed).
    public static func derive(
        stamped: RunState, finished: Bool, lockHeld: Bool, kind: RunKind, stepCount: Int?, counts: StepCounts
    ) -> RunState {
        if !finished && lockHeld { return .running }
        if counts.unknown > 0 { return .inDoubt }
        if stamped == .rolledBack { return .rolledBack }
        if finished && stamped == .cancelled { return .cancelled }
        let landed = landedCount(kind: kind, counts: counts)
        if let stepCount, landed == stepCount { return .completed }
        if !finished { return .interrupted }
        guard stepCount != nil else { return stamped }
        return landed > 0 ? .partiallyCommitted : .failed
    }

    /// The state `batch rollback` stamps on its own run (see "A rollback run's stamp" above):
    /// `derive` over the compensations the run owed.
    ///
    /// - Parameters:
    ///   - cancelled: SIGINT stopped the rollback before its last plan item.
    ///   - items: the plan's items.
    ///   - undone: items rolled back (`rolled_back`).
    ///   - failed: items whose compensation failed or got no answer (`rollback_failed`).
    ///   - skipped: items skipped by decision (`rollback_skipped`); owed nothing.
    public static func rollbackStamp(cancelled: Bool, items: Int, undone: Int, failed: Int, skipped: Int) -> RunState {
        var counts = StepCounts()
        counts.total = undone + failed
        counts.committed = undone
        counts.failed = failed
        return derive(stamped: cancelled ? .cancelled : .running, finished: true, lockHeld: false, kind: .rollback,
                      stepCount: items - skipped, counts: counts)
    }

    /// Steps that did what they were asked at some point (see the type's documentation).
    public static func landedCount(kind: RunKind, counts c: StepCounts) -> Int {
        c.committed + c.rolledBack + c.rollbackSkipped + c.rollbackFailed + c.reconciledApplied + (kind == .rollback ? c.skipped : 0)
    }
}
