import BusinessCentral
import Foundation
import Hashing
import Store
import Testing
import TestSupport

@testable import Batch

/// `RollbackExecutor` against a stub transport and a real store: a run recorded by the runner
/// (through the same stub seam), planned by `RollbackPlanner`, undone by compensations that go
/// through `RecordedExchange`, and the rollback run stamped by `RunStateRule.rollbackStamp`.
@Suite struct RollbackExecutorStubTests {
    static let company = BatchRunnerStubTests.company
    static let (a, b) = (BatchRunnerStubTests.alpine, BatchRunnerStubTests.coho)

    /// Two customers created (ETags W/"a" and W/"b"); the second POST's answer is `second`.
    static func original(_ world: StubWorld, second: StubTransport.Reply? = nil) async throws -> RunRecord {
        let stub = StubTransport([
            StubTransport.json(201, #"{"id":"\#(a)"}"#, etag: "W/\"a\""),
            second ?? StubTransport.json(201, #"{"id":"\#(b)"}"#, etag: "W/\"b\""),
        ])
        let r = try await BatchRunnerStubTests.run("""
            name: two
            steps:
              - name: create_a
                action: post
                endpoint: customers
                data: {displayName: A}
              - name: create_b
                action: post
                endpoint: customers
                data: {displayName: B}
            """, stub, in: world)
        return r.run
    }

    static func rollback(_ world: StubWorld, _ original: RunRecord, _ replies: [StubTransport.Reply])
        async throws -> (RollbackExecutor.Result, StubTransport, RollbackPlan)
    {
        let store = world.store
        let plan = RollbackPlanner.plan(
            runID: original.id, steps: try store.ledger.steps(runID: original.id),
            compensations: try store.ledger.compensations(ofRun: original.id), recreateDeleted: false,
            blob: { try store.objects.get($0) }, rebase: { $0 })
        let stub = StubTransport(replies)
        let result = try await RollbackExecutor(store: store, client: stub, profile: StubWorld.profile)
            .execute(plan: plan, original: original, cancellation: CancellationFlag())
        return (result, stub, plan)
    }

    static func noContent() -> StubTransport.Reply { .answer(BCResponse(status: 204, headers: [], body: [])) }

    @Test func everyCompensationAnsweredIsACompletedRollbackAndARolledBackRun() async throws {
        let world = try StubWorld()
        let original = try await Self.original(world)
        let (result, stub, plan) = try await Self.rollback(world, original, [Self.noContent(), Self.noContent()])
        #expect(plan.items.count == 2)
        // Newest first, each DELETE with the ETag its POST recorded.
        #expect(stub.requests.map(\.method.rawValue) == ["DELETE", "DELETE"])
        #expect(stub.requests.map(\.url) == [Self.company + "/customers(\(Self.b))", Self.company + "/customers(\(Self.a))"])
        #expect(stub.requests.map(\.ifMatch) == ["W/\"b\"", "W/\"a\""])
        #expect(result.results.map(\.status) == [.rolledBack, .rolledBack])
        #expect(result.originalState == .rolledBack)
        #expect(result.remaining == 0)

        let run = try world.store.run(result.rollbackRunID)
        #expect(run.kind == .rollback)
        #expect(run.parentRunID == original.id)
        #expect(run.profile == "stub" && run.baseURL == "https://bc.example")
        #expect(run.stepCount == nil)
        #expect(run.state == .completed)
        #expect(run.recordDigest != nil)
        let steps = try world.store.ledger.steps(runID: run.id)
        let originalSteps = try world.store.ledger.steps(runID: original.id)
        #expect(steps.map(\.name) == ["undo_create_b", "undo_create_a"])
        #expect(steps.map(\.statusName) == ["committed", "committed"])
        #expect(steps.map(\.targetStepID) == [originalSteps[1].id, originalSteps[0].id])
        #expect(zip(steps, stub.requests).allSatisfy { $0.clientRequestID == $1.clientRequestID && $0.ifMatch == $1.ifMatch })
        #expect(try world.store.run(original.id).state == .rolledBack)
        #expect(originalSteps.map(\.statusName) == ["rolled_back", "rolled_back"])
    }

    @Test func oneFailedOneUndoneIsAPartiallyCommittedRollback() async throws {
        let world = try StubWorld()
        let original = try await Self.original(world)
        let (result, stub, _) = try await Self.rollback(world, original, [
            StubTransport.json(500, #"{"error":{"code":"Internal_ServerError","message":"boom"}}"#), Self.noContent(),
        ])
        #expect(stub.requests.count == 2)
        #expect(result.results.map(\.status) == [.rollbackFailed, .rolledBack])
        #expect(result.results[0].message == "Internal_ServerError: boom")
        #expect(result.originalState == .completed)
        #expect(result.remaining == 1)
        #expect(try world.store.run(result.rollbackRunID).state == .partiallyCommitted)
        #expect(try world.store.ledger.steps(runID: result.rollbackRunID).map(\.statusName) == ["failed", "committed"])
    }

    /// A DELETE answered 404 and a GET that finds nothing: the item is rolled back although two
    /// of the rollback run's rows are `failed` (HTTP 404) — the run reads its stamp, `completed`.
    @Test func aDeleteAnswered404AndConfirmedGoneIsRolledBack() async throws {
        let world = try StubWorld()
        let original = try await Self.original(world)
        let notFound = #"{"error":{"code":"BadRequest_NotFound","message":"gone"}}"#
        let (result, stub, _) = try await Self.rollback(world, original, [
            StubTransport.json(404, notFound), StubTransport.json(404, notFound), Self.noContent(),
        ])
        #expect(stub.requests.map(\.method.rawValue) == ["DELETE", "GET", "DELETE"])
        #expect(result.results.map(\.status) == [.rolledBack, .rolledBack])
        #expect(result.results[0].message.hasPrefix("already gone: the DELETE answered 404 and a GET confirmed it (check_create_b, seq 2)"))
        let steps = try world.store.ledger.steps(runID: result.rollbackRunID)
        #expect(steps.map(\.name) == ["undo_create_b", "check_create_b", "undo_create_a"])
        #expect(steps.map(\.statusName) == ["failed", "failed", "committed"])
        #expect(steps[1].recordID == Self.b)
        #expect(try world.blob(steps[1].responseDigest) == Array(notFound.utf8))
        #expect(try world.store.run(result.rollbackRunID).state == .completed)
        #expect(result.originalState == .rolledBack)
    }

    /// A compensation with no answer: `rollback_failed`, its row unknown, the rollback run in doubt.
    @Test func aCompensationWithNoAnswerLeavesTheRollbackInDoubt() async throws {
        let world = try StubWorld()
        let original = try await Self.original(world)
        let (result, _, _) = try await Self.rollback(world, original, [
            StubTransport.noAnswer(.DELETE, maybeSent: true), Self.noContent(),
        ])
        #expect(result.results.map(\.status) == [.rollbackFailed, .rolledBack])
        #expect(result.results[0].message.hasPrefix("no answer (it may have landed; run rollback again to check): "))
        let steps = try world.store.ledger.steps(runID: result.rollbackRunID)
        #expect(steps.map(\.statusName) == ["unknown", "committed"])
        #expect(steps[0].errorMessage?.contains("OUTCOME UNKNOWN") == true)
        #expect(try world.store.run(result.rollbackRunID).state == .inDoubt)
        #expect(result.originalState == .completed)
    }

    /// An item skipped by decision (its write's outcome is unknown) and the other compensation
    /// failed: nothing was undone, so the rollback is `failed`, not partial.
    @Test func aSkipAndAFailureIsAFailedRollback() async throws {
        let world = try StubWorld()
        let original = try await Self.original(world, second: StubTransport.noAnswer(.POST, maybeSent: true))
        #expect(original.state == .inDoubt)
        let (result, stub, plan) = try await Self.rollback(world, original, [
            StubTransport.json(500, #"{"error":{"code":"Internal_ServerError","message":"boom"}}"#),
        ])
        #expect(plan.items.count == 2)
        #expect(stub.requests.count == 1)
        #expect(result.results.map(\.status) == [.rollbackSkipped, .rollbackFailed])
        let steps = try world.store.ledger.steps(runID: result.rollbackRunID)
        #expect(steps.map(\.statusName) == ["skipped", "failed"])
        #expect(try world.store.run(result.rollbackRunID).state == .failed)
    }
}
