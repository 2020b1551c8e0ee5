import Foundation
import GRDB
import Hashing
import Testing
import TestSupport
@testable import Store

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

func makeStore(_ dir: TempDir, durability: Durability = .process) throws -> LedgerStore {
    try LedgerStore(root: dir.path + "/store", durability: durability)
}

/// Starts a run with a manifest blob and returns its id.
func startRun(_ store: LedgerStore, name: String = "t") throws -> String {
    var run = NewRun(toolVersion: "test")
    run.name = name
    run.manifest = try store.put(bytes("name: \(name)\nsteps: []\n"), mediaType: "application/yaml")
    try store.ledger.startRun(run)
    return run.id
}

/// Writes an intent (and optionally an outcome) for step `seq`.
@discardableResult
func addStep(_ store: LedgerStore, run: String, seq: Int, status: StepStatus?, method: String = "POST") throws -> Int64 {
    var intent = StepIntent(runID: run, seq: seq, name: "s\(seq)", method: method, url: "http://127.0.0.1/x(\(seq))")
    intent.request = try store.put(bytes("{\"seq\":\(seq)}"), mediaType: "application/json")
    let id = try store.ledger.writeIntent(intent)
    if let status {
        var o = StepOutcome(status: status)
        o.httpStatus = status == .failed ? 400 : 201
        try store.ledger.writeOutcome(stepID: id, o)
    }
    return id
}

/// Requires `body` to fail with SQLite's extended result `code` (a CHECK or FOREIGN KEY
/// constraint), not with just any error.
func expectConstraint(_ code: ResultCode, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    let error = #expect(throws: DatabaseError.self, sourceLocation: sourceLocation) { try body() }
    #expect(error?.extendedResultCode == code, "\(String(describing: error))", sourceLocation: sourceLocation)
}

/// Requires `body` to throw exactly `expected`: the same case with the same values, not just any
/// `StoreError`. `StoreError` is not Equatable (it carries errnos and SQLite's messages), so the two
/// are compared by their descriptions, which each case spells from its values.
func expectStoreError(_ expected: StoreError, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    let error = #expect(throws: StoreError.self, sourceLocation: sourceLocation) { try body() }
    #expect(error?.description == expected.description, sourceLocation: sourceLocation)
}

/// Requires `body` to fail with `StoreError.database` whose SQLite message contains `fragment`
/// (e.g. "FOREIGN KEY constraint failed").
func expectDatabaseError(containing fragment: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    let error = #expect(throws: StoreError.self, sourceLocation: sourceLocation) { try body() }
    guard case .database(let message)? = error else {
        Issue.record("expected StoreError.database, got \(String(describing: error))", sourceLocation: sourceLocation)
        return
    }
    #expect(message.contains(fragment), "\(message)", sourceLocation: sourceLocation)
}

/// Requires `body` to throw exactly `expected` (compared by description, as `expectStoreError`).
func expectBundleError(_ expected: BundleError, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    let error = #expect(throws: BundleError.self, sourceLocation: sourceLocation) { try body() }
    #expect(error?.description == expected.description, sourceLocation: sourceLocation)
}

/// Requires `body` to refuse a bundle as damaged (`BundleError.damaged`) and returns the report.
@discardableResult
func expectDamagedBundle(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> VerifyReport? {
    let error = #expect(throws: BundleError.self, sourceLocation: sourceLocation) { try body() }
    guard case .damaged(let report)? = error else {
        Issue.record("expected BundleError.damaged, got \(String(describing: error))", sourceLocation: sourceLocation)
        return nil
    }
    #expect(!report.isOK, sourceLocation: sourceLocation)
    return report
}
