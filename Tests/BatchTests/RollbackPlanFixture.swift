import Foundation
import Hashing
import Store
import Testing
import TestSupport

@testable import Batch

/// A real ledger store in a temp folder holding one batch run, written through the `Ledger` API
/// the way `BatchRunner` writes a run (blobs, then the intent, then the outcome — or, for a request
/// sent with no answer, `noteUnresolvedOutcome` and no outcome), and rollback runs written the way
/// `RollbackExecutor` writes them (compensations aimed at the original step through
/// `targetStepID`, the original step's status set afterwards). The planner then reads the rows
/// back exactly as `batch rollback` does.
final class RollbackPlanFixture: @unchecked Sendable {
    static let base = "http://127.0.0.1:9"
    static let company = base + "/v2.0/t/e/api/v2.0/companies(c0ffee00-0000-4000-8000-000000000001)"
    static let customers = company + "/customers"
    static func customer(_ id: String) -> String { customers + "(\(id))" }

    let dir = TempDir("bcli-rollback-plan")
    let store: LedgerStore
    let runID: String
    private var seqs: [String: Int] = [:]

    init() throws {
        store = try LedgerStore(root: dir.path + "/store")
        var row = NewRun(toolVersion: "test")
        row.name = "plan"
        row.baseURL = Self.base
        row.profile = "sandbox"
        try store.ledger.startRun(row)
        runID = row.id
    }

    func put(_ value: JSONValue?) throws -> BlobRef? {
        guard let value else { return nil }
        return try store.put(try value.canonicalBytes(), mediaType: "application/json")
    }

    /// The outcome row of an answer: status, HTTP status, ETag, record id, rollback URL.
    static func outcome(_ status: StepStatus, http: Int, etag: String? = nil, recordID: String? = nil,
                        rollbackURL: String? = nil, error: String? = nil) -> StepOutcome {
        var o = StepOutcome(status: status)
        o.httpStatus = http
        o.etag = etag
        o.recordID = recordID
        o.rollbackURL = rollbackURL
        o.errorMessage = error
        return o
    }

    /// One recorded exchange in run `run` (the fixture's run by default): the intent is committed
    /// first; `outcome: nil` leaves it without an outcome (sent, no answer: `unknown`).
    @discardableResult
    func step(
        _ name: String, _ method: RecordedMethod, _ url: String, in run: String? = nil, body: JSONValue? = nil,
        preImage: JSONValue? = nil, ifMatch: String? = nil, target: Int64? = nil, outcome: StepOutcome?
    ) throws -> Int64 {
        let run = run ?? runID
        let seq = seqs[run, default: 0] + 1
        seqs[run] = seq
        var intent = StepIntent(runID: run, seq: seq, name: name, method: method, url: url)
        intent.request = try put(body)
        intent.preImage = try put(preImage)
        intent.ifMatch = ifMatch
        intent.targetStepID = target
        let id = try store.ledger.writeIntent(intent)
        if let outcome {
            try store.ledger.writeOutcome(stepID: id, outcome)
        } else {
            try store.ledger.noteUnresolvedOutcome(stepID: id, message: "connection reset after the request was sent")
        }
        return id
    }

    // MARK: - The run, as BatchRunner records it

    /// A POST to `customers` answered 201 with `id` (record id, rollback URL, ETag as recorded).
    @discardableResult
    func post(_ name: String, id: String, body: JSONValue = ["displayName": "New"], etag: String? = nil,
              status: StepStatus = .committed) throws -> Int64 {
        let answer = status == .committed || status == .replayed
        return try step(name, .post, Self.customers, body: body, outcome: Self.outcome(
            status, http: answer ? 201 : 400, etag: etag, recordID: answer ? id : nil,
            rollbackURL: answer ? Self.customer(id) : nil))
    }

    /// A PATCH of customer `id` with its pre-image (the GET before it), answered 200 with `etag`.
    @discardableResult
    func patch(_ name: String, id: String, set body: JSONValue, preImage: JSONValue?, ifMatch: String? = nil,
               etag: String? = nil, status: StepStatus = .committed) throws -> Int64 {
        try step(name, .patch, Self.customer(id), body: body, preImage: preImage, ifMatch: ifMatch,
                 outcome: Self.outcome(status, http: status == .failed ? 412 : 200, etag: etag, recordID: id))
    }

    /// A DELETE of customer `id` with its pre-image, answered 204.
    @discardableResult
    func delete(_ name: String, id: String, preImage: JSONValue?, ifMatch: String? = nil,
                status: StepStatus = .committed) throws -> Int64 {
        try step(name, .delete, Self.customer(id), preImage: preImage, ifMatch: ifMatch,
                 outcome: Self.outcome(status, http: status == .failed ? 412 : 204, recordID: id))
    }

    /// A GET of customer `id`, answered 200.
    @discardableResult
    func get(_ name: String, id: String) throws -> Int64 {
        try step(name, .get, Self.customer(id), outcome: Self.outcome(.committed, http: 200, etag: "W/\"get\"", recordID: id))
    }

    /// A step that sent nothing (its references did not resolve), recorded as the runner does.
    @discardableResult
    func skipped(_ name: String, _ method: RecordedMethod, _ url: String) throws -> Int64 {
        seqs[runID, default: 0] += 1
        return try store.ledger.writeSkipped(
            StepIntent(runID: runID, seq: seqs[runID]!, name: name, method: method, url: url), reason: "unresolved reference")
    }

    // MARK: - Rollback runs, as RollbackExecutor records them

    /// Starts a rollback run of the fixture's run and returns its id.
    func rollbackRun() throws -> String {
        var row = NewRun(toolVersion: "test")
        row.kind = .rollback
        row.parentRunID = runID
        row.name = "rollback of plan"
        row.baseURL = Self.base
        try store.ledger.startRun(row)
        return row.id
    }

    /// A compensating request of rollback run `run` aimed at original step `target`.
    @discardableResult
    func compensation(
        in run: String, of target: Int64, _ method: RecordedMethod, _ url: String, body: JSONValue? = nil,
        ifMatch: String? = nil, outcome: StepOutcome?
    ) throws -> Int64 {
        try step("undo", method, url, in: run, body: body, ifMatch: ifMatch, target: target, outcome: outcome)
    }

    /// A decision of rollback run `run` about original step `target` that sent nothing (an
    /// irreversible item, or one not attempted): a `NONE` row recorded `skipped` with the reason.
    @discardableResult
    func decision(in run: String, of target: Int64, reason: String) throws -> Int64 {
        let seq = seqs[run, default: 0] + 1
        seqs[run] = seq
        let original = try #require(try store.ledger.step(id: target))
        var intent = StepIntent(runID: run, seq: seq, name: "undo_\(original.name)", method: .noRequest, url: original.url)
        intent.targetStepID = target
        return try store.ledger.writeSkipped(intent, reason: reason)
    }

    /// The original step's status after its compensation (what the executor writes last).
    func mark(_ stepID: Int64, _ status: StepStatus) throws {
        try store.ledger.setStepStatus(stepID: stepID, status)
    }

    // MARK: - The plan

    /// The plan `batch rollback` would make now, from the rows in the store.
    func plan(recreateDeleted: Bool = false, rebase: @escaping (String) -> String = { $0 },
              blob: ((Digest) throws -> [UInt8])? = nil) throws -> RollbackPlan {
        let objects = store.objects
        return RollbackPlanner.plan(
            runID: runID, steps: try store.ledger.steps(runID: runID),
            compensations: try store.ledger.compensations(ofRun: runID), recreateDeleted: recreateDeleted,
            blob: blob ?? { try objects.get($0) }, rebase: rebase)
    }
}

extension RollbackPlan {
    /// The item for original step `seq`.
    func item(_ seq: Int) -> RollbackItem? { items.first { $0.step.seq == seq } }
    /// The original steps' seqs in plan order.
    var seqs: [Int] { items.map(\.step.seq) }
}
