import Foundation
import Hashing
import Store
import Testing
import TestSupport

@testable import Batch

// The planner over runs written through the `Ledger` API as the runner and the rollback executor
// write them (RollbackPlanFixture). The planner throws nothing: what it refuses to undo is an
// `.irreversible` item whose reason says why and what to do, so each refusal is asserted by its
// exact action, reason text included.

private typealias F = RollbackPlanFixture

private let x = "11111111-0000-4000-8000-00000000000a"
private let y = "22222222-0000-4000-8000-00000000000b"
private let z = "33333333-0000-4000-8000-00000000000c"

@Suite("A rollback plan undoes every committed write, newest first")
struct RollbackPlanOrderTests {
    @Test func eachWriteGetsTheInverseOfItsMethodNewestFirst() throws {
        let f = try F()
        try f.post("create", id: x, etag: "W/\"x1\"")
        try f.get("read", id: x)
        try f.patch("rename", id: y, set: ["displayName": "New name", "@odata.etag": "W/\"y1\""],
                    preImage: ["id": .string(y), "displayName": "Old name", "email": "o@x", "@odata.etag": "W/\"y1\""],
                    ifMatch: "W/\"y1\"", etag: "W/\"y2\"")
        try f.step("release", .post, F.customer(y) + "/Microsoft.NAV.release",
                   outcome: F.outcome(.committed, http: 204))
        try f.patch("late", id: y, set: ["email": "late@x"], preImage: ["email": "o@x"], status: .failed)
        try f.skipped("unresolved", .unresolved, "customers(${{ steps.nope.id }})")
        try f.delete("drop", id: z, preImage: ["id": .string(z), "displayName": "Gone"], ifMatch: "W/\"z1\"")

        let plan = try f.plan()
        #expect(plan.runID == f.runID)
        #expect(plan.seqs == [7, 4, 3, 1])  // the GET, the failed PATCH and the skipped step undo nothing
        #expect(plan.item(7)?.action == .irreversible(
            reason: "a deleted record can only be re-created (with a new id): pass --recreate-deleted"))
        #expect(plan.item(4)?.action == .irreversible(
            reason: "the POST created no addressable record (an OData action, or no id in the response); undo it in Business Central"))
        #expect(plan.item(3)?.action == .restore(url: F.customer(y), fields: ["displayName": "Old name"]))
        #expect(plan.item(1)?.action == .delete(url: F.customer(x)))
        #expect(plan.items.map(\.action.symbol) == ["!", "!", "~", "-"])
        #expect(plan.item(7)?.ifMatch == nil)
        #expect(plan.item(4)?.ifMatch == nil)
        #expect(plan.item(3)?.ifMatch == "W/\"y2\"")
        #expect(plan.item(1)?.ifMatch == "W/\"x1\"")
        #expect(plan.item(4)?.recordKey == nil)
        #expect(plan.item(3)?.recordKey == F.customer(y))
        #expect(plan.item(1)?.recordKey == F.customer(x))
        #expect(plan.items.allSatisfy { $0.unresolvedAttempt == nil })
        #expect(plan.alreadyUndone.isEmpty)
        #expect(plan.reversible.map(\.step.seq) == [3, 1])
        #expect(plan.irreversible.map(\.step.seq) == [7, 4])
        #expect(plan.summary == "Plan: 1 to delete, 1 to restore, 0 to re-create, 2 irreversible.")
    }

    @Test func theOrderComesFromTheStepSequenceNotFromTheRowOrder() throws {
        let f = try F()
        try f.post("a", id: x)
        try f.post("b", id: y)
        try f.post("c", id: z)
        let steps = try f.store.ledger.steps(runID: f.runID)
        let plan = RollbackPlanner.plan(runID: f.runID, steps: Array(steps.reversed()), compensations: [],
                                        recreateDeleted: false, blob: { try f.store.objects.get($0) }, rebase: { $0 })
        #expect(plan.seqs == [3, 2, 1])
        let shuffled = RollbackPlanner.plan(runID: f.runID, steps: [steps[1], steps[0], steps[2]], compensations: [],
                                            recreateDeleted: false, blob: { try f.store.objects.get($0) }, rebase: { $0 })
        #expect(shuffled.seqs == [3, 2, 1])
    }

    /// Which step statuses still owe an undo: a committed write, and one whose earlier undo failed
    /// or was skipped; never a failed, skipped, replayed or already rolled-back one.
    @Test func onlyWritesThatLandedAndAreNotUndoneArePlanned() throws {
        let f = try F()
        let committed = try f.post("committed", id: "c1")
        let failedUndo = try f.post("rollback_failed", id: "c2")
        let skippedUndo = try f.post("rollback_skipped", id: "c3")
        let undone = try f.post("rolled_back", id: "c4")
        try f.post("failed", id: "c5", status: .failed)
        try f.skipped("skipped", .post, F.customers)
        try f.post("replayed", id: "c7", status: .replayed)
        try f.mark(failedUndo, .rollbackFailed)
        try f.mark(skippedUndo, .rollbackSkipped)
        try f.mark(undone, .rolledBack)

        let plan = try f.plan()
        #expect(plan.seqs == [3, 2, 1])
        #expect(plan.items.map(\.action) == [.delete(url: F.customer("c3")), .delete(url: F.customer("c2")),
                                             .delete(url: F.customer("c1"))])
        #expect(plan.items.map(\.step.id) == [skippedUndo, failedUndo, committed])
        #expect(plan.alreadyUndone.isEmpty)
        #expect(plan.summary == "Plan: 3 to delete, 0 to restore, 0 to re-create, 0 irreversible.")
    }

    @Test func aRunWithNothingCommittedHasAnEmptyPlan() throws {
        let f = try F()
        try f.get("read", id: x)
        try f.post("failed", id: y, status: .failed)
        let plan = try f.plan()
        #expect(plan.items.isEmpty)
        #expect(plan.reversible.isEmpty)
        #expect(plan.alreadyUndone.isEmpty)
        #expect(plan.summary == "Plan: 0 to delete, 0 to restore, 0 to re-create, 0 irreversible.")
    }

    @Test func everyURLThePlanSendsIsRebasedButRecordsAreMatchedAsRecorded() throws {
        let f = try F()
        try f.post("create", id: x, etag: "W/\"x1\"")
        try f.patch("rename", id: x, set: ["displayName": "B"], preImage: ["displayName": "New"], etag: "W/\"x2\"")
        try f.patch("touch", id: y, set: ["email": "b@x"], preImage: ["email": "a@x"], etag: "W/\"y2\"")
        try f.delete("drop", id: z, preImage: ["displayName": "Gone"])
        let moved = "http://127.0.0.1:7"
        let plan = try f.plan(recreateDeleted: true) { url in
            url.hasPrefix(F.base) ? moved + url.dropFirst(F.base.count) : url
        }
        let now = { (url: String) in moved + url.dropFirst(F.base.count) }
        #expect(plan.item(4)?.action == .recreate(collectionURL: now(F.customers), body: ["displayName": "Gone"]))
        #expect(plan.item(3)?.action == .restore(url: now(F.customer(y)), fields: ["email": "a@x"]))
        #expect(plan.item(2)?.action == .restore(url: now(F.customer(x)), fields: ["displayName": "New"]))
        #expect(plan.item(1)?.action == .delete(url: now(F.customer(x))))
        // Record keys (and so the ETag chain) stay the URLs the run recorded.
        #expect(plan.item(1)?.recordKey == F.customer(x))
        #expect(plan.item(1)?.ifMatch == "W/\"x2\"")
        #expect(plan.item(3)?.ifMatch == "W/\"y2\"")
    }

    /// `createdByRun` tells the executor that a 404 on a restore means the record is gone for good.
    @Test func itemsKnowWhetherTheRunCreatedTheirRecord() throws {
        let f = try F()
        try f.post("create", id: x)
        try f.patch("rename", id: x, set: ["displayName": "B"], preImage: ["displayName": "New"])
        try f.patch("touch", id: y, set: ["displayName": "B"], preImage: ["displayName": "A"])
        try f.step("guess", .post, F.customers, body: ["displayName": "?"], outcome: nil)
        let plan = try f.plan()
        #expect(plan.item(1)?.createdByRun == true)
        #expect(plan.item(2)?.createdByRun == true)
        #expect(plan.item(3)?.createdByRun == false)
        #expect(plan.item(4)?.createdByRun == false)
    }
}

@Suite("A PATCH is undone by restoring the changed fields from its pre-image")
struct RollbackPlanRestoreTests {
    @Test func onlyTheFieldsThePATCHSentComeBackAndNeverServerOwnedOnes() throws {
        let f = try F()
        try f.patch("edit", id: x,
                    set: ["displayName": "B", "email": "b@x", "@odata.etag": "W/\"1\"", "systemId": .string(x),
                          "lastModifiedDateTime": "2026-01-01T00:00:00Z"],
                    preImage: ["id": .string(x), "systemId": .string(x), "number": "C1", "displayName": "A",
                               "email": "a@x", "@odata.etag": "W/\"1\"", "lastModifiedDateTime": "2025-01-01T00:00:00Z"],
                    etag: "W/\"2\"")
        let plan = try f.plan()
        #expect(plan.item(1)?.action == .restore(url: F.customer(x), fields: ["displayName": "A", "email": "a@x"]))
        #expect(plan.item(1)?.ifMatch == "W/\"2\"")
        #expect(plan.summary == "Plan: 0 to delete, 1 to restore, 0 to re-create, 0 irreversible.")
    }

    @Test func aFieldThePreImageLacksIsLeftOutOfTheRestore() throws {
        let f = try F()
        try f.patch("edit", id: x, set: ["displayName": "B", "phoneNumber": "555"], preImage: ["displayName": "A"])
        #expect(try f.plan().item(1)?.action == .restore(url: F.customer(x), fields: ["displayName": "A"]))
    }

    @Test func aPreImageWithNoneOfTheFieldsIsRefusedNamingThem() throws {
        let f = try F()
        try f.patch("edit", id: x, set: ["phoneNumber": "555", "faxNumber": "556", "@odata.etag": "W/\"1\""],
                    preImage: ["displayName": "A"], etag: "W/\"2\"")
        let item = try #require(try f.plan().item(1))
        #expect(item.action == .irreversible(
            reason: "the pre-image has none of the fields the PATCH changed (faxNumber, phoneNumber); restore them by hand"))
        #expect(item.ifMatch == nil)
    }

    @Test func aPATCHWithoutAPreImageIsRefused() throws {
        let f = try F()
        try f.patch("edit", id: x, set: ["displayName": "B"], preImage: nil, etag: "W/\"2\"")
        try f.patch("odd", id: y, set: ["displayName": "B"], preImage: ["not", "an", "object"])
        let plan = try f.plan()
        let refusal = RollbackAction.irreversible(
            reason: "no pre-image was recorded (pre_image: false or the GET failed); restore the fields by hand")
        #expect(plan.item(1)?.action == refusal)
        #expect(plan.item(2)?.action == refusal)
        #expect(plan.items.allSatisfy { $0.ifMatch == nil })
        #expect(plan.reversible.isEmpty)
        #expect(plan.summary == "Plan: 0 to delete, 0 to restore, 0 to re-create, 2 irreversible.")
    }

    @Test func aPATCHWhoseRequestBodyCannotBeReadIsRefused() throws {
        let f = try F()
        try f.step("nobody", .patch, F.customer(x), preImage: ["displayName": "A"],
                   outcome: F.outcome(.committed, http: 200, etag: "W/\"2\"", recordID: x))
        try f.patch("lost", id: y, set: ["displayName": "B"], preImage: ["displayName": "A"])
        let lost = try #require(try f.store.ledger.steps(runID: f.runID).last?.requestDigest)
        let objects = f.store.objects
        let plan = try f.plan(blob: { digest in
            if digest == lost { throw StoreError.invalidState("gone") }
            return try objects.get(digest)
        })
        let refusal = RollbackAction.irreversible(
            reason: "the request body of the PATCH is not in the store; run `bcli batch verify` to check the store")
        #expect(plan.item(1)?.action == refusal)
        #expect(plan.item(2)?.action == refusal)
    }

    /// A write the planner has no inverse for (rows bcli records for a batch run never carry these
    /// marks with an outcome, but the planner must not invent an inverse for them).
    @Test func aMethodWithNoKnownInverseIsRefused() throws {
        let f = try F()
        try f.step("mark", .noRequest, F.customer(x), outcome: F.outcome(.committed, http: 200, recordID: x))
        try f.step("what", .unresolved, F.customer(y), outcome: F.outcome(.committed, http: 200))
        let plan = try f.plan(recreateDeleted: true)
        #expect(plan.item(2)?.action == .irreversible(reason: "? has no known inverse"))
        #expect(plan.item(1)?.action == .irreversible(reason: "NONE has no known inverse"))
    }
}

@Suite("A deleted record is re-created only with --recreate-deleted")
struct RollbackPlanRecreateTests {
    static let preImage: JSONValue = [
        "id": .string(z), "systemId": .string(z), "@odata.etag": "W/\"z1\"", "@odata.context": "http://x/$metadata",
        "lastModifiedDateTime": "2025-01-01T00:00:00Z", "systemCreatedAt": "2025-01-01T00:00:00Z",
        "systemModifiedAt": "2025-01-01T00:00:00Z", "systemCreatedBy": "u1", "systemModifiedBy": "u2",
        "picture@odata.mediaReadLink": "http://x/picture", "number": "C9", "displayName": "Gone", "email": "g@x",
    ]

    @Test func withoutTheFlagADeletionIsRefusedNamingTheFlag() throws {
        let f = try F()
        try f.delete("drop", id: z, preImage: Self.preImage, ifMatch: "W/\"z1\"")
        let item = try #require(try f.plan().item(1))
        #expect(item.action == .irreversible(
            reason: "a deleted record can only be re-created (with a new id): pass --recreate-deleted"))
        #expect(item.ifMatch == nil)
        #expect(item.recordKey == F.customer(z))
    }

    @Test func withTheFlagThePreImageIsPostedToTheCollectionWithoutServerFields() throws {
        let f = try F()
        try f.delete("drop", id: z, preImage: Self.preImage, ifMatch: "W/\"z1\"")
        let plan = try f.plan(recreateDeleted: true)
        let item = try #require(plan.item(1))
        #expect(item.action == .recreate(collectionURL: F.customers,
                                         body: ["number": "C9", "displayName": "Gone", "email": "g@x"]))
        #expect(item.action.symbol == "+")
        #expect(item.ifMatch == nil)  // a POST to the collection names no version
        #expect(plan.reversible.count == 1)
        #expect(plan.summary == "Plan: 0 to delete, 0 to restore, 1 to re-create, 0 irreversible.")
    }

    @Test func aDeletionWithoutAPreImageIsRefusedWithOrWithoutTheFlag() throws {
        let refusal = RollbackAction.irreversible(reason: "no pre-image was recorded for the deleted record; re-create it by hand")
        for flag in [false, true] {
            let f = try F()
            try f.delete("drop", id: z, preImage: nil)
            #expect(try f.plan(recreateDeleted: flag).item(1)?.action == refusal, "recreateDeleted: \(flag)")
        }
    }

    @Test func aDeletionWhoseURLNamesNoCollectionIsRefused() throws {
        let f = try F()
        let url = "http://127.0.0.1:9/customer-" + z
        try f.step("drop", .delete, url, preImage: ["displayName": "Gone"], outcome: F.outcome(.committed, http: 204, recordID: z))
        #expect(try f.plan(recreateDeleted: true).item(1)?.action == .irreversible(
            reason: "cannot tell the collection URL from \(url)"))
    }

    /// PATCH, PATCH, DELETE of one record that existed before the run.
    @discardableResult
    fileprivate static func patchedThenDeleted(_ f: F, deletionPreImage: JSONValue? = [
        "id": .string(z), "displayName": "C", "email": "c@x", "number": "N1", "@odata.etag": "W/\"z3\"",
    ]) throws -> (first: Int64, second: Int64, drop: Int64) {
        let first = try f.patch("first", id: z, set: ["displayName": "B"], preImage: ["displayName": "A", "email": "a@x"],
                                ifMatch: "W/\"z1\"", etag: "W/\"z2\"")
        let second = try f.patch("second", id: z, set: ["displayName": "C", "email": "c@x"],
                                 preImage: ["displayName": "B", "email": "a@x"], ifMatch: "W/\"z2\"", etag: "W/\"z3\"")
        let drop = try f.delete("drop", id: z, preImage: deletionPreImage, ifMatch: "W/\"z3\"")
        return (first, second, drop)
    }

    @Test func theReCreationCarriesTheOldestPreImageOfEveryEarlierPATCH() throws {
        let f = try F()
        try Self.patchedThenDeleted(f)
        let plan = try f.plan(recreateDeleted: true)
        #expect(plan.seqs == [3, 2, 1])
        #expect(plan.item(3)?.action == .recreate(collectionURL: F.customers,
                                                  body: ["displayName": "A", "email": "a@x", "number": "N1"]))
        let carried = "the run deleted this record afterwards (step 3 drop); its re-creation carries these fields' pre-run values"
        #expect(plan.item(2)?.action == .nothing(reason: carried))
        #expect(plan.item(1)?.action == .nothing(reason: carried))
        #expect(plan.items.allSatisfy { $0.ifMatch == nil })
        #expect(plan.summary == "Plan: 0 to delete, 0 to restore, 1 to re-create, 0 irreversible, 2 with nothing to undo.")
    }

    @Test func withoutTheFlagTheEarlierPATCHesPointAtTheFlag() throws {
        let f = try F()
        try Self.patchedThenDeleted(f)
        let plan = try f.plan()
        let owed = "the run deleted this record afterwards (step 3 drop); pass --recreate-deleted to re-create it with these fields restored"
        #expect(plan.items.map(\.action) == [
            .irreversible(reason: "a deleted record can only be re-created (with a new id): pass --recreate-deleted"),
            .irreversible(reason: owed), .irreversible(reason: owed),
        ])
        #expect(plan.summary == "Plan: 0 to delete, 0 to restore, 0 to re-create, 3 irreversible.")
    }

    /// A rollback without the flag marks every step `rollback_skipped` (its decisions recorded as
    /// `NONE` rows); a second one with the flag plans the full re-creation.
    @Test func aSecondRollbackWithTheFlagReCreatesWhatTheFirstSkipped() throws {
        let f = try F()
        let steps = try Self.patchedThenDeleted(f)
        let first = try f.rollbackRun()
        for id in [steps.drop, steps.second, steps.first] {
            try f.decision(in: first, of: id, reason: "not reversible without --recreate-deleted")
            try f.mark(id, .rollbackSkipped)
        }
        let plan = try f.plan(recreateDeleted: true)
        #expect(plan.seqs == [3, 2, 1])
        #expect(plan.item(3)?.action == .recreate(collectionURL: F.customers,
                                                  body: ["displayName": "A", "email": "a@x", "number": "N1"]))
        #expect(plan.item(2)?.action.symbol == "=")
        #expect(plan.item(1)?.action.symbol == "=")
        #expect(plan.alreadyUndone.isEmpty)
    }

    @Test func withTheFlagButNoDeletionPreImageTheEarlierPATCHesNeedAPerson() throws {
        let f = try F()
        try Self.patchedThenDeleted(f, deletionPreImage: nil)
        let plan = try f.plan(recreateDeleted: true)
        let byHand = "the run deleted this record afterwards (step 3 drop) and it cannot be re-created; restore the record by hand"
        #expect(plan.items.map(\.action) == [
            .irreversible(reason: "no pre-image was recorded for the deleted record; re-create it by hand"),
            .irreversible(reason: byHand), .irreversible(reason: byHand),
        ])
    }

    /// Without `--recreate-deleted`, a PATCH of a record the run later deleted *without a
    /// pre-image* is not told to "pass --recreate-deleted": the flag could not re-create it (with
    /// the flag the same plan says "it cannot be re-created"), so both plans say the same.
    @Test
    func withoutTheFlagAndNoDeletionPreImageTheFlagIsNotAdvised() throws {
        let f = try F()
        try Self.patchedThenDeleted(f, deletionPreImage: nil)
        let plan = try f.plan()
        let byHand = "the run deleted this record afterwards (step 3 drop) and it cannot be re-created; restore the record by hand"
        #expect(plan.item(2)?.action == .irreversible(reason: byHand))
        #expect(plan.item(1)?.action == .irreversible(reason: byHand))
    }

    @Test func aPATCHThatCannotBeRestoredKeepsItsOwnReasonWhenTheRecordWasDeletedLater() throws {
        let f = try F()
        try f.patch("edit", id: z, set: ["displayName": "B"], preImage: nil)
        try f.delete("drop", id: z, preImage: ["displayName": "B"])
        let plan = try f.plan(recreateDeleted: true)
        #expect(plan.item(1)?.action == .irreversible(
            reason: "no pre-image was recorded (pre_image: false or the GET failed); restore the fields by hand"))
        #expect(plan.item(2)?.action == .recreate(collectionURL: F.customers, body: ["displayName": "B"]))
    }

    /// An earlier rollback re-created the record (a committed POST aimed at the DELETE) and was
    /// stopped before the older PATCH: the PATCH's fields are judged against what that POST sent.
    @discardableResult
    fileprivate static func reCreatedEarlier(_ f: F, sent: JSONValue, markDeletion: Bool = true) throws -> (patch: Int64, drop: Int64) {
        let patch = try f.patch("edit", id: z, set: ["displayName": "B"], preImage: ["displayName": "A"], etag: "W/\"z2\"")
        let drop = try f.delete("drop", id: z, preImage: ["id": .string(z), "displayName": "B", "email": "g@x"])
        let rollback = try f.rollbackRun()
        try f.compensation(in: rollback, of: drop, .post, F.customers, body: sent,
                           outcome: F.outcome(.committed, http: 201, etag: "W/\"n1\"", recordID: "new-1",
                                              rollbackURL: F.customer("new-1")))
        if markDeletion { try f.mark(drop, .rolledBack) }
        return (patch, drop)
    }

    @Test func anEarlierReCreationThatCarriedTheFieldsLeavesNothingToUndo() throws {
        let f = try F()
        try Self.reCreatedEarlier(f, sent: ["displayName": "A", "email": "g@x"])
        let plan = try f.plan()
        #expect(plan.seqs == [1])
        #expect(plan.item(1)?.action == .nothing(
            reason: "the run deleted this record afterwards (step 2 drop); an earlier rollback re-created it (new id new-1) with these fields restored"))
        #expect(plan.item(1)?.ifMatch == nil)
        #expect(plan.alreadyUndone.isEmpty)
    }

    @Test func anEarlierReCreationWithoutTheFieldsNamesTheNewRecordToFixByHand() throws {
        let f = try F()
        try Self.reCreatedEarlier(f, sent: ["displayName": "B", "email": "g@x"])
        #expect(try f.plan(recreateDeleted: true).item(1)?.action == .irreversible(
            reason: "the run deleted this record afterwards (step 2 drop); an earlier rollback re-created it (new id new-1) without these fields: restore them on new-1 by hand"))
    }

    /// A rollback with `--recreate-deleted` re-creates the record with the *oldest* pre-image
    /// value of every field (PATCH 1's `A`), and plans each PATCH as "nothing to undo". If it stops
    /// after the re-creation (SIGINT, or a crash after the POST committed), the next plan judges
    /// each PATCH against what the POST sent, taking a field's value from the oldest PATCH that
    /// still owes it: PATCH 2's own pre-image `B` is superseded by PATCH 1's `A`, so PATCH 2 is not
    /// "restore them on <new id> by hand" (which would write the intermediate value back).
    @Test
    func anInterruptedReCreationLeavesNothingToUndoForEveryPATCHItMerged() throws {
        let f = try F()
        let steps = try Self.patchedThenDeleted(f)
        let rollback = try f.rollbackRun()
        try f.compensation(in: rollback, of: steps.drop, .post, F.customers,
                           body: ["displayName": "A", "email": "a@x", "number": "N1"],
                           outcome: F.outcome(.committed, http: 201, recordID: "new-1", rollbackURL: F.customer("new-1")))
        try f.mark(steps.drop, .rolledBack)
        let plan = try f.plan(recreateDeleted: true)
        #expect(plan.seqs == [2, 1])
        #expect(plan.items.allSatisfy { $0.action.symbol == "=" }, "\(plan.items.map(\.action))")
    }
}

@Suite("A record the run created and deleted needs no undo")
struct RollbackPlanVanishedTests {
    @Test func everyWriteBetweenTheCreationAndTheDeletionIsNothingToUndo() throws {
        for flag in [false, true] {
            let f = try F()
            try f.post("create", id: x, etag: "W/\"x1\"")
            try f.patch("rename", id: x, set: ["displayName": "B"], preImage: ["displayName": "New"], etag: "W/\"x2\"")
            try f.delete("drop", id: x, preImage: ["id": .string(x), "displayName": "B"], ifMatch: "W/\"x2\"")
            try f.patch("other", id: y, set: ["displayName": "B"], preImage: ["displayName": "A"], etag: "W/\"y2\"")
            let plan = try f.plan(recreateDeleted: flag)
            let reason = "the run created this record (step 1) and deleted it (step 3)"
            #expect(plan.items.map(\.action) == [
                .restore(url: F.customer(y), fields: ["displayName": "A"]),
                .nothing(reason: reason), .nothing(reason: reason), .nothing(reason: reason),
            ], "recreateDeleted: \(flag)")
            #expect(plan.items.map(\.ifMatch) == ["W/\"y2\"", nil, nil, nil])
            #expect(plan.items.map(\.recordKey) == [F.customer(y), F.customer(x), F.customer(x), F.customer(x)])
            #expect(plan.reversible.count == 4)
            #expect(plan.summary == "Plan: 0 to delete, 1 to restore, 0 to re-create, 0 irreversible, 3 with nothing to undo.")
        }
    }

    @Test func aCreationWhoseDeletionFailedIsStillDeleted() throws {
        let f = try F()
        try f.post("create", id: x, etag: "W/\"x1\"")
        try f.delete("drop", id: x, preImage: ["displayName": "New"], status: .failed)
        let plan = try f.plan()
        #expect(plan.seqs == [1])
        #expect(plan.item(1)?.action == .delete(url: F.customer(x)))
        #expect(plan.item(1)?.ifMatch == "W/\"x1\"")
    }
}

@Suite("Each compensating request carries the record's latest recorded ETag")
struct RollbackPlanETagTests {
    @Test func severalWritesOfOneRecordAllCarryItsNewestETag() throws {
        let f = try F()
        try f.post("create", id: x, etag: "W/\"x1\"")
        try f.patch("rename", id: x, set: ["displayName": "B"], preImage: ["displayName": "New"],
                    ifMatch: "W/\"x1\"", etag: "W/\"x2\"")
        try f.patch("mail", id: x, set: ["email": "b@x"], preImage: ["email": "a@x"], ifMatch: "W/\"x2\"", etag: "W/\"x3\"")
        // A refused write's answer names no version the record is in.
        try f.patch("refused", id: x, set: ["email": "c@x"], preImage: ["email": "b@x"], ifMatch: "W/\"x0\"",
                    etag: "W/\"stale\"", status: .failed)
        let plan = try f.plan()
        #expect(plan.seqs == [3, 2, 1])
        #expect(plan.items.map(\.ifMatch) == ["W/\"x3\"", "W/\"x3\"", "W/\"x3\""])
    }

    @Test func aWriteWithNoRecordKeyCarriesItsOwnETag() throws {
        let f = try F()
        try f.step("singleton", .patch, F.company + "/companyInformation", body: ["displayName": "B"],
                   preImage: ["displayName": "A"], outcome: F.outcome(.committed, http: 200, etag: "W/\"k\""))
        let item = try #require(try f.plan().item(1))
        #expect(item.action == .restore(url: F.company + "/companyInformation", fields: ["displayName": "A"]))
        #expect(item.recordKey == nil)
        #expect(item.ifMatch == "W/\"k\"")
        #expect(item.createdByRun == false)
    }

    @Test func noRecordedETagMeansNoIfMatch() throws {
        let f = try F()
        try f.patch("edit", id: x, set: ["displayName": "B"], preImage: ["displayName": "A"], etag: nil)
        let item = try #require(try f.plan().item(1))
        #expect(item.action == .restore(url: F.customer(x), fields: ["displayName": "A"]))
        #expect(item.ifMatch == nil)
    }

    /// Rollback 1 restored the newer PATCH (new ETag z4) and failed on the older one: the next plan
    /// sends the older restore with z4.
    @Test func theChainContinuesFromAnEarlierRollbacksCommittedRestore() throws {
        let f = try F()
        let first = try f.patch("first", id: z, set: ["displayName": "B"], preImage: ["displayName": "A"], etag: "W/\"z2\"")
        let second = try f.patch("second", id: z, set: ["displayName": "C"], preImage: ["displayName": "B"], etag: "W/\"z3\"")
        let rollback = try f.rollbackRun()
        try f.compensation(in: rollback, of: second, .patch, F.customer(z), body: ["displayName": "B"], ifMatch: "W/\"z3\"",
                           outcome: F.outcome(.committed, http: 200, etag: "W/\"z4\"", recordID: z))
        try f.mark(second, .rolledBack)
        try f.compensation(in: rollback, of: first, .patch, F.customer(z), body: ["displayName": "A"], ifMatch: "W/\"z4\"",
                           outcome: F.outcome(.failed, http: 503, etag: "W/\"bad\"", error: "HTTP 503"))
        try f.mark(first, .rollbackFailed)
        let plan = try f.plan()
        #expect(plan.seqs == [1])
        #expect(plan.item(1)?.action == .restore(url: F.customer(z), fields: ["displayName": "A"]))
        #expect(plan.item(1)?.ifMatch == "W/\"z4\"")
        #expect(plan.item(1)?.unresolvedAttempt == nil)
        #expect(plan.alreadyUndone.isEmpty)
    }

    /// An interrupted rollback's restore that a later rollback found applied is recorded `skipped`
    /// with the ETag its check read; that ETag continues the chain.
    @Test func aRestoreFoundAppliedContinuesTheChainWithTheETagItsCheckRead() throws {
        let f = try F()
        try f.patch("first", id: z, set: ["displayName": "B"], preImage: ["displayName": "A"], etag: "W/\"z2\"")
        let second = try f.patch("second", id: z, set: ["displayName": "C"], preImage: ["displayName": "B"], etag: "W/\"z3\"")
        let killed = try f.rollbackRun()
        try f.compensation(in: killed, of: second, .patch, F.customer(z), body: ["displayName": "B"], ifMatch: "W/\"z3\"", outcome: nil)
        try f.mark(second, .rollbackFailed)
        let resumed = try f.rollbackRun()
        try f.compensation(in: resumed, of: second, .get, F.customer(z),
                           outcome: F.outcome(.committed, http: 200, etag: "W/\"z9-get\"", recordID: z))
        var found = StepOutcome(status: .skipped)  // as the executor records "already restored"
        (found.etag, found.recordID, found.errorMessage) = ("W/\"z5\"", z, "already restored by the interrupted rollback")
        try f.compensation(in: resumed, of: second, .patch, F.customer(z), outcome: found)
        try f.mark(second, .rolledBack)
        let plan = try f.plan()
        #expect(plan.seqs == [1])
        #expect(plan.item(1)?.ifMatch == "W/\"z5\"")
    }

    @Test func laterCompensationsWinWhateverOrderTheyArePassedIn() throws {
        let f = try F()
        try f.patch("a", id: z, set: ["displayName": "B"], preImage: ["displayName": "A"], etag: "W/\"z2\"")
        let b = try f.patch("b", id: z, set: ["displayName": "C"], preImage: ["displayName": "B"], etag: "W/\"z3\"")
        let c = try f.patch("c", id: z, set: ["displayName": "D"], preImage: ["displayName": "C"], etag: "W/\"z4\"")
        let r1 = try f.rollbackRun()
        try f.compensation(in: r1, of: c, .patch, F.customer(z), body: ["displayName": "C"],
                           outcome: F.outcome(.committed, http: 200, etag: "W/\"z5\"", recordID: z))
        try f.mark(c, .rolledBack)
        let r2 = try f.rollbackRun()
        try f.compensation(in: r2, of: b, .patch, F.customer(z), body: ["displayName": "B"],
                           outcome: F.outcome(.committed, http: 200, etag: "W/\"z6\"", recordID: z))
        try f.mark(b, .rolledBack)
        let steps = try f.store.ledger.steps(runID: f.runID)
        let compensations = try f.store.ledger.compensations(ofRun: f.runID)
        #expect(compensations.count == 2)
        for order in [compensations, compensations.reversed()] {
            let plan = RollbackPlanner.plan(runID: f.runID, steps: steps, compensations: order, recreateDeleted: false,
                                            blob: { try f.store.objects.get($0) }, rebase: { $0 })
            #expect(plan.seqs == [1])
            #expect(plan.item(1)?.ifMatch == "W/\"z6\"")
        }
    }

    /// A re-creation names a new record: its ETag is not the old record's; nor is a check GET's. (Not visible in a plan:
    /// every older write of a re-created record plans no request, so the chain is read directly.)
    @Test func onlyARestoreMovesTheChainNotAReCreationOrACheck() throws {
        let f = try F()
        let edit = try f.patch("edit", id: z, set: ["displayName": "B"], preImage: ["displayName": "A"], etag: "W/\"z2\"")
        let drop = try f.delete("drop", id: z, preImage: ["displayName": "B"])
        let rollback = try f.rollbackRun()
        try f.compensation(in: rollback, of: drop, .post, F.customers, body: ["displayName": "A"],
                           outcome: F.outcome(.committed, http: 201, etag: "W/\"new\"", recordID: "new-1",
                                              rollbackURL: F.customer("new-1")))
        func chain() throws -> [String: String] {
            RollbackPlanner.etagChain(steps: try f.store.ledger.steps(runID: f.runID),
                                      compensations: try f.store.ledger.compensations(ofRun: f.runID))
        }
        #expect(try chain() == [F.customer(z): "W/\"z2\""])
        try f.compensation(in: rollback, of: edit, .patch, F.customer(z), body: ["displayName": "A"],
                           outcome: F.outcome(.committed, http: 200, etag: "W/\"z3\"", recordID: z))
        #expect(try chain() == [F.customer(z): "W/\"z3\""])
        // A check's GET is evidence, not a version the rollback left the record in.
        try f.compensation(in: rollback, of: edit, .get, F.customer(z),
                           outcome: F.outcome(.committed, http: 200, etag: "W/\"get\"", recordID: z))
        #expect(try chain() == [F.customer(z): "W/\"z3\""])
    }
}

@Suite("A rollback resumes an interrupted one instead of repeating it")
struct RollbackPlanResumeTests {
    /// The compensation committed and the process died before the original step was marked.
    @Test func aCompensationThatCommittedBeforeACrashIsRepairedNotResent() throws {
        let f = try F()
        let create = try f.post("create", id: x, etag: "W/\"x1\"")
        let edit = try f.patch("edit", id: y, set: ["displayName": "B"], preImage: ["displayName": "A"], etag: "W/\"y2\"")
        let rollback = try f.rollbackRun()
        try f.compensation(in: rollback, of: edit, .patch, F.customer(y), body: ["displayName": "A"], ifMatch: "W/\"y2\"",
                           outcome: F.outcome(.committed, http: 200, etag: "W/\"y3\"", recordID: y))
        var plan = try f.plan()
        #expect(plan.alreadyUndone.map(\.id) == [edit])
        #expect(plan.seqs == [1])
        #expect(plan.item(1)?.step.id == create)

        try f.mark(edit, .rolledBack)  // what the repair writes
        plan = try f.plan()
        #expect(plan.alreadyUndone.isEmpty)
        #expect(plan.seqs == [1])
    }

    @Test func aCommittedReCreationRepairsItsDeletion() throws {
        let f = try F()
        let steps = try RollbackPlanRecreateTests.reCreatedEarlier(f, sent: ["displayName": "A"], markDeletion: false)
        let plan = try f.plan(recreateDeleted: true)
        #expect(plan.alreadyUndone.map(\.id) == [steps.drop])
        #expect(plan.seqs == [1])
        #expect(plan.item(1)?.action.symbol == "=")
    }

    /// A GET a rollback recorded (the check before a decision) is evidence, not an undo.
    @Test func aCheckGETIsNeitherAnUndoNorAnUnresolvedAttempt() throws {
        let f = try F()
        let create = try f.post("create", id: x, etag: "W/\"x1\"")
        let rollback = try f.rollbackRun()
        try f.compensation(in: rollback, of: create, .delete, F.customer(x), ifMatch: "W/\"x1\"",
                           outcome: F.outcome(.failed, http: 404, error: "HTTP 404"))
        try f.compensation(in: rollback, of: create, .get, F.customer(x),
                           outcome: F.outcome(.committed, http: 200, etag: "W/\"x1\"", recordID: x))
        try f.compensation(in: rollback, of: create, .get, F.customer(x), outcome: nil)
        try f.mark(create, .rollbackFailed)
        let plan = try f.plan()
        #expect(plan.alreadyUndone.isEmpty)
        #expect(plan.seqs == [1])
        #expect(plan.item(1)?.action == .delete(url: F.customer(x)))
        #expect(plan.item(1)?.unresolvedAttempt == nil)
    }

    /// A compensation sent with no recorded outcome: the item names the newest such attempt so the
    /// executor looks before sending again.
    @Test func aCompensationSentWithNoOutcomeIsNamedAsTheUnresolvedAttempt() throws {
        let f = try F()
        let edit = try f.patch("edit", id: y, set: ["displayName": "B"], preImage: ["displayName": "A"], etag: "W/\"y2\"")
        let first = try f.rollbackRun()
        try f.compensation(in: first, of: edit, .patch, F.customer(y), body: ["displayName": "A"], ifMatch: "W/\"y2\"", outcome: nil)
        try f.mark(edit, .rollbackFailed)
        var plan = try f.plan()
        let firstAttempt = try #require(try f.store.ledger.compensations(ofRun: f.runID).last)
        #expect(plan.item(1)?.unresolvedAttempt == firstAttempt)
        #expect(plan.item(1)?.action == .restore(url: F.customer(y), fields: ["displayName": "A"]))
        #expect(plan.item(1)?.ifMatch == "W/\"y2\"")

        let second = try f.rollbackRun()
        try f.compensation(in: second, of: edit, .get, F.customer(y),
                           outcome: F.outcome(.committed, http: 200, etag: "W/\"y2\"", recordID: y))
        try f.compensation(in: second, of: edit, .patch, F.customer(y), body: ["displayName": "A"], ifMatch: "W/\"y2\"", outcome: nil)
        try f.mark(edit, .rollbackFailed)
        plan = try f.plan()
        let secondAttempt = try #require(try f.store.ledger.compensations(ofRun: f.runID).last)
        #expect(secondAttempt.runID == second)
        #expect(plan.item(1)?.unresolvedAttempt == secondAttempt)
        #expect(plan.alreadyUndone.isEmpty)
    }

    @Test func aFailedCompensationIsPlannedAgainWithNoUnresolvedAttempt() throws {
        let f = try F()
        let create = try f.post("create", id: x, etag: "W/\"x1\"")
        let rollback = try f.rollbackRun()
        try f.compensation(in: rollback, of: create, .delete, F.customer(x), ifMatch: "W/\"x1\"",
                           outcome: F.outcome(.failed, http: 412, error: "conflict"))
        try f.mark(create, .rollbackFailed)
        let plan = try f.plan()
        #expect(plan.item(1)?.action == .delete(url: F.customer(x)))
        #expect(plan.item(1)?.unresolvedAttempt == nil)
        #expect(plan.item(1)?.ifMatch == "W/\"x1\"")
    }
}

@Suite("A write of unknown outcome is never undone blind")
struct RollbackPlanUnknownTests {
    @Test func aStepWithNoOutcomeIsIrreversibleAndNamesItsClientRequestID() throws {
        let f = try F()
        try f.post("create", id: x, etag: "W/\"x1\"")
        try f.step("edit", .patch, F.customer(x), body: ["displayName": "B"], preImage: ["displayName": "New"],
                   ifMatch: "W/\"x1\"", outcome: nil)
        let unknown = try #require(try f.store.ledger.steps(runID: f.runID).last)
        #expect(unknown.status == nil)
        let plan = try f.plan(recreateDeleted: true)
        #expect(plan.seqs == [2, 1])
        let item = try #require(plan.item(2))
        #expect(item.action == .irreversible(
            reason: "outcome unknown: the request was sent but no answer was recorded; check Business Central for client-request-id \(unknown.clientRequestID) and undo it by hand if it landed"))
        #expect(item.ifMatch == nil)
        #expect(item.recordKey == nil)
        #expect(item.unresolvedAttempt == nil)
        #expect(plan.irreversible.map(\.step.seq) == [2])
        // The known write of the same record is still undone, with the newest ETag the ledger knows.
        #expect(plan.item(1)?.action == .delete(url: F.customer(x)))
        #expect(plan.item(1)?.ifMatch == "W/\"x1\"")
    }
}
