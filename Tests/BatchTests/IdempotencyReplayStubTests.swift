import BusinessCentral
import Foundation
import Hashing
import Store
import Testing
import TestSupport

@testable import Batch

/// Idempotency replay within a run (docs/ledger.md, "Idempotency replay"), against a stub
/// transport: a write whose key an earlier step committed is not sent, reads `replayed`, gets a
/// ledger row naming the original, and carries the original's outputs.
@Suite struct IdempotencyReplayStubTests {
    typealias R = BatchRunnerStubTests
    static let alpine = BatchRunnerStubTests.alpine

    static let replay = """
        name: replay
        steps:
          - name: c1
            action: post
            endpoint: customers
            data: {displayName: Replay Co}
            idempotency_key: k-1
          - name: c1_again
            action: post
            endpoint: customers
            data: {displayName: Replay Co}
            idempotency_key: k-1
          - name: read_again
            endpoint: customers
            id: ${{ steps.c1_again.id }}
        """

    @Test func aKeyCommittedEarlierIsReplayedWithTheOriginalsOutputs() async throws {
        let world = try StubWorld()
        let stub = StubTransport([
            StubTransport.json(201, #"{"id":"\#(Self.alpine)","number":"C1","displayName":"Replay Co"}"#, etag: "W/\"1\""),
            StubTransport.json(200, #"{"id":"\#(Self.alpine)","number":"C1"}"#),
        ])
        let r = try await R.run(Self.replay, stub, in: world)

        // Two requests left: the POST once, then the GET built from the replayed step's output.
        #expect(stub.requests.map(\.method.rawValue) == ["POST", "GET"])
        #expect(stub.requests.last?.url == "\(R.company)/customers(\(Self.alpine))")

        #expect(r.steps.map(\.status) == [.committed, .replayed, .committed])
        let original = r.steps[0], replayed = r.steps[1]
        #expect(replayed.targetStepID == original.id)
        #expect(replayed.idempotencyKey == "k-1")
        #expect(replayed.method == .http(.post))
        #expect(replayed.url == "\(R.company)/customers")
        #expect(replayed.recordID == Self.alpine)
        #expect(replayed.responseDigest == original.responseDigest)
        #expect(replayed.requestDigest == nil && replayed.requestHeadersDigest == nil && replayed.httpStatus == nil)
        #expect(replayed.rollbackURL == nil && replayed.etag == nil)
        #expect(replayed.errorMessage == "replayed: idempotency_key 'k-1' was committed by step 1 (c1); not sent again")

        let report = r.observer.reports[1]
        #expect(report.status == .replayed && report.statusName == "replayed")
        #expect(report.recordID == Self.alpine && report.label == "C1")
        #expect((r.summary.committed, r.summary.replayed, r.summary.failed, r.summary.skipped) == (2, 1, 0, 0))
        #expect(r.summary.state == .completed && r.run.state == .completed)
        #expect(RunVerdict(r.summary) == .ok)

        // A replayed row is not a compensation of its own run: rollback plans the one POST.
        #expect(try world.store.ledger.compensations(ofRun: r.summary.runID).isEmpty)
        let plan = RollbackPlanner.plan(runID: r.summary.runID, steps: r.steps, compensations: [], recreateDeleted: false,
                                        blob: { try world.store.objects.get($0) }, rebase: { $0 })
        #expect(plan.items.map(\.step.seq) == [1])
    }

    @Test func aKeyWhoseFirstSendFailedIsSentAgain() async throws {
        let world = try StubWorld()
        let stub = StubTransport([
            StubTransport.json(400, #"{"error":{"code":"BadRequest","message":"no"}}"#),
            StubTransport.json(201, #"{"id":"\#(Self.alpine)"}"#),
            StubTransport.json(200, #"{"id":"\#(Self.alpine)"}"#),
        ])
        let r = try await R.run(Self.replay, stub, in: world)
        #expect(stub.requests.map(\.method.rawValue) == ["POST", "POST", "GET"])
        #expect(r.steps.map(\.status) == [.failed, .committed, .committed])
        #expect(r.steps[1].targetStepID == nil)
    }

    @Test func aKeyWhoseFirstSendHasNoAnswerIsNotSentAndTellsTheOperatorToReconcile() async throws {
        let world = try StubWorld()
        let stub = StubTransport([StubTransport.noAnswer(.POST, url: R.company + "/customers", maybeSent: true)])
        let r = try await R.run(Self.replay, stub, in: world)
        #expect(stub.requests.map(\.method.rawValue) == ["POST"])
        #expect(r.steps.map(\.status) == [nil, .skipped, .skipped])
        let reason = try #require(r.steps[1].errorMessage)
        #expect(reason.hasPrefix("not sent: idempotency_key 'k-1' was sent by step 1 (c1), whose outcome is unknown (it may have landed); check Business Central for client-request-id \(r.steps[0].clientRequestID)"))
        #expect(r.summary.state == .inDoubt)
    }

    @Test func aKeyCommittedForAnotherWriteIsRefused() async throws {
        let world = try StubWorld()
        let stub = StubTransport([StubTransport.json(201, #"{"id":"\#(Self.alpine)"}"#)])
        let r = try await R.run("""
            steps:
              - {name: c1, action: post, endpoint: customers, data: {displayName: A}, idempotency_key: k}
              - {name: v1, action: post, endpoint: vendors, data: {displayName: A}, idempotency_key: k}
            """, stub, in: world)
        #expect(stub.requests.count == 1)
        #expect(r.steps.map(\.status) == [.committed, .skipped])
        #expect(r.steps[1].errorMessage?.contains("was committed by step 1 (c1) for POST \(R.company)/customers, not for this POST \(R.company)/vendors; give each write its own key") == true)
    }

    @Test func aTemplatedKeyIsComparedAfterResolutionAndAReplayOfAReplayNamesTheOriginal() async throws {
        let world = try StubWorld()
        let stub = StubTransport([StubTransport.json(201, #"{"id":"\#(Self.alpine)"}"#)])
        let r = try await R.run("""
            params: {batch: b7}
            steps:
              - {name: a, action: post, endpoint: customers, data: {displayName: A}, idempotency_key: "${{ params.batch }}-1"}
              - {name: b, action: post, endpoint: customers, data: {displayName: A}, idempotency_key: b7-1}
              - {name: c, action: post, endpoint: customers, data: {displayName: A}, idempotency_key: b7-1}
            """, stub, in: world)
        #expect(stub.requests.count == 1)
        #expect(r.steps.map(\.status) == [.committed, .replayed, .replayed])
        #expect(r.steps[2].targetStepID == r.steps[0].id)
    }
}
