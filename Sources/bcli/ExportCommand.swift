import ArgumentParser
import Hashing
import Store

/// `bcli batch export RUN -o FILE`: one self-contained, deterministic bundle (a ustar archive) for
/// an auditor's machine, where `bcli batch verify --bundle FILE` checks it with no store.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a run (rows and every blob it names) to a verifiable bundle.",
        discussion: """
            The bundle is a tar: bcli-bundle.json, rows/run.json, rows/steps.json (RFC 8785 JSON) and \
            blobs/sha256/<hex>. Exporting the same run twice gives byte-identical files. stdout: \
            `sha256:<digest of the bundle>  FILE`. Exit: 0 ok, 1 a blob is missing or damaged, 2 ambiguous run prefix, 4 no such run, \
            8 the run is still executing, 9 store unusable.

            Examples:
              Write a run to a bundle for an auditor:
                bcli batch export 01a2b3c4 -o run-01a2b3c4.bcli.tar
              From another store:
                bcli batch export 01a2b3c4 --output run.bcli.tar --store /srv/bcli
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: ArgumentHelp("Run id or unique prefix.", valueName: "run"))
    var runID: String

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("The bundle file to write.", valueName: "file"), completion: .file())
    var output: String

    func validate() throws {
        try OutputPath.validate(output, flag: "--output")
    }

    func run() throws {
        let store = try storeOptions.openExisting()
        do {
            let id = try store.ledger.resolveRunID(runID)
            let bytes = try RunBundle.export(runID: id, from: store)
            try RunBundle.write(bytes, to: output)
            Terminal.line("\(SHA256.hash(bytes))  \(output)")
            Terminal.note("exported run \(id) to \(output) (\(bytes.count) bytes); check it anywhere with `bcli batch verify --bundle \(output)`")
        } catch {
            throw CLIFailure(error.exitStatus, error.description)
        }
    }
}
