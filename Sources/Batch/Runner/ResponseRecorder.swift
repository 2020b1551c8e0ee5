import BusinessCentral
import Store

/// Turns an HTTP answer into the outcome row the ledger commits: the body and headers are stored
/// as blobs first (behind one durability barrier), then every field the ledger indexes is copied
/// from the response. `RecordedExchange` is its one user, so the runner and rollback record
/// requests and answers the same way.
enum ResponseRecorder {
    static func outcome(for response: BCResponse, store: LedgerStore, durationMs: Int) throws(StoreError) -> StepOutcome {
        var outcome = StepOutcome(status: response.isSuccess ? .committed : .failed)
        outcome.httpStatus = response.status
        let headers = (StepRequest.headersBlob(response.headers), Optional(StepRequest.headersMediaType))
        if !response.body.isEmpty {
            let blobs = try store.putAll([(response.body, "application/json"), headers])
            outcome.response = blobs[0]
            outcome.responseHeaders = blobs[1]
        } else {
            outcome.responseHeaders = try store.put(headers.0, mediaType: headers.1)
        }
        outcome.etag = response.etag
        outcome.requestID = response.requestID
        outcome.msCorrelationX = response.msCorrelationX
        outcome.correlationRequestID = response.correlationRequestID
        outcome.bcErrorCode = response.bcError?.code
        outcome.bcErrorMessage = response.bcError?.message
        outcome.bcCorrelationID = response.bcError?.correlationID
        outcome.durationMs = durationMs
        if !response.isSuccess {
            outcome.errorMessage = response.bcError.map { "\($0.code): \($0.message)" } ?? "HTTP \(response.status)"
        }
        return outcome
    }

    /// Stores a request's body and headers (Authorization already removed by `recordedHeaders`)
    /// behind one durability barrier, for the intent row.
    static func requestBlobs(body: [UInt8]?, request: BCRequest, store: LedgerStore) throws(StoreError) -> (body: BlobRef?, headers: BlobRef) {
        let headers = (StepRequest.headersBlob(request.recordedHeaders), Optional(StepRequest.headersMediaType))
        if let body {
            let blobs = try store.putAll([(body, "application/json"), headers])
            return (blobs[0], blobs[1])
        }
        return (nil, try store.put(headers.0, mediaType: headers.1))
    }
}
