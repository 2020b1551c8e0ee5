import Batch
import BusinessCentral
import Foundation
import Hashing
import Store
import Support

/// The `disable_writes` gate: writes need `--yes` or a typed `yes`; a non-interactive session
/// without `--yes` is refused (exit 8) before any request, GETs included.
enum WriteGate {
    static func confirm(profile: String, writes: [String], yes: Bool) throws {
        Terminal.note("warning: profile '\(profile)' has disable_writes = true and this batch writes: "
            + writes.prefix(3).joined(separator: ", ") + (writes.count > 3 ? ", +\(writes.count - 3) more" : ""))
        if yes { return }
        try Confirmation.require(prompt: "Type 'yes' to proceed, anything else to cancel: ",
                                 nonInteractive: "refusing to write: non-interactive session and --yes was not passed; nothing was sent")
    }
}

/// A typed `yes` on stdin, asked on stderr: a non-interactive session is refused with
/// `nonInteractive` (exit 8), any other answer with "cancelled; nothing was sent" (exit 8).
enum Confirmation {
    static func require(prompt: String, nonInteractive: String) throws {
        guard Terminal.stdinIsTTY else { throw CLIFailure(.refused, nonInteractive) }
        Terminal.note(prompt)
        let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased()
        guard answer == "yes" else { throw CLIFailure(.refused, "cancelled; nothing was sent") }
    }
}

/// `--dry-run`: each step resolved with the current params; steps whose references need earlier
/// responses are shown unresolved. Nothing is sent and nothing is written.
enum DryRun {
    static func print(_ manifest: Manifest, params: ParamSet, profile: Profile, format: RecordFormat) {
        var items: [DryRunReport.Step] = []
        for preview in StepPreview.all(manifest, params: params, outputs: [:], profile: profile) {
            let step = preview.template
            let line: String
            switch preview.outcome {
            case .resolved(let resolved, let url, let body):
                let url = (try? url.get()) ?? resolved.endpoint
                let body = (try? body.get()).map { String(decoding: $0, as: UTF8.self) }
                line = "Step \(step.seq)/\(manifest.steps.count) \(resolved.method.rawValue) \(url)" + (body.map { "\n    body: \($0)" } ?? "")
                    + (resolved.all ? "  (every page: Prefer odata.maxpagesize=\(profile.pageSize), @odata.nextLink followed)" : "")
                items.append(.init(seq: step.seq, name: step.name, method: resolved.method.rawValue, request: .resolved(url: url, body: body)))
            case .unresolved(let reason):
                line = "Step \(step.seq)/\(manifest.steps.count) \(step.method.recorded) \(step.endpoint) (resolved at run time: \(reason.message))"
                items.append(.init(seq: step.seq, name: step.name, method: step.method.recorded.rawValue,
                                   request: .atRunTime(endpoint: step.endpoint, reason: reason.description)))
            }
            if format != .json { Terminal.line(line) }
        }
        if format == .json {
            DryRunReport(steps: items).printJSON()
        } else {
            Terminal.line("--dry-run: \(manifest.steps.count) step(s) would execute; nothing was sent or recorded")
        }
    }
}


/// Per-step lines on stdout (`Step 3/120 POST customers … ✓ created C00030 (201, 84 ms)`), and a
/// live progress line on stderr when stderr is a terminal (`ProgressLine`). With `-f csv|ndjson`,
/// each GET's records and each POST's created record follow the step's line, under
/// `  ── <name> ──` (as the Python tool's `batch run -f` prints them); `-f json` prints no lines
/// (the document comes at the end). Symbols and colour follow `Style.stdout`.
struct StepPrinter: RunObserver {
    let format: RecordFormat
    let store: LedgerStore
    let progress: ProgressLine?

    init(format: RecordFormat, store: LedgerStore, progress: ProgressLine? = ProgressLine.forTerminal()) {
        self.format = format
        self.store = store
        self.progress = progress
    }

    func runStarted(runID: String, steps: Int) { progress?.start(total: steps) }

    func stepStarted(_ s: StepStart) { progress?.started(name: s.name, seq: s.seq) }

    func stepFinished(_ r: StepReport) {
        guard format != .json else {
            progress?.finished(r)
            return
        }
        let style = Style.stdout
        let head = "Step \(r.seq)/\(r.total) \(r.method) \(r.endpoint) \(style.ellipsis)"
        let timing = r.httpStatus.map { "(\($0), \(r.durationMs) ms)" } ?? "(\(r.durationMs) ms)"
        let ok = style.paint(style.ok, .green)
        let tail: String
        switch r.status {
        case .committed?:
            switch r.method.http {
            case .get?:
                let pages = (r.pages ?? 1) > 1 ? " in \(r.pages!) pages" : ""
                tail = "\(ok) \(r.recordCount.map { "\($0) record(s)\(pages)" } ?? "read \(r.label ?? r.recordID ?? "")") \(timing)"
                    + (r.message.map { " — \($0)" } ?? "")
            case .post?: tail = "\(ok) created \(r.label ?? r.recordID ?? "") \(timing)"
            case .patch?: tail = "\(ok) updated \(r.label ?? r.recordID ?? "") \(timing)"
            case .delete?: tail = "\(ok) deleted \(r.recordID ?? "") \(timing)"
            default: tail = "\(ok) \(timing)"
            }
        case .replayed?: tail = "\(style.paint(style.replayed, .green)) \(r.message ?? "replayed")"
        case .skipped?: tail = style.paint("- skipped", .yellow) + ": \(r.message ?? "")"
        case nil: tail = style.paint("? outcome unknown", .yellow) + " (the request may have been committed): \(r.message ?? "")"
        default: tail = "\(style.paint(style.failed + " " + (r.message ?? "failed"), .red)) \(timing)" + (r.correlationID.map { " correlation \($0)" } ?? "")
        }
        var lines = [head + " " + tail]
        if format == .csv || format == .ndjson, r.status == .committed, r.method.http == .get || r.method.http == .post,
           let records = StepData.records(r.stepID.flatMap { try? store.ledger.step(id: $0) }, store: store), !records.isEmpty {
            lines.append("  \(style.rule) \(r.name) \(style.rule)")
            lines += format == .csv ? RecordRows.csv(records) : RecordRows.ndjson(records)
        }
        if let progress {
            progress.finished(r, printing: lines)
        } else {
            lines.forEach(Terminal.line)
        }
    }
}

/// JSON documents for `--format json`, `-o` and `--result-out` (the report types are in Reports.swift).
enum RunOutput {
    /// `AtomicFile.write`: a reader never sees half a file, and a failed write says which call failed.
    static func writeAtomically(_ value: JSONValue, to path: String) throws {
        try writeAtomically(Array((value.prettyPrinted() + "\n").utf8), to: path)
    }

    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        do {
            try AtomicFile.write(bytes, to: path)
        } catch {
            throw CLIFailure(.failure, "cannot write \(path) (\(error)) — check that its folder exists and is writable")
        }
    }
}
