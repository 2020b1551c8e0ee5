import ArgumentParser
import Hashing
import Store

/// `bcli batch gc`: removes what no row names, after a grace period, and optionally prunes old runs
/// while keeping their run records so the chain still verifies.
struct GCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove unreferenced blobs and temp leftovers; optionally prune old finished runs.",
        discussion: """
            Blobs no run, step, ref or pruned run names are removed once older than --grace (file mtime; default 14d). \
            Temp files are removed once older than 1h (or --grace, if shorter). --prune-runs-older-than deletes the step \
            and run rows of finished runs older than that, keeping their run records (`batch verify --all` still walks \
            the chain); unfinished and locked runs are never pruned. Durations: 90d, 2w, 12h, 30m, 45s. \
            stdout: one line per removal; stderr: the summary. Quarantined files are never removed.

            Examples:
              Print what would be removed; remove nothing:
                bcli batch gc --dry-run
              Remove unreferenced blobs older than 14 days and old temp files:
                bcli batch gc
              Also prune finished runs older than 90 days (their records stay):
                bcli batch gc --prune-runs-older-than 90d
            """
    )

    @OptionGroup var storeOptions: WritingStoreOptions

    @Option(help: ArgumentHelp("Prune finished runs older than this (e.g. 90d).", valueName: "duration"))
    var pruneRunsOlderThan: String?

    @Option(help: ArgumentHelp("Keep unreferenced blobs younger than this (default 14d).", valueName: "duration"))
    var grace: String = "14d"

    @Flag(help: "Print what would be removed; remove nothing.")
    var dryRun = false

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    func validate() throws {
        if DurationText.seconds(parsing: grace) == nil { throw ValidationError("--grace '\(grace)' is not a duration; write e.g. 14d, 12h, 30m") }
        if let p = pruneRunsOlderThan, DurationText.seconds(parsing: p) == nil {
            throw ValidationError("--prune-runs-older-than '\(p)' is not a duration; write e.g. 90d")
        }
    }

    func run() throws {
        let store = try storeOptions.openExisting()
        var options = GCOptions()
        options.grace = DurationText.seconds(parsing: grace)!
        options.pruneRunsOlderThan = pruneRunsOlderThan.flatMap(DurationText.seconds(parsing:))
        options.dryRun = dryRun
        let report: GCReport
        do { report = try GC.collect(store, options: options) } catch { throw CLIFailure(error.exitStatus, error.description) }
        let verb = dryRun ? "would remove" : "removed"
        switch format {
        case .json:
            GCJSONReport(report, dryRun: dryRun).printJSON()
        case .text:
            for r in report.prunedRuns {
                Terminal.line("\(dryRun ? "would prune" : "pruned") run \(r.id) (\(r.steps) steps, finished \(r.finishedAt)); record \(r.recordDigest) kept")
            }
            for b in report.blobs { Terminal.line("\(verb) blob \(b.digest) \(b.size) bytes") }
            for t in report.temps { Terminal.line("\(verb) temp \(t.path) \(t.size) bytes") }
            for k in report.keptRuns { Terminal.note("kept run \(k.id): \(k.reason)") }
        }
        Terminal.note("\(dryRun ? "dry run: would free" : "freed") \(report.bytesFreed) bytes: \(report.blobs.count) blob(s), \(report.temps.count) temp file(s), \(report.prunedRuns.count) run(s) pruned"
            + (report.youngUnreferenced > 0 ? "; \(report.youngUnreferenced) unreferenced blob(s) kept (younger than --grace \(grace))" : ""))
    }
}
