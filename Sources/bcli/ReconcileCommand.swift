import ArgumentParser
import Batch
import BusinessCentral
import Foundation
import Hashing
import Store

/// `bcli batch reconcile RUN`: ask Business Central what each of RUN's unknown steps did, and
/// record the answer with its evidence.
struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Decide what a run's unknown steps did (applied, not applied, undecidable), with evidence.",
        discussion: """
            For each step whose outcome is unknown (sent, no answer), one GET: a PATCH or DELETE reads the record, \
            a POST searches its collection by reconcile_by, number/code, or the body's fields created since the \
            intent. The decision, the rule and the GET are recorded as a run of kind reconcile under RUN; an \
            applied or not-applied step gets that status (undecidable ones stay unknown). Only GETs are sent. \
            See docs/recovery.md for every rule.
            Exit: 0 every unknown step decided (or none was unknown), 1 some stay undecidable, 8 refused, 4 unknown run.

            Examples:
              Decide what the run's unknown steps did and record it:
                bcli batch reconcile 01a2b3c4
              Send the GETs and print the decisions; record nothing:
                bcli batch reconcile 01a2b3c4 --dry-run
              Use another profile and print the decisions as JSON:
                bcli batch reconcile 01a2b3c4 -p prod --format json
            """
    )

    @OptionGroup var storeOptions: WritingStoreOptions

    @Argument(help: ArgumentHelp("Run id or unique prefix.", valueName: "run"))
    var runID: String

    @Option(name: [.short, .long], help: "Profile to use (default: the profile the run recorded).")
    var profile: String?

    @Flag(help: "Send the GETs and print the decisions; record nothing.")
    var dryRun = false

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    func run() async throws {
        let environment = storeOptions.environment
        let store = try storeOptions.openExisting()
        let run: RunRecord
        do { run = try store.run(runID) } catch { throw CLIFailure(error.exitStatus, error.description) }
        let profile = try RecordedRunProfile.load(for: run, requested: self.profile, environment: environment)
        let familyLock = try dryRun ? nil : Reconcile.lockFamily(of: run, store: store)
        defer { familyLock?.release() }
        let undecided = try await Reconcile.all([run], store: store, profile: profile, environment: environment,
                                                format: format, dryRun: dryRun, familyLocked: familyLock != nil)
        if undecided > 0 {
            throw CLIFailure(.failure, "\(undecided) step(s) stay undecidable: check them in Business Central (see the details above and docs/recovery.md)")
        }
    }
}

/// Reconciling from the CLI: `batch reconcile` and `batch resume --reconcile`.
enum Reconcile {
    /// The runs of RUN's family (the original batch run and its resume runs) that have unknown steps.
    static func family(of run: RunRecord, store: LedgerStore) throws -> [RunRecord] {
        do {
            let rootID = run.kind == .resume ? (run.parentRunID ?? run.id) : run.id
            return try ResumePlanner.family(root: rootID, store: store).filter { $0.counts.unknown > 0 }
        } catch { throw CLIFailure(error.exitStatus, error.description) }
    }

    /// The lock of a run's family (the original batch run's lock): held by `resume` and
    /// `reconcile` for their whole duration (and by `rollback` of the original), so two of them
    /// never decide or send for the same family at once.
    static func lockFamily(of run: RunRecord, store: LedgerStore) throws -> RunLock {
        let root = run.kind == .resume ? (run.parentRunID ?? run.id) : run.id
        do { return try store.lock(runID: root) } catch {
            if case .runLocked = error {
                throw CLIFailure(.refused, "run \(root) is being run, resumed, reconciled or rolled back by another process (it holds the run's lock); wait for it to finish, then try again")
            }
            throw CLIFailure(error.exitStatus, error.description)
        }
    }

    /// Reconciles each run in turn; prints the decisions; returns how many steps stay undecidable.
    /// `familyLocked`: the caller holds the family's lock (`lockFamily`), so no other process is
    /// running, resuming or reconciling it.
    static func all(_ runs: [RunRecord], store: LedgerStore, profile: Profile, environment: [String: String],
                    format: OutputFormat, dryRun: Bool = false, familyLocked: Bool = false,
                    textToStderr: Bool = false) async throws -> Int {
        for run in runs where !familyLocked {
            guard run.kind == .batch || run.kind == .resume else {
                throw CLIFailure(.refused, "run \(run.id) is a \(run.kind.rawValue) run; reconcile reads the unknown steps of a batch or resume run")
            }
            if RunLock.isHeld(store: store.root, runID: run.id) {
                throw CLIFailure(.refused, "run \(run.id) is still running (a process holds its lock); its steps are not in doubt yet — wait for it, or stop it, then reconcile")
            }
        }
        var undecided = 0
        var reports: [ReconcileReport] = []
        for run in runs {
            let result = try await withRunSession(profile: profile, store: store, environment: environment) { session in
                let client = try await session.connect(interruptNote: "interrupt: finishing the current GET, then stopping")
                do {
                    return try await Reconciler(store: store, client: client, profile: session.profile)
                        .reconcile(run, dryRun: dryRun, rebase: URLRebase(from: run.baseURL, to: session.profile.baseURL),
                                   cancellation: session.cancellation)
                } catch let error as StoreError {
                    throw CLIFailure(error.exitStatus, "the ledger could not be written: \(error)")
                }
            }
            undecided += result.undecided
            let report = ReconcileReport(run: run, result: result, dryRun: dryRun)
            if format == .json { reports.append(report) } else { report.printText(line: textToStderr ? Terminal.note : Terminal.line, abbreviate: store.ledger.abbreviation(of:)) }
            if result.cancelled { throw CLIFailure(.interrupted, "interrupted: reconcile run \(result.runID ?? "-") stamped cancelled") }
        }
        if format == .json {
            if reports.count == 1 { reports[0].printJSON() } else { ReconcileReports(runs: reports).printJSON() }
        }
        return undecided
    }
}

/// `batch reconcile --format json`.
struct ReconcileReport: JSONReport {
    let formatVersion = 1
    let run: String
    let reconcileRun: String?
    let state: String?
    let dryRun: Bool
    let decided: Int
    let undecidable: Int
    let steps: [Step]

    struct Step: Encodable {
        let seq: Int
        let name: String
        let method: String
        let url: String
        let decision: String
        let rule: String
        let detail: String
        let recordID: String?
        let etag: String?
        let candidates: [String]
        let probeURL: String?
        let evidenceStepID: Int64?
    }

    init(run: RunRecord, result: Reconciler.Result, dryRun: Bool) {
        self.run = run.id
        self.reconcileRun = result.runID
        self.state = result.state?.rawValue
        self.dryRun = dryRun
        self.undecidable = result.undecided
        self.decided = result.items.count - result.undecided
        self.steps = result.items.map { item in
            var recordID: String?, etag: String?, candidates: [String] = []
            switch item.decision {
            case .applied(let id, let e, _, _, _): (recordID, etag) = (id, e)
            case .undecidable(_, _, let c): candidates = c
            case .notApplied: break
            }
            return Step(seq: item.original.seq, name: item.original.name, method: item.original.method.rawValue,
                        url: item.original.url, decision: item.decision.name, rule: item.decision.rule,
                        detail: item.decision.detail, recordID: recordID, etag: etag, candidates: candidates,
                        probeURL: item.probeURL, evidenceStepID: item.evidenceStepID)
        }
    }

    /// `line`: where each decision goes (stdout for `reconcile`; stderr under `resume -f json`,
    /// whose stdout is one JSON document).
    func printText(line: (String) -> Void = Terminal.line, abbreviate: (String) -> String = { $0 }) {
        if steps.isEmpty {
            Terminal.note("run \(run): no step's outcome is unknown; nothing to reconcile")
            return
        }
        for s in steps {
            let mark = s.decision == "applied" ? Style.stdout.mark(true) : s.decision == "not_applied" ? Style.stdout.notApplied : Style.stdout.paint("?", .yellow)
            let applied = s.decision == "applied" ? "applied" : s.decision == "not_applied" ? "not applied" : "undecidable"
            line("\(mark) step \(s.seq) \(s.name) \(s.method): \(applied) [\(s.rule)] — \(s.detail)"
                + (s.recordID.map { " (record \($0))" } ?? "")
                + (s.candidates.isEmpty ? "" : " candidates: \(s.candidates.joined(separator: ", "))"))
        }
        let head = dryRun ? "--dry-run: nothing recorded" : "reconcile run \(reconcileRun ?? "-") (\(state ?? "-"))"
        let next = undecidable > 0
            ? "the undecidable steps stay unknown: check them in Business Central (docs/recovery.md, \"What undecidable means\")"
            : "next: `bcli batch resume \(abbreviate(run))` sends what did not land"
        Terminal.note("\(head): \(decided) decided, \(undecidable) undecidable, for run \(run) — \(next)")
    }
}

/// `batch resume --reconcile --format json` over several runs of a family.
struct ReconcileReports: JSONReport {
    let formatVersion = 1
    let runs: [ReconcileReport]
}
