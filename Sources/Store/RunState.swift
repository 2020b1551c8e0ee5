/// The states a run can be stamped with (the `run.state` CHECK enum).
public enum RunState: String, Sendable, CaseIterable, Codable {
    case planned
    case running
    case partiallyCommitted = "partially_committed"
    case completed
    case failed
    case cancelled
    case rolledBack = "rolled_back"
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

    /// The name shown for an intent-only row.
    public static let unknownName = "unknown"
}

/// What kind of run a row records.
public enum RunKind: String, Sendable, CaseIterable, Codable {
    case batch
    case rollback
}

/// The version of bcli recorded on every run row.
public enum ToolVersion {
    public static let current = "0.1.0"
}
