import BusinessCentral
import Hashing
import Store

/// One HTTP exchange, recorded in the order the ledger's contract demands (docs/ledger.md, "The
/// order of writes for one step"): the request's body and headers are stored as blobs, the intent
/// row naming them is committed, only then does the request leave; the answer's blobs are stored
/// and its outcome row committed after it. A process killed anywhere in between leaves a ledger
/// that still tells the truth: an intent with no outcome reads `unknown`, never `committed`.
///
/// The one place that sequence is written: the runner's steps, rollback's compensations and its
/// `check_` GETs all go through `send`. What differs between them — the record id, the rollback
/// URL, a conflict's message — is the caller's `adjust`, applied to the outcome before it is
/// committed.
struct RecordedExchange: Sendable {
    let store: LedgerStore
    let transport: any BCTransport

    /// How an exchange ended. Every case names the intent row (`stepID`).
    enum Ending: Sendable {
        /// An answer came (any HTTP status); its blobs and outcome row (`outcome`, as committed)
        /// are in the ledger.
        case answered(stepID: Int64, response: BCResponse, outcome: StepOutcome)
        /// The request may have been sent and no answer came: a write that may have landed. The
        /// intent keeps no outcome (it reads `unknown`); the reason is noted beside it.
        case unknown(stepID: Int64, error: BCTransportError)
        /// No answer, and nothing can have landed (not sent, or a read), or a paged GET stopped
        /// short: a `failed` outcome carrying `reason` is committed.
        case failed(stepID: Int64, reason: String)

        var stepID: Int64 {
            switch self {
            case .answered(let id, _, _), .unknown(let id, _), .failed(let id, _): return id
            }
        }
    }

    /// Stores `request`'s body and headers, commits `intent` (with those blobs) and sends the
    /// request; then records what came back (see `Ending`).
    ///
    /// - Parameters:
    ///   - started: where the outcome's `duration_ms` counts from; nil for the moment the intent
    ///     is committed.
    ///   - adjust: fills in what only the caller knows (record id, rollback URL, messages) on the
    ///     outcome built from an answer, before it is committed.
    ///   - intentCommitted: called with the intent row's id and `intent_at` once it is committed,
    ///     before the request is sent (the runner's `stepStarted`).
    ///   - followPages: a GET with `all: true`: when the answer is 2xx and carries
    ///     `@odata.nextLink`, follow it to the last page (`PageFollower`). The outcome then names the
    ///     assembled body, and the pages are committed with it; a page that fails makes the step
    ///     `failed` with that page's answer.
    func send(
        _ intent: StepIntent, _ request: BCRequest, started: ContinuousClock.Instant? = nil, followPages: Bool = false,
        adjust: (BCResponse, inout StepOutcome) -> Void = { _, _ in },
        intentCommitted: (Int64, String) -> Void = { _, _ in }
    ) async throws(StoreError) -> Ending {
        var intent = intent
        (intent.request, intent.requestHeaders) = try ResponseRecorder.requestBlobs(body: request.body, request: request, store: store)
        let (stepID, intentAt) = try store.ledger.writeIntentStamped(intent)
        let started = started ?? ContinuousClock.now
        intentCommitted(stepID, intentAt)

        switch await fetch(request) {
        case .failure(let error) where error.outcomeUnknown:
            try store.ledger.noteUnresolvedOutcome(stepID: stepID, message: error.description)
            return .unknown(stepID: stepID, error: error)
        case .failure(let error):
            var outcome = StepOutcome(status: .failed)
            outcome.errorMessage = error.description
            outcome.durationMs = (ContinuousClock.now - started).wholeMilliseconds
            try store.ledger.writeOutcome(stepID: stepID, outcome)
            return .failed(stepID: stepID, reason: error.description)
        case .success(let first) where request.isWrite && Self.gatewayStatuses.contains(first.status):
            // A gateway answered, not Business Central: the write may have been passed on and
            // committed. Like no answer at all, it reads unknown until `batch reconcile` decides.
            let failure = TransportFailure(kind: .other, method: request.method, url: request.url,
                                           reason: "answered HTTP \(first.status) by a gateway, not by Business Central: the write may have landed",
                                           requestMaybeSent: true, attempts: first.attempts)
            try store.ledger.noteUnresolvedOutcome(stepID: stepID, message: BCTransportError.transport(failure).description)
            return .unknown(stepID: stepID, error: .transport(failure))
        case .success(let first):
            var response = first
            var pages: [NewStepPage] = []
            var stopped: String?
            if followPages, !request.isWrite, first.isSuccess,
               let body = try? JSONValue(parsing: first.body), PageAssembly.nextLink(in: body) != nil {
                switch try await PageFollower(store: store, fetch: fetch).follow(request, first: first) {
                case .complete(let assembled, let all):
                    (response, pages) = (assembled, all)
                case .pageFailed(let page, let failed, let all):
                    (response, pages) = (failed, all)
                    stopped = "page \(page) of \(all.count) answered \(failed.status)"
                case .stopped(let reason, let all):
                    pages = all
                    stopped = reason
                }
            }
            let durationMs = (ContinuousClock.now - started).wholeMilliseconds
            if let stopped, response.isSuccess {
                // Stopped with no failed answer to record (no answer, or a link not followed): the
                // pages received are kept, the step is `failed` with the reason.
                var outcome = StepOutcome(status: .failed)
                outcome.httpStatus = first.status
                outcome.errorMessage = stopped
                outcome.durationMs = durationMs
                try store.ledger.writeOutcome(stepID: stepID, outcome, pages: pages)
                return .failed(stepID: stepID, reason: stopped)
            }
            var outcome = try ResponseRecorder.outcome(for: response, store: store, durationMs: durationMs)
            if let stopped { outcome.errorMessage = stopped + ": " + (outcome.errorMessage ?? "HTTP \(response.status)") }
            adjust(response, &outcome)
            try store.ledger.writeOutcome(stepID: stepID, outcome, pages: pages)
            return .answered(stepID: stepID, response: response, outcome: outcome)
        }
    }

    /// Answers that come from a gateway in front of Business Central (bad gateway, gateway
    /// timeout): for a write they prove nothing either way (`RetryPolicy` never re-sends them).
    static let gatewayStatuses: Set<Int> = [502, 504]

    /// Sends `request` without recording it: for a read whose answer the caller stores itself
    /// (the runner's pre-image GET, kept as a blob on the step's intent).
    func fetch(_ request: BCRequest) async -> Result<BCResponse, BCTransportError> {
        do { return .success(try await transport.execute(request)) } catch { return .failure(error) }
    }
}
