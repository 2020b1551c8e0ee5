import ArgumentParser
import Hashing
import Store

/// `bcli batch import FILE`: adds an exported run to a store, after verifying the bundle.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Verify a bundle and add its run to the store (blobs deduplicated).",
        discussion: """
            Nothing is written unless the bundle verifies. Importing the same bundle twice is a no-op; a run id \
            that exists with different content is refused. The run keeps its id and record but does not join this \
            store's chain (refs/head); it is kept under refs/imported/<run-id>. stdout: the run id. \
            Exit: 0 ok, 1 the bundle failed verification, 4 unreadable file or missing parent run, \
            5 not a bundle, 8 refused (conflicting run), 9 store unusable (damaged, read-only, disk full).

            Examples:
              Verify a bundle and add its run to the default store:
                bcli batch import run-01a2b3c4.bcli.tar
              Into another store:
                bcli batch import run-01a2b3c4.bcli.tar --store /srv/audit
            """
    )

    @OptionGroup var storeOptions: WritingStoreOptions

    @Argument(help: ArgumentHelp("A bundle written by `bcli batch export`.", valueName: "file"), completion: .file())
    var file: String

    func run() throws {
        let store = try storeOptions.open()
        do {
            let result = try Importer.importBundle(fileAt: file, into: store)
            Terminal.line(result.runID)
            if result.alreadyPresent {
                Terminal.note("run \(result.runID) is already in \(store.root); nothing to import"
                    + (result.blobsWritten > 0 ? " (restored \(result.blobsWritten) missing blob(s))" : ""))
            } else {
                Terminal.note("imported run \(result.runID): \(result.steps) step(s), \(result.blobsWritten) blob(s) written, \(result.blobsDeduplicated) already present; record \(result.recordDigest?.description ?? "none")")
            }
        } catch {
            if case .damaged(let report) = error {
                for p in report.problems { Terminal.note(p.line) }
            }
            throw CLIFailure(error.exitStatus, error.description)
        }
    }
}

extension BundleError {
    var exitStatus: ExitStatus {
        switch self {
        case .unreadable, .missingParent: return .notFound
        case .notABundle, .unsupportedVersion: return .invalidInput
        case .damaged, .unfinished: return .failure
        case .conflict: return .refused
        case .store(let e): return e.exitStatus
        }
    }
}
