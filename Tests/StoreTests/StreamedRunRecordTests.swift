import Foundation
import GRDB
import Hashing
import Testing
import TestSupport
@testable import Store

/// The run record is written step by step to a file and streamed into the store (memory flat in
/// the number of steps); its bytes must be exactly the canonical JSON of the whole document.
@Suite struct StreamedRunRecordTests {
    @Test(arguments: [1, 7, 1_203])
    func streamedRecordIsTheCanonicalDocument(steps: Int) throws {
        let dir = TempDir()
        let store = try LedgerStore(root: dir.path + "/store")
        let run = try startRun(store)
        // Rows written out of manifest order, as a concurrent run writes them.
        for seq in (1...steps).reversed() {
            _ = try addStep(store, run: run, seq: seq, status: seq % 3 == 0 ? nil : (seq % 5 == 0 ? .failed : .committed),
                            method: seq % 2 == 0 ? "PATCH" : "POST")
        }
        let digest = try store.finishRun(run, state: .completed)
        let expected = try store.ledger.read { db -> [UInt8] in
            let record = try RunQuery.fetchAll(db, sql: RunQuery.select(where: "r.id = ?"), arguments: [run]).first!.record(lockHeld: { _ in true })
            let rows = try StepRow.fetchRecords(db, StepRow.ofRun(run))
            var previous: Digest?
            if let prior = record.previousRecordDigest { previous = prior }
            return try RunRecordDocument.make(run: record, steps: rows, previous: previous).canonicalBytes()
        }
        let stored = try store.objects.get(digest)
        #expect(stored == expected)
        #expect(SHA256.hash(expected) == digest)
        #expect(POSIX.listDirectory(store.objects.streamTempDirectory).isEmpty, "the record's temp file was left behind")
    }
}
