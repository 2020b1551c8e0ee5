import BusinessCentral
import Foundation
import Hashing
import Store
import Testing
import TestSupport

@testable import Batch

/// `RecordedExchange` against a stub transport and a real store: blobs, then the intent
/// (committed before the request leaves), then the answer's blobs and the outcome — or, with no
/// answer, an intent left unknown or a failed outcome.
@Suite struct RecordedExchangeTests {
    static let url = "https://bc.example/v2.0/t/production/api/v2.0/companies(c-1)/customers"

    static func startRun(_ world: StubWorld) throws -> String {
        let row = NewRun(toolVersion: "t")
        try world.store.ledger.startRun(row)
        return row.id
    }

    static func post(_ world: StubWorld, runID: String, body: [UInt8]) -> (StepIntent, BCRequest) {
        var intent = StepIntent(runID: runID, seq: 1, name: "create", method: .http(.post), url: url)
        intent.idempotencyKey = "key-1"
        let request = BCRequest(method: .post, url: url, body: body, clientRequestID: intent.clientRequestID,
                                idempotencyKey: "key-1")
        return (intent, request)
    }

    @Test func anAnswerIsCommittedWithItsBlobsAfterTheIntent() async throws {
        let world = try StubWorld()
        let runID = try Self.startRun(world)
        let body = Array(#"{"displayName":"Alpine"}"#.utf8)
        let responseBody = #"{"id":"0f0e0d0c-0000-0000-0000-000000000001","number":"C0001"}"#
        // At the moment the request leaves, its intent is committed and has no outcome yet.
        let store = world.store
        let atSend = Locked<[StepRecord]>([])
        let stub = StubTransport([StubTransport.json(201, responseBody, etag: "W/\"1\"")]) { _ in
            atSend.set((try? store.ledger.steps(runID: runID)) ?? [])
        }
        let (intent, request) = Self.post(world, runID: runID, body: body)
        let ending = try await RecordedExchange(store: store, transport: stub).send(intent, request) { response, outcome in
            outcome.recordID = "adjusted-\(response.status)"
        }

        #expect(atSend.get().count == 1)
        #expect(atSend.get().first?.status == nil)
        #expect(atSend.get().first?.outcomeAt == nil)
        #expect(atSend.get().first?.requestDigest == SHA256.hash(body))

        guard case .answered(let stepID, let response, let outcome) = ending else {
            Issue.record("expected an answer, got \(ending)"); return
        }
        #expect(response.status == 201)
        #expect(outcome.status == .committed)
        #expect(outcome.recordID == "adjusted-201")
        let step = try #require(try store.ledger.step(id: stepID))
        #expect(step.status == .committed)
        #expect(step.httpStatus == 201)
        #expect(step.etag == "W/\"1\"")
        #expect(step.requestID == "req-201")
        #expect(step.recordID == "adjusted-201")
        #expect(step.idempotencyKey == "key-1")
        #expect(step.clientRequestID == intent.clientRequestID)
        #expect(step.durationMs != nil)
        // The stored request is the bytes the transport was handed, byte for byte.
        let sent = try #require(stub.requests.first)
        #expect(stub.requests.count == 1)
        #expect(try world.blob(step.requestDigest) == sent.body)
        #expect(step.requestDigest == SHA256.hash(body))
        #expect(try world.blob(step.requestHeadersDigest) == StepRequest.headersBlob(sent.recordedHeaders))
        #expect(try world.blob(step.responseDigest) == Array(responseBody.utf8))
        #expect(try world.blob(step.responseHeadersDigest) == StepRequest.headersBlob(response.headers))
    }

    @Test func anErrorStatusIsAnAnswerRecordedAsFailed() async throws {
        let world = try StubWorld()
        let runID = try Self.startRun(world)
        let error = #"{"error":{"code":"BadRequest_InvalidToken","message":"bad field"}}"#
        let stub = StubTransport([StubTransport.json(400, error)])
        let (intent, request) = Self.post(world, runID: runID, body: Array("{}".utf8))
        let ending = try await RecordedExchange(store: world.store, transport: stub).send(intent, request)
        guard case .answered(let stepID, _, let outcome) = ending else { Issue.record("\(ending)"); return }
        #expect(outcome.status == .failed)
        let step = try #require(try world.store.ledger.step(id: stepID))
        #expect(step.status == .failed)
        #expect(step.httpStatus == 400)
        #expect(step.bcErrorCode == "BadRequest_InvalidToken")
        #expect(step.errorMessage == "BadRequest_InvalidToken: bad field")
        #expect(try world.blob(step.responseDigest) == Array(error.utf8))
    }

    @Test func noAnswerAfterAPossibleSendLeavesTheIntentUnknownWithItsReason() async throws {
        let world = try StubWorld()
        let runID = try Self.startRun(world)
        let stub = StubTransport([StubTransport.noAnswer(.POST, url: Self.url, maybeSent: true)])
        let (intent, request) = Self.post(world, runID: runID, body: Array("{}".utf8))
        let ending = try await RecordedExchange(store: world.store, transport: stub).send(intent, request) { _, outcome in
            outcome.recordID = "never"
        }
        guard case .unknown(let stepID, let error) = ending else { Issue.record("\(ending)"); return }
        #expect(error.outcomeUnknown)
        let step = try #require(try world.store.ledger.step(id: stepID))
        #expect(step.status == nil)
        #expect(step.statusName == "unknown")
        #expect(step.outcomeAt == nil)
        #expect(step.recordID == nil)
        #expect(step.errorMessage == error.description)
        #expect(step.errorMessage?.contains("OUTCOME UNKNOWN") == true)
        #expect(try world.blob(step.requestDigest) == Array("{}".utf8))
        #expect(try world.store.run(runID).counts.unknown == 1)
    }

    /// A write a gateway answered 502 or 504 may have been passed on: it reads unknown, never
    /// failed, so nothing re-sends it without reconcile's evidence. A read answered 504 is failed.
    @Test(arguments: [502, 504])
    func aGatewayAnswerToAWriteIsUnknown(status: Int) async throws {
        let world = try StubWorld()
        let runID = try Self.startRun(world)
        let stub = StubTransport([StubTransport.json(status, "<html>gateway</html>")])
        let (intent, request) = Self.post(world, runID: runID, body: Array("{}".utf8))
        let ending = try await RecordedExchange(store: world.store, transport: stub).send(intent, request)
        guard case .unknown(let stepID, let error) = ending else { Issue.record("\(ending)"); return }
        let step = try #require(try world.store.ledger.step(id: stepID))
        #expect(step.status == nil)
        #expect(step.errorMessage == error.description)
        #expect(step.errorMessage?.contains("HTTP \(status) by a gateway") == true, "\(step.errorMessage ?? "")")

        let read = StepIntent(runID: runID, seq: 2, name: "read", method: .http(.get), url: Self.url)
        let get = try await RecordedExchange(store: world.store, transport: StubTransport([StubTransport.json(status, "{}")]))
            .send(read, BCRequest(method: .get, url: Self.url, clientRequestID: read.clientRequestID))
        guard case .answered(_, _, let outcome) = get else { Issue.record("\(get)"); return }
        #expect(outcome.status == .failed)
    }

    @Test func aFailureBeforeTheSendIsAFailedOutcome() async throws {
        let world = try StubWorld()
        let runID = try Self.startRun(world)
        let stub = StubTransport([StubTransport.noAnswer(.POST, url: Self.url, maybeSent: false)])
        let (intent, request) = Self.post(world, runID: runID, body: Array("{}".utf8))
        let ending = try await RecordedExchange(store: world.store, transport: stub).send(intent, request)
        guard case .failed(let stepID, let reason) = ending else { Issue.record("\(ending)"); return }
        let step = try #require(try world.store.ledger.step(id: stepID))
        #expect(step.status == .failed)
        #expect(step.outcomeAt != nil)
        #expect(step.httpStatus == nil)
        #expect(step.responseDigest == nil)
        #expect(step.errorMessage == reason)
        #expect(step.durationMs != nil)
    }

    /// A GET cannot land: with no answer it is failed even when it may have left.
    @Test func aReadWithNoAnswerIsFailedNeverUnknown() async throws {
        let world = try StubWorld()
        let runID = try Self.startRun(world)
        let stub = StubTransport([StubTransport.noAnswer(.GET, url: Self.url, maybeSent: true)])
        let intent = StepIntent(runID: runID, seq: 1, name: "read", method: .http(.get), url: Self.url)
        let request = BCRequest(method: .get, url: Self.url, clientRequestID: intent.clientRequestID)
        let ending = try await RecordedExchange(store: world.store, transport: stub).send(intent, request)
        guard case .failed(let stepID, _) = ending else { Issue.record("\(ending)"); return }
        let step = try #require(try world.store.ledger.step(id: stepID))
        #expect(step.status == .failed)
        #expect(step.requestDigest == nil)  // no body
        #expect(try world.blob(step.requestHeadersDigest) == StepRequest.headersBlob(request.recordedHeaders))
    }
}

/// A value shared with a `@Sendable` closure.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func get() -> Value { lock.withLock { value } }
    func set(_ v: Value) { lock.withLock { value = v } }
}
