import Hashing
import Foundation
import Store

/// What the runner reports about each step as it goes; the command layer turns these into
/// terminal lines or JSON. Value types only, so observers never touch runner state.
@dynamicMemberLookup
public struct StepReport: Sendable {
    /// Which step (`report.seq`, `report.url`, … read through to it).
    public let step: StepIdentity
    /// `committed`, `failed`, `skipped` or `replayed` (not sent: its idempotency key was committed
    /// by an earlier step of the run, whose record id and outputs it carries; `message` names
    /// that step); nil when the outcome is unknown (sent, no answer: it may have landed).
    public let status: StepStatus?
    public let httpStatus: Int?
    public let recordID: String?
    /// The record's `number` (or `displayName`) from the response, for the human line.
    public let label: String?
    public let recordCount: Int?
    public let durationMs: Int
    public let message: String?
    public let bcErrorCode: String?
    public let correlationID: String?
    public let clientRequestID: String?
    public let stepID: Int64?
    /// How many pages a get with `all: true` read (1 when the server sent no `@odata.nextLink`);
    /// nil for every other step.
    public var pages: Int? = nil

    /// `committed`, `failed`, `skipped`, `replayed` or `unknown`: the spelling in every output.
    public var statusName: String { status?.rawValue ?? StepStatus.unknownName }

    public subscript<T>(dynamicMember path: KeyPath<StepIdentity, T>) -> T { step[keyPath: path] }
}

/// The facts that name a step in every event about it: where it stands in the manifest and what
/// it sends where. `StepStart` and `StepReport` both lead with one.
public struct StepIdentity: Sendable {
    public let seq: Int
    public let total: Int
    public let name: String
    /// `.unresolved` (`?`) when a `${{ }}` method did not resolve and the step was skipped.
    public let method: RecordedMethod
    public let endpoint: String
    public let url: String
}

/// A step whose intent row is committed and whose request is about to leave (or, for a replayed
/// step, whose `replayed` row is written). Reported before the step's `StepReport`.
@dynamicMemberLookup
public struct StepStart: Sendable {
    /// Which step (`start.seq`, `start.url`, … read through to it).
    public let step: StepIdentity
    /// The intent row's id.
    public let stepID: Int64
    public let clientRequestID: String
    /// The intent row's `intent_at`; nil if it could not be read back.
    public let intentAt: String?
    /// Not sent: an earlier step of the run committed its idempotency key.
    public let replayed: Bool

    public subscript<T>(dynamicMember path: KeyPath<StepIdentity, T>) -> T { step[keyPath: path] }
}

public protocol RunObserver: Sendable {
    func runStarted(runID: String, steps: Int)
    /// After the step's intent row is committed, before its request is sent. Not called for a
    /// step that is never sent (skipped, or refused by its pre-image GET): its `stepFinished` comes alone.
    func stepStarted(_ start: StepStart)
    func stepFinished(_ report: StepReport)
}

extension RunObserver {
    public func stepStarted(_ start: StepStart) {}
}

/// The outcome of `BatchRunner.run`.
public struct RunSummary: Sendable {
    public let runID: String
    public let state: RunState
    public let committed: Int
    public let failed: Int
    public let skipped: Int
    public let unknown: Int
    public let total: Int
    public let recordDigest: Digest?
    public let cancelled: Bool
    /// Every step's report in manifest order, when `BatchRunner.Options.keepReports` asked for
    /// them; empty otherwise.
    public let reports: [StepReport]
    /// Steps not sent because an earlier step of the run committed their idempotency key (they
    /// landed; not counted in `committed`).
    public var replayed: Int = 0
    /// The correlation id of the last step (in manifest order) that did not land, for the result
    /// envelope; kept even when `reports` is not.
    public var lastProblemCorrelationID: String? = nil
}

/// Set from a signal handler; the runner checks it between steps.
public final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    public init() {}
    public var isCancelled: Bool { lock.withLock { value } }
    public func cancel() { lock.withLock { value = true } }
}
