import ArgumentParser
import Foundation
import Store

/// `bcli batch import-python-ledger [DIR]`: the Python tool's (bc-cli) run history as runs of kind
/// `imported` (docs/ledger.md, "Runs imported from the Python tool").
struct ImportPythonLedgerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-python-ledger",
        abstract: "Import the Python tool's per-run ledger files (<run-id>.db) as runs of kind imported.",
        discussion: """
            DIR defaults to the Python tool's ledger folder, ~/.config/bcli/batch; a single .db file may be given. \
            Each <run-id>.db is read from a private copy (with its -wal and -shm, so a killed run's rows are \
            recovered there); the source files are never opened or changed. Its rows, stamped state and hashes come \
            across; its bytes are kept as a blob (refs/python-ledger/<run-id>); the runs join the chain of records \
            oldest first. A run already imported is skipped (importing twice adds nothing); a run id that is a \
            bcli run here is refused. The summary goes to stderr; --format json prints one entry per file on stdout. \
            Exit: 0 every file imported or already there, 1 a file could not be imported (the others were), \
            4 no such folder, 5 a file is not a ledger of the Python tool, 9 store unusable.

            Examples:
              Import every run from the Python tool's folder, ~/.config/bcli/batch:
                bcli batch import-python-ledger
              From a copied folder, one JSON entry per file:
                bcli batch import-python-ledger /mnt/backup/batch --format json
            """
    )

    @OptionGroup var storeOptions: WritingStoreOptions

    @Argument(help: ArgumentHelp("The Python tool's ledger folder, or one .db file (default: ~/.config/bcli/batch).", valueName: "dir"), completion: .directory)
    var dir: String?

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    func run() throws {
        let folder = dir ?? PythonLedger.defaultFolder(home: ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory())
        guard FileManager.default.fileExists(atPath: folder) else { throw CLIFailure(ExitStatus(PythonLedgerError.folderMissing(folder)), PythonLedgerError.folderMissing(folder).description) }
        let store = try storeOptions.open()
        let results: [PythonImportResult]
        do { results = try PythonLedger.importAll(from: folder, into: store) } catch {
            throw CLIFailure(ExitStatus(error), error.description)
        }
        var counts = (imported: 0, already: 0, refused: 0)
        for r in results {
            switch r.outcome {
            case let .imported(runID, steps, state, _, wal, _):
                counts.imported += 1
                Terminal.note("imported \(runID): \(steps) step(s), \(state.rawValue)\(wal ? " (rows recovered from its -wal)" : "")")
            case let .alreadyImported(runID, changed):
                counts.already += 1
                Terminal.note("already imported \(runID)\(changed ? " (the file changed since; nothing was added — the imported run keeps what was read then)" : "")")
            case let .refused(error):
                counts.refused += 1
                Terminal.error(error.description)
            }
        }
        if format == .json { PythonImportReport(folder: folder, results: results).printJSON() }
        Terminal.note("\(folder): \(results.count) file(s): \(counts.imported) imported, \(counts.already) already imported, \(counts.refused) refused")
        let status = ExitStatus(pythonImport: results)
        if status != .ok { throw ExitCode(status.rawValue) }
    }
}
