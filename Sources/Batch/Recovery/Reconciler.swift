import BusinessCentral
import Hashing
import Store

/// Carries out `batch reconcile RUN` as a run of its own (kind `reconcile`, parent = RUN): for
/// each step of RUN whose outcome is unknown, one GET (`ReconcileRules.probe`) recorded as an
/// exchange of the reconcile run aimed at the original step, the decision (`ReconcileRules.decide`)
/// and a `reconciliation` row that sets the original step's status when the evidence decides it.
///
/// Nothing is ever written but GETs. An unknown GET (a read cut off) changed nothing: it is
/// decided `not_applied` without asking. With `dryRun`, the GETs are sent (reads) but nothing is
/// recorded.
public final class Reconciler: Sendable, RunWriter {
    let context: RunContext

    public init(store: LedgerStore, client: any BCTransport, profile: Profile) {
        self.context = RunContext(store: store, transport: client, profile: profile)
    }

    /// One unknown step and what was decided about it.
    public struct Item: Sendable {
        public let original: StepRecord
        public let decision: Decision
        /// The URL asked (nil when nothing could be asked).
        public let probeURL: String?
        /// The reconcile run's GET step (nil in a dry run or when nothing was asked).
        public let evidenceStepID: Int64?
    }

    public struct Result: Sendable {
        /// The reconcile run (nil when nothing was unknown, or in a dry run).
        public let runID: String?
        public let state: RunState?
        public let items: [Item]
        public let cancelled: Bool

        public var undecided: Int { items.filter { if case .undecidable = $0.decision { return true } else { return false } }.count }
    }

    /// Reconciles every unknown step of `run`. `rebase` maps recorded URLs onto the base URL used
    /// now (the built-in sandbox gets a new port each time).
    public func reconcile(_ run: RunRecord, dryRun: Bool, rebase: URLRebase, cancellation: CancellationFlag) async throws -> Result {
        let unknown = try store.ledger.steps(runID: run.id).filter { $0.status == nil }
        guard !unknown.isEmpty else { return Result(runID: nil, state: nil, items: [], cancelled: false) }
        let templates = try manifestTemplates(run)

        var ledgerRun: LedgerRun?
        var runID: String?
        if !dryRun {
            var row = NewRun(toolVersion: ToolVersion.current)
            row.kind = .reconcile
            row.parentRunID = run.id
            row.name = run.name.map { "reconcile \($0)" }
            ledgerRun = try LedgerRun(row, profile: profile, store: store)
            runID = row.id
        }
        defer { ledgerRun?.release() }

        // Records the family's steps already own (a committed POST's, a reconciled one's): a search
        // that finds one of them cannot give it to a second step.
        var owned = Set<String>()
        let root = run.kind == .resume ? (run.parentRunID ?? run.id) : run.id
        for member in try ResumePlanner.family(root: root, store: store) {
            for s in try store.ledger.steps(runID: member.id) where s.method == .http(.post) {
                if let id = s.recordID, s.status == .committed || s.status == .reconciledApplied { owned.insert(id.lowercased()) }
            }
        }
        var items: [Item] = []
        var seq = 0
        var cancelled = false
        for step in unknown {
            if cancellation.isCancelled { cancelled = true; break }
            items.append(try await decide(step, template: templates[step.seq], rebase: rebase, runID: runID, seq: &seq,
                                          owned: &owned))
        }
        guard let ledgerRun else { return Result(runID: nil, state: nil, items: items, cancelled: cancelled) }
        // Stamped, not derived (a reconcile run records no step count): completed when every
        // unknown step was decided; partially when some stay undecidable; failed when none was.
        let decided = items.count - items.filter { if case .undecidable = $0.decision { return true } else { return false } }.count
        let state: RunState = cancelled ? .cancelled
            : decided == unknown.count ? .completed : decided > 0 ? .partiallyCommitted : .failed
        try ledgerRun.finish(state)
        return Result(runID: ledgerRun.id, state: state, items: items, cancelled: cancelled)
    }

    /// The manifest's steps by seq (for `reconcile_by`); empty when the run recorded no manifest
    /// or it no longer parses (POSTs then fall back to the body's fields).
    func manifestTemplates(_ run: RunRecord) throws -> [Int: StepTemplate] {
        guard let digest = run.manifestDigest, let bytes = try? store.objects.get(digest),
              let manifest = try? ManifestLoader.parse(bytes: bytes, path: run.manifestPath ?? "manifest.yaml") else { return [:] }
        return Dictionary(manifest.steps.map { ($0.seq, $0) }, uniquingKeysWith: { a, _ in a })
    }

    private func decide(_ step: StepRecord, template: StepTemplate?, rebase: URLRebase, runID: String?,
                        seq: inout Int, owned: inout Set<String>) async throws -> Item {
        func json(_ digest: Digest?) throws -> JSONValue? {
            guard let digest else { return nil }
            let bytes = try store.objects.get(digest)
            return bytes.isEmpty ? nil : try? JSONValue(parsing: bytes)
        }
        guard let method = step.method.http else {
            let decision = Decision.undecidable(rule: "not-a-write", detail: "the step's method was never resolved, so no request was sent", candidates: [])
            try record(step, decision, evidence: nil, runID: runID, url: step.url)
            return Item(original: step, decision: decision, probeURL: nil, evidenceStepID: nil)
        }
        if method == .get {
            let decision = Decision.notApplied(rule: "get.read-only", detail: "a GET changes nothing; resume reads it again")
            try record(step, decision, evidence: nil, runID: runID, url: step.url)
            return Item(original: step, decision: decision, probeURL: nil, evidenceStepID: nil)
        }
        let write = InDoubtWrite(method: method, url: rebase(step.url), body: try json(step.requestDigest),
                                 preImage: try json(step.preImageDigest), intentAt: step.intentAt,
                                 reconcileBy: template?.reconcileBy)
        let probe = ReconcileRules.probe(for: write)
        guard let url = probe.url else {
            let decision = ReconcileRules.decide(write, evidence: .noAnswer(error: "nothing was asked"))
            try record(step, decision, evidence: nil, runID: runID, url: write.url)
            return Item(original: step, decision: decision, probeURL: nil, evidenceStepID: nil)
        }
        let evidence: Evidence
        var evidenceStepID: Int64?
        if let runID {
            seq += 1
            var intent = StepIntent(runID: runID, seq: seq, name: "reconcile_\(step.name)", method: .get, url: url)
            intent.targetStepID = step.id
            let request = BCRequest(method: .get, url: url, clientRequestID: intent.clientRequestID)
            switch try await exchange.send(intent, request) {
            case .answered(let id, let response, _):
                evidenceStepID = id
                evidence = .answer(status: response.status, body: response.body.isEmpty ? nil : try? JSONValue(parsing: response.body),
                                   etag: response.etag)
            case .failed(let id, let reason):
                evidenceStepID = id
                evidence = .noAnswer(error: reason)
            case .unknown(let id, let error):
                evidenceStepID = id
                evidence = .noAnswer(error: error.description)
            }
        } else {
            switch await exchange.fetch(BCRequest(method: .get, url: url)) {
            case .success(let response):
                evidence = .answer(status: response.status, body: response.body.isEmpty ? nil : try? JSONValue(parsing: response.body),
                                   etag: response.etag)
            case .failure(let error):
                evidence = .noAnswer(error: error.description)
            }
        }
        var decision = ReconcileRules.decide(write, evidence: evidence)
        if method == .post, case .applied(let id?, _, _, _, _) = decision {
            if owned.contains(id.lowercased()) {
                decision = .undecidable(rule: "post.claimed", detail: "the one record that matches (\(id)) is one another step of this run family created, so it is not this step's; look for this step's record in Business Central and decide by hand.", candidates: [id])
            } else {
                owned.insert(id.lowercased())
            }
        }
        try record(step, decision, evidence: evidenceStepID, runID: runID, url: write.url)
        return Item(original: step, decision: decision, probeURL: url, evidenceStepID: evidenceStepID)
    }

    /// Commits the reconciliation (and the step's new status); nothing in a dry run.
    private func record(_ step: StepRecord, _ decision: Decision, evidence: Int64?, runID: String?, url: String) throws {
        guard let runID else { return }
        let kind: ReconcileDecision
        switch decision {
        case .applied: kind = .applied
        case .notApplied: kind = .notApplied
        case .undecidable: kind = .undecidable
        }
        var row = NewReconciliation(reconcileRunID: runID, targetStepID: step.id, decision: kind, rule: decision.rule,
                                    detail: decision.detail)
        row.evidenceStepID = evidence
        switch decision {
        case .applied(let recordID, let etag, let record, _, _):
            (row.recordID, row.etag) = (recordID, etag)
            if let record { row.record = try store.put(try record.canonicalBytes(), mediaType: "application/json") }
            // A created record's URL, so `batch rollback` can delete it (as a committed POST's).
            if step.method == .http(.post), let recordID {
                let collection = step.url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? step.url
                row.rollbackURL = ReconcileRules.recordURL(collection: collection, id: recordID)
            }
        case .undecidable(_, _, let candidates):
            row.candidates = candidates
        case .notApplied:
            break
        }
        try store.ledger.writeReconciliation(row)
    }
}
