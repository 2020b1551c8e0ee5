import ArgumentParser
import Foundation
import Hashing
import Store

/// `bcli batch fsck`: checks every blob against its name and the database against itself.
struct FsckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck",
        abstract: "Check the store: missing, corrupt, truncated or empty blobs, leftover temp files.",
        discussion: """
            Also reports a damaged ledger (missing or empty beside blobs or refs/head, not a database, corrupt) \
            and a refs/head file that disagrees with the ledger. Exit 0 clean (notices allowed), 1 problems \
            found, 4 no store, 9 the store cannot be read (read-only, disk full).

            Examples:
              Check the default store:
                bcli batch fsck
              Check another store and print the problems as JSON:
                bcli batch fsck --store /srv/bcli --format json
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    func run() throws {
        let report: FsckReport
        let path = storeOptions.storePath
        if !FileManager.default.fileExists(atPath: path + "/" + LedgerStore.databaseName) && LedgerStore.damage(root: path) == nil {
            throw CLIFailure(.notFound, StoreOptions.noStore(path))
        }
        do {
            // A damaged ledger is a finding (exit 1), not a refusal: fsck exists to find it.
            report = try Fsck.check(root: path, durability: storeOptions.durability.value)
        } catch {
            throw CLIFailure(error.exitStatus, "fsck could not finish: \(error)")
        }
        switch format {
        case .json:
            FsckJSONReport(report).printJSON()
        case .text:
            for f in report.findings {
                Terminal.line("\(f.severity.rawValue)\t\(f.kind)\t\(f.digest?.description ?? "-")\t\(f.path)\t\(f.detail)")
            }
            let notices = report.findings.count - report.problems.count
            Terminal.note("checked \(report.objectsChecked) indexed blobs, \(report.filesOnDisk) files on disk: "
                + (report.isClean ? "clean" : "\(report.problems.count) problem(s)")
                + (notices > 0 ? ", \(notices) notice(s)" : ""))
        }
        if let damage = report.problems.first(where: { $0.kind == "ledger-damaged" }) {
            throw CLIFailure(.failure, damage.detail)
        }
        if !report.isClean { throw CLIFailure(.failure, "the store has problems (listed above); restore the named blobs from a bundle or backup") }
    }
}
