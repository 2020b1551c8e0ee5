import BusinessCentral
import Foundation
import Hashing
import Store

/// Carries out a `RollbackPlan` as a run of its own (kind `rollback`, parent = the run undone),
/// with an intent row before and an outcome row after every compensating request, so a crash
/// during a rollback is as recoverable as a crash during a run.
public final class RollbackExecutor: Sendable, RunWriter {
    public struct Options: Sendable {
        /// `--force`: send `If-Match: *` instead of the recorded ETag (recorded as `*` in the ledger).
        public var force = false
        public init() {}
    }

    /// What happened to one plan item.
    public struct ItemResult: Sendable {
        public let item: RollbackItem
        /// `rolled_back`, `rollback_failed`, `rollback_skipped`.
        public let status: StepStatus
        public let httpStatus: Int?
        public let message: String
        public let conflict: Bool
        public let newRecordID: String?
    }

    public struct Result: Sendable {
        public let rollbackRunID: String
        public let results: [ItemResult]
        /// The state of the original run after the rollback.
        public let originalState: RunState
        public let remaining: Int
        /// SIGINT stopped the rollback between two compensations.
        public let cancelled: Bool
    }

    let context: RunContext
    let options: Options

    public init(store: LedgerStore, client: any BCTransport, profile: Profile, options: Options = Options()) {
        self.context = RunContext(store: store, transport: client, profile: profile)
        self.options = options
    }

    public func execute(plan: RollbackPlan, original: RunRecord, cancellation: CancellationFlag) async throws(StoreError) -> Result {
        let originalLock = try store.lock(runID: original.id)
        defer { originalLock.release() }
        var row = NewRun(toolVersion: ToolVersion.current)
        row.kind = .rollback
        row.parentRunID = original.id
        row.name = "rollback of \(original.name ?? original.id)"
        let run = try LedgerRun(row, profile: profile, store: store)
        defer { run.release() }

        // Repair: compensations that committed before a crash, whose targets were never marked.
        for step in plan.alreadyUndone { try store.ledger.setStepStatus(stepID: step.id, .rolledBack) }

        var etags: [String: String] = [:]  // record key → ETag after our own compensations
        // Record key → the newer compensation of that record that did not succeed in this run: the
        // older compensations of the record wait for it (undoing them first would leave the record
        // in a state no later rollback can repair, e.g. DELETEd while its restore is still owed).
        var blocked: [String: String] = [:]
        var results: [ItemResult] = []
        var seq = 0
        var cancelled = false
        for item in plan.items {
            if cancellation.isCancelled { cancelled = true; break }
            let blocker = item.recordKey.flatMap { blocked[$0] }
            let result = try await perform(item, seq: &seq, runID: run.id, etags: &etags, blockedBy: blocker)
            // An original step with no outcome keeps reading `unknown`: marking it would invent an
            // outcome the ledger never saw.
            if item.step.status != nil { try store.ledger.setStepStatus(stepID: item.step.id, result.status) }
            if let key = item.recordKey, blocked[key] == nil, Self.blocksOlder(item.action, result.status) {
                blocked[key] = "step \(item.step.seq) \(item.step.name)"
            }
            results.append(result)
        }
        try run.finish(RunStateRule.rollbackStamp(
            cancelled: cancelled, items: plan.items.count,
            undone: results.filter { $0.status == .rolledBack }.count,
            failed: results.filter { $0.status == .rollbackFailed }.count,
            skipped: results.filter { $0.status == .rollbackSkipped }.count))

        // The original run reads `rolled_back` only when every reversible write is undone.
        let remaining = plan.reversible.count - results.filter { r in
            if case .irreversible = r.item.action { return false }
            return r.status == .rolledBack
        }.count
        var originalState = try store.ledger.run(original.id).state
        // Not `rolled_back` while a write of unknown outcome may have landed.
        let unknown = plan.items.contains { $0.step.status == nil }
        if remaining == 0 && !cancelled && !unknown {
            try store.ledger.restampRun(original.id, state: .rolledBack)
            originalState = .rolledBack
        }
        return Result(rollbackRunID: run.id, results: results, originalState: originalState, remaining: remaining,
                      cancelled: cancelled)
    }

    /// Whether this outcome of a compensation keeps the older compensations of the same record
    /// from running in this rollback: any compensation that should have been sent and did not
    /// succeed. Items bcli cannot undo at all (`!`) do not block: the record's other writes are
    /// undone as far as they can be.
    static func blocksOlder(_ action: RollbackAction, _ status: StepStatus) -> Bool {
        switch action {
        case .irreversible, .nothing: return false
        case .delete, .restore, .recreate: return status != .rolledBack
        }
    }

    private func perform(
        _ item: RollbackItem, seq: inout Int, runID: String, etags: inout [String: String], blockedBy: String?
    ) async throws(StoreError) -> ItemResult {
        let name = "undo_\(item.step.name)"
        func record(_ message: String, method: RecordedMethod = .noRequest, url: String? = nil, etag: String? = nil) throws(StoreError) {
            seq += 1
            var intent = StepIntent(runID: runID, seq: seq, name: name, method: method, url: url ?? item.step.url)
            intent.targetStepID = item.step.id
            if let etag {
                // A restore found already applied: the row keeps the ETag the check read, so the
                // If-Match chain of later rollbacks continues from it.
                let id = try store.ledger.writeIntent(intent)
                var outcome = StepOutcome(status: .skipped)
                outcome.etag = etag
                outcome.recordID = item.step.recordID
                outcome.errorMessage = message
                try store.ledger.writeOutcome(stepID: id, outcome)
            } else {
                try store.ledger.writeSkipped(intent, status: .skipped, reason: message)
            }
        }
        func skipped(_ message: String) throws(StoreError) -> ItemResult {
            try record(message)
            return ItemResult(item: item, status: .rollbackSkipped, httpStatus: nil, message: message, conflict: false, newRecordID: nil)
        }
        func reconciled(_ message: String, method: RecordedMethod, url: String, etag: String? = nil) throws(StoreError) -> ItemResult {
            try record(message, method: method, url: url, etag: etag)
            return ItemResult(item: item, status: .rolledBack, httpStatus: nil, message: message, conflict: false, newRecordID: nil)
        }
        let method: StepMethod
        let url: String
        var body: [UInt8]?
        if case .irreversible(let reason) = item.action { return try skipped(reason) }
        if let blockedBy {
            return try skipped("not attempted: the newer compensation of this record (\(blockedBy)) did not succeed; run rollback again once it has")
        }
        switch item.action {
        case .irreversible(let reason):
            return try skipped(reason)
        case .nothing(let reason):
            return try reconciled("nothing to undo: " + reason, method: .noRequest, url: item.step.url)
        case .delete(let u):
            method = .delete; url = u
        case .restore(let u, let fields):
            method = .patch; url = u
            body = try? JSONValue.object(fields).canonicalBytes()
        case .recreate(let u, let fields):
            method = .post; url = u
            body = try? JSONValue.object(fields).canonicalBytes()
        }
        var ifMatch: String? = nil
        if method != .post {
            ifMatch = options.force ? "*" : (item.recordKey.flatMap { etags[$0] } ?? item.ifMatch)
            guard ifMatch != nil else {
                return try skipped("no ETag was recorded for this record, and bcli never sends If-Match: * without --force")
            }
        }

        // A re-creation sent before with no recorded outcome may have created the record already;
        // there is no key to look it up by, so a person must check rather than bcli POST again.
        if let attempt = item.unresolvedAttempt, method == .post {
            return try skipped("an earlier re-creation (client-request-id \(attempt.clientRequestID)) got no answer and may have landed; check Business Central before re-creating by hand")
        }
        // A compensation sent before with no recorded outcome: look (and record what was seen)
        // before sending again.
        if let attempt = item.unresolvedAttempt, method != .post {
            let probe = try await check(url, item: item, runID: runID, seq: &seq)
            switch (method, probe) {
            case (.delete, let r?) where r.status == 404:
                return try reconciled("already deleted by the interrupted rollback (\(attempt.clientRequestID)); nothing sent",
                                      method: .http(method), url: url)
            case (.patch, let r?) where r.isSuccess:
                if case .restore(_, let fields) = item.action, let now = (try? JSONValue(parsing: r.body))?.objectValue,
                   fields.allSatisfy({ now[$0.key] == $0.value })
                {
                    if let key = item.recordKey, let e = r.etag { etags[key] = e }
                    return try reconciled("already restored by the interrupted rollback (\(attempt.clientRequestID)); nothing sent",
                                          method: .http(method), url: url, etag: r.etag)
                }
            default:
                break
            }
        }

        seq += 1
        var intent = StepIntent(runID: runID, seq: seq, name: name, method: .http(method), url: url)
        intent.targetStepID = item.step.id
        intent.ifMatch = ifMatch
        let request = BCRequest(method: method, url: url, body: body, ifMatch: ifMatch, clientRequestID: intent.clientRequestID)
        var newID: String?
        let ending = try await exchange.send(intent, request) { response, outcome in
            if response.isSuccess {
                if method == .post {
                    newID = (try? JSONValue(parsing: response.body))?["id"]?.stringValue
                    outcome.recordID = newID
                    if let newID { outcome.rollbackURL = url + "(" + newID + ")" }
                } else {
                    outcome.recordID = item.step.recordID
                    // A re-creation's ETag belongs to the new record, not to this key.
                    if let key = item.recordKey, let e = response.etag { etags[key] = e }
                }
            } else if response.status == 409 || response.status == 412 {
                outcome.errorMessage = "conflict: the record changed since the run; " + (outcome.errorMessage ?? "")
            }
        }
        switch ending {
        case .unknown(_, let error):
            return ItemResult(item: item, status: .rollbackFailed, httpStatus: nil,
                              message: "no answer (it may have landed; run rollback again to check): \(error)", conflict: false, newRecordID: nil)
        case .failed(_, let error):
            return ItemResult(item: item, status: .rollbackFailed, httpStatus: nil, message: error.description, conflict: false, newRecordID: nil)
        case .answered(_, let response, let outcome):
            let conflict = response.status == 409 || response.status == 412
            // A DELETE answered 404, or a restore of a record the run created answered 404: the
            // record did not exist before the run, so its being gone is the goal — but only a GET
            // that finds nothing proves it is gone; that answer is kept as evidence.
            if response.status == 404, method == .delete || (method == .patch && item.createdByRun) {
                let probe = try await check(url, item: item, runID: runID, seq: &seq)
                if let probe, probe.status == 404 {
                    let what = method == .delete ? "the DELETE" : "the restore of a record the run created"
                    return ItemResult(item: item, status: .rolledBack, httpStatus: 404,
                                      message: "already gone: \(what) answered 404 and a GET confirmed it (check_\(item.step.name), seq \(seq))",
                                      conflict: false, newRecordID: nil)
                }
                return ItemResult(item: item, status: .rollbackFailed, httpStatus: 404,
                                  message: "\(method) answered 404 but a GET " + (probe.map { "answered \($0.status)" } ?? "got no answer")
                                    + "; check the record", conflict: false, newRecordID: nil)
            }
            let message: String
            if response.isSuccess {
                switch method {
                case .delete: message = "deleted"
                case .patch: message = "restored"
                default: message = "re-created with a new id \(newID ?? "?")"
                }
            } else {
                message = outcome.errorMessage ?? "failed"
            }
            return ItemResult(item: item, status: response.isSuccess ? .rolledBack : .rollbackFailed,
                              httpStatus: response.status, message: message, conflict: conflict, newRecordID: newID)
        }
    }

    /// GETs the record and records the exchange as a step of the rollback run (`check_<name>`,
    /// aimed at the original step, with the response stored): the evidence behind a decision not
    /// to send a compensation. Nil when no answer came.
    private func check(_ url: String, item: RollbackItem, runID: String, seq: inout Int) async throws(StoreError) -> BCResponse? {
        seq += 1
        var intent = StepIntent(runID: runID, seq: seq, name: "check_\(item.step.name)", method: .get, url: url)
        intent.targetStepID = item.step.id
        let request = BCRequest(method: .get, url: url, clientRequestID: intent.clientRequestID)
        let ending = try await exchange.send(intent, request) { _, outcome in outcome.recordID = item.step.recordID }
        // A GET cannot land, so no answer is a failed step here, never an unknown one.
        guard case .answered(_, let response, _) = ending else { return nil }
        return response
    }
}
