import BusinessCentral
import Foundation
import Hashing
import Store
import Testing
import TestSupport

@testable import Batch

/// `BatchRunner` against a stub transport and a real store: what each step records, fail-fast,
/// a skipped step whose reference cannot resolve, and a POST's id feeding a later step.
@Suite struct BatchRunnerStubTests {
    static let company = "https://bc.example/v2.0/t/production/api/v2.0/companies(c-1)"
    static let alpine = "0f0e0d0c-0000-0000-0000-00000000000a"
    static let coho = "0f0e0d0c-0000-0000-0000-00000000000b"

    /// Collects what the runner reports.
    final class Observer: RunObserver, @unchecked Sendable {
        private let lock = NSLock()
        private var _reports: [StepReport] = []
        private var _started: (String, Int)?
        var reports: [StepReport] { lock.withLock { _reports } }
        var started: (String, Int)? { lock.withLock { _started } }
        func runStarted(runID: String, steps: Int) { lock.withLock { _started = (runID, steps) } }
        func stepFinished(_ report: StepReport) { lock.withLock { _reports.append(report) } }
    }

    struct Outcome {
        let summary: RunSummary
        let observer: Observer
        let steps: [StepRecord]
        let run: RunRecord
    }

    static func run(_ yaml: String, _ stub: StubTransport, in world: StubWorld, failFast: Bool = false) async throws -> Outcome {
        let bytes = Array(yaml.utf8)
        let (manifest, params) = try ManifestLoader.prepare(bytes: bytes, path: world.dir.path + "/m.yaml", paramsFile: nil, sets: [])
        let blob = try world.store.put(bytes, mediaType: "application/yaml")
        var options = BatchRunner.Options()
        options.failFast = failFast
        let observer = Observer()
        let summary = try await BatchRunner(store: world.store, client: stub, profile: StubWorld.profile, options: options)
            .run(manifest: manifest, manifestBlob: blob, params: params, observer: observer, cancellation: CancellationFlag())
        return Outcome(summary: summary, observer: observer, steps: try world.store.ledger.steps(runID: summary.runID),
                       run: try world.store.run(summary.runID))
    }

    static let threePosts = """
        name: three
        steps:
          - name: a
            action: post
            endpoint: customers
            data: {displayName: A}
          - name: b
            action: post
            endpoint: customers
            data: {displayName: B}
          - name: c
            action: post
            endpoint: customers
            data: {displayName: C}
        """

    @Test func everyStepCommittedIsACompletedRunWithItsRecord() async throws {
        let world = try StubWorld()
        let stub = StubTransport([
            StubTransport.json(201, #"{"id":"\#(Self.alpine)","number":"C1"}"#, etag: "W/\"a\""),
            StubTransport.json(201, #"{"id":"\#(Self.coho)","number":"C2"}"#, etag: "W/\"b\""),
            StubTransport.json(201, #"{"id":"0f0e0d0c-0000-0000-0000-00000000000c","displayName":"C"}"#),
        ])
        let r = try await Self.run(Self.threePosts, stub, in: world)
        #expect(r.summary.state == .completed)
        #expect(r.run.state == .completed)
        #expect(r.run.stepCount == 3)
        #expect(r.run.profile == "stub")
        #expect(r.run.company == "c-1")
        #expect(r.run.baseURL == "https://bc.example")
        #expect(r.summary.recordDigest != nil && r.summary.recordDigest == r.run.recordDigest)
        #expect((r.summary.committed, r.summary.failed, r.summary.skipped, r.summary.unknown) == (3, 0, 0, 0))
        #expect(r.observer.started?.0 == r.summary.runID)
        #expect(r.observer.started?.1 == 3)
        #expect(r.observer.reports.map(\.statusName) == ["committed", "committed", "committed"])
        #expect(r.observer.reports.map(\.label) == ["C1", "C2", "C"])
        #expect(r.steps.map(\.statusName) == ["committed", "committed", "committed"])
        #expect(r.steps.map(\.recordID) == [Self.alpine, Self.coho, "0f0e0d0c-0000-0000-0000-00000000000c"])
        #expect(r.steps.map(\.rollbackURL) == [
            Self.company + "/customers(\(Self.alpine))", Self.company + "/customers(\(Self.coho))",
            Self.company + "/customers(0f0e0d0c-0000-0000-0000-00000000000c)",
        ])
        // Each stored request is the canonical body the transport saw, in step order.
        let sent = stub.requests
        #expect(sent.map(\.url) == Array(repeating: Self.company + "/customers", count: 3))
        #expect(sent.map { $0.body.map { String(decoding: $0, as: UTF8.self) } } == [
            #"{"displayName":"A"}"#, #"{"displayName":"B"}"#, #"{"displayName":"C"}"#,
        ])
        for (step, request) in zip(r.steps, sent) {
            #expect(try world.blob(step.requestDigest) == request.body)
            #expect(step.clientRequestID == request.clientRequestID)
        }
        #expect(try StoreVerifier.verifyRun(r.summary.runID, in: world.store).isOK)
    }

    @Test func failFastStopsAtTheFirstStepThatDidNotCommit() async throws {
        let world = try StubWorld()
        let stub = StubTransport([
            StubTransport.json(201, #"{"id":"\#(Self.alpine)"}"#),
            StubTransport.json(400, #"{"error":{"code":"Internal_FieldMissing","message":"no name"}}"#),
            StubTransport.json(201, #"{"id":"\#(Self.coho)"}"#),
        ])
        let r = try await Self.run(Self.threePosts, stub, in: world, failFast: true)
        #expect(stub.requests.count == 2)
        #expect(r.observer.reports.map(\.statusName) == ["committed", "failed"])
        #expect(r.observer.reports[1].httpStatus == 400)
        #expect(r.observer.reports[1].bcErrorCode == "Internal_FieldMissing")
        #expect(r.steps.map(\.statusName) == ["committed", "failed"])
        #expect(r.steps[1].errorMessage == "Internal_FieldMissing: no name")
        #expect((r.summary.committed, r.summary.failed, r.summary.total) == (1, 1, 3))
        #expect(r.summary.state == .partiallyCommitted)
        #expect(r.run.state == .partiallyCommitted)
    }

    @Test func withoutFailFastTheRunGoesOn() async throws {
        let world = try StubWorld()
        let stub = StubTransport([
            StubTransport.json(201, #"{"id":"\#(Self.alpine)"}"#),
            StubTransport.json(400, #"{"error":{"code":"Internal_FieldMissing","message":"no name"}}"#),
            StubTransport.json(201, #"{"id":"\#(Self.coho)"}"#),
        ])
        let r = try await Self.run(Self.threePosts, stub, in: world)
        #expect(stub.requests.count == 3)
        #expect(r.steps.map(\.statusName) == ["committed", "failed", "committed"])
        #expect(r.run.state == .partiallyCommitted)
    }

    static let createThenRead = """
        name: chained
        steps:
          - name: create
            action: post
            endpoint: customers
            data: {displayName: Alpine}
          - name: read
            action: get
            endpoint: customers
            id: ${{ steps.create.id }}
        """

    @Test func aStepWhoseReferenceCannotResolveIsSkippedAndNothingIsSent() async throws {
        let world = try StubWorld()
        let stub = StubTransport([StubTransport.json(400, #"{"error":{"code":"BadRequest","message":"no"}}"#)])
        let r = try await Self.run(Self.createThenRead, stub, in: world)
        #expect(stub.requests.count == 1)
        #expect(r.steps.map(\.statusName) == ["failed", "skipped"])
        let skipped = r.steps[1]
        #expect(skipped.errorMessage == "cannot resolve id ${{ steps.create.id }}: step 'create' has no output (it failed, was skipped, or has not run)")
        #expect(skipped.requestDigest == nil && skipped.requestHeadersDigest == nil)
        #expect(skipped.outcomeAt != nil)
        #expect(r.observer.reports[1].status == .skipped)
        #expect(r.observer.reports[1].message == skipped.errorMessage)
        #expect(r.summary.skipped == 1)
        #expect(r.summary.state == .failed)  // nothing landed
        #expect(r.run.state == .failed)
    }

    @Test func aPOSTsIdFeedsALaterStepsURL() async throws {
        let world = try StubWorld()
        let stub = StubTransport([
            StubTransport.json(201, #"{"id":"\#(Self.alpine)","number":"C1"}"#),
            StubTransport.json(200, #"{"id":"\#(Self.alpine)","displayName":"Alpine"}"#),
        ])
        let r = try await Self.run(Self.createThenRead, stub, in: world)
        #expect(stub.requests.map(\.url) == [Self.company + "/customers", Self.company + "/customers(\(Self.alpine))"])
        #expect(stub.requests.map(\.method.rawValue) == ["POST", "GET"])
        #expect(r.steps.map(\.url) == stub.requests.map(\.url))
        #expect(r.steps.map(\.statusName) == ["committed", "committed"])
        #expect(r.steps[1].recordID == Self.alpine)
        #expect(r.run.state == .completed)
    }

    /// A PATCH by a POST's id: the pre-image GET (unrecorded as a step, stored as a blob), then
    /// the PATCH with the pre-image's ETag.
    @Test func aPatchByAPOSTsIdSendsThePreImagesETag() async throws {
        let world = try StubWorld()
        let preImage = #"{"@odata.etag":"W/\"7\"","id":"\#(Self.alpine)","email":"old@x.example"}"#
        let stub = StubTransport([
            StubTransport.json(201, #"{"id":"\#(Self.alpine)"}"#),
            StubTransport.json(200, preImage),
            StubTransport.json(200, #"{"id":"\#(Self.alpine)","email":"new@x.example"}"#, etag: "W/\"8\""),
        ])
        let r = try await Self.run("""
            name: patch
            steps:
              - name: create
                action: post
                endpoint: customers
                data: {displayName: Alpine}
              - name: update
                action: patch
                endpoint: customers
                id: ${{ steps.create.id }}
                data: {email: new@x.example}
            """, stub, in: world)
        let record = Self.company + "/customers(\(Self.alpine))"
        #expect(stub.requests.map(\.method.rawValue) == ["POST", "GET", "PATCH"])
        #expect(stub.requests.map(\.url) == [Self.company + "/customers", record, record])
        #expect(stub.requests[2].ifMatch == "W/\"7\"")
        #expect(r.steps.count == 2)
        let patch = r.steps[1]
        #expect(patch.ifMatch == "W/\"7\"")
        #expect(try world.blob(patch.preImageDigest) == Array(preImage.utf8))
        #expect(try world.blob(patch.requestDigest) == Array(#"{"email":"new@x.example"}"#.utf8))
        #expect(patch.etag == "W/\"8\"")
        #expect(patch.status == .committed)
        #expect(r.run.state == .completed)
    }

    @Test func aWriteWithNoAnswerLeavesTheRunInDoubt() async throws {
        let world = try StubWorld()
        let stub = StubTransport([
            StubTransport.json(201, #"{"id":"\#(Self.alpine)"}"#),
            StubTransport.noAnswer(.POST, url: Self.company + "/customers", maybeSent: true),
            StubTransport.json(201, #"{"id":"\#(Self.coho)"}"#),
        ])
        let r = try await Self.run(Self.threePosts, stub, in: world, failFast: true)
        #expect(stub.requests.count == 2)
        #expect(r.observer.reports.map(\.statusName) == ["committed", "unknown"])
        #expect(r.steps.map(\.statusName) == ["committed", "unknown"])
        #expect(r.steps[1].outcomeAt == nil)
        #expect(r.steps[1].errorMessage?.contains("OUTCOME UNKNOWN") == true)
        #expect(r.summary.unknown == 1)
        #expect(r.summary.state == .inDoubt)
        #expect(r.run.state == .inDoubt)
    }
}

/// `stepStarted` comes once the intent row is committed and before the request leaves: the
/// observer has seen it (with the row's id, client-request-id and `intent_at`) while the stub
/// is being called, before the answer and before `stepFinished`.
@Suite struct BatchRunnerStepStartedTests {
    final class Log: RunObserver, @unchecked Sendable {
        private let lock = NSLock()
        private var _events: [String] = []
        private var _starts: [StepStart] = []
        var events: [String] { lock.withLock { _events } }
        var starts: [StepStart] { lock.withLock { _starts } }
        func add(_ event: String) { lock.withLock { _events.append(event) } }
        func runStarted(runID: String, steps: Int) {}
        func stepStarted(_ start: StepStart) {
            lock.withLock { _starts.append(start) }
            add("started \(start.seq)")
        }
        func stepFinished(_ report: StepReport) { add("finished \(report.seq)") }
    }

    @Test func stepStartedComesAfterTheIntentAndBeforeTheSend() async throws {
        let world = try StubWorld()
        let log = Log()
        let stub = StubTransport([
            StubTransport.json(201, #"{"id":"\#(BatchRunnerStubTests.alpine)","number":"C1"}"#),
            StubTransport.json(201, #"{"id":"\#(BatchRunnerStubTests.coho)","number":"C2"}"#),
            StubTransport.json(201, #"{"id":"0f0e0d0c-0000-0000-0000-00000000000c"}"#),
        ], onSend: { request in log.add("send \(request.clientRequestID ?? "")") })
        let bytes = Array(BatchRunnerStubTests.threePosts.utf8)
        let (manifest, params) = try ManifestLoader.prepare(bytes: bytes, path: world.dir.path + "/m.yaml", paramsFile: nil, sets: [])
        let blob = try world.store.put(bytes, mediaType: "application/yaml")
        let summary = try await BatchRunner(store: world.store, client: stub, profile: StubWorld.profile)
            .run(manifest: manifest, manifestBlob: blob, params: params, observer: log, cancellation: CancellationFlag())
        let starts = log.starts
        #expect(starts.map(\.seq) == [1, 2, 3])
        #expect(log.events == [1, 2, 3].flatMap { seq in
            ["started \(seq)", "send \(starts.first { $0.seq == seq }?.clientRequestID ?? "?")", "finished \(seq)"]
        })
        let rows = try world.store.ledger.steps(runID: summary.runID)
        for start in starts {
            let row = try #require(rows.first { $0.id == start.stepID })
            #expect(row.seq == start.seq && row.clientRequestID == start.clientRequestID && row.intentAt == start.intentAt)
            #expect(start.method == .http(.post) && start.endpoint == "customers" && start.url.hasSuffix("/customers") && !start.replayed)
        }
    }
}
