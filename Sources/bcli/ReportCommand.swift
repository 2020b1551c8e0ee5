import ArgumentParser
import Batch
import Foundation
import Hashing
import Store

/// `bcli batch report RUN -o FILE`: one self-contained HTML page of a run — who ran what, every
/// step with its request and response one click away, a timeline, the verify result and, with
/// `--against`, the diff with another run — for an auditor to attach to a change ticket.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a self-contained HTML report of a run (steps, bodies, timeline, verify, diff).",
        discussion: """
            The page holds the run's identity (id, kind, state, manifest digest, profile, company, \
            times, run record digest), every step (method, endpoint, status, HTTP status, BC error or \
            skip reason) with its stored request and response bodies and headers in collapsed sections \
            (bodies over 256 KiB are cut; the page names the `bcli batch show` command that prints them \
            whole), a timeline of step durations, the result of `bcli batch verify RUN`, and with \
            --against RUN2 the differences `bcli batch diff RUN RUN2` reports. It loads nothing from \
            the network and runs no script. See docs/report.md.
            -o FILE writes the file atomically and prints its path on stdout; -o - writes the page to stdout.
            Exit: 0 written, 1 written but verify found problems (the page lists them), 2 usage or \
            ambiguous run prefix (or -o names a folder), 4 unknown run or no store, 5 malformed run id, \
            9 store unusable.

            Examples:
              Write a run's report for a change ticket:
                bcli batch report 01a2b3c4 -o run.html
              The report with the differences from another run:
                bcli batch report 01a2b3c4 --against 01a2f7e9 -o run.html
              Write the page to stdout, from another store:
                bcli batch report 01a2b3c4 -o - --store /srv/bcli
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: ArgumentHelp("Run id or unique prefix.", valueName: "run"))
    var runID: String

    @Option(help: ArgumentHelp("Also show the differences from this run (as `bcli batch diff RUN RUN2`).", valueName: "run2"))
    var against: String?

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("The HTML file to write (- for stdout).", valueName: "file"))
    var output: String

    func validate() throws {
        if output.isEmpty { throw ValidationError("-o needs a file name (or - for stdout), e.g. -o run.html") }
    }

    func run() throws {
        let toStdout = output == "-"
        if !toStdout { try Self.checkOutput(output) }
        let store = try storeOptions.openExisting()
        let model: RunReportModel
        do {
            model = try Self.load(store: store, runID: runID, against: against)
        } catch let error as StoreError {
            throw CLIFailure(error)
        } catch let error as DiffError {
            throw CLIFailure(error.exitStatus, error.description)
        }
        let bytes = Array(HTMLReport.render(model).utf8)
        if toStdout {
            Terminal.writeStdout(bytes)
        } else {
            try RunOutput.writeAtomically(bytes, to: output)
            Terminal.line(output)
        }
        let v = model.verify
        let diff = model.diff.map { "; against \($0.b.runID ?? "-"): \($0.counts.line)" } ?? ""
        let destination = toStdout ? "stdout" : output
        Terminal.note("wrote the report of run \(model.run.id) (\(model.steps.count) step(s), \(model.run.state.rawValue); verify \(v.isOK ? "OK" : "found \(v.problems.count) problem(s)")\(diff)) to \(destination), \(bytes.count) bytes")
        if !v.isOK {
            throw CLIFailure(.failure, "run \(model.run.id): verify found \(v.problems.count) problem(s), listed in the report's verify section and by `bcli batch verify \(model.run.id)` — see docs/audit.md")
        }
    }

    /// A folder is not a report file: say so before any work (AtomicFile's rename would fail late
    /// and name a temp file).
    static func checkOutput(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if path.hasSuffix("/") || (FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue) {
            let folder = path.hasSuffix("/") ? String(path.dropLast()) : path
            throw CLIFailure(.usage, "-o \(path) is a directory; name the report file, e.g. -o \(folder.isEmpty ? "" : folder + "/")run.html")
        }
    }

    /// Reads what the page shows: the run (resolved as `state` and `show` resolve it), its steps and
    /// every blob they name (re-hashed on read; one that fails shows why and verify lists it), its
    /// follow-up runs, `verify`'s result and, with `against`, the diff.
    static func load(store: LedgerStore, runID: String, against: String?) throws -> RunReportModel {
        let run = try store.run(runID)
        let records = try store.ledger.steps(runID: run.id)
        let children = try store.ledger.children(of: run.id).map { id throws(StoreError) in try store.run(id) }
        let verify = try StoreVerifier.verifyRun(run.id, in: store)
        let diff = try against.map { b throws(DiffError) in try RunDiffer.compare(store: store, a: run.id, b: b) }
        var budget = ReportBody.pageBudget
        func body(_ digest: Digest?) throws(StoreError) -> ReportBody? {
            guard let digest else { return nil }
            do {
                // A body past the cap is read only as far as the page shows it (its file's
                // first bytes; verify below re-hashes the whole). Small blobs, files or inline,
                // are read whole and re-hashed on read.
                let path = store.objects.path(for: digest)
                let fileSize = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
                if let fileSize, fileSize > ReportBody.defaultCap {
                    guard budget > 0 else { return .omitted(digest, size: fileSize) }
                    let made = ReportBody.make(try Self.prefix(path, count: ReportBody.defaultCap + 4), digest: digest, totalSize: fileSize)
                    budget -= made.shownBytes ?? made.size
                    return made
                }
                let bytes = try store.objects.get(digest)
                guard budget > 0 else { return .omitted(digest, size: bytes.count) }
                let made = ReportBody.make(bytes, digest: digest)
                budget -= made.shownBytes ?? made.size
                return made
            } catch {
                if error.unusableCause != nil { throw error }
                return .unreadable(digest, error.description)
            }
        }
        let steps = try records.map { s throws(StoreError) in
            ReportStep(record: s, request: try body(s.requestDigest), requestHeaders: try body(s.requestHeadersDigest),
                       response: try body(s.responseDigest), responseHeaders: try body(s.responseHeadersDigest),
                       preImage: try body(s.preImageDigest))
        }
        return RunReportModel(run: run, manifest: try body(run.manifestDigest), params: try body(run.paramsDigest), steps: steps, children: children, verify: verify, diff: diff,
                              generator: "bcli \(ToolVersion.current)", generatedAt: Timestamp.now())
    }

    /// The first `count` bytes of the file at `path`.
    static func prefix(_ path: String, count: Int) throws(StoreError) -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw .io(operation: "open", path: path, errno: errno)
        }
        defer { try? handle.close() }
        do {
            return [UInt8](try handle.read(upToCount: count) ?? Data())
        } catch {
            throw .io(operation: "read", path: path, errno: EIO)
        }
    }
}
