import ArgumentParser
import Batch
import BusinessCentral
import Foundation
import Hashing
import Store

/// `bcli batch resume RUN`: send the steps of RUN's manifest that did not land, in order, as a
/// run of kind `resume` under RUN — each manifest step applied exactly once across crashes.
struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Send the steps of a run's manifest that are not done yet (after a crash or a failure).",
        discussion: """
            A step is done when it committed, was replayed, or `batch reconcile` found it applied — in RUN or in \
            an earlier resume of it. The rest are sent in manifest order, with RUN's recorded manifest and params; \
            references to done steps read their stored responses. Refused (exit 8) while a step's outcome is \
            unknown (reconcile first, or pass --reconcile), when RUN is running or was rolled back, or when \
            --manifest differs from the recorded manifest. See docs/recovery.md.
            Exit: 0 every owed step landed (or nothing was left), 1 a step failed, 8 refused, 4 unknown run, 130 interrupted.

            Examples:
              Send the steps of the run that did not land:
                bcli batch resume 01a2b3c4
              Reconcile the unknown steps first, then resume:
                bcli batch resume 01a2b3c4 --reconcile
              Print the steps that would be sent; send nothing:
                bcli batch resume 01a2b3c4 --dry-run
              Refuse unless this file is the manifest the run recorded:
                bcli batch resume 01a2b3c4 --manifest examples/quickstart.yaml
            """
    )

    @OptionGroup var storeOptions: WritingStoreOptions

    @Argument(help: ArgumentHelp("The run to resume (id or unique prefix): the original run or one of its resume runs.", valueName: "run"))
    var runID: String

    @Option(name: [.short, .long], help: "Profile to use (default: the profile the run recorded).")
    var profile: String?

    @Option(help: ArgumentHelp("Refuse unless this file is byte-identical to the manifest the run recorded.", valueName: "file"), completion: .file())
    var manifest: String?

    @Flag(help: "Reconcile the run's unknown steps first (`batch reconcile`), then resume if every one was decided.")
    var reconcile = false

    @Flag(help: "Print the steps that would be sent; send nothing, write nothing.")
    var dryRun = false

    @Flag(name: [.short, .long], help: "Confirm writes on a profile with disable_writes = true.")
    var yes = false

    @Flag(help: "Stop starting steps at the first failed step; steps in flight finish (default: record it and go on).")
    var failFast = false

    @OptionGroup var throughput: ThroughputOptions

    @Option(name: [.short, .long], help: RecordFormat.help)
    var format: RecordFormat?

    func run() async throws {
        let environment = storeOptions.environment
        let store = try storeOptions.openExisting()
        let named: RunRecord
        do { named = try store.run(runID) } catch { throw CLIFailure(error.exitStatus, error.description) }
        let file = try manifest.map { path -> (path: String, bytes: [UInt8]) in
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CLIFailure(.notFound, "cannot read manifest \(path): no such file — check the path")
            }
            return (path, [UInt8](data))
        }
        let profile = try RecordedRunProfile.load(for: named, requested: self.profile, environment: environment)
        // The family's lock, held to the end: two resumes (or a resume and a reconcile or a
        // rollback of the original) never work on one family at once.
        let familyLock = try Reconcile.lockFamily(of: named, store: store)
        defer { familyLock.release() }

        // Every refusal but "unknown steps" is checked before anything is sent, --reconcile included.
        do { _ = try ResumePlanner.plan(store: store, runID: named.id, manifestFile: file, allowUnknown: true, familyLocked: true) } catch let refusal as ResumeRefusal {
            throw CLIFailure(.refused, "refusing to resume: \(refusal)")
        } catch let error as StoreError { throw CLIFailure(error.exitStatus, error.description) }
        if reconcile {
            let family = try Reconcile.family(of: named, store: store)
            let undecided = try await Reconcile.all(family, store: store, profile: profile, environment: environment,
                                                    format: .text, dryRun: dryRun, familyLocked: true,
                                                    textToStderr: RecordFormat.resolve(self.format, defaultName: profile.defaultFormat) == .json)
            if undecided > 0 {
                throw CLIFailure(.refused, "not resuming: \(undecided) step(s) stay undecidable after reconciling (see above and docs/recovery.md)")
            }
        }
        let planned: (plan: ResumePlan, manifest: Manifest, params: ParamSet, manifestBlob: BlobRef)
        do { planned = try ResumePlanner.plan(store: store, runID: named.id, manifestFile: file, familyLocked: true) } catch let refusal as ResumeRefusal {
            throw CLIFailure(.refused, "refusing to resume: \(refusal)")
        } catch let error as StoreError { throw CLIFailure(error.exitStatus, error.description) }
        let plan = planned.plan
        let format = RecordFormat.resolve(self.format, defaultName: profile.defaultFormat)

        let refusals = PolicyGate.check(plan.owed, profile: profile)
        if !refusals.isEmpty { throw CLIFailure(.refused, PolicyGate.message(refusals, profile: profile.name)) }
        guard !plan.owed.isEmpty else {
            Terminal.note("nothing to resume: every step of run \(plan.rootRunID) is done")
            if format == .json { ResumePlanReport(run: plan.rootRunID, dryRun: dryRun, done: plan.done.count, owed: []).printJSON() }
            return
        }
        let done = planned.manifest.steps.count - plan.owed.count
        Terminal.note("resuming run \(plan.rootRunID): \(done) of \(planned.manifest.steps.count) step(s) done, \(plan.owed.count) to send (\(plan.owed.map { "\($0.seq) \($0.name)" }.joined(separator: ", ")))")
        if dryRun, format == .json {
            ResumePlanReport(run: plan.rootRunID, dryRun: true, done: done,
                             owed: plan.owed.map { .init(seq: $0.seq, name: $0.name, method: $0.method.recorded.rawValue, endpoint: $0.endpoint) }).printJSON()
            return
        }
        if dryRun {
            for step in plan.owed {
                Terminal.line("Step \(step.seq)/\(planned.manifest.steps.count) \(step.method.recorded) \(step.endpoint)")
            }
            Terminal.line("--dry-run: \(plan.owed.count) step(s) would be sent; nothing was sent or recorded")
            return
        }
        let writes = plan.owed.filter(\.method.mayWrite)
        if profile.disableWrites && !writes.isEmpty {
            try WriteGate.confirm(profile: profile.name, writes: writes.map { "\($0.method.literal?.rawValue ?? "templated") \($0.endpoint)" }, yes: yes)
        }

        let printer = StepPrinter(format: format, store: store)
        defer { printer.progress?.end() }
        let summary = try await withRunSession(profile: profile, store: store, environment: environment) { session in
            let client = try await session.connect(interruptNote: ThroughputOptions.interruptNote)
            let profile = try await CompanyResolver(client: client, cacheFile: CompanyResolver.cacheFile(environment: environment))
                .resolve(session.profile)
            // A company given by name is known only now: it must be the one the run wrote to.
            if let company = named.company, let current = profile.companyID, company.lowercased() != current.lowercased() {
                throw CLIFailure(.refused, "refusing to resume: run \(named.id) wrote to company \(company), profile '\(profile.name)' resolves to \(current); pass the run's profile with -p")
            }
            let runID = RunID.generate()
            Terminal.note("run \(runID)  store \(store.root)  profile \(profile.name)  resumes \(plan.rootRunID)")
            var options = BatchRunner.Options()
            options.failFast = failFast
            options.concurrency = throughput.concurrency
            options.batchSize = throughput.batchSize
            options.keepReports = format == .json
            do throws(StoreError) {
                return try await BatchRunner(store: store, client: client, profile: profile, options: options)
                    .run(manifest: planned.manifest, manifestBlob: planned.manifestBlob, params: planned.params,
                         observer: printer, cancellation: session.cancellation, runID: runID,
                         resume: plan)
            } catch {
                throw CLIFailure(error.exitStatus, "the ledger could not be written: \(error)")
            }
        }
        printer.progress?.end()
        let verdict = RunVerdict(summary)
        if format == .json {
            RunResultReport(summary, manifest: planned.manifest, digest: planned.manifestBlob.digest, store: store).printJSON()
        } else {
            Terminal.line("\(Style.stdout.mark(verdict == .ok)) Resume \(summary.state.rawValue): \(summary.committed + summary.replayed)/\(summary.total) owed steps landed"
                + (summary.failed > 0 ? ", \(summary.failed) failed" : "") + (summary.unknown > 0 ? ", \(summary.unknown) unknown" : "")
                + (summary.skipped > 0 ? ", \(summary.skipped) skipped" : ""))
        }
        Terminal.note("run \(summary.runID) (resume of \(plan.rootRunID)): \(summary.state.rawValue) — see `bcli batch state \(store.ledger.abbreviation(of: plan.rootRunID))`")
        let exit = ExitStatus(verdict)
        if exit != .ok {
            throw CLIFailure(exit, verdict == .interrupted ? "interrupted: run \(summary.runID) stamped cancelled"
                : "some steps failed, were skipped or are unknown (see above and `bcli batch state \(store.ledger.abbreviation(of: summary.runID))`)")
        }
    }
}

/// The profile a command about a recorded run uses: `-p`, else the one the run recorded; it must
/// point at the company the run wrote to (as `batch rollback` requires).
enum RecordedRunProfile {
    static func load(for run: RunRecord, requested: String?, environment: [String: String]) throws -> Profile {
        let profile: Profile
        do {
            let config = try BCConfig.load(environment: environment)
            profile = try config.profile(named: requested ?? run.profile ?? BCConfig.fallbackProfileName)
        } catch { throw CLIFailure(error) }
        if let company = run.company, let current = profile.companyID, company != current {
            throw CLIFailure(.refused, "refusing: run \(run.id) wrote to company \(company), profile '\(profile.name)' points at \(current); pass the run's profile with -p")
        }
        // Company ids survive a copy of an environment: the environment must match too, or a
        // probe's 404 (or a resumed write) would be about another environment's data.
        if let recorded = run.environment, recorded.lowercased() != profile.environment.lowercased() {
            throw CLIFailure(.refused, "refusing: run \(run.id) ran in environment \(recorded), profile '\(profile.name)' points at \(profile.environment); use the run's environment (drop BCLI_ENVIRONMENT / -e, or pass the run's profile with -p)")
        }
        return profile
    }
}

/// `batch resume -f json` when nothing is sent (`--dry-run`, or nothing left): what is owed.
struct ResumePlanReport: JSONReport {
    let formatVersion = 1
    let run: String
    let dryRun: Bool
    let done: Int
    let owed: [Step]

    struct Step: Encodable {
        let seq: Int
        let name: String
        let method: String
        let endpoint: String
    }
}
