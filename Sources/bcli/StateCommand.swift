import ArgumentParser
import Foundation
import Hashing
import Hub
import Store

/// `bcli batch state RUN`: one run, its derived state and every step row (`-f csv|ndjson`: one
/// row per step, the columns of `-f json`'s `steps`).
struct StateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Show a run and its steps (what landed, what failed, what is unknown).",
        discussion: """
            RUN is a run id, the unique prefix `bcli batch list` shows, `latest` (the newest run) or `latest~N`.
            The table fits the terminal (its width, else $COLUMNS, else 100); --wide prints every cell whole.

            Examples:
              Show the newest run and its steps:
                bcli batch state latest
              The run before it, with full URLs, ETags and correlation ids:
                bcli batch state latest~1 --wide
              Every column and digest, as JSON:
                bcli batch state 01a2b3c4 -f json
              The newest run in the hub behind the remote origin, without pulling it:
                bcli batch state latest --remote origin
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @OptionGroup var remoteOption: RemoteReadOption

    @Argument(help: ArgumentHelp("Run id or unique prefix.", valueName: "run"))
    var runID: String

    @Option(name: [.short, .long], help: RecordFormat.help)
    var format: RecordFormat?

    @Flag(help: "Table: full URLs, ETags and correlation ids, and no fitting to the terminal's width.")
    var wide = false

    func validate() throws { try remoteOption.validate(with: storeOptions) }

    func run() async throws {
        guard let remote = remoteOption.remote else { return try show(runID, in: try storeOptions.openExisting()) }
        // The run, its ancestors and the runs that follow it, pulled into a throwaway store.
        let (view, ids) = try await HubRemotes.view(remote, runs: [runID], followers: .all)
        defer { view.close() }
        try show(ids[0], in: view.store)
    }

    func show(_ runID: String, in store: LedgerStore) throws {
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
            Terminal.line("State:     \(Style.stdout.paint(status: record.state.rawValue))\(record.interrupted && record.state != .interrupted ? " (interrupted)" : "")")
            if let parent = record.parentRunID { Terminal.line("Parent:    \(parent)\((try? store.run(parent)).map { "  (\($0.kind.rawValue), \($0.state.rawValue))" } ?? "")") }
            for child in children {
                let verb = [RunKind.resume: "resumed by", .reconcile: "reconciled by", .rollback: "rolled back by"][child.kind] ?? "\(child.kind.rawValue)"
                Terminal.line("Followed:  \(verb) \(child.id) (\(child.state.rawValue))")
            }
            let c = record.counts
            Terminal.line("Steps:     \(record.stepCount.map { "\(c.total) of \($0)" } ?? String(c.total)) — \(c.committed) committed, \(c.failed) failed, \(c.unknown) unknown, \(c.skipped) skipped"
                + (c.rolledBack + c.rollbackSkipped + c.rollbackFailed > 0 ? ", \(c.rolledBack) rolled back, \(c.rollbackFailed) rollback failed" : "")
                + (c.reconciledApplied + c.reconciledNotApplied > 0 ? ", \(c.reconciledApplied) reconciled applied, \(c.reconciledNotApplied) reconciled not applied" : ""))
            Terminal.line("")
            StepTable.make(steps, wide: wide, style: Style.stdout).print(width: TableWidth.resolve(wide: wide))
            if record.state == .interrupted {
                Terminal.note("the run stopped before its last step (no process holds its lock); \(record.stepCount.map { "\(c.total) of \($0)" } ?? String(c.total)) steps were recorded")
            }
            if c.unknown > 0 {
                Terminal.note("\(c.unknown) step(s) are unknown: the request was sent but no outcome was recorded; `bcli batch reconcile \(store.ledger.abbreviation(of: record.id))` asks Business Central what they did (docs/recovery.md)")
            }
        }
    }
}

/// `bcli batch list`: runs newest first, with derived states and step counts (`-f csv|ndjson`: one
/// row per run, the keys of `-f json`'s `runs`).
struct ListCommand: AsyncParsableCommand {
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
              The runs in the hub behind the remote origin (nothing is pulled):
                bcli batch list --remote origin
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @OptionGroup var remoteOption: RemoteReadOption

    @Option(help: ArgumentHelp("Only runs in this state: \(RunState.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "state"))
    var state: String?

    @Option(help: "At most this many runs.")
    var limit: Int = 50

    @Option(help: ArgumentHelp("Only runs started at or after this UTC date (YYYY-MM-DD or ISO-8601 with Z).", valueName: "date"))
    var since: String?

    @Option(name: [.short, .long], help: RecordFormat.help)
    var format: RecordFormat?

    @Flag(help: "Table: full run ids and no fitting to the terminal's width.")
    var wide = false

    func validate() throws {
        try remoteOption.validate(with: storeOptions)
        if let state, RunState(rawValue: state) == nil {
            throw ValidationError("unknown state '\(state)'; use one of \(RunState.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let since, Timestamp.normalise(since) == nil {
            throw ValidationError("--since '\(since)' is not a date; write YYYY-MM-DD or 2026-11-27T10:00:00Z")
        }
    }

    func run() async throws {
        let filter = Ledger.RunFilter(state: state.flatMap(RunState.init(rawValue:)), since: since.flatMap(Timestamp.normalise), limit: limit)
        var runs: [RunRecord] = []
        var short: [String: String] = [:]
        var empty = "No batch runs found."
        if let remote = remoteOption.remote {
            // The hub: each run's two row blobs, re-hashed, derived as a store derives them.
            let endpoint = try HubRemotes.endpoint(remote)
            let abbreviate = !wide && RecordFormat.resolve(format, defaultName: RecordFormat.configured()) == .table
            (runs, short) = try await HubRemotes.reading(endpoint) { session in
                let runs = try await HubRead.list(session, state: filter.state, since: filter.since, limit: limit)
                let ids = runs.map(\.id) + runs.compactMap(\.parentRunID)
                return (runs, abbreviate ? (try? await HubRead.abbreviations(of: ids, session)) ?? [:] : [:])
            }
            empty = "No batch runs found in the hub \(endpoint.name) (\(endpoint.display))."
        } else {
            // No store yet (nothing has run on this machine, or --store names a new folder): an
            // empty list and exit 0, as `git log` in a new repository prints nothing. Nothing is created.
            let store = try storeOptions.openIfExists()
            if let store {
                do { runs = try store.runs(filter) } catch { throw CLIFailure(error.exitStatus, error.description) }
                short = wide ? [:] : (try? store.ledger.abbreviations(of: runs.map(\.id) + runs.compactMap(\.parentRunID))) ?? [:]
            } else {
                empty = "No batch runs found (no store at \(storeOptions.storePath) yet)."
            }
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
                Terminal.note(empty)
                return
            }
            let style = Style.stdout
            Table(columns: [
                .init(title: "run_id"), .init(title: "started_at"), .init(title: "kind"),
                .init(title: "state", paint: { style.paint(status: $0.trimmingCharacters(in: .whitespaces)) }),
                .init(title: "steps"), .init(title: "parent"), .init(title: "profile", flexible: true),
                .init(title: "manifest", flexible: true, minimum: 12, keepEnd: true),
            ], rows: runs.map { r in
                [wide ? r.id : short[r.id] ?? r.id, r.startedAt, r.kind.rawValue,
                 r.state.rawValue + (r.interrupted && r.state != .interrupted ? " (interrupted)" : ""),
                 r.stepCount.map { "\(r.counts.total)/\($0)" } ?? String(r.counts.total),
                 r.parentRunID.map { wide ? $0 : short[$0] ?? $0 } ?? "-", r.profile ?? "-", r.manifestPath ?? r.name ?? "-"]
            }).print(width: TableWidth.resolve(wide: wide))
        }
    }
}

/// `state`'s step table: the endpoint relative to the company (`customers(ba80f1c2…)`), and why
/// a step failed or was skipped; `--wide` adds the full URL, ETag and correlation id.
enum StepTable {
    static func make(_ steps: [StepRecord], wide: Bool, style: Style) -> Table {
        var columns: [Table.Column] = [
            .init(title: "seq"), .init(title: "name", flexible: true, minimum: 10), .init(title: "method"),
            .init(title: wide ? "url" : "endpoint", flexible: !wide, minimum: 16),
            .init(title: "status", paint: { style.paint(status: $0.trimmingCharacters(in: .whitespaces)) }),
            .init(title: "http"), .init(title: "ms"),
        ]
        if wide { columns += [.init(title: "etag"), .init(title: "correlation")] }
        columns.append(.init(title: "reason", flexible: true, minimum: 16))
        let rows = steps.map { s -> [String] in
            var row = [String(s.seq), s.name, s.method.rawValue, wide ? s.url : endpoint(s.url, ellipsis: style.ellipsis), s.statusName,
                       s.httpStatus.map(String.init) ?? "-", s.durationMs.map(String.init) ?? "-"]
            if wide { row += [s.etag ?? "-", s.bcCorrelationID ?? s.correlationRequestID ?? s.requestID ?? s.msCorrelationX ?? "-"] }
            row.append(reason(s) ?? "")
            return row
        }
        return Table(columns: columns, rows: rows)
    }

    /// Why a step did not commit: Business Central's error code and message, else the recorded
    /// reason (a skip's cause, a transport error); nil for a step that committed.
    static func reason(_ s: StepRecord) -> String? {
        if let code = s.bcErrorCode {
            return code + (s.bcErrorMessage.map { ": " + $0 } ?? "")
        }
        if s.status == nil { return "no outcome recorded (the request may have landed; see `bcli batch reconcile`)" }
        guard let message = s.errorMessage, !message.isEmpty else { return nil }
        return message.replacingOccurrences(of: "\n", with: " ")
    }

    /// The part of `url` after `companies(…)/` — what the manifest's `endpoint:` named — with
    /// long ids (GUIDs) in parentheses cut to 8 characters.
    static func endpoint(_ url: String, ellipsis: String) -> String {
        var rest = Substring(url)
        if let company = url.range(of: "/companies(") {
            let after = url[company.upperBound...]
            if let close = after.firstIndex(of: ")") {
                rest = after[after.index(after: close)...]
                if rest.hasPrefix("/") { rest = rest.dropFirst() }
            }
        } else if let scheme = url.range(of: "://"), let slash = url[scheme.upperBound...].firstIndex(of: "/") {
            rest = url[url.index(after: slash)...]
        }
        var out = ""
        var i = rest.startIndex
        while i < rest.endIndex {
            let c = rest[i]
            out.append(c)
            i = rest.index(after: i)
            guard c == "(", let close = rest[i...].firstIndex(of: ")") else { continue }
            let inside = rest[i..<close]
            if inside.count > 12, inside.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                out += inside.prefix(8) + ellipsis
                i = close
            }
        }
        return out.isEmpty ? url : out.removingPercentEncoding ?? out
    }
}
