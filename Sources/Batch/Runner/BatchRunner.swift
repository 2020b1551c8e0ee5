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
        /// Requests in flight at once (1–5: BC allows 5 concurrent requests per user). Steps
        /// overlap only where the manifest allows it (`StepAccess`, references, `after:`).
        public var concurrency = 1
        /// Keep every step's report in the summary (for `--format json` and `-o`). Off, the run
        /// keeps counts and the outputs later steps can still reference: memory stays flat in the
        /// number of steps.
        public var keepReports = true
        /// Write steps sent together in one OData `$batch` (1: none; at most 100). Consecutive
        /// ready writes are grouped; each keeps its own intent and outcome rows.
        public var batchSize = 1
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
    ///
    /// Steps start in manifest order; with `options.concurrency` above 1, a step starts as soon
    /// as a worker is free and every earlier step it must wait for has finished (`StepSchedule`).
    /// `cancellation` (the first SIGINT) and `failFast` stop new steps from starting; the steps
    /// in flight finish and are recorded.
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

        var shared = SharedRunState(outputs: resume?.outputs ?? [:])
        var schedule = StepSchedule(steps: owed, all: manifest.steps, params: params,
                                    concurrency: max(1, min(options.concurrency, Self.maxConcurrency)))
        var tally = RunTally(keepReports: options.keepReports)
        var cancelled = false
        var stopStarting = false

        func settle(_ report: StepReport, position: Int) {
            schedule.finished(position)
            tally.add(report)
            observer.stepFinished(report)
            if options.failFast, report.status != .committed, report.status != .replayed { stopStarting = true }
        }

        do {
            try await withThrowingTaskGroup(of: [Performed].self) { group in
                var inFlight = 0
                let batchSize = max(1, min(options.batchSize, BatchEnvelope.maxOperations))
                let idempotency = manifest.idempotency
                func keyedIDs(_ p: PreparedStep) -> [Int64] { p.step.idempotencyKey.flatMap { shared.keyed[$0] } ?? [] }
                while true {
                    while !stopStarting, inFlight < schedule.concurrency {
                        if cancellation.isCancelled { cancelled = true; stopStarting = true; break }
                        guard let position = schedule.next(outputs: shared.outputs) else { break }
                        let template = owed[position]
                        let first: PreparedStep
                        switch try prepare(template, total: manifest.steps.count, runID: runID, params: params, shared: shared) {
                        case .done(let report):
                            schedule.used(position, outputs: &shared.outputs)
                            settle(report, position: position)
                            continue
                        case .send(let prepared):
                            schedule.started(position, access: StepAccess(prepared.step))
                            schedule.used(position, outputs: &shared.outputs)
                            first = prepared
                        }
                        // A `$batch`: the consecutive ready writes after this one, up to the size.
                        var members: [(position: Int, step: PreparedStep)] = [(position, first)]
                        if batchSize > 1, Self.batchable(template) {
                            while members.count < batchSize, !stopStarting, !cancellation.isCancelled,
                                  let more = schedule.next(outputs: shared.outputs, only: Self.batchable) {
                                switch try prepare(owed[more], total: manifest.steps.count, runID: runID, params: params, shared: shared) {
                                case .done(let report):
                                    schedule.used(more, outputs: &shared.outputs)
                                    settle(report, position: more)
                                case .send(let prepared):
                                    schedule.started(more, access: StepAccess(prepared.step))
                                    schedule.used(more, outputs: &shared.outputs)
                                    members.append((more, prepared))
                                }
                            }
                        }
                        let keyed = members.map { keyedIDs($0.step) }
                        inFlight += 1
                        if members.count == 1 {
                            group.addTask {
                                [Performed(position: position, result: try await self.perform(first, keyedIDs: keyed[0], idempotency: idempotency,
                                                                                              observer: observer))]
                            }
                        } else {
                            let positions = members.map(\.position), steps = members.map(\.step)
                            group.addTask {
                                let results = try await self.performBatch(steps, keyedIDs: keyed, idempotency: idempotency, observer: observer)
                                return zip(positions, results).map { Performed(position: $0, result: $1) }
                            }
                        }
                    }
                    if inFlight == 0 { break }
                    guard let done = try await group.next() else { break }
                    inFlight -= 1
                    for performed in done {
                        shared.apply(performed.result, keep: schedule.isReferenced(owed[performed.position].name))
                        settle(performed.result.report, position: performed.position)
                    }
                }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.database("the run stopped: \(error)")
        }
        if cancellation.isCancelled { cancelled = true }

        // The same rule `state` and `list` report with. A skipped step did not do what the manifest
        // asked (its inputs were missing), so it counts against the run like a failure; a step
        // the run never reached (fail-fast, SIGINT) keeps it from `completed` too. A replayed step
        // landed (its write was committed by the original), as the ledger's counts read it.
        var counts = StepCounts()
        counts.total = tally.total
        (counts.committed, counts.failed, counts.unknown, counts.skipped) = (tally.committed + tally.replayed, tally.failed, tally.unknown, tally.skipped)
        counts.replayed = tally.replayed
        let state = RunStateRule.derive(
            stamped: cancelled ? .cancelled : .running, finished: true, lockHeld: false, kind: row.kind,
            stepCount: owed.count, counts: counts)
        let record = try run.finish(state)
        var summary = RunSummary(
            runID: runID, state: state, committed: tally.committed, failed: tally.failed, skipped: tally.skipped,
            unknown: tally.unknown, total: owed.count, recordDigest: record, cancelled: cancelled,
            reports: tally.reports.sorted { $0.seq < $1.seq }, replayed: tally.replayed)
        summary.lastProblemCorrelationID = tally.lastProblemCorrelationID
        return summary
    }

    /// BC's limit of concurrent requests per user.
    public static let maxConcurrency = 5

    /// What a worker hands back to the run loop.
    struct Performed: Sendable {
        let position: Int
        let result: StepResult
    }

    // MARK: - One step

    /// A step resolved and checked by the run loop, ready for a worker to send.
    struct PreparedStep: Sendable {
        let template: StepTemplate
        let step: ResolvedStep
        let url: String
        let body: [UInt8]?
        let intent: StepIntent
        let total: Int
        let runID: String
        let started: ContinuousClock.Instant

        func report(_ status: StepStatus?, stepID: Int64?, http: Int? = nil, recordID: String? = nil, label: String? = nil,
                    count: Int? = nil, message: String? = nil, code: String? = nil, correlation: String? = nil,
                    clientRequestID: String? = nil) -> StepReport {
            StepReport(step: StepIdentity(seq: step.seq, total: total, name: step.name, method: .http(step.method),
                                          endpoint: step.endpoint, url: url),
                       status: status, httpStatus: http, recordID: recordID, label: label, recordCount: count,
                       durationMs: BatchRunner.ms(ContinuousClock.now - started), message: message, bcErrorCode: code,
                       correlationID: correlation, clientRequestID: clientRequestID, stepID: stepID)
        }
    }

    enum Preparation {
        /// Recorded without a request (skipped: unresolved, unbuildable, or a record in doubt).
        case done(StepReport)
        case send(PreparedStep)
    }

    /// What a worker learned from one step: its report, and what the run keeps for later steps.
    struct StepResult: Sendable {
        let report: StepReport
        let name: String
        /// `steps.<name>` for later references (nil when the step produced none).
        var output: JSONValue?
        /// The idempotency key this write was sent (or replayed) with, and its step row.
        var keyed: (key: String, stepID: Int64)?
        /// A PATCH/DELETE left unknown: later writes to this record are not sent.
        var inDoubt: String?
    }

    /// Steps 1–2 of a step, in the run loop: resolve references, build the URL and body, and refuse
    /// a write to a record an earlier write left in doubt. Whatever ends here is recorded here.
    func prepare(_ template: StepTemplate, total: Int, runID: String, params: ParamSet,
                 shared: SharedRunState) throws(StoreError) -> Preparation {
        let started = ContinuousClock.now
        let literal = template.method.recorded
        func skipped(_ intent: StepIntent, _ reason: String, method: RecordedMethod, endpoint: String, url: String) throws(StoreError) -> Preparation {
            let id = try store.ledger.writeSkipped(intent, reason: reason)
            return .done(StepReport(step: StepIdentity(seq: template.seq, total: total, name: template.name, method: method,
                                                       endpoint: endpoint, url: url),
                                    status: .skipped, httpStatus: nil, recordID: nil, label: nil, recordCount: nil,
                                    durationMs: Self.ms(ContinuousClock.now - started), message: reason, bcErrorCode: nil,
                                    correlationID: nil, clientRequestID: nil, stepID: id))
        }

        // 1. Resolve references. A step that cannot resolve is recorded as skipped, nothing sent.
        let step: ResolvedStep
        switch ReferenceResolver.resolve(template, params: params, outputs: shared.outputs) {
        case .success(let s): step = s
        case .failure(let reason):
            var intent = StepIntent(runID: runID, seq: template.seq, name: template.name, method: literal, url: template.endpoint)
            intent.idempotencyKey = template.idempotencyKey
            return try skipped(intent, reason.description, method: literal, endpoint: template.endpoint, url: template.endpoint)
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
            return try skipped(intent, "\(error)", method: recorded, endpoint: step.endpoint, url: step.endpoint)
        }

        var intent = StepIntent(runID: runID, seq: step.seq, name: step.name, method: recorded, url: url)
        intent.idempotencyKey = step.idempotencyKey

        // A write to a record an earlier PATCH or DELETE of this run left in doubt is not sent:
        // it would build on a state nobody knows, and could destroy the evidence `batch
        // reconcile` needs (a DELETE after an unknown PATCH). Reconcile, then resume sends it.
        if method == .patch || method == .delete, let earlier = shared.inDoubt[Self.recordKey(url)] {
            let reason = "not sent: step \(earlier) wrote this record and its outcome is unknown (it may have landed); reconcile the run (`bcli batch reconcile`), then `bcli batch resume` sends this step"
            return try skipped(intent, reason, method: recorded, endpoint: step.endpoint, url: url)
        }
        return .send(PreparedStep(template: template, step: step, url: url, body: body, intent: intent, total: total,
                                  runID: runID, started: started))
    }

    /// Steps 3–7 of a step, in a worker: idempotency replay, the pre-image GET, then the request
    /// through `RecordedExchange` (blobs, intent committed, send, outcome).
    /// - Parameters:
    ///   - keyedIDs: the ids of this run's step rows sent with the step's idempotency key, in order
    ///     (complete: two steps that may share a key never overlap).
    ///   - idempotency: where a keyed write looks for the step that sent its key (`Manifest.idempotency`).
    ///   - observer: told `stepStarted` once the intent row is committed, before the request leaves
    ///     (and for a replayed step once its row is written).
    func perform(_ prepared: PreparedStep, keyedIDs: [Int64], idempotency: IdempotencyScope,
                 observer: any RunObserver) async throws(StoreError) -> StepResult {
        if let ended = try replayOrRefuse(prepared, keyedIDs: keyedIDs, idempotency: idempotency, observer: observer) {
            return ended
        }
        let step = prepared.step
        var intent = prepared.intent
        var ifMatch = step.etag
        // 4. Before PATCH/DELETE: GET the record, store it as the pre-image, take its ETag.
        if needsPreImage(step) {
            let preRequest = BCRequest(method: .get, url: prepared.url, clientRequestID: intent.clientRequestID)
            if let refused = try applyPreImage(await exchange.fetch(preRequest), prepared, intent: &intent, ifMatch: &ifMatch) {
                return refused
            }
        }
        intent.ifMatch = ifMatch
        let request = self.request(prepared, ifMatch: ifMatch)

        // 5–7. Blobs, the intent row (committed before the request leaves), send, then the
        // response blobs and the outcome row (RecordedExchange).
        var answer = AnswerFacts()
        let ending = try await exchange.send(intent, request, started: prepared.started, followPages: step.all, adjust: { response, outcome in
            answer = AnswerFacts(step, response: response, profile: profile)
            answer.apply(to: &outcome)
        }, intentCommitted: { id, at in announce(prepared, id, clientRequestID: intent.clientRequestID, intentAt: at, observer: observer) })
        return result(prepared, ending: ending, answer: answer)
    }

    /// Whether the step GETs its record before writing (`pre_image`, PATCH/DELETE of one record).
    func needsPreImage(_ step: ResolvedStep) -> Bool {
        step.preImage && (step.method == .patch || step.method == .delete) && step.id != nil
    }

    /// The request a prepared step sends. A get with `all: true` asks for pages of `page_size`
    /// records and follows `@odata.nextLink`.
    func request(_ prepared: PreparedStep, ifMatch: String?) -> BCRequest {
        let step = prepared.step
        return BCRequest(
            method: step.method, url: prepared.url, body: prepared.body, ifMatch: ifMatch, clientRequestID: prepared.intent.clientRequestID,
            idempotencyKey: step.idempotencyKey, extraHeaders: step.all ? [StepRequest.maxPageSize(profile.pageSize)] : [])
    }

    /// `stepStarted`. `intentAt` is the committed row's stamp; nil reads it back (a replayed row).
    func announce(_ prepared: PreparedStep, _ stepID: Int64, clientRequestID: String, intentAt: String? = nil, replayed: Bool = false,
                  observer: any RunObserver) {
        let step = prepared.step
        let intentAt = intentAt ?? (try? store.ledger.step(id: stepID))?.intentAt
        observer.stepStarted(StepStart(step: StepIdentity(seq: step.seq, total: prepared.total, name: step.name,
                                                          method: .http(step.method), endpoint: step.endpoint, url: prepared.url),
                                       stepID: stepID, clientRequestID: clientRequestID, intentAt: intentAt,
                                       replayed: replayed))
    }

    /// Step 3: a write whose idempotency key an earlier step of this run sent — with `idempotency:
    /// store`, of any batch or resume run — is not sent again (docs/ledger.md, "Idempotency
    /// replay"). Returns the step's result when it ends here (replayed or refused).
    func replayOrRefuse(_ prepared: PreparedStep, keyedIDs: [Int64], idempotency: IdempotencyScope,
                        observer: any RunObserver) throws(StoreError) -> StepResult? {
        let step = prepared.step
        guard step.method.isWrite, let key = step.idempotencyKey else { return nil }
        let earlier: [StepRecord]
        switch idempotency {
        case .run:
            // A resume run continues its original: "this run" is the family (the original
            // batch run and its resume runs), so a key the original committed is replayed.
            let row = try store.ledger.run(prepared.runID)
            if row.kind == .resume, let root = row.parentRunID {
                earlier = try store.ledger.keyedWrites(key: key, family: root)
            } else {
                var rows: [StepRecord] = []
                for id in keyedIDs { if let row = try store.ledger.step(id: id) { rows.append(row) } }
                earlier = rows
            }
        case .store:
            earlier = try store.ledger.keyedWrites(key: key)
        }
        switch replayDecision(key: key, earlier: earlier, runID: prepared.runID, method: .http(step.method), url: prepared.url) {
        case .send:
            return nil
        case .refuse(let reason):
            let id = try store.ledger.writeSkipped(prepared.intent, reason: reason)
            return StepResult(report: prepared.report(.skipped, stepID: id, message: reason), name: step.name)
        case .replay(var original, let note):
            // A write `batch reconcile` found landed got no response: its outputs are the
            // record reconcile found (the reconciliation's record blob).
            if original.responseDigest == nil, original.status == .reconciledApplied {
                original.responseDigest = try store.ledger.reconciliations(ofSteps: [original.id])
                    .last(where: { $0.decision == .applied })?.recordDigest
            }
            let id = try store.ledger.writeReplayed(prepared.intent, of: original, note: note)
            announce(prepared, id, clientRequestID: original.clientRequestID, replayed: true, observer: observer)
            var parsed: JSONValue?
            if let digest = original.responseDigest {
                let bytes = try store.objects.get(digest)
                parsed = bytes.isEmpty ? nil : try? JSONValue(parsing: bytes)
            }
            let label = parsed?["number"]?.stringValue ?? parsed?["displayName"]?.stringValue
            return StepResult(report: prepared.report(.replayed, stepID: id, recordID: original.recordID, label: label, message: note,
                                                      clientRequestID: original.clientRequestID),
                              name: step.name, output: ReferenceResolver.referenceOutput(for: step, responseBody: parsed),
                              keyed: (key, id))
        }
    }

    /// Step 4's answer: a 2xx is stored as the pre-image (its ETag becomes `If-Match` unless the
    /// step gave one); anything else ends the step `failed` without sending the write.
    func applyPreImage(_ answer: Result<BCResponse, BCTransportError>, _ prepared: PreparedStep, intent: inout StepIntent,
                       ifMatch: inout String?) throws(StoreError) -> StepResult? {
        let method = prepared.step.method
        switch answer {
        case .success(let response) where response.isSuccess:
            intent.preImage = try store.put(response.body, mediaType: "application/json")
            if ifMatch == nil { ifMatch = response.etag }
            return nil
        case .success(let response):
            let message = "pre-image GET returned \(response.status)"
                + (response.bcError.map { " \($0.code): \($0.message)" } ?? "") + "; the \(method) was not sent"
            let id = try store.ledger.writeSkipped(intent, status: .failed, reason: message)
            return StepResult(report: prepared.report(.failed, stepID: id, http: response.status, message: message,
                                                      code: response.bcError?.code, correlation: response.correlationID,
                                                      clientRequestID: intent.clientRequestID), name: prepared.step.name)
        case .failure(let error):
            let message = "pre-image GET failed: \(error); the \(method) was not sent"
            let id = try store.ledger.writeSkipped(intent, status: .failed, reason: message)
            return StepResult(report: prepared.report(.failed, stepID: id, message: message, clientRequestID: intent.clientRequestID),
                              name: prepared.step.name)
        }
    }

    /// What the run reads from an answer: the record id, a label, a GET's record count, and the
    /// parsed body for later references.
    struct AnswerFacts {
        var recordID: String?
        var label: String?
        var count: Int?
        var parsed: JSONValue?
        var morePages = false
        var rollbackURL: String?

        init() {}

        init(_ step: ResolvedStep, response: BCResponse, profile: Profile) {
            parsed = response.body.isEmpty ? nil : try? JSONValue(parsing: response.body)
            guard response.isSuccess else { return }
            switch step.method {
            case .post:
                recordID = parsed?["id"]?.stringValue ?? parsed?["systemId"]?.stringValue
                if let recordID, !step.endpointPath.isAction {
                    rollbackURL = try? StepRequest.url(for: step, profile: profile, recordID: recordID)
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

        func apply(to outcome: inout StepOutcome) {
            if let rollbackURL { outcome.rollbackURL = rollbackURL }
            outcome.recordID = recordID
        }
    }

    /// The step's result from how its exchange ended.
    func result(_ prepared: PreparedStep, ending: RecordedExchange.Ending, answer: AnswerFacts) -> StepResult {
        let step = prepared.step
        let clientRequestID = prepared.intent.clientRequestID
        var result = StepResult(report: prepared.report(.skipped, stepID: nil), name: step.name)
        if step.method.isWrite, let key = step.idempotencyKey { result.keyed = (key, ending.stepID) }
        switch ending {
        case .unknown(let stepID, let error):
            // Sent, no answer: it may have been committed. The intent has no outcome (reads
            // `unknown`); the reason is kept. Later writes to the same record wait for reconcile.
            if step.method == .patch || step.method == .delete { result.inDoubt = Self.recordKey(prepared.url) }
            return StepResult(report: prepared.report(nil, stepID: stepID, message: error.description, clientRequestID: clientRequestID),
                              name: step.name, keyed: result.keyed, inDoubt: result.inDoubt)
        case .failed(let stepID, let reason):
            return StepResult(report: prepared.report(.failed, stepID: stepID, message: reason, clientRequestID: clientRequestID),
                              name: step.name, keyed: result.keyed)
        case .answered(let stepID, let response, let outcome):
            // A get without `all: true` reads the first page only; say so when the server has more.
            let note = answer.morePages && !step.all
                ? "the server has more records (@odata.nextLink); this step read the first page only: add all: true to read every page"
                : nil
            var r = prepared.report(outcome.status, stepID: stepID, http: response.status, recordID: answer.recordID,
                                    label: answer.label, count: answer.count, message: outcome.errorMessage ?? note,
                                    code: response.bcError?.code, correlation: response.correlationID, clientRequestID: clientRequestID)
            if step.all { r.pages = max(1, (try? store.ledger.step(id: stepID))?.pages.count ?? 0) }
            // Only a step that succeeded has an output (a later reference to a failed one says so).
            var output: JSONValue?
            if response.isSuccess { output = ReferenceResolver.referenceOutput(for: step, responseBody: answer.parsed) }
            return StepResult(report: r, name: step.name, output: output, keyed: result.keyed)
        }
    }

    // MARK: - $batch

    /// A step a `$batch` may carry: a literal POST, PATCH or DELETE (a PATCH/DELETE's pre-image
    /// GETs go first, in a `$batch` of their own).
    static func batchable(_ template: StepTemplate) -> Bool {
        template.method.literal?.isWrite ?? false
    }

    /// Steps 3–7 for several writes sent as one `$batch` (`RecordedBatch`): each is replayed or
    /// refused on its own first, the pre-images are read (one `$batch` of GETs), then the
    /// writes that remain go together. Results are in the order of `prepared`.
    func performBatch(_ prepared: [PreparedStep], keyedIDs: [[Int64]], idempotency: IdempotencyScope,
                      observer: any RunObserver) async throws(StoreError) -> [StepResult] {
        var results: [StepResult?] = Array(repeating: nil, count: prepared.count)
        struct Live { let index: Int; var intent: StepIntent; var ifMatch: String? }
        var live: [Live] = []
        for (index, p) in prepared.enumerated() {
            if let ended = try replayOrRefuse(p, keyedIDs: keyedIDs[index], idempotency: idempotency, observer: observer) {
                results[index] = ended
            } else {
                live.append(Live(index: index, intent: p.intent, ifMatch: p.step.etag))
            }
        }

        // Pre-images: one GET each, sent together.
        let reading = live.indices.filter { needsPreImage(prepared[live[$0].index].step) }
        if !reading.isEmpty {
            let gets = reading.map { BCRequest(method: .get, url: prepared[live[$0].index].url, clientRequestID: live[$0].intent.clientRequestID) }
            var answers: [Result<BCResponse, BCTransportError>]
            if gets.count == 1 {
                answers = [await exchange.fetch(gets[0])]
            } else {
                do {
                    let answer = try await exchange.transport.executeBatch(gets)
                    answers = answer.results.enumerated().map { i, r in
                        switch r {
                        case .answered(let response), .notProcessed(let response): return .success(response)
                        case .unknown(let reason): return .failure(RecordedBatch.unknown(gets[i], reason, attempts: answer.response.attempts))
                        }
                    }
                } catch {
                    answers = Array(repeating: .failure(error), count: gets.count)
                }
            }
            var refused = Set<Int>()
            for (k, l) in reading.enumerated() {
                var intent = live[l].intent, ifMatch = live[l].ifMatch
                if let ended = try applyPreImage(answers[k], prepared[live[l].index], intent: &intent, ifMatch: &ifMatch) {
                    results[live[l].index] = ended
                    refused.insert(l)
                }
                live[l].intent = intent
                live[l].ifMatch = ifMatch
            }
            live = live.indices.filter { !refused.contains($0) }.map { live[$0] }
        }

        if live.count == 1, let only = live.first {
            // One write left: no `$batch` of one.
            var intent = only.intent
            intent.ifMatch = only.ifMatch
            let p = prepared[only.index]
            var answer = AnswerFacts()
            let profile = self.profile
            let ending = try await exchange.send(intent, request(p, ifMatch: only.ifMatch), started: p.started, adjust: { response, outcome in
                answer = AnswerFacts(p.step, response: response, profile: profile)
                answer.apply(to: &outcome)
            }, intentCommitted: { id, at in announce(p, id, clientRequestID: intent.clientRequestID, intentAt: at, observer: observer) })
            results[only.index] = result(p, ending: ending, answer: answer)
        } else if !live.isEmpty {
            let items = live.map { l -> (intent: StepIntent, request: BCRequest) in
                var intent = l.intent
                intent.ifMatch = l.ifMatch
                return (intent, request(prepared[l.index], ifMatch: l.ifMatch))
            }
            var answers = Array(repeating: AnswerFacts(), count: live.count)
            let profile = self.profile
            let endings = try await RecordedBatch(store: store, transport: exchange.transport).send(
                items, started: prepared[live[0].index].started,
                adjust: { i, response, outcome in
                    answers[i] = AnswerFacts(prepared[live[i].index].step, response: response, profile: profile)
                    answers[i].apply(to: &outcome)
                },
                intentCommitted: { i, id, at in
                    announce(prepared[live[i].index], id, clientRequestID: items[i].intent.clientRequestID, intentAt: at, observer: observer)
                })
            for (i, l) in live.enumerated() {
                results[l.index] = result(prepared[l.index], ending: endings[i], answer: answers[i])
            }
        }
        return results.map { $0! }
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
