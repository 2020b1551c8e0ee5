/// How a finished run ended, in the terms a caller acts on: bcli's exit table turns a verdict
/// into an exit status (Batch knows no exit codes). First match wins: interrupted, in doubt,
/// steps failed, ok.
public enum RunVerdict: Sendable, Equatable, CaseIterable {
    /// Every step landed (a rollback: every reversible write was undone).
    case ok
    /// A step failed or was skipped (a rollback: a compensating request failed or conflicted).
    case stepsFailed
    /// A step's request was sent and no outcome recorded: it may have landed.
    case inDoubt
    /// SIGINT stopped it between two steps; it is stamped `cancelled`.
    case interrupted

    /// The verdict of a batch run.
    public init(_ summary: RunSummary) {
        if summary.cancelled { self = .interrupted }
        else if summary.unknown > 0 { self = .inDoubt }
        else if summary.failed + summary.skipped > 0 { self = .stepsFailed }
        else { self = .ok }
    }

    /// The verdict of a rollback run.
    public init(_ result: RollbackExecutor.Result) {
        if result.cancelled { self = .interrupted }
        else if result.results.contains(where: { $0.status == .rollbackFailed }) { self = .stepsFailed }
        else { self = .ok }
    }
}
