import ArgumentParser
import Foundation
import Hashing
import Hub
import Store

/// `bcli batch verify`: proves a run's bytes and rows are what was recorded, in a store or in an
/// exported bundle. Exit 0 everything checks out, 1 a mismatch or missing blob (each listed); other
/// codes as for every command (README, "Exit codes").
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Re-hash a run's blobs and check its record and the chain of records.",
        discussion: """
            verify RUN            every blob RUN names (size, then SHA-256), its run record against its rows, \
            and the chain of records back to the first run.
            verify --all          every run in the store, and that every finished run is on the chain from refs/head.
            verify --bundle FILE  an exported bundle, with no store and no network.
            verify --remote NAME [RUN|--all]  a hub, without pulling and with no local store: with --all (the \
            default) the server re-hashes every blob (sha256()), the chain is walked from the head down to seq 1 \
            and every run's bundle is rebuilt and verified; with RUN, that run's blobs, chain entry, link and bundle.
            --manifest FILE       also check FILE is byte-identical to the manifest RUN ran.
            Problems go to stdout (one per line, or --format json); the summary to stderr.
            --all reports a damaged ledger (missing or empty beside blobs or refs/head, not a database, \
            corrupt) and a refs/head file that disagrees with the ledger as problems.
            Exit: 0 ok, 1 problems found, 2 usage or ambiguous run prefix, 4 unknown run, missing file or \
            no store, 9 store unusable (read-only, disk full; a damaged store for RUN). With --remote: 3 login \
            refused, 7 hub unreachable, 9 the hub has no or another schema version.

            Examples:
              Re-hash one run's blobs and check its record and the chain:
                bcli batch verify 01a2b3c4
              Every run in the store and the whole chain:
                bcli batch verify --all
              An exported bundle, with no store and no network:
                bcli batch verify --bundle run-01a2b3c4.bcli.tar
              The hub behind the remote origin (every blob, the whole chain, every run), without pulling:
                bcli batch verify --remote origin
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: ArgumentHelp("Run id or unique prefix.", valueName: "run"))
    var runID: String?

    @Option(help: ArgumentHelp("Check that this file is byte-identical to the manifest the run ran.", valueName: "file"), completion: .file())
    var manifest: String?

    @Flag(help: "Verify every run in the store and the whole chain.")
    var all = false

    @Option(help: ArgumentHelp("Verify an exported bundle instead of a store.", valueName: "file"), completion: .file())
    var bundle: String?

    @Option(help: ArgumentHelp("Verify the hub behind this remote (config.toml), without pulling.", valueName: "name"))
    var remote: String?

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    func validate() throws {
        if remote != nil {
            if bundle != nil { throw ValidationError("--remote and --bundle cannot be combined") }
            if runID != nil && all { throw ValidationError("give RUN or --all with --remote, not both") }
            if manifest != nil { throw ValidationError("--manifest is not supported with --remote (verify a pulled run instead)") }
            return
        }
        let modes = [runID != nil, all, bundle != nil].filter { $0 }.count
        if modes != 1 { throw ValidationError("give exactly one of RUN, --all or --bundle FILE") }
        if manifest != nil && all { throw ValidationError("--manifest needs RUN or --bundle (it compares one run's manifest)") }
    }

    func run() async throws {
        if let remote {
            let endpoint = try HubRemotes.endpoint(remote)
            let asked = runID
            let (report, subject, record) = try await HubRemotes.with(endpoint) { session -> (VerifyReport, String, Digest?) in
                guard let asked else {
                    return (try await HubVerify.verifyAll(session), "hub \(endpoint.name) (\(endpoint.display))", nil)
                }
                let run: HubRun
                do { run = try await HubPull.resolve(asked, session) } catch let error as StoreError { throw CLIFailure(error) }
                return (try await HubVerify.verifyRun(run, session), "run \(run.id) in hub \(endpoint.name) (\(endpoint.display))",
                        try? Digest(parsing: "sha256:" + run.recordDigest))
            }
            try finish(report, subject: subject, recordDigest: record, chainNoun: "hub chain entry(ies)")
            return
        }
        var report: VerifyReport
        var recordDigest: Digest?
        var subject: String
        do {
            if let manifest, !FileManager.default.fileExists(atPath: manifest) {
                throw CLIFailure(.notFound, "cannot read \(manifest): no such file — check the path")
            }
            if let bundle {
                let (r, parsed) = try RunBundle.verify(fileAt: bundle)
                report = r
                recordDigest = parsed?.recordDigest
                subject = "bundle \(bundle)" + (parsed.map { " (run \($0.runID))" } ?? "")
                if let manifest, let parsed { Self.checkManifest(manifest, bundle: parsed, into: &report) }
            } else if all {
                // A damaged ledger is a finding here (exit 1), not a refusal: this is the check
                // that exists to find it.
                let path = storeOptions.storePath
                if !FileManager.default.fileExists(atPath: path + "/" + LedgerStore.databaseName) && LedgerStore.damage(root: path) == nil {
                    throw CLIFailure(.notFound, StoreOptions.noStore(path))
                }
                report = try StoreVerifier.verifyAll(root: path, durability: storeOptions.durability.value)
                subject = "store \(path)"
            } else {
                let store = try storeOptions.openExisting()
                let id = try store.ledger.resolveRunID(runID!)
                report = try StoreVerifier.verifyRun(id, in: store, manifestFile: manifest)
                recordDigest = try store.ledger.run(id).recordDigest
                subject = "run \(id)"
            }
        } catch let failure as CLIFailure {
            throw failure
        } catch let error as StoreError {
            throw CLIFailure(error)
        } catch let error as BundleError {
            throw CLIFailure(error.exitStatus, error.description)
        }
        try finish(report, subject: subject, recordDigest: recordDigest)
    }

    /// Prints the report (problems on stdout, text or JSON; the summary on stderr) and fails with
    /// exit 1 when it found problems.
    func finish(_ report: VerifyReport, subject: String, recordDigest: Digest?, chainNoun: String = "record(s)") throws {
        switch format {
        case .json:
            VerifyJSONReport(report, subject: subject, recordDigest: recordDigest).printJSON()
        case .text:
            for p in report.problems { Terminal.line(p.line) }
            for n in report.notes { Terminal.note("note: \(n)") }
        }
        let chain = report.chain.isEmpty ? "" : ", chain of \(report.chain.count) \(chainNoun)"
        let record = recordDigest.map { ", record \($0)" } ?? ""
        if report.isOK {
            Terminal.note("verified \(subject): \(report.runsChecked.count) run(s), \(report.blobsChecked) blob(s), \(report.bytesChecked) bytes\(chain)\(record): OK")
        } else {
            let damage = report.problems.first { $0.kind == .ledgerDamaged }.map { " — " + $0.detail } ?? ""
            throw CLIFailure(.failure, "\(subject): \(report.problems.count) problem(s) (listed above)\(record)\(damage) — see docs/audit.md for what each means")
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
