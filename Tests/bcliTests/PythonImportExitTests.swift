import Store
import Testing

@testable import bcli

/// `batch import-python-ledger`'s exit codes, from the exit table.
@Suite struct PythonImportExitTests {

    @Test func eachRefusalHasItsCode() {
        #expect(ExitStatus(PythonLedgerError.folderMissing("/x")) == .notFound)
        #expect(ExitStatus(PythonLedgerError.notAPythonLedger(path: "/x.db", reason: "r")) == .invalidInput)
        #expect(ExitStatus(PythonLedgerError.unimportable(path: "/x.db", reason: "r")) == .failure)
        #expect(ExitStatus(PythonLedgerError.collision(path: "/x.db", runID: "a", kind: .batch)) == .failure)
        #expect(ExitStatus(PythonLedgerError.store(path: "/x.db", .database("d"))) == .storeUnusable)
    }

    @Test func aFolderExitsWithItsWorstRefusal() {
        func r(_ outcome: PythonImportOutcome) -> PythonImportResult { PythonImportResult(file: "f.db", outcome: outcome) }
        let already = r(.alreadyImported(runID: "a", sourceChanged: false))
        let collision = r(.refused(.collision(path: "f.db", runID: "a", kind: .batch)))
        let notLedger = r(.refused(.notAPythonLedger(path: "f.db", reason: "r")))
        #expect(ExitStatus(pythonImport: []) == .ok)
        #expect(ExitStatus(pythonImport: [already]) == .ok)
        #expect(ExitStatus(pythonImport: [already, collision]) == .failure)
        #expect(ExitStatus(pythonImport: [collision, notLedger, already]) == .invalidInput)
    }
}
