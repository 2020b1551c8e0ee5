import ArgumentParser
import Hashing
import Store

/// `bcli batch state RUN`: one run, its derived state and every step row (`-f csv|ndjson`: one
/// row per step, the columns of `-f json`'s `steps`).
struct StateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Show a run and its steps (what landed, what failed, what is unknown).",
        discussion: """
            RUN is a run id or a unique prefix of at least 6 characters (see `bcli batch list`).

            Examples:
              Show a run and its steps:
                bcli batch state 01a2b3c4
              Every column and digest, as JSON:
                bcli batch state 01a2b3c4 -f json
              One CSV row per step, from another store:
                bcli batch state 01a2b3c4 -f csv --store /srv/bcli
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: ArgumentHelp("Run id or unique prefix.", valueName: "run"))
    var runID: String

    @Option(name: [.short, .long], help: RecordFormat.help)
    var format: RecordFormat?

    func run() throws {
        let store = try storeOptions.openExisting()
        let record: RunRecord
        let steps: [StepRecord]
        let children: [RunRecord]
        do {
            record = try store.run(runID)
            steps = try store.ledger.steps(runID: record.id)
            children = try store.ledger.children(of: record.id).map { id throws(StoreError) in try store.run(id) }
        } catch {
            throw CLIFailure(error.exitStatus, error.description)
        }
        let stepRows = steps.map(RunRecordDocument.stepJSON)
        switch RecordFormat.resolve(format, defaultName: RecordFormat.configured()) {
        case .json:
            RunStateReport(run: RunReport(record), steps: stepRows.map(VerbatimJSON.init),
                           children: children.map { .init(id: $0.id, kind: $0.kind.rawValue, state: $0.state.rawValue) }).printJSON()
        case .csv:
            RecordRows.csv(stepRows).forEach(Terminal.line)
        case .ndjson:
            RecordRows.ndjson(stepRows).forEach(Terminal.line)
        case .table:
            Terminal.line("Run:       \(record.id)  (\(record.kind.rawValue))")
            if let name = record.name { Terminal.line("Batch:     \(name)") }
            Terminal.line("Manifest:  \(record.manifestPath ?? "-")  \(record.manifestDigest?.description ?? "")")
            Terminal.line("Profile:   \(record.profile ?? "-") (\(record.environment ?? "-") / \(record.company ?? "-"))")
            Terminal.line("Started:   \(record.startedAt)")
            Terminal.line("Finished:  \(record.finishedAt ?? (record.interrupted ? "(interrupted — no process holds its lock)" : "(running)"))")
            Terminal.line("State:     \(record.state.rawValue)\(record.interrupted && record.state != .interrupted ? " (interrupted)" : "")")
            if let parent = record.parentRunID { Terminal.line("Parent:    \(parent)") }
            for child in children {
                let verb = [RunKind.resume: "resumed by", .reconcile: "reconciled by", .rollback: "rolled back by"][child.kind] ?? "\(child.kind.rawValue)"
                Terminal.line("Followed:  \(verb) \(child.id) (\(child.state.rawValue))")
            }
            let c = record.counts
            Terminal.line("Steps:     \(record.stepCount.map { "\(c.total) of \($0)" } ?? String(c.total)) — \(c.committed) committed, \(c.failed) failed, \(c.unknown) unknown, \(c.skipped) skipped"
                + (c.rolledBack + c.rollbackSkipped + c.rollbackFailed > 0 ? ", \(c.rolledBack) rolled back, \(c.rollbackFailed) rollback failed" : "")
                + (c.reconciledApplied + c.reconciledNotApplied > 0 ? ", \(c.reconciledApplied) reconciled applied, \(c.reconciledNotApplied) reconciled not applied" : ""))
            Terminal.line("")
            let rows = steps.map { s -> [String] in
                [String(s.seq), s.name, s.method.rawValue, s.url, s.statusName, s.httpStatus.map(String.init) ?? "-", s.etag ?? "-",
                 s.bcCorrelationID ?? s.correlationRequestID ?? s.requestID ?? s.msCorrelationX ?? "-"]
            }
            Table.print(header: ["seq", "name", "method", "url", "status", "http", "etag", "correlation"], rows: rows)
            if record.state == .interrupted {
                Terminal.note("the run stopped before its last step (no process holds its lock); \(record.stepCount.map { "\(c.total) of \($0)" } ?? String(c.total)) steps were recorded")
            }
            if c.unknown > 0 {
                Terminal.note("\(c.unknown) step(s) are unknown: the request was sent but no outcome was recorded; `bcli batch reconcile \(record.id.prefix(12))` asks Business Central what they did (docs/recovery.md)")
            }
        }
    }
}

/// `bcli batch list`: runs newest first, with derived states and step counts (`-f csv|ndjson`: one
/// row per run, the keys of `-f json`'s `runs`).
struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List runs, newest first.",
        discussion: """
            Examples:
              The 50 newest runs:
                bcli batch list
              Runs with a step whose outcome is unknown (reconcile them):
                bcli batch list --state in_doubt
              At most 10 runs started since a date, as JSON:
                bcli batch list --since 2025-01-01 --limit 10 -f json
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Option(help: ArgumentHelp("Only runs in this state: \(RunState.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "state"))
    var state: String?

    @Option(help: "At most this many runs.")
    var limit: Int = 50

    @Option(help: ArgumentHelp("Only runs started at or after this UTC date (YYYY-MM-DD or ISO-8601 with Z).", valueName: "date"))
    var since: String?

    @Option(name: [.short, .long], help: RecordFormat.help)
    var format: RecordFormat?

    func validate() throws {
        if let state, RunState(rawValue: state) == nil {
            throw ValidationError("unknown state '\(state)'; use one of \(RunState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let since, Timestamp.normalise(since) == nil {
            throw ValidationError("--since '\(since)' is not a date; write YYYY-MM-DD or 2026-11-27T10:00:00Z")
        }
    }

    func run() throws {
        // No store yet (nothing has run on this machine, or --store names a new folder): an
        // empty list and exit 0, as `git log` in a new repository prints nothing. Nothing is created.
        let store = try storeOptions.openIfExists()
        let filter = Ledger.RunFilter(state: state.flatMap(RunState.init(rawValue:)), since: since.flatMap(Timestamp.normalise), limit: limit)
        var runs: [RunRecord] = []
        if let store {
            do { runs = try store.runs(filter) } catch { throw CLIFailure(error.exitStatus, error.description) }
        }
        switch RecordFormat.resolve(format, defaultName: RecordFormat.configured()) {
        case .json:
            RunListReport(runs: runs.map(RunReport.init)).printJSON()
        case .csv:
            RecordRows.csv(runs.map { JSONValueEncoder.encode(RunReport($0)) }).forEach(Terminal.line)
        case .ndjson:
            RecordRows.ndjson(runs.map { JSONValueEncoder.encode(RunReport($0)) }).forEach(Terminal.line)
        case .table:
            if runs.isEmpty {
                Terminal.note(store == nil ? "No batch runs found (no store at \(storeOptions.storePath) yet)." : "No batch runs found.")
                return
            }
            Table.print(header: ["run_id", "started_at", "state", "steps", "profile", "manifest"], rows: runs.map { r in
                [r.id, r.startedAt, r.state.rawValue + (r.interrupted && r.state != .interrupted ? " (interrupted)" : ""),
                 r.stepCount.map { "\(r.counts.total)/\($0)" } ?? String(r.counts.total),
                 r.profile ?? "-", r.manifestPath ?? "-"]
            })
        }
    }
}

/// Plain aligned columns (no box drawing, so output stays grep- and cut-friendly).
enum Table {
    static func print(header: [String], rows: [[String]]) {
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func render(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in
                i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        Terminal.line(render(header))
        for row in rows { Terminal.line(render(row)) }
    }
}
