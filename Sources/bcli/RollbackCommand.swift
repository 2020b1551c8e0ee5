import ArgumentParser
import Batch
import BusinessCentral
import Foundation
import Hashing
import Store

/// `bcli batch rollback RUN`: plan the undo of every committed write, newest first, show it like
/// a Terraform plan, then carry it out as a run of its own.
struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Undo a run's committed writes (DELETE what it created, PATCH back what it changed).",
        discussion: """
            Plan symbols: - delete a created record, ~ restore changed fields, + re-create a deleted record \
            (--recreate-deleted; it gets a new id), ! not reversible (with the reason), = nothing to undo \
            (the run created and deleted the record itself).
            Every compensating request sends the ETag the ledger recorded; a record changed since the run \
            is a conflict (rollback_failed), never overwritten unless --force (If-Match: *).
            Exit: 0 all reversible writes undone, 1 some failed or conflicted, 8 refused, 4 unknown run.

            Examples:
              Print the undo plan and stop:
                bcli batch rollback 01a2b3c4 --dry-run
              Undo the run's writes without asking for confirmation:
                bcli batch rollback 01a2b3c4 --yes
              Also re-create the records the run deleted (they get new ids):
                bcli batch rollback 01a2b3c4 --recreate-deleted
            """
    )

    @OptionGroup var storeOptions: WritingStoreOptions

    @Argument(help: ArgumentHelp("Run id or unique prefix.", valueName: "run"))
    var runID: String

    @Option(name: [.short, .long], help: "Profile to use (default: the profile the run recorded).")
    var profile: String?

    @Flag(help: "Print the plan and stop.")
    var dryRun = false

    @Flag(name: [.short, .long], help: "Do not ask for confirmation.")
    var yes = false

    @Flag(help: "Send If-Match: * (overwrite records changed since the run). Recorded in the ledger.")
    var force = false

    @Flag(help: "Re-create records the run deleted, from their pre-images (they get new ids).")
    var recreateDeleted = false

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    func run() async throws {
        let environment = storeOptions.environment
        let store = try storeOptions.openExisting()
        // Refusals, before anything is sent.
        let preflight = try RollbackPreflight.check(store: store, run: runID, requestedProfile: profile,
                                                    loadConfig: { () throws(ConfigError) in try BCConfig.load(environment: environment) })
        let original = preflight.original
        let steps: [StepRecord]
        let compensations: [StepRecord]
        do {
            steps = try store.ledger.steps(runID: original.id)
            compensations = try store.ledger.compensations(ofRun: original.id)
        } catch { throw CLIFailure(error.exitStatus, error.description) }

        let outcome = try await withRunSession(profile: preflight.profile, store: store, environment: environment,
                                               startSandbox: !dryRun) { session -> RollbackExecutor.Result? in
            let plan = RollbackPlanner.plan(runID: original.id, steps: steps, compensations: compensations, recreateDeleted: recreateDeleted,
                                            blob: { try store.objects.get($0) }, rebase: preflight.rebase(to: session.profile.baseURL).callAsFunction)
            printPlan(plan, original: original)
            let work: RollbackWork
            do {
                work = try preflight.work(in: plan)
            } catch RollbackRefusal.alreadyRolledBack(let id) {
                // Asking twice is not an error: the wanted end state holds. Nothing is sent or recorded.
                Terminal.note("run \(id) is already fully rolled back; nothing to do")
                if format == .json {
                    Terminal.line(JSONValue.object(["format_version": 1, "run_id": .string(id), "nothing_to_do": true,
                                                    "reason": "already rolled back"]).prettyPrinted())
                }
                return nil
            }
            switch work {
            case .nothingToRollBack: Terminal.note("Nothing to roll back."); return nil
            case .needsAPerson: Terminal.note("Nothing left that bcli can undo; the steps above need a person (see the reasons)."); return nil
            case .apply: if dryRun { return nil }
            }
            if !yes {
                try Confirmation.require(prompt: "Type 'yes' to apply this rollback, anything else to cancel: ",
                                         nonInteractive: "refusing to roll back: non-interactive session and --yes was not passed")
            }
            if force { Terminal.note("--force: compensating requests send If-Match: * and may overwrite changes made since the run") }
            let client = try await session.connect(interruptNote: "interrupt: finishing the current request, then stopping")
            var options = RollbackExecutor.Options()
            options.force = force
            do throws(StoreError) {
                return try await RollbackExecutor(store: store, client: client, profile: session.profile, options: options)
                    .execute(plan: plan, original: original, cancellation: session.cancellation)
            } catch { throw CLIFailure(error.exitStatus, error.description) }
        }
        if let outcome { try report(outcome, original: original) }
    }

    /// The result lines (or JSON), and the exit status of the verdict.
    private func report(_ result: RollbackExecutor.Result, original: RunRecord) throws {
        switch format {
        case .json:
            RollbackResultReport(result, runID: original.id).printJSON()
        case .text:
            for r in result.results {
                let mark = r.status == .rolledBack ? Style.stdout.mark(true) : (r.status == .rollbackSkipped ? Style.stdout.paint("!", .yellow) : Style.stdout.mark(false))
                Terminal.line("\(mark) \(r.item.action.symbol) step \(r.item.step.seq) \(r.item.step.name): \(r.message)")
            }
            Terminal.line("Rollback run \(result.rollbackRunID): run \(original.id) is now \(result.originalState.rawValue)"
                + (result.remaining > 0 ? "; \(result.remaining) reversible write(s) remain (run rollback again to retry them)" : ""))
        }
        let verdict = RunVerdict(result)
        switch verdict {
        case .ok:
            return
        case .interrupted:
            throw CLIFailure(ExitStatus(verdict), "interrupted: rollback run \(result.rollbackRunID) stamped cancelled; run rollback again to finish the rest")
        case .stepsFailed, .inDoubt:
            let failed = result.results.filter { $0.status == .rollbackFailed }
            throw CLIFailure(ExitStatus(verdict), "\(failed.count) compensating request(s) failed"
                + (failed.contains { $0.conflict } ? " (conflicts: the records changed since the run; re-check them, or pass --force to overwrite)" : ""))
        }
    }

    private func printPlan(_ plan: RollbackPlan, original: RunRecord) {
        switch format {
        case .json:
            guard dryRun else { return }
            RollbackPlanReport(plan, runID: original.id).printJSON()
        case .text:
            Terminal.line("Rollback plan for run \(original.id)\(original.name.map { " (\($0))" } ?? ""), newest first:")
            for item in plan.items {
                let head = "  \(item.action.symbol) step \(item.step.seq) \(item.step.name)"
                switch item.action {
                case .delete(let url):
                    Terminal.line("\(head): DELETE \(url)  If-Match \(force ? "*" : item.ifMatch ?? "-")")
                case .restore(let url, let fields):
                    Terminal.line("\(head): PATCH \(url)  If-Match \(force ? "*" : item.ifMatch ?? "-")")
                    for (k, v) in fields.sorted(by: { $0.key < $1.key }) {
                        Terminal.line("      \(k) \(Style.stdout.arrow) \((try? v.canonicalString()) ?? "?")")
                    }
                case .recreate(let url, _):
                    Terminal.line("\(head): POST \(url)  (re-created from the pre-image; it gets a new id)")
                case .irreversible(let reason):
                    Terminal.line("\(head): \(item.step.method) \(item.step.url) — not reversible: \(reason)")
                case .nothing(let reason):
                    Terminal.line("\(head): \(item.step.method) \(item.step.url) — nothing to undo: \(reason)")
                }
            }
            if !plan.alreadyUndone.isEmpty {
                Terminal.line("  (\(plan.alreadyUndone.count) step(s) were undone by an interrupted rollback and will be marked rolled_back)")
            }
            Terminal.line(plan.summary)
        }
    }
}
