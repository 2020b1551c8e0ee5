import ArgumentParser
import Hashing
import Store

/// `bcli batch verify`: proves a run's bytes and rows are what was recorded, in a store or in an
/// exported bundle. Exit 0 everything checks out, 1 a mismatch or missing blob (each listed), 2 the
/// check itself could not run.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Re-hash a run's blobs and check its record and the chain of records.",
        discussion: """
            verify RUN            every blob RUN names (size, then SHA-256), its run record against its rows, \
            and the chain of records back to the first run.
            verify --all          every run in the store, and that every finished run is on the chain from refs/head.
            verify --bundle FILE  an exported bundle, with no store and no network.
            --manifest FILE       also check FILE is byte-identical to the manifest RUN ran.
            Problems go to stdout (one per line, or --format json); the summary to stderr.
            Exit: 0 ok, 1 mismatch or missing blob, 2 error.
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: ArgumentHelp("Run id or unique prefix.", valueName: "run"))
    var runID: String?

    @Option(help: ArgumentHelp("Check that this file is byte-identical to the manifest the run ran.", valueName: "file"))
    var manifest: String?

    @Flag(help: "Verify every run in the store and the whole chain.")
    var all = false

    @Option(help: ArgumentHelp("Verify an exported bundle instead of a store.", valueName: "file"))
    var bundle: String?

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    func validate() throws {
        let modes = [runID != nil, all, bundle != nil].filter { $0 }.count
        if modes != 1 { throw ValidationError("give exactly one of RUN, --all or --bundle FILE") }
        if manifest != nil && all { throw ValidationError("--manifest needs RUN or --bundle (it compares one run's manifest)") }
    }

    func run() throws {
        var report: VerifyReport
        var recordDigest: Digest?
        var subject: String
        do {
            if let bundle {
                let (r, parsed) = try RunBundle.verify(fileAt: bundle)
                report = r
                recordDigest = parsed?.recordDigest
                subject = "bundle \(bundle)" + (parsed.map { " (run \($0.runID))" } ?? "")
                if let manifest, let parsed { Self.checkManifest(manifest, bundle: parsed, into: &report) }
            } else {
                let store = try storeOptions.openExisting()
                if all {
                    report = try StoreVerifier.verifyAll(in: store)
                    subject = "store \(store.root)"
                } else {
                    let id = try store.ledger.resolveRunID(runID!)
                    report = try StoreVerifier.verifyRun(id, in: store, manifestFile: manifest)
                    recordDigest = try store.ledger.run(id).recordDigest
                    subject = "run \(id)"
                }
            }
        } catch let failure as CLIFailure {
            throw CLIFailure(.usage, failure.message)
        } catch {
            throw CLIFailure(.usage, "verify could not run: \(error)")
        }
        switch format {
        case .json:
            let doc: JSONValue = .object([
                "format_version": 1,
                "ok": .bool(report.isOK),
                "subject": .string(subject),
                "record_digest": recordDigest.map { .string($0.description) } ?? .null,
                "runs_checked": .number(Double(report.runsChecked.count)),
                "blobs_checked": .number(Double(report.blobsChecked)),
                "bytes_checked": .number(Double(report.bytesChecked)),
                "chain": .array(report.chain.map { .string($0.description) }),
                "problems": .array(report.problems.map { p in
                    .object([
                        "kind": .string(p.kind.rawValue),
                        "run_id": p.runID.map { .string($0) } ?? .null,
                        "subject": .string(p.subject),
                        "digest": p.digest.map { .string($0.description) } ?? .null,
                        "detail": .string(p.detail),
                    ])
                }),
                "notes": .array(report.notes.map { .string($0) }),
            ])
            Terminal.line(doc.prettyPrinted())
        case .text:
            for p in report.problems { Terminal.line(p.line) }
            for n in report.notes { Terminal.note("note: \(n)") }
        }
        let chain = report.chain.isEmpty ? "" : ", chain of \(report.chain.count) record(s)"
        let record = recordDigest.map { ", record \($0)" } ?? ""
        if report.isOK {
            Terminal.note("verified \(subject): \(report.runsChecked.count) run(s), \(report.blobsChecked) blob(s), \(report.bytesChecked) bytes\(chain)\(record): OK")
        } else {
            throw CLIFailure(.failure, "\(subject): \(report.problems.count) problem(s) (listed above)\(record) — see docs/audit.md for what each means")
        }
    }

    static func checkManifest(_ file: String, bundle: RunBundle, into report: inout VerifyReport) {
        let recorded = bundle.run["manifest_digest"]?.stringValue.flatMap { try? Digest(parsing: $0) }
        guard let actual = try? SHA256.hash(fileAt: file).digest else {
            report.problems.append(.init(.manifestMismatch, runID: bundle.runID, subject: "manifest", digest: recorded, detail: "cannot read \(file)"))
            return
        }
        if actual != recorded {
            report.problems.append(.init(.manifestMismatch, runID: bundle.runID, subject: "manifest", digest: recorded,
                detail: "\(file) is \(actual), but the run ran \(recorded?.description ?? "no manifest") — the files differ"))
        }
    }
}
