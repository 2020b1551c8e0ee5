import BusinessCentral
import Hashing
import Store

/// Several requests sent as one OData JSON `$batch`, recorded as if each were sent alone: every
/// operation's body and headers are stored and its own intent row committed before the `$batch`
/// leaves; after the answer, each operation gets its own outcome row and response blobs
/// (docs/ledger.md, "$batch"). What the batch as a whole proves decides what each operation reads:
///
/// - no answer at all (the connection died after the `$batch` may have been sent): every write of
///   it is `unknown`, never re-sent on its own;
/// - the whole `$batch` refused before any operation ran (a 4xx other than 408, or 503, after the
///   retries the policy allows): every operation `failed`, with the refusal as its response;
/// - a 200: each operation reads its own answer; one the answer does not mention is `unknown`;
/// - anything else (408, 500, 502, 504 to the batch): every write `unknown`.
struct RecordedBatch: Sendable {
    let store: LedgerStore
    let transport: any BCTransport

    /// - Parameters:
    ///   - adjust: fills in what only the caller knows on an operation's outcome, by index.
    ///   - intentCommitted: called with each intent row's id and `intent_at` once it is committed
    ///     (all of them are committed before the `$batch` is sent).
    func send(
        _ items: [(intent: StepIntent, request: BCRequest)], started: ContinuousClock.Instant,
        adjust: (Int, BCResponse, inout StepOutcome) -> Void,
        intentCommitted: (Int, Int64, String) -> Void
    ) async throws(StoreError) -> [RecordedExchange.Ending] {
        var ids: [Int64] = []
        do {
            for (index, item) in items.enumerated() {
                var intent = item.intent
                (intent.request, intent.requestHeaders) = try ResponseRecorder.requestBlobs(body: item.request.body, request: item.request, store: store)
                let (id, intentAt) = try store.ledger.writeIntentStamped(intent)
                ids.append(id)
                intentCommitted(index, id, intentAt)
            }
        } catch {
            // The `$batch` never left: the intents already committed must not read unknown ("may
            // have landed"). Best effort — the store is failing — then the run stops on the error.
            for id in ids {
                var outcome = StepOutcome(status: .failed)
                outcome.errorMessage = "not sent: the store failed while recording its $batch (\(error))"
                try? store.ledger.writeOutcome(stepID: id, outcome)
            }
            throw error
        }
        let requests = items.map(\.request)
        let answer: BatchAnswer
        do {
            answer = try await transport.executeBatch(requests)
        } catch {
            var endings: [RecordedExchange.Ending] = []
            for id in ids {
                if error.outcomeUnknown {
                    try store.ledger.noteUnresolvedOutcome(stepID: id, message: "$batch: " + error.description)
                    endings.append(.unknown(stepID: id, error: error))
                } else {
                    var outcome = StepOutcome(status: .failed)
                    outcome.errorMessage = "$batch: " + error.description
                    outcome.durationMs = (ContinuousClock.now - started).wholeMilliseconds
                    try store.ledger.writeOutcome(stepID: id, outcome)
                    endings.append(.failed(stepID: id, reason: "$batch: " + error.description))
                }
            }
            return endings
        }
        let durationMs = (ContinuousClock.now - started).wholeMilliseconds
        var endings: [RecordedExchange.Ending] = []
        for (index, id) in ids.enumerated() {
            let request = requests[index]
            switch answer.results[index] {
            case .answered(let response) where request.isWrite && RecordedExchange.gatewayStatuses.contains(response.status):
                let error = Self.unknown(request, "its $batch operation was answered HTTP \(response.status) (a gateway's status): the write may have landed", attempts: response.attempts)
                try store.ledger.noteUnresolvedOutcome(stepID: id, message: error.description)
                endings.append(.unknown(stepID: id, error: error))
            case .answered(let response):
                var outcome = try ResponseRecorder.outcome(for: response, store: store, durationMs: durationMs)
                adjust(index, response, &outcome)
                try store.ledger.writeOutcome(stepID: id, outcome)
                endings.append(.answered(stepID: id, response: response, outcome: outcome))
            case .notProcessed(let response):
                var outcome = try ResponseRecorder.outcome(for: response, store: store, durationMs: durationMs)
                outcome.status = .failed
                outcome.errorMessage = "the $batch was refused before any operation ran: " + (outcome.errorMessage ?? "HTTP \(response.status)")
                try store.ledger.writeOutcome(stepID: id, outcome)
                endings.append(.answered(stepID: id, response: response, outcome: outcome))
            case .unknown(let reason):
                let error = Self.unknown(request, reason, attempts: answer.response.attempts)
                if request.isWrite {
                    try store.ledger.noteUnresolvedOutcome(stepID: id, message: error.description)
                    endings.append(.unknown(stepID: id, error: error))
                } else {
                    var outcome = StepOutcome(status: .failed)
                    outcome.errorMessage = reason
                    outcome.durationMs = durationMs
                    try store.ledger.writeOutcome(stepID: id, outcome)
                    endings.append(.failed(stepID: id, reason: reason))
                }
            }
        }
        return endings
    }

    static func unknown(_ request: BCRequest, _ reason: String, attempts: Int) -> BCTransportError {
        .transport(TransportFailure(kind: .other, method: request.method, url: request.url, reason: reason,
                                    requestMaybeSent: true, attempts: attempts))
    }
}
