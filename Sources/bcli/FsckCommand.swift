import ArgumentParser
import Hashing
import Store

/// `bcli batch fsck`: checks every blob against its name and the database against itself.
struct FsckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck",
        abstract: "Check the store: missing, corrupt, truncated or empty blobs, leftover temp files.",
        discussion: "Exit 0 clean (notices allowed), 1 problems found, 2 the check itself failed."
    )

    @OptionGroup var storeOptions: StoreOptions

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    func run() throws {
        let report: FsckReport
        do {
            report = try Fsck.check(try storeOptions.openExisting())
        } catch let failure as CLIFailure {
            throw CLIFailure(.usage, failure.message)
        } catch {
            throw CLIFailure(.usage, "fsck could not finish: \(error)")
        }
        switch format {
        case .json:
            let json: JSONValue = .object([
                "format_version": 1,
                "clean": .bool(report.isClean),
                "objects_checked": .number(Double(report.objectsChecked)),
                "files_on_disk": .number(Double(report.filesOnDisk)),
                "findings": .array(report.findings.map { f in
                    .object([
                        "severity": .string(f.severity.rawValue),
                        "kind": .string(f.kind),
                        "path": .string(f.path),
                        "digest": f.digest.map { .string($0.description) } ?? .null,
                        "detail": .string(f.detail),
                    ])
                }),
            ])
            Terminal.line(json.prettyPrinted())
        case .text:
            for f in report.findings {
                Terminal.line("\(f.severity.rawValue)\t\(f.kind)\t\(f.digest?.description ?? "-")\t\(f.path)\t\(f.detail)")
            }
            let notices = report.findings.count - report.problems.count
            Terminal.note("checked \(report.objectsChecked) indexed blobs, \(report.filesOnDisk) files on disk: "
                + (report.isClean ? "clean" : "\(report.problems.count) problem(s)")
                + (notices > 0 ? ", \(notices) notice(s)" : ""))
        }
        if !report.isClean { throw CLIFailure(.failure, "the store has problems (listed above); restore the named blobs from a bundle or backup") }
    }
}
