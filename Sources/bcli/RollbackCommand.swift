import ArgumentParser
import Batch
import BusinessCentral
import Foundation
import Hashing
import Sandbox
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
            """
    )

    @OptionGroup var storeOptions: StoreOptions

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
        let original: RunRecord
        do { original = try store.run(runID) } catch { throw CLIFailure(error.exitStatus, error.description) }

        // Refusals, before anything is sent.
        guard original.kind == .batch else {
            throw CLIFailure(.refused, "run \(original.id) is itself a rollback; roll back its parent \(original.parentRunID ?? "?") instead")
        }
        if RunLock.isHeld(store: store.root, runID: original.id) {
            throw CLIFailure(.refused, StoreError.runLocked(original.id).description)
        }
        let config: BCConfig
        do { config = try BCConfig.load(environment: environment) } catch {
            throw CLIFailure(error)
        }
        let recordedName = original.profile ?? "default"
        var profile: Profile
        do {
            profile = try config.profile(named: self.profile ?? recordedName)
            let recorded: Profile
            do { recorded = try config.profile(named: recordedName) } catch {
                throw CLIFailure(.refused, "refusing to roll back: the run's profile '\(recordedName)' is no longer configured, so its disable_writes setting cannot be checked — restore [profiles.\(recordedName)] in config.toml")
            }
            if recorded.disableWrites {
                throw CLIFailure(.refused, "refusing to roll back: the run's profile '\(recordedName)' has disable_writes = true (no flag bypasses this)")
            }
        } catch let failure as CLIFailure {
            throw failure
        } catch let error as ConfigError {
            throw CLIFailure(error)
        }
        if profile.disableWrites {
            throw CLIFailure(.refused, "refusing to roll back: profile '\(profile.name)' has disable_writes = true (no flag bypasses this)")
        }
        if let company = original.company, let current = profile.companyID, company != current {
            throw CLIFailure(.refused, "refusing to roll back: the run wrote to company \(company), profile '\(profile.name)' points at \(current); pass the run's profile with -p")
        }

        // The plan.
        let steps: [StepRecord]
        let compensations: [StepRecord]
        do {
            steps = try store.ledger.steps(runID: original.id)
            compensations = try store.ledger.compensations(ofRun: original.id)
        } catch { throw CLIFailure(error.exitStatus, error.description) }

        var sandbox: SandboxServer?
        if !dryRun { (profile, sandbox) = try await BuiltinSandbox.startIfNeeded(for: profile, store: store) }
        let from = original.baseURL
        let to = profile.baseURL
        let rebase: (String) -> String = { url in
            guard let from, let to, from != to, url.hasPrefix(from) else { return url }
            return to + url.dropFirst(from.count)
        }
        let plan = RollbackPlanner.plan(runID: original.id, steps: steps, compensations: compensations,
                                        recreateDeleted: recreateDeleted, blob: { try store.objects.get($0) }, rebase: rebase)
        printPlan(plan, original: original)

        if plan.reversible.isEmpty && plan.alreadyUndone.isEmpty {
            await sandbox?.stop()
            if original.state == .rolledBack {
                throw CLIFailure(.refused, "run \(original.id) is already fully rolled back; nothing to do")
            }
            Terminal.note(plan.items.isEmpty ? "Nothing to roll back." : "Nothing left that bcli can undo; the steps above need a person (see the reasons).")
            return
        }
        if dryRun { await sandbox?.stop(); return }
        if !yes {
            guard Terminal.stdinIsTTY else {
                await sandbox?.stop()
                throw CLIFailure(.refused, "refusing to roll back: non-interactive session and --yes was not passed")
            }
            Terminal.note("Type 'yes' to apply this rollback, anything else to cancel: ")
            guard readLine()?.trimmingCharacters(in: .whitespaces).lowercased() == "yes" else {
                await sandbox?.stop()
                throw CLIFailure(.refused, "cancelled; nothing was sent")
            }
        }
        if force { Terminal.note("--force: compensating requests send If-Match: * and may overwrite changes made since the run") }

        let client = BCClient(profile: profile, environment: environment, tokenCache: profile.isSandbox ? .memoryOnly : .standard)
        try await requireToken(client) { await sandbox?.stop() }
        let cancellation = CancellationFlag()
        let signals = SignalWatcher(onFirst: {
            Terminal.note("interrupt: finishing the current request, then stopping")
            cancellation.cancel()
        })
        var options = RollbackExecutor.Options()
        options.force = force
        let result: RollbackExecutor.Result
        do {
            result = try await RollbackExecutor(store: store, client: client, profile: profile, options: options)
                .execute(plan: plan, original: original, cancellation: cancellation)
        } catch {
            signals.stop(); await client.shutdown(); await sandbox?.stop()
            throw CLIFailure(error.exitStatus, error.description)
        }
        signals.stop()
        await client.shutdown()
        await sandbox?.stop()

        let failed = result.results.filter { $0.status == .rollbackFailed }
        switch format {
        case .json:
            RollbackResultReport(result, runID: original.id).printJSON()
        case .text:
            for r in result.results {
                let mark = r.status == .rolledBack ? "✓" : (r.status == .rollbackSkipped ? "!" : "✗")
                Terminal.line("\(mark) \(r.item.action.symbol) step \(r.item.step.seq) \(r.item.step.name): \(r.message)")
            }
            Terminal.line("Rollback run \(result.rollbackRunID): run \(original.id) is now \(result.originalState.rawValue)"
                + (result.remaining > 0 ? "; \(result.remaining) reversible write(s) remain (run rollback again to retry them)" : ""))
        }
        if result.cancelled {
            throw CLIFailure(.interrupted, "interrupted: rollback run \(result.rollbackRunID) stamped cancelled; run rollback again to finish the rest")
        }
        if !failed.isEmpty {
            throw CLIFailure(.failure, "\(failed.count) compensating request(s) failed"
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
                        Terminal.line("      \(k) → \((try? v.canonicalString()) ?? "?")")
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
