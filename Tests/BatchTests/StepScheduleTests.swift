@testable import Batch
import Hashing
import Testing

/// The concurrency rule on its own: which step may start while others are in flight
/// (`StepSchedule`, `StepAccess`). End-to-end proof against the sandbox is in ConcurrencyTests.
@Suite struct StepScheduleTests {
    static func manifest(_ steps: String) throws -> Manifest {
        try ManifestLoader.parse(bytes: Array(("steps:\n" + steps).utf8), path: "m.yaml")
    }

    /// Starts every step `next` hands out (never finishing any) and returns their names.
    static func startable(_ m: Manifest, concurrency: Int = 5, outputs: [String: JSONValue] = [:]) -> [String] {
        var schedule = StepSchedule(steps: m.steps, all: m.steps, params: ParamSet(values: [:]), concurrency: concurrency)
        var names: [String] = []
        while let p = schedule.next(outputs: outputs) {
            names.append(m.steps[p].name)
            if case .success(let step) = ReferenceResolver.resolve(m.steps[p], params: ParamSet(values: [:]), outputs: outputs) {
                schedule.started(p, access: StepAccess(step))
            } else {
                schedule.started(p, access: .none)
            }
        }
        return names
    }

    @Test func independentPostsAllStart() throws {
        let m = try Self.manifest((1...7).map { "  - {name: c\($0), action: post, endpoint: customers, data: {displayName: x}}\n" }.joined())
        #expect(Self.startable(m) == ["c1", "c2", "c3", "c4", "c5", "c6", "c7"], "independent creates never wait for each other")
    }

    @Test func aReferenceWaitsButLaterIndependentStepsGoAround() throws {
        let m = try Self.manifest("""
              - {name: c1, action: post, endpoint: customers, data: {displayName: x}}
              - {name: p1, action: patch, endpoint: customers, id: "${{ steps.c1.id }}", data: {displayName: y}}
              - {name: c2, action: post, endpoint: customers, data: {displayName: z}}
              - {name: p2, action: patch, endpoint: customers, id: "${{ steps.c2.id }}", data: {displayName: y}}
              - {name: v, action: get, endpoint: vendors}
            """)
        // p2 waits for c2 (its reference), not for p1: the records c1 and c2 create differ.
        #expect(Self.startable(m) == ["c1", "c2", "v"])
    }

    @Test func sameRecordWritesAndListingsWait() throws {
        let id = "00000000-0000-0000-0000-000000000001"
        let m = try Self.manifest("""
              - {name: p1, action: patch, endpoint: customers, id: "\(id)", data: {displayName: a}}
              - {name: p2, action: patch, endpoint: customers, id: "\(id.uppercased())", data: {displayName: b}}
              - {name: other, action: patch, endpoint: customers, id: "00000000-0000-0000-0000-000000000002", data: {displayName: c}}
              - {name: list, action: get, endpoint: customers}
              - {name: items, action: get, endpoint: items}
            """)
        // p2: same record (keys compare case-insensitively); list: a listing after writes to its set.
        #expect(Self.startable(m) == ["p1", "other", "items"])
    }

    @Test func aLineWritesItsDocument() throws {
        let order = "00000000-0000-0000-0000-0000000000aa"
        let m = try Self.manifest("""
              - {name: line, action: post, endpoint: "salesOrders(\(order))/salesOrderLines", data: {lineType: Item}}
              - {name: header, action: patch, endpoint: salesOrders, id: "\(order)", data: {externalDocumentNumber: X}}
              - {name: other, action: post, endpoint: "salesOrders(00000000-0000-0000-0000-0000000000bb)/salesOrderLines", data: {lineType: Item}}
            """)
        #expect(Self.startable(m) == ["line", "other"])
    }

    @Test func afterAndSameIdempotencyKeyWait() throws {
        let m = try Self.manifest("""
              - {name: a, action: post, endpoint: customers, data: {displayName: x}, idempotency_key: k1}
              - {name: b, action: post, endpoint: vendors, data: {displayName: x}, idempotency_key: k1}
              - {name: c, action: get, endpoint: items, after: [a]}
              - {name: d, action: get, endpoint: items}
            """)
        #expect(Self.startable(m) == ["a", "d"])
    }

    @Test func finishingOneByOneIsManifestOrder() throws {
        let m = try Self.manifest((1...3).map { "  - {name: c\($0), action: post, endpoint: customers, data: {displayName: x}}\n" }.joined())
        var schedule = StepSchedule(steps: m.steps, all: m.steps, params: ParamSet(values: [:]), concurrency: 1)
        var order: [Int] = []
        while let p = schedule.next(outputs: [:]) {
            order.append(p)
            schedule.started(p, access: .none)
            schedule.finished(p)
        }
        #expect(order == [0, 1, 2])
    }

    @Test func outputsNoLaterStepReadsAreDropped() throws {
        let m = try Self.manifest("""
              - {name: c1, action: post, endpoint: customers, data: {displayName: x}}
              - {name: c2, action: post, endpoint: customers, data: {displayName: y}}
              - {name: p1, action: patch, endpoint: customers, id: "${{ steps.c1.id }}", data: {displayName: z}}
            """)
        let schedule = StepSchedule(steps: m.steps, all: m.steps, params: ParamSet(values: [:]), concurrency: 1)
        #expect(schedule.isReferenced("c1"))
        #expect(!schedule.isReferenced("c2"))
        var outputs: [String: JSONValue] = ["c1": .object(["id": "x"])]
        schedule.used(2, outputs: &outputs)
        #expect(outputs.isEmpty, "c1's output outlived its last reader")
    }
}

extension StepScheduleTests {
    /// A keyed POST may be replayed, so its id may be a record a later step already names: a
    /// PATCH of `${{ steps.b.id }}` must wait for a running PATCH of the same record even when
    /// that one comes later in the manifest (review finding: a replayed POST reuses a record).
    @Test func aReplayedPostsIdMayNameARunningStepsRecord() throws {
        let m = try Self.manifest("""
              - {name: a, action: post, endpoint: customers, data: {displayName: x}, idempotency_key: k1}
              - {name: b, action: post, endpoint: customers, data: {displayName: x}, idempotency_key: k1}
              - {name: pb, action: patch, endpoint: customers, id: "${{ steps.b.id }}", data: {displayName: y}}
              - {name: pa, action: patch, endpoint: customers, id: "${{ steps.a.id }}", data: {displayName: z}}
            """)
        let params = ParamSet(values: [:])
        var schedule = StepSchedule(steps: m.steps, all: m.steps, params: params, concurrency: 2)
        var outputs: [String: JSONValue] = [:]
        func start(_ p: Int) {
            if case .success(let step) = ReferenceResolver.resolve(m.steps[p], params: params, outputs: outputs) {
                schedule.started(p, access: StepAccess(step))
            }
        }
        // a runs and creates record A.
        #expect(schedule.next(outputs: outputs) == 0); start(0)
        outputs["a"] = .object(["id": "A"]); schedule.finished(0)
        // b starts (same key: it waited for a); pa (record A) must not start while pb's record is
        // unknown — b may be replayed and name A too.
        #expect(schedule.next(outputs: outputs) == 1); start(1)
        #expect(schedule.next(outputs: outputs) == nil, "pa started beside a pending PATCH that may name the same record")
        // b is replayed: its id is A. pb resolves to A; pa waits for it.
        outputs["b"] = .object(["id": "A"]); schedule.finished(1)
        #expect(schedule.next(outputs: outputs) == 2); start(2)
        #expect(schedule.next(outputs: outputs) == nil, "two PATCHes of record A overlapped")
    }

    /// An action (posting a document) is ordered with every write and listing.
    @Test func anActionWaitsForEverythingBeforeIt() throws {
        let m = try Self.manifest("""
              - {name: c, action: post, endpoint: customers, data: {displayName: x}}
              - {name: ship, action: post, endpoint: "salesOrders(00000000-0000-0000-0000-0000000000aa)/Microsoft.NAV.shipAndInvoice"}
              - {name: list, action: get, endpoint: salesInvoices}
            """)
        #expect(Self.startable(m) == ["c"])
    }
}
