import Foundation
import GRDB
import Hashing
import Testing
import TestSupport
@testable import Store

/// `step_page` (migration 7): the pages of a GET that followed `@odata.nextLink`, committed with
/// the step's outcome; `verify` re-assembles the step's body from them, and `gc` keeps their blobs.
@Suite struct StepPageTests {
    static let pages = [#"{"@odata.context":"c","value":[{"id":"1"}],"@odata.nextLink":"https://h/x?$skiptoken=1"}"#,
                        #"{"@odata.context":"c","value":[{"id":"2"}]}"#].map { Array($0.utf8) }

    /// A run with one paged GET whose response is `response` (the assembly, unless a test lies).
    static func record(_ store: LedgerStore, response: [UInt8]) throws -> (runID: String, stepID: Int64) {
        var run = NewRun(toolVersion: "t")
        run.stepCount = 1
        try store.ledger.startRun(run)
        let stepID = try store.ledger.writeIntent(StepIntent(runID: run.id, seq: 1, name: "list", method: .http(.get), url: "https://h/x"))
        var pages: [NewStepPage] = []
        for (i, bytes) in Self.pages.enumerated() {
            var page = NewStepPage(page: i + 1, url: i == 0 ? "https://h/x" : "https://h/x?$skiptoken=1")
            page.httpStatus = 200
            page.response = try store.put(bytes, mediaType: "application/json")
            pages.append(page)
        }
        var outcome = StepOutcome(status: .committed)
        outcome.httpStatus = 200
        outcome.response = try store.put(response, mediaType: "application/json")
        try store.ledger.writeOutcome(stepID: stepID, outcome, pages: pages)
        return (run.id, stepID)
    }

    @Test func pagesAreReadBackWithTheStepAndAssembleToItsBody() throws {
        let dir = TempDir()
        let store = try LedgerStore(root: dir.path + "/store")
        let assembled = try PageAssembly.assemble(bytes: Self.pages)
        #expect(String(decoding: assembled, as: UTF8.self) == #"{"@odata.context":"c","value":[{"id":"1"},{"id":"2"}]}"#)
        let (runID, stepID) = try Self.record(store, response: assembled)
        let step = try #require(try store.ledger.step(id: stepID))
        #expect(step.pages.map(\.page) == [1, 2])
        #expect(step.pages.map(\.responseDigest) == Self.pages.map { SHA256.hash($0) })
        #expect(try store.ledger.steps(runID: runID).first?.pages == step.pages)
        _ = try store.finishRun(runID, state: .completed)
        let report = try StoreVerifier.verifyRun(runID, in: store)
        #expect(report.problems.isEmpty, "\(report.problems)")
        // Page blobs are named by rows: gc keeps them.
        let live = try store.ledger.read { db in try GC.liveSet(db) }
        for bytes in Self.pages { #expect(live.contains(SHA256.hash(bytes).hex)) }
    }

    @Test func aBodyThatIsNotTheAssemblyOfItsPagesIsReported() throws {
        let dir = TempDir()
        let store = try LedgerStore(root: dir.path + "/store")
        let (runID, _) = try Self.record(store, response: Array(#"{"value":[{"id":"1"}]}"#.utf8))
        let report = try StoreVerifier.verifyRun(runID, in: store)
        #expect(report.problems.map(\.kind) == [.pagesMismatch])
        #expect(report.problems.first?.detail.contains("not the assembly of its 2 pages") == true)
    }

    @Test func aPageRemovedOrEditedAfterTheRunFinishedIsARowChange() throws {
        let dir = TempDir()
        let store = try LedgerStore(root: dir.path + "/store")
        let (runID, stepID) = try Self.record(store, response: try PageAssembly.assemble(bytes: Self.pages))
        _ = try store.finishRun(runID, state: .completed)
        try store.ledger.write { db in
            try db.execute(sql: "UPDATE step_page SET url = 'https://elsewhere/' WHERE step_id = ? AND page = 2", arguments: [stepID])
        }
        let edited = try StoreVerifier.verifyRun(runID, in: store)
        #expect(edited.problems.contains { $0.kind == .rowChanged && $0.subject.contains("pages") }, "\(edited.problems)")
        try store.ledger.write { db in try db.execute(sql: "DELETE FROM step_page") }
        let removed = try StoreVerifier.verifyRun(runID, in: store)
        #expect(removed.problems.contains { $0.kind == .rowChanged && $0.detail.contains("the field is gone") }, "\(removed.problems)")
    }

    @Test func pageRowsRequireAStepAndAPositivePageNumber() throws {
        let dir = TempDir()
        let store = try LedgerStore(root: dir.path + "/store")
        #expect(throws: (any Error).self) {
            try store.ledger.write { db in
                try db.execute(sql: "INSERT INTO step_page (step_id, page, url) VALUES (999, 1, 'u')")
            }
        }
        let (_, stepID) = try Self.record(store, response: try PageAssembly.assemble(bytes: Self.pages))
        #expect(throws: (any Error).self) {
            try store.ledger.write { db in
                try db.execute(sql: "INSERT INTO step_page (step_id, page, url) VALUES (?, 0, 'u')", arguments: [stepID])
            }
        }
    }
}
