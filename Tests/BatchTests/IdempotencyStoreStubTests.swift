import BusinessCentral
import Foundation
import Hashing
import Store
import Testing
import TestSupport

@testable import Batch

/// Idempotency replay across runs (`idempotency: store`; docs/ledger.md, "Idempotency replay"),
/// against a stub transport: a keyed write whose key an earlier batch or resume run committed is
/// not sent, reads `replayed`, names the original (a step of another run) and carries its outputs.
@Suite struct IdempotencyStoreStubTests {
    typealias R = BatchRunnerStubTests
    static let alpine = BatchRunnerStubTests.alpine
    static let coho = BatchRunnerStubTests.coho

    /// A keyed POST whose output feeds a GET.
    static func manifest(_ idempotency: String?, key: String = "k-1", endpoint: String = "customers") -> String {
        (idempotency.map { "idempotency: \($0)\n" } ?? "") + """
            name: cross
            steps:
              - name: c1
                action: post
                endpoint: \(endpoint)
                data: {displayName: Cross Co}
                idempotency_key: \(key)
              - name: read
                endpoint: \(endpoint)
                id: ${{ steps.c1.id }}
            """
    }

    static func created(_ id: String = alpine) -> StubTransport.Reply {
        StubTransport.json(201, #"{"id":"\#(id)","number":"C1","displayName":"Cross Co"}"#, etag: "W/\"1\"")
    }

    static func read(_ id: String = alpine) -> StubTransport.Reply { StubTransport.json(200, #"{"id":"\#(id)"}"#) }

    // MARK: - The manifest key

    @Test func theKeyIsRunByDefaultAndStoreWhenAskedFor() throws {
        let dir = TempDir("bcli-idem")
        func parse(_ yaml: String) throws -> Manifest {
            try ManifestLoader.parse(bytes: Array(yaml.utf8), path: dir.path + "/m.yaml")
        }
        #expect(try parse(Self.manifest(nil)).idempotency == .run)
        #expect(try parse(Self.manifest("run")).idempotency == .run)
        #expect(try parse(Self.manifest("store")).idempotency == .store)

        let typo = #expect(throws: ManifestError.self) { try parse(Self.manifest("stor")) }
        let diagnostic = try #require(typo?.diagnostics.first)
        #expect(diagnostic.message == "unknown idempotency 'stor' (did you mean 'store'?)")
        #expect(diagnostic.location.line == 1)
        #expect(diagnostic.fix.contains("idempotency: store"))

        let list = #expect(throws: ManifestError.self) { try parse(Self.manifest("[store]")) }
        #expect(list?.diagnostics.first?.message.hasPrefix("'idempotency' must be a string") == true)

        let misspelt = #expect(throws: ManifestError.self) { try parse(Self.manifest(nil).replacingOccurrences(of: "name: cross", with: "idempotence: store\nname: cross")) }
        #expect(misspelt?.diagnostics.first?.message == "unknown top-level key 'idempotence' (did you mean 'idempotency'?)")
    }

    // MARK: - Across runs

    @Test func aKeyCommittedByAnEarlierRunIsReplayedWithItsOutputs() async throws {
        let world = try StubWorld()
        let first = StubTransport([Self.created(), Self.read()])
        let a = try await R.run(Self.manifest("store"), first, in: world)
        #expect(a.steps.map(\.status) == [.committed, .committed])

        let second = StubTransport([Self.read()])
        let b = try await R.run(Self.manifest("store"), second, in: world)
        // Only the GET left, built from the replayed step's output (the first run's response).
        #expect(second.requests.map(\.method.rawValue) == ["GET"])
        #expect(second.requests.first?.url == "\(R.company)/customers(\(Self.alpine))")

        #expect(b.steps.map(\.status) == [.replayed, .committed])
        let original = a.steps[0], replayed = b.steps[0]
        #expect(replayed.runID == b.summary.runID && replayed.targetStepID == original.id)
        #expect(replayed.recordID == Self.alpine && replayed.responseDigest == original.responseDigest)
        #expect(replayed.requestDigest == nil && replayed.httpStatus == nil && replayed.rollbackURL == nil)
        #expect(replayed.errorMessage
                == "replayed: idempotency_key 'k-1' was committed by step 1 (c1) of run \(a.summary.runID); not sent again")
        #expect(b.observer.reports[0].status == .replayed && b.observer.reports[0].label == "C1")
        #expect(b.summary.state == .completed && RunVerdict(b.summary) == .ok)

        // The replayed row names a step of another run, and is no compensation of it: rolling back
        // the first run still plans its POST, and rolling back the second plans nothing for the
        // replayed step (the first run owns the write).
        #expect(try world.store.ledger.compensations(ofRun: a.summary.runID).isEmpty)
        let planA = RollbackPlanner.plan(runID: a.summary.runID, steps: a.steps, compensations: [], recreateDeleted: false,
                                         blob: { try world.store.objects.get($0) }, rebase: { $0 })
        #expect(planA.items.map(\.step.seq) == [1])
        let planB = RollbackPlanner.plan(runID: b.summary.runID, steps: b.steps, compensations: [], recreateDeleted: false,
                                         blob: { try world.store.objects.get($0) }, rebase: { $0 })
        #expect(planB.items.isEmpty)

        // A third run replays the original again, not the replay.
        let third = StubTransport([Self.read()])
        let c = try await R.run(Self.manifest("store"), third, in: world)
        #expect(c.steps.map(\.status) == [.replayed, .committed])
        #expect(c.steps[0].targetStepID == original.id)
    }

    @Test func withoutTheKeyASecondRunSendsAgain() async throws {
        let world = try StubWorld()
        _ = try await R.run(Self.manifest("store"), StubTransport([Self.created(), Self.read()]), in: world)
        for manifest in [Self.manifest(nil), Self.manifest("run")] {
            let stub = StubTransport([Self.created(Self.coho), Self.read(Self.coho)])
            let r = try await R.run(manifest, stub, in: world)
            #expect(stub.requests.map(\.method.rawValue) == ["POST", "GET"])
            #expect(r.steps.map(\.status) == [.committed, .committed])
        }
    }

    @Test func aStoreRunReplaysTheNewestCommittedWrite() async throws {
        let world = try StubWorld()
        _ = try await R.run(Self.manifest(nil), StubTransport([Self.created(), Self.read()]), in: world)
        let newer = try await R.run(Self.manifest(nil), StubTransport([Self.created(Self.coho), Self.read(Self.coho)]), in: world)
        let stub = StubTransport([Self.read(Self.coho)])
        let r = try await R.run(Self.manifest("store"), stub, in: world)
        #expect(r.steps[0].status == .replayed && r.steps[0].targetStepID == newer.steps[0].id)
        #expect(stub.requests.first?.url == "\(R.company)/customers(\(Self.coho))")
    }

    @Test func anOriginalWithAnotherURLIsRefusedWithTheFix() async throws {
        let world = try StubWorld()
        let a = try await R.run(Self.manifest("store"), StubTransport([Self.created(), Self.read()]), in: world)
        let stub = StubTransport([])
        let r = try await R.run(Self.manifest("store", endpoint: "vendors"), stub, in: world)
        #expect(stub.requests.isEmpty)
        #expect(r.steps.map(\.status) == [.skipped, .skipped])
        #expect(r.steps[0].errorMessage == "not sent: idempotency_key 'k-1' was committed by step 1 (c1) of run \(a.summary.runID) for POST \(R.company)/customers, not for this POST \(R.company)/vendors; give each write its own key")
    }

    @Test func anOriginalWhoseOutcomeIsUnknownAsksForReconcile() async throws {
        let world = try StubWorld()
        let a = try await R.run(Self.manifest("store"),
                                StubTransport([StubTransport.noAnswer(.POST, url: R.company + "/customers", maybeSent: true)]), in: world)
        #expect(a.steps[0].status == nil)
        let stub = StubTransport([])
        let r = try await R.run(Self.manifest("store"), stub, in: world)
        #expect(stub.requests.isEmpty)
        #expect(r.steps.map(\.status) == [.skipped, .skipped])
        #expect(r.steps[0].errorMessage == "not sent: idempotency_key 'k-1' was sent by step 1 (c1) of run \(a.summary.runID), whose outcome is unknown (it may have landed); run bcli batch reconcile \(a.summary.runID) (or check Business Central for client-request-id \(a.steps[0].clientRequestID)) before sending this write again")
        #expect(RunVerdict(r.summary) == .stepsFailed)

        // Reconciled: landed → replayed, its outputs the record reconcile found; not landed → sent.
        var reconcile = NewRun(toolVersion: "test")
        reconcile.kind = .reconcile
        reconcile.parentRunID = a.summary.runID
        try world.store.ledger.startRun(reconcile)
        var found = NewReconciliation(reconcileRunID: reconcile.id, targetStepID: a.steps[0].id, decision: .applied,
                                      rule: "post.one-match", detail: "one record matched")
        found.recordID = Self.coho
        found.record = try world.store.put(Array(#"{"id":"\#(Self.coho)","number":"C9","displayName":"Cross Co"}"#.utf8),
                                           mediaType: "application/json")
        try world.store.ledger.writeReconciliation(found)
        let stub2 = StubTransport([Self.read(Self.coho)])
        let landed = try await R.run(Self.manifest("store"), stub2, in: world)
        #expect(landed.steps.map(\.status) == [.replayed, .committed])
        #expect(landed.steps[0].targetStepID == a.steps[0].id && landed.steps[0].recordID == Self.coho)
        #expect(landed.steps[0].responseDigest == found.record?.digest)
        #expect(landed.steps[0].errorMessage?.contains("(batch reconcile found it landed); not sent again") == true)
        #expect(stub2.requests.map(\.url) == ["\(R.company)/customers(\(Self.coho))"])
        #expect(landed.observer.reports[0].label == "C9")

        let world2 = try StubWorld()
        let a2 = try await R.run(Self.manifest("store"),
                                 StubTransport([StubTransport.noAnswer(.POST, url: R.company + "/customers", maybeSent: true)]), in: world2)
        try world2.store.ledger.setStepStatus(stepID: a2.steps[0].id, .reconciledNotApplied)
        let resent = StubTransport([Self.created(), Self.read()])
        let r2 = try await R.run(Self.manifest("store"), resent, in: world2)
        #expect(resent.requests.map(\.method.rawValue) == ["POST", "GET"])
        #expect(r2.steps.map(\.status) == [.committed, .committed])
    }

    @Test func anOriginalThatFailedIsSentAgain() async throws {
        let world = try StubWorld()
        _ = try await R.run(Self.manifest("store"),
                            StubTransport([StubTransport.json(400, #"{"error":{"code":"BadRequest","message":"no"}}"#)]), in: world)
        let stub = StubTransport([Self.created(), Self.read()])
        let r = try await R.run(Self.manifest("store"), stub, in: world)
        #expect(stub.requests.map(\.method.rawValue) == ["POST", "GET"])
        #expect(r.steps.map(\.status) == [.committed, .committed])
    }

    @Test func anOriginalRolledBackIsSentAgainAndTheNewWriteIsTheOneReplayed() async throws {
        let world = try StubWorld()
        let a = try await R.run(Self.manifest("store"), StubTransport([Self.created(), Self.read()]), in: world)
        let b = try await R.run(Self.manifest("store"), StubTransport([Self.read()]), in: world)
        #expect(b.steps[0].status == .replayed)
        try world.store.ledger.setStepStatus(stepID: a.steps[0].id, .rolledBack)

        // The record is gone: the write is sent again (the earlier replay is no original).
        let stub = StubTransport([Self.created(Self.coho), Self.read(Self.coho)])
        let c = try await R.run(Self.manifest("store"), stub, in: world)
        #expect(stub.requests.map(\.method.rawValue) == ["POST", "GET"])
        #expect(c.steps.map(\.status) == [.committed, .committed])

        let d = try await R.run(Self.manifest("store"), StubTransport([Self.read(Self.coho)]), in: world)
        #expect(d.steps[0].status == .replayed && d.steps[0].targetStepID == c.steps[0].id)
    }

    @Test func anOriginalWhoseRollbackDidNotFinishIsRefused() async throws {
        let world = try StubWorld()
        let a = try await R.run(Self.manifest("store"), StubTransport([Self.created(), Self.read()]), in: world)
        try world.store.ledger.setStepStatus(stepID: a.steps[0].id, .rollbackFailed)
        let stub = StubTransport([])
        let r = try await R.run(Self.manifest("store"), stub, in: world)
        #expect(stub.requests.isEmpty)
        #expect(r.steps[0].status == .skipped)
        #expect(r.steps[0].errorMessage?.contains("whose rollback did not finish (rollback_failed") == true)
        #expect(r.steps[0].errorMessage?.contains("bcli batch rollback \(a.summary.runID) again") == true)

        // A rollback that left the write in place (rollback_skipped): the write stands, replayed.
        try world.store.ledger.setStepStatus(stepID: a.steps[0].id, .rollbackSkipped)
        let s = try await R.run(Self.manifest("store"), StubTransport([Self.read()]), in: world)
        #expect(s.steps[0].status == .replayed && s.steps[0].targetStepID == a.steps[0].id)
    }

    @Test func onlyBatchAndResumeRunsAreOriginals() async throws {
        let world = try StubWorld()
        // A committed keyed POST in a run of each other kind.
        for kind in [RunKind.rollback, .reconcile, .imported] {
            var run = NewRun(toolVersion: "test")
            run.kind = kind
            try world.store.ledger.startRun(run)
            var intent = StepIntent(runID: run.id, seq: 1, name: "c1", method: .http(.post), url: "\(R.company)/customers")
            intent.idempotencyKey = "k-1"
            let id = try world.store.ledger.writeIntent(intent)
            var outcome = StepOutcome(status: .committed)
            outcome.httpStatus = 201
            try world.store.ledger.writeOutcome(stepID: id, outcome)
        }
        #expect(try world.store.ledger.keyedWrites(key: "k-1").isEmpty)
        let stub = StubTransport([Self.created(), Self.read()])
        let r = try await R.run(Self.manifest("store"), stub, in: world)
        #expect(stub.requests.map(\.method.rawValue) == ["POST", "GET"])

        // A resume run's committed write is one.
        var resume = NewRun(toolVersion: "test")
        resume.kind = .resume
        resume.parentRunID = r.summary.runID
        try world.store.ledger.startRun(resume)
        var intent = StepIntent(runID: resume.id, seq: 1, name: "c1", method: .http(.post), url: "\(R.company)/customers")
        intent.idempotencyKey = "k-2"
        let resumed = try world.store.ledger.writeIntent(intent)
        try world.store.ledger.writeOutcome(stepID: resumed, StepOutcome(status: .committed))
        #expect(try world.store.ledger.keyedWrites(key: "k-2").map(\.id) == [resumed])

        // Replayed and skipped rows sent nothing: never originals, never listed.
        let again = try await R.run(Self.manifest("store"), StubTransport([Self.read()]), in: world)
        #expect(again.steps[0].status == .replayed)
        #expect(try world.store.ledger.keyedWrites(key: "k-1").map(\.id) == [r.steps[0].id])
        #expect(try world.store.ledger.keyedWrites(key: "k-1", family: again.summary.runID).isEmpty)
        #expect(try world.store.ledger.keyedWrites(key: "k-2", family: r.summary.runID).map(\.id) == [resumed])
        #expect(try world.store.ledger.keyedWrites(key: "k-2", family: again.summary.runID).isEmpty)
    }

    @Test func compensationsComeFromRollbackRunsOnly() async throws {
        let world = try StubWorld()
        let a = try await R.run(Self.manifest("store"), StubTransport([Self.created(), Self.read()]), in: world)
        // A reconcile run's GET aimed at the original step, and a rollback's DELETE.
        for kind in [RunKind.reconcile, .rollback] {
            var run = NewRun(toolVersion: "test")
            run.kind = kind
            run.parentRunID = a.summary.runID
            try world.store.ledger.startRun(run)
            var intent = StepIntent(runID: run.id, seq: 1, name: "\(kind.rawValue)_c1", method: .http(kind == .rollback ? .delete : .get),
                                    url: "\(R.company)/customers(\(Self.alpine))")
            intent.targetStepID = a.steps[0].id
            let id = try world.store.ledger.writeIntent(intent)
            try world.store.ledger.writeOutcome(stepID: id, StepOutcome(status: .committed))
        }
        _ = try await R.run(Self.manifest("store"), StubTransport([Self.read()]), in: world)
        #expect(try world.store.ledger.compensations(ofRun: a.summary.runID).map(\.name) == ["rollback_c1"])
    }
    // MARK: - A resume run

    @Test func aResumeRunReplaysAKeyItsOriginalRunCommittedWithoutTheStoreKey() async throws {
        let world = try StubWorld()
        let yaml = """
            name: family
            steps:
              - {name: a, action: post, endpoint: customers, data: {displayName: A}, idempotency_key: k-fam}
              - {name: b, action: post, endpoint: vendors, data: {displayName: B}}
              - {name: a_again, action: post, endpoint: customers, data: {displayName: A}, idempotency_key: k-fam}
            """
        // The original run committed step 1 and stopped before step 2.
        var original = NewRun(toolVersion: "test")
        original.stepCount = 3
        try world.store.ledger.startRun(original)
        var intent = StepIntent(runID: original.id, seq: 1, name: "a", method: .http(.post), url: "\(R.company)/customers")
        intent.idempotencyKey = "k-fam"
        let first = try world.store.ledger.writeIntent(intent)
        var outcome = StepOutcome(status: .committed)
        outcome.recordID = Self.alpine
        outcome.response = try world.store.put(Array(#"{"id":"\#(Self.alpine)"}"#.utf8), mediaType: "application/json")
        try world.store.ledger.writeOutcome(stepID: first, outcome)

        let bytes = Array(yaml.utf8)
        let (manifest, params) = try ManifestLoader.prepare(bytes: bytes, path: world.dir.path + "/m.yaml", paramsFile: nil, sets: [])
        #expect(manifest.idempotency == .run)
        let plan = ResumePlan(rootRunID: original.id, done: [1], outputs: ["a": .object(["id": .string(Self.alpine)])],
                              owed: Array(manifest.steps.dropFirst()), family: [original.id])
        let stub = StubTransport([StubTransport.json(201, #"{"id":"\#(Self.coho)"}"#)])
        let summary = try await BatchRunner(store: world.store, client: stub, profile: StubWorld.profile)
            .run(manifest: manifest, manifestBlob: try world.store.put(bytes, mediaType: "application/yaml"), params: params,
                 observer: R.Observer(), cancellation: CancellationFlag(), resume: plan)
        // Only step 2 left: step 3's key was committed by the original run (the same family).
        #expect(stub.requests.map(\.url) == ["\(R.company)/vendors"])
        let steps = try world.store.ledger.steps(runID: summary.runID)
        #expect(steps.map(\.seq) == [2, 3])
        #expect(steps.map(\.status) == [.committed, .replayed])
        #expect(steps[1].targetStepID == first)
        #expect(steps[1].errorMessage == "replayed: idempotency_key 'k-fam' was committed by step 1 (a) of run \(original.id); not sent again")
    }
}
