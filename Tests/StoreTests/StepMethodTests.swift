import Foundation
import Testing
import Hashing
@testable import Store

/// The `step.method` column is TEXT; `RecordedMethod` is its one type. Every spelling bcli writes
/// reads back as itself (run records hash the spelling), and a spelling bcli never writes is
/// refused rather than guessed.
@Suite struct StepMethodColumnTests {
    /// A fresh folder under the system temp dir, removed when the test ends.
    final class Folder {
        let path = NSTemporaryDirectory() + "bcli-step-method-" + UUID().uuidString
        init() { try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    @Test func everySpellingRoundTrips() {
        let all: [RecordedMethod] = StepMethod.allCases.map(RecordedMethod.http) + [.unresolved, .noRequest]
        #expect(all.map(\.rawValue) == ["GET", "POST", "PATCH", "DELETE", "?", "NONE"])
        for method in all {
            #expect(RecordedMethod(rawValue: method.rawValue) == method)
            #expect("\(method)" == method.rawValue)
        }
        #expect(RecordedMethod.post == .http(.post))
        #expect(RecordedMethod.noRequest.http == nil && RecordedMethod.unresolved.http == nil)
        for other in ["PUT", "HEAD", "get", "none", ""] {
            #expect(RecordedMethod(rawValue: other) == nil)
        }
        #expect(StepMethod.allCases.filter(\.isWrite) == [.post, .patch, .delete])
    }

    @Test func rowsKeepTheirSpelling() throws {
        let folder = Folder()
        let store = try LedgerStore(root: folder.path + "/store")
        let run = NewRun(toolVersion: "test")
        try store.ledger.startRun(run)
        let methods: [RecordedMethod] = [.get, .post, .patch, .delete, .unresolved, .noRequest]
        for (i, method) in methods.enumerated() {
            let intent = StepIntent(runID: run.id, seq: i + 1, name: "s\(i + 1)", method: method, url: "http://127.0.0.1/x")
            try store.ledger.writeSkipped(intent, reason: "test")
        }
        let steps = try store.ledger.steps(runID: run.id)
        #expect(steps.map(\.method) == methods)
        #expect(steps.map { RunRecordDocument.stepJSON($0)["method"]?.stringValue } == ["GET", "POST", "PATCH", "DELETE", "?", "NONE"])
    }

    @Test func aSpellingBcliNeverWritesIsRefused() throws {
        let folder = Folder()
        let store = try LedgerStore(root: folder.path + "/store")
        let run = NewRun(toolVersion: "test")
        try store.ledger.startRun(run)
        try store.ledger.write { db in
            try db.execute(sql: "INSERT INTO step (run_id, seq, name, method, url, client_request_id, intent_at) VALUES (?, 1, 'a', 'PUT', 'u', 'c', 't')",
                           arguments: [run.id])
        }
        let error = #expect(throws: StoreError.self) { try store.ledger.steps(runID: run.id) }
        guard case .database(let message)? = error else {
            Issue.record("expected StoreError.database, got \(String(describing: error))")
            return
        }
        #expect(message.contains("'PUT'"), "\(message)")
    }
}
