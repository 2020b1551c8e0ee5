import ArgumentParser
import Batch
import BusinessCentral
import Foundation
import Hashing
import Store

/// `bcli batch run MANIFEST`: the main job. Validates the whole manifest, then runs it step by
/// step with an intent row committed before every request and an outcome row after it.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a YAML manifest against Business Central and record it in the ledger.",
        discussion: """
            The run id and store path go to stderr; per-step lines (or JSON) to stdout.
            Exit: 0 all steps ok, 1 a step failed, 2 usage, 3 auth, 4 not found, 5 invalid manifest, \
            8 refused (write gate, --expect-manifest mismatch), 9 store unusable (damaged, read-only, disk full), \
            130 interrupted.

            Examples:
              Run a manifest against the built-in sandbox (no tenant needed):
                bcli batch run -p sandbox examples/quickstart.yaml
              Print the requests it would send; send nothing, write nothing:
                bcli batch run -p sandbox examples/quickstart.yaml --dry-run
              Give a required parameter on the command line (default profile):
                bcli batch run examples/params-driven.yaml --set customer_name=Contoso
              Write the result envelope (JSON) to a file for a script:
                bcli batch run -p sandbox examples/quickstart.yaml --result-out result.json
            """
    )

    @OptionGroup var storeOptions: WritingStoreOptions

    @Argument(help: "The manifest (YAML).", completion: .file(extensions: ["yaml", "yml"]))
    var manifest: String

    @Option(name: [.short, .long], help: "Profile from config.toml, or the built-in `sandbox` (default: $BCLI_PROFILE, then [defaults].profile).")
    var profile: String?

    @Option(name: [.short, .customLong("env")], help: "The Business Central environment (replaces the profile's; default: $BCLI_ENVIRONMENT).")
    var env: String?

    @Option(name: [.short, .customLong("company")], help: "A company alias of the profile, a company name (looked up through the companies endpoint and cached) or a company id (default: $BCLI_COMPANY).")
    var company: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("A parameter value, key=value (repeatable; wins over --params).", valueName: "key=value"))
    var sets: [String] = []

    @Option(name: .customLong("params"), help: ArgumentHelp("A YAML mapping of parameter values.", valueName: "file"), completion: .file())
    var paramsFile: String?

    @Flag(help: "Resolve and print the requests; send nothing, write nothing.")
    var dryRun = false

    @Flag(name: [.short, .long], help: "Confirm writes on a profile with disable_writes = true.")
    var yes = false

    @Option(help: ArgumentHelp("Refuse to run unless the manifest's digest is this (sha256:<hex>).", valueName: "digest"))
    var expectManifest: String?

    @Flag(help: "Stop starting steps at the first failed step; steps in flight finish (default: record it and go on).")
    var failFast = false

    @OptionGroup var throughput: ThroughputOptions

    @Option(name: [.short, .long], help: RecordFormat.help)
    var format: RecordFormat?

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Write the result bundle (JSON: each step with its response data) to this file.", valueName: "file"), completion: .file())
    var output: String?

    @Option(help: ArgumentHelp("Write the result envelope (JSON) to this file, atomically, on every exit path (docs/envelope.md).", valueName: "file"), completion: .file())
    var resultOut: String?

    @Option(name: .customLong("result-fd"), help: ArgumentHelp("Write the result envelope to this open file descriptor, then close it.", valueName: "n"))
    var resultFD: Int32?

    @Option(name: .customLong("progress-fd"), help: ArgumentHelp("Write step_started/step_completed events (NDJSON) to this open file descriptor.", valueName: "n"))
    var progressFD: Int32?

    func validate() throws {
        try throughput.validate()
        try OutputPath.validate(output, flag: "-o")
        try OutputPath.validate(resultOut, flag: "--result-out")
        if resultOut != nil, resultFD != nil {
            throw ValidationError("--result-out and --result-fd both write the envelope; give one of them")
        }
        for (flag, fd) in [("--result-fd", resultFD), ("--progress-fd", progressFD)] {
            if let fd, !FileDescriptor.isOpen(fd) {
                throw ValidationError("\(flag) \(fd): file descriptor \(fd) is not open — open it in the calling shell (e.g. `\(fd)>file`) or drop \(flag)")
            }
        }
    }

    /// Runs the batch and writes the envelope once, with the exit status the invocation ends
    /// with, on every path out (docs/envelope.md, "When it is written").
    func run() async throws {
        if resultFD != nil || progressFD != nil { FileDescriptor.ignoreBrokenPipes() }
        let destination = resultOut.map(ResultEnvelope.Destination.file) ?? resultFD.map(ResultEnvelope.Destination.fd)
        let envelope = ResultEnvelope(destination, profile: profile ?? storeOptions.environment[BCConfig.profileVariable])
        let progress = progressFD.map(ProgressStream.init)
        defer { progress?.close() }
        do {
            try await execute(envelope: envelope, progress: progress)
        } catch {
            do { try envelope.write(exit: ExitStatus(for: error) ?? .failure) } catch let failure as CLIFailure {
                Terminal.error(failure.message)
            }
            throw error
        }
        try envelope.write(exit: .ok)
    }

    private func execute(envelope: ResultEnvelope, progress: ProgressStream?) async throws {
        let environment = storeOptions.environment
        let (bytes, digest) = try readManifest()
        let prepared = try prepare(bytes)
        let profile: Profile
        do {
            let config = try BCConfig.load(environment: environment)
            envelope.set(requestedProfile: self.profile ?? environment[BCConfig.profileVariable] ?? config.defaults.profile
                         ?? BCConfig.fallbackProfileName)
            var selected = try config.profile(named: self.profile)
            if let env, !env.isEmpty { selected.environment = env }
            if let company, !company.isEmpty { selected = try selected.selectingCompany(company) }
            profile = selected
        } catch { throw CLIFailure(error) }
        envelope.set(profile: profile)
        // The endpoint policy (allowed_endpoints, allowed_categories, disable_standard_api) is
        // checked on the whole manifest before any request, dry runs included.
        let refusals = PolicyGate.check(prepared.manifest.steps, profile: profile)
        if !refusals.isEmpty { throw CLIFailure(.refused, PolicyGate.message(refusals, profile: profile.name)) }
        let format = RecordFormat.resolve(self.format, defaultName: profile.defaultFormat)
        let writes = prepared.manifest.writeSteps
        if profile.disableWrites && !writes.isEmpty && !dryRun {
            try WriteGate.confirm(profile: profile.name, writes: writes.map { "\($0.method.literal?.rawValue ?? "templated") \($0.endpoint)" }, yes: yes)
        }
        if dryRun {
            envelope.setDryRun()
            DryRun.print(prepared.manifest, params: prepared.params, profile: profile, format: format)
            return
        }

        let store = try storeOptions.open()
        let manifestBlob = try store.put(bytes, mediaType: "application/yaml")
        // --progress-fd 2 puts the events on stderr: no live line there to mix with them.
        let printer = StepPrinter(format: format, store: store, progress: progressFD == STDERR_FILENO ? nil : ProgressLine.forTerminal())
        defer { printer.progress?.end() }
        var observers: [any RunObserver] = [printer, RunIDRecorder(envelope: envelope)]
        if let progress { observers.append(ProgressObserver(stream: progress, store: store)) }
        let summary = try await withRunSession(profile: profile, store: store, environment: environment) { session in
            // SIGINT: the first starts nothing new, lets the steps in flight finish and stamps
            // `cancelled`; the second aborts at once (those steps stay `unknown`).
            let client = try await session.connect(interruptNote: ThroughputOptions.interruptNote)
            // A company given by name (`company_name`, `-c NAME`) becomes its id through the
            // companies endpoint (cached), before any step's URL is built.
            let profile = try await CompanyResolver(client: client, cacheFile: CompanyResolver.cacheFile(environment: environment))
                .resolve(session.profile)
            let runID = RunID.generate()
            Terminal.note("run \(runID)  store \(store.root)  profile \(profile.name)")
            var options = BatchRunner.Options()
            options.failFast = failFast
            options.concurrency = throughput.concurrency
            options.batchSize = throughput.batchSize
            // Every step's report is kept only for the outputs that print them all.
            options.keepReports = format == .json || output != nil
            do throws(StoreError) {
                return try await BatchRunner(store: store, client: client, profile: profile, options: options)
                    .run(manifest: prepared.manifest, manifestBlob: manifestBlob, params: prepared.params,
                         observer: RunObservers(all: observers), cancellation: session.cancellation, runID: runID)
            } catch {
                throw CLIFailure(error.exitStatus, "the ledger could not be written: \(error)")
            }
        }
        printer.progress?.end()
        envelope.set(bcCorrelationID: summary.lastProblemCorrelationID)
        try report(summary, verdict: RunVerdict(summary), manifest: prepared.manifest, digest: digest, format: format, store: store)
    }

    /// The manifest's bytes and digest, checked against --expect-manifest before anything else.
    private func readManifest() throws -> (bytes: [UInt8], digest: Digest) {
        guard let data = FileManager.default.contents(atPath: manifest) else {
            let why = FileManager.default.fileExists(atPath: manifest) ? "it is not readable" : "no such file"
            throw CLIFailure(.notFound, "cannot read manifest \(manifest): \(why) — check the path")
        }
        let bytes = [UInt8](data)
        let digest = SHA256.hash(bytes)
        if let expectManifest {
            let expected: Digest
            do { expected = try Digest(parsing: expectManifest) } catch {
                throw CLIFailure(.invalidInput, "--expect-manifest: \(error)")
            }
            guard expected == digest else {
                throw CLIFailure(.refused, """
                    refusing to run: \(manifest) is \(digest), not the expected \(expected)
                    fix: run the approved manifest, or update the expected digest (`bcli batch hash \(manifest)`)
                    """)
            }
        }
        return (bytes, digest)
    }

    /// The whole manifest and its params, validated before anything else happens; the params'
    /// warnings go to stderr (runs and dry runs). A params file that is not there is "not found"
    /// (exit 4), as a missing manifest is.
    private func prepare(_ bytes: [UInt8]) throws -> (manifest: Manifest, params: ParamSet) {
        if let paramsFile, !FileManager.default.fileExists(atPath: paramsFile) {
            throw CLIFailure(.notFound, "cannot read params file \(paramsFile): no such file — check the path (it is relative to the current directory)")
        }
        do {
            let prepared = try ManifestLoader.prepare(bytes: bytes, path: manifest, paramsFile: paramsFile, sets: sets)
            // Accepted, as the Python tool accepts them, but said (an undeclared `--set` key). The
            // description reads `<where>: warning: <what>` and its fix, like an error's.
            for warning in prepared.params.warnings { Terminal.note(warning.description) }
            return prepared
        } catch {
            Terminal.note(error.description)
            throw CLIFailure(.invalidInput, "\(manifest) is not a valid manifest (\(error.diagnostics.count) problem(s) above); nothing was sent")
        }
    }

    /// The summary line (or JSON), the `-o` bundle, and the exit status of the verdict.
    private func report(_ summary: RunSummary, verdict: RunVerdict, manifest: Manifest, digest: Digest, format: RecordFormat,
                        store: LedgerStore) throws {
        let exit = ExitStatus(verdict)
        if format == .json {
            RunResultReport(summary, manifest: manifest, digest: digest, store: store).printJSON()
        } else {
            Terminal.line("\(Style.stdout.mark(verdict == .ok)) Batch \(summary.state.rawValue): \(summary.committed)/\(summary.total) steps committed"
                + (summary.replayed > 0 ? ", \(summary.replayed) replayed" : "")
                + (summary.failed > 0 ? ", \(summary.failed) failed" : "") + (summary.unknown > 0 ? ", \(summary.unknown) unknown" : "")
                + (summary.skipped > 0 ? ", \(summary.skipped) skipped" : ""))
        }
        Terminal.note("run \(summary.runID): \(summary.state.rawValue) — see `bcli batch state \(store.ledger.abbreviation(of: summary.runID))`")
        if let output {
            try RunOutput.writeAtomically(ResultBundleReport(summary, manifest: manifest, digest: digest, store: store).jsonValue, to: output)
        }
        if exit != .ok {
            throw CLIFailure(exit, verdict == .interrupted ? "interrupted: run \(summary.runID) stamped cancelled"
                : "some steps failed or were skipped (see above and `bcli batch state \(store.ledger.abbreviation(of: summary.runID))`)")
        }
    }
}

/// Puts the run id in the envelope's `record_id` once the run row exists.
struct RunIDRecorder: RunObserver {
    let envelope: ResultEnvelope
    func runStarted(runID: String, steps: Int) { envelope.set(recordID: runID) }
    func stepFinished(_ report: StepReport) {}
}
