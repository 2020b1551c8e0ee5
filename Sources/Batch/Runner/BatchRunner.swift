import BusinessCentral
import Foundation
import Hashing
import Store

/// Runs a validated manifest against Business Central and records every step in the ledger.
///
/// The request body is encoded once as RFC 8785 JSON; those bytes are stored, hashed and sent.
/// Each step's request goes through `RecordedExchange` (blobs, intent committed, send, outcome),
/// and the run row through `LedgerRun` (lock, start, stamp).
public final class BatchRunner: Sendable, RunWriter {
    public struct Options: Sendable {
        public var failFast = false
        public var toolVersion = ToolVersion.current
        public init() {}
    }

    let context: RunContext
    let options: Options

    public init(store: LedgerStore, client: any BCTransport, profile: Profile, options: Options = Options()) {
        self.context = RunContext(store: store, transport: client, profile: profile)
        self.options = options
    }

    /// Executes every step of `manifest`. `manifestBlob` is the stored manifest bytes (stored by
    /// the caller before anything else, so `--expect-manifest` is checked first).
    ///
    /// With `resume`, the run is of kind `resume` under the original run: it sends only the
    /// manifest steps not in `resume.done`, and later steps' references to done steps read
    /// `resume.outputs` (their stored responses; `ResumePlan`).
    public func run(
        manifest: Manifest, manifestBlob: BlobRef, params: ParamSet, observer: any RunObserver,
        cancellation: CancellationFlag, runID: String = RunID.generate(), resume: ResumePlan? = nil
    ) async throws(StoreError) -> RunSummary {
        let paramsBlob = try store.put(params.canonicalBytes(), mediaType: "application/json")
        var row = NewRun(toolVersion: options.toolVersion)
        row.id = runID
        if let resume {
            row.kind = .resume
            row.parentRunID = resume.rootRunID
        }
        row.name = manifest.name
        row.manifest = manifestBlob
        // Absolute, so `state` and audits name the file wherever they are run from.
        row.manifestPath = URL(fileURLWithPath: manifest.path).standardizedFileURL.path
        row.params = paramsBlob
        // The run is `completed` only when this many steps landed (RunStateRule): a resume run
        // owes the steps not done yet.
        let owed = manifest.steps.filter { !(resume?.done.contains($0.seq) ?? false) }
        row.stepCount = owed.count
        let run = try LedgerRun(row, profile: profile, store: store)
        defer { run.release() }
        observer.runStarted(runID: runID, steps: owed.count)

        var outputs: [String: JSONValue] = resume?.outputs ?? [:]
        var keyed: [String: [Int64]] = [:]
        var inDoubt: [String: Int] = [:]
        var reports: [StepReport] = []
        var cancelled = false
        for template in owed {
            if cancellation.isCancelled { cancelled = true; break }
            let report = try await execute(template, total: manifest.steps.count, runID: runID, params: params, outputs: &outputs,
                                           keyed: &keyed, inDoubt: &inDoubt, idempotency: manifest.idempotency, observer: observer)
            reports.append(report)
            observer.stepFinished(report)
            if options.failFast, report.status != .committed, report.status != .replayed { break }
        }
        if cancellation.isCancelled { cancelled = true }

        let committed = reports.filter { $0.status == .committed }.count
        let replayed = reports.filter { $0.status == .replayed }.count
        let failed = reports.filter { $0.status == .failed }.count
        let unknown = reports.filter { $0.status == nil }.count
        let skipped = reports.filter { $0.status == .skipped }.count
        // The same rule `state` and `list` report with. A skipped step did not do what the manifest
        // asked (its inputs were missing), so it counts against the run like a failure; a step
        // the run never reached (fail-fast, SIGINT) keeps it from `completed` too. A replayed step
        // landed (its write was committed by the original), as the ledger's counts read it.
        var counts = StepCounts()
        counts.total = reports.count
        (counts.committed, counts.failed, counts.unknown, counts.skipped) = (committed + replayed, failed, unknown, skipped)
        counts.replayed = replayed
        let state = RunStateRule.derive(
            stamped: cancelled ? .cancelled : .running, finished: true, lockHeld: false, kind: row.kind,
            stepCount: owed.count, counts: counts)
        let record = try run.finish(state)
        return RunSummary(
            runID: runID, state: state, committed: committed, failed: failed, skipped: skipped, unknown: unknown,
            total: owed.count, recordDigest: record, cancelled: cancelled, reports: reports, replayed: replayed)
    }

    // MARK: - One step

    /// - Parameters:
    ///   - keyed: the ids of this run's step rows sent with each idempotency key, in order.
    ///   - idempotency: where a keyed write looks for the step that sent its key (`Manifest.idempotency`).
    ///   - observer: told `stepStarted` once the intent row is committed, before the request leaves
    ///     (and for a replayed step once its row is written).
    private func execute(
        _ template: StepTemplate, total: Int, runID: String, params: ParamSet, outputs: inout [String: JSONValue],
        keyed: inout [String: [Int64]], inDoubt: inout [String: Int], idempotency: IdempotencyScope, observer: any RunObserver
    ) async throws(StoreError) -> StepReport {
        let clock = ContinuousClock()
        let started = clock.now
        let literal = template.method.recorded
        func report(_ status: StepStatus?, url: String, stepID: Int64?, http: Int? = nil, recordID: String? = nil,
                    label: String? = nil, count: Int? = nil, message: String? = nil, code: String? = nil,
                    correlation: String? = nil, clientRequestID: String? = nil, method: RecordedMethod = literal,
                    endpoint: String = template.endpoint) -> StepReport {
            StepReport(step: StepIdentity(seq: template.seq, total: total, name: template.name, method: method,
                                          endpoint: endpoint, url: url),
                       status: status, httpStatus: http, recordID: recordID, label: label, recordCount: count,
                       durationMs: Self.ms(clock.now - started), message: message, bcErrorCode: code,
                       correlationID: correlation, clientRequestID: clientRequestID, stepID: stepID)
        }

        // 1. Resolve references. A step that cannot resolve is recorded as skipped, nothing sent.
        let step: ResolvedStep
        switch ReferenceResolver.resolve(template, params: params, outputs: outputs) {
        case .success(let s): step = s
        case .failure(let reason):
            var intent = StepIntent(runID: runID, seq: template.seq, name: template.name, method: literal, url: template.endpoint)
            intent.idempotencyKey = template.idempotencyKey
            let id = try store.ledger.writeSkipped(intent, reason: reason.description)
            return report(.skipped, url: template.endpoint, stepID: id, message: reason.description)
        }
        let method = step.method
        let recorded = RecordedMethod.http(method)

        // 2. Build the request: URL, exact body bytes.
        let url: String
        let body: [UInt8]?
        do {
            url = try StepRequest.requestURL(for: step, profile: profile)
            body = try StepRequest.body(for: step)
        } catch {
            var intent = StepIntent(runID: runID, seq: step.seq, name: step.name, method: recorded, url: step.endpoint)
            intent.idempotencyKey = step.idempotencyKey
            let id = try store.ledger.writeSkipped(intent, reason: "\(error)")
            return report(.skipped, url: step.endpoint, stepID: id, message: "\(error)", method: recorded, endpoint: step.endpoint)
        }

        var intent = StepIntent(runID: runID, seq: step.seq, name: step.name, method: recorded, url: url)
        intent.idempotencyKey = step.idempotencyKey

        // A write to a record an earlier PATCH or DELETE of this run left in doubt is not sent:
        // it would build on a state nobody knows, and could destroy the evidence `batch
        // reconcile` needs (a DELETE after an unknown PATCH). Reconcile, then resume sends it.
        if method == .patch || method == .delete, let earlier = inDoubt[Self.recordKey(url)] {
            let reason = "not sent: step \(earlier) wrote this record and its outcome is unknown (it may have landed); reconcile the run (`bcli batch reconcile`), then `bcli batch resume` sends this step"
            let id = try store.ledger.writeSkipped(intent, reason: reason)
            return report(.skipped, url: url, stepID: id, message: reason, method: recorded, endpoint: step.endpoint)
        }
        func announce(_ stepID: Int64, clientRequestID: String, replayed: Bool = false) {
            let intentAt = (try? store.ledger.step(id: stepID))?.intentAt
            observer.stepStarted(StepStart(step: StepIdentity(seq: step.seq, total: total, name: step.name, method: recorded,
                                                              endpoint: step.endpoint, url: url),
                                           stepID: stepID, clientRequestID: clientRequestID, intentAt: intentAt,
                                           replayed: replayed))
        }

        // 3. A write whose idempotency key an earlier step of this run sent — with `idempotency:
        // store`, of any batch or resume run — is not sent again (docs/ledger.md, "Idempotency replay").
        if method.isWrite, let key = step.idempotencyKey {
            let earlier: [StepRecord]
            switch idempotency {
            case .run:
                // A resume run continues its original: "this run" is the family (the original
                // batch run and its resume runs), so a key the original committed is replayed.
                let row = try store.ledger.run(runID)
                if row.kind == .resume, let root = row.parentRunID {
                    earlier = try store.ledger.keyedWrites(key: key, family: root)
                } else {
                    var rows: [StepRecord] = []
                    for id in keyed[key] ?? [] { if let row = try store.ledger.step(id: id) { rows.append(row) } }
                    earlier = rows
                }
            case .store:
                earlier = try store.ledger.keyedWrites(key: key)
            }
            switch replayDecision(key: key, earlier: earlier, runID: runID, method: recorded, url: url) {
            case .send:
                break
            case .refuse(let reason):
                let id = try store.ledger.writeSkipped(intent, reason: reason)
                return report(.skipped, url: url, stepID: id, message: reason, method: recorded, endpoint: step.endpoint)
            case .replay(var original, let note):
                // A write `batch reconcile` found landed got no response: its outputs are the
                // record reconcile found (the reconciliation's record blob).
                if original.responseDigest == nil, original.status == .reconciledApplied {
                    original.responseDigest = try store.ledger.reconciliations(ofSteps: [original.id])
                        .last(where: { $0.decision == .applied })?.recordDigest
                }
                let id = try store.ledger.writeReplayed(intent, of: original, note: note)
                announce(id, clientRequestID: original.clientRequestID, replayed: true)
                var parsed: JSONValue?
                if let digest = original.responseDigest {
                    let bytes = try store.objects.get(digest)
                    parsed = bytes.isEmpty ? nil : try? JSONValue(parsing: bytes)
                }
                outputs[step.name] = ReferenceResolver.referenceOutput(for: step, responseBody: parsed)
                let label = parsed?["number"]?.stringValue ?? parsed?["displayName"]?.stringValue
                return report(.replayed, url: url, stepID: id, recordID: original.recordID, label: label, message: note,
                              clientRequestID: original.clientRequestID, method: recorded, endpoint: step.endpoint)
            }
        }
        var ifMatch = step.etag

        // 4. Before PATCH/DELETE: GET the record, store it as the pre-image, take its ETag.
        if step.preImage, step.method == .patch || step.method == .delete, step.id != nil {
            let preRequest = BCRequest(method: .get, url: url, clientRequestID: intent.clientRequestID)
            switch await exchange.fetch(preRequest) {
            case .success(let response) where response.isSuccess:
                intent.preImage = try store.put(response.body, mediaType: "application/json")
                if ifMatch == nil { ifMatch = response.etag }
            case .success(let response):
                let message = "pre-image GET returned \(response.status)"
                    + (response.bcError.map { " \($0.code): \($0.message)" } ?? "") + "; the \(method) was not sent"
                let id = try store.ledger.writeSkipped(intent, status: .failed, reason: message)
                return report(.failed, url: url, stepID: id, http: response.status, message: message,
                              code: response.bcError?.code, correlation: response.correlationID,
                              clientRequestID: intent.clientRequestID, method: recorded, endpoint: step.endpoint)
            case .failure(let error):
                let message = "pre-image GET failed: \(error); the \(method) was not sent"
                let id = try store.ledger.writeSkipped(intent, status: .failed, reason: message)
                return report(.failed, url: url, stepID: id, message: message, clientRequestID: intent.clientRequestID,
                              method: recorded, endpoint: step.endpoint)
            }
        }
        intent.ifMatch = ifMatch

        // A get with `all: true` asks for pages of `page_size` records and follows `@odata.nextLink`.
        let request = BCRequest(
            method: method, url: url, body: body, ifMatch: ifMatch, clientRequestID: intent.clientRequestID,
            idempotencyKey: step.idempotencyKey, extraHeaders: step.all ? [StepRequest.maxPageSize(profile.pageSize)] : [])

        // 5–7. Blobs, the intent row (committed before the request leaves), send, then the
        // response blobs and the outcome row (RecordedExchange).
        var recordID: String?
        var label: String?
        var count: Int?
        var parsed: JSONValue?
        var morePages = false
        let ending = try await exchange.send(intent, request, started: started, followPages: step.all, adjust: { response, outcome in
            parsed = response.body.isEmpty ? nil : try? JSONValue(parsing: response.body)
            if response.isSuccess {
                switch step.method {
                case .post:
                    recordID = parsed?["id"]?.stringValue ?? parsed?["systemId"]?.stringValue
                    if let recordID, !step.endpointPath.isAction {
                        outcome.rollbackURL = try? StepRequest.url(for: step, profile: profile, recordID: recordID)
                    }
                case .patch, .delete:
                    recordID = step.id
                case .get:
                    recordID = step.id
                    count = parsed?["value"]?.arrayValue?.count
                    morePages = parsed.flatMap(PageAssembly.nextLink(in:)) != nil
                }
                label = parsed?["number"]?.stringValue ?? parsed?["displayName"]?.stringValue
            }
            outcome.recordID = recordID
        }, intentCommitted: { id in announce(id, clientRequestID: intent.clientRequestID) })
        if method.isWrite, let key = step.idempotencyKey { keyed[key, default: []].append(ending.stepID) }
        switch ending {
        case .unknown(let stepID, let error):
            // Sent, no answer: it may have been committed. The intent has no outcome (reads
            // `unknown`); the reason is kept. Later writes to the same record wait for reconcile.
            if method == .patch || method == .delete { inDoubt[Self.recordKey(url)] = step.seq }
            return report(nil, url: url, stepID: stepID, message: error.description,
                          clientRequestID: intent.clientRequestID, method: recorded, endpoint: step.endpoint)
        case .failed(let stepID, let reason):
            return report(.failed, url: url, stepID: stepID, message: reason,
                          clientRequestID: intent.clientRequestID, method: recorded, endpoint: step.endpoint)
        case .answered(let stepID, let response, let outcome):
            if response.isSuccess {
                outputs[step.name] = ReferenceResolver.referenceOutput(for: step, responseBody: parsed)
            }
            // A get without `all: true` reads the first page only; say so when the server has more.
            let note = morePages && !step.all
                ? "the server has more records (@odata.nextLink); this step read the first page only: add all: true to read every page"
                : nil
            var r = report(outcome.status, url: url, stepID: stepID, http: response.status, recordID: recordID,
                           label: label, count: count, message: outcome.errorMessage ?? note, code: response.bcError?.code,
                           correlation: response.correlationID, clientRequestID: intent.clientRequestID, method: recorded,
                           endpoint: step.endpoint)
            if step.all { r.pages = max(1, (try? store.ledger.step(id: stepID))?.pages.count ?? 0) }
            return r
        }
    }

    static func ms(_ d: Duration) -> Int { d.wholeMilliseconds }

    /// A record's URL without its query: what identifies "the same record" for `inDoubt`.
    static func recordKey(_ url: String) -> String {
        url.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? url
    }

    // MARK: - Idempotency replay

    enum ReplayDecision {
        /// No earlier step landed the key, nor may have: send the request.
        case send
        /// An earlier step committed the key: record this one `replayed`, pointing at `original`.
        case replay(original: StepRecord, note: String)
        /// Not sent and not replayed: the step is recorded `skipped` with the reason.
        case refuse(String)
    }

    /// What to do with a write whose idempotency key `key` the rows `earlier` (oldest first, as
    /// they stand now) were sent with: this run's own rows, or with `idempotency: store` every
    /// write row of a batch or resume run with the key (`Ledger.keyedWrites`). `runID` is this run.
    /// - the newest one whose write stands (`committed`; `reconciled_applied`; `rollback_skipped`,
    ///   which a rollback left in place) is the original: replay it, if it was the same method on
    ///   the same URL (a key names one write; any other step with it is refused);
    /// - else one whose outcome is unknown (sent, no answer) may have landed: refuse, never risk a
    ///   second write, and ask for `batch reconcile`;
    /// - else one whose rollback did not finish (`rollback_failed`: the undo failed or got no
    ///   answer) may still stand: refuse;
    /// - else (failed, `reconciled_not_applied`, `rolled_back`: nothing of it stands): send, as the
    ///   Python tool does.
    func replayDecision(key: String, earlier rows: [StepRecord], runID: String, method: RecordedMethod, url: String) -> ReplayDecision {
        func who(_ s: StepRecord) -> String {
            "step \(s.seq) (\(s.name))" + (s.runID == runID ? "" : " of run \(s.runID)")
        }
        let standing: Set<StepStatus?> = [.committed, .reconciledApplied, .rollbackSkipped]
        if let original = rows.last(where: { standing.contains($0.status) }) {
            let how = switch original.status {
            case .reconciledApplied?: " (batch reconcile found it landed)"
            case .rollbackSkipped?: " (its rollback left it in place)"
            default: ""
            }
            guard original.method == method, original.url == url else {
                return .refuse("not sent: idempotency_key '\(key)' was committed by \(who(original))\(how) for \(original.method) \(original.url), not for this \(method) \(url); give each write its own key")
            }
            return .replay(original: original, note: "replayed: idempotency_key '\(key)' was committed by \(who(original))\(how); not sent again")
        }
        if let unsure = rows.last(where: { $0.status == nil }) {
            let reconcile = unsure.runID == runID
                ? "check Business Central for client-request-id \(unsure.clientRequestID) and reconcile (bcli batch reconcile \(runID), once this run has finished) before sending this write again"
                : "run bcli batch reconcile \(unsure.runID) (or check Business Central for client-request-id \(unsure.clientRequestID)) before sending this write again"
            return .refuse("not sent: idempotency_key '\(key)' was sent by \(who(unsure)), whose outcome is unknown (it may have landed); \(reconcile)")
        }
        if let undoing = rows.last(where: { $0.status == .rollbackFailed }) {
            return .refuse("not sent: idempotency_key '\(key)' was committed by \(who(undoing)), whose rollback did not finish (rollback_failed: the record may still exist); check the record in Business Central and run bcli batch rollback \(undoing.runID) again, or give this write a new key")
        }
        return .send
    }
}

extension Duration {
    /// Whole milliseconds, as the ledger and result files record durations.
    public var wholeMilliseconds: Int {
        let c = components
        return Int(c.seconds) * 1000 + Int(c.attoseconds / 1_000_000_000_000_000)
    }
}
