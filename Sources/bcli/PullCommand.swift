import ArgumentParser
import Hub
import Store

/// `bcli batch pull [REMOTE] [RUN…|--all]`: copies runs from a hub into the local store.
struct PullCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Copy runs from a shared hub into the store, verified as an imported bundle is.",
        discussion: """
            The first argument is the remote (default: origin, else the only remote), the rest are run ids or \
            prefixes as the hub knows them; with none (or --all), every run the store lacks, in the hub's chain \
            order. Each run is rebuilt as the bundle `bcli batch export` wrote on the machine that pushed it, every \
            blob re-hashed here, the hub's chain entry checked, then imported exactly as `bcli batch import` does \
            (nothing is written unless it verifies; the run keeps its id and record, under refs/imported/). \
            stdout: each pulled run's id. Exit: 0 ok, 1 a run did not verify, 3 login refused, 4 no such run in \
            the hub (or its parent is missing here), 7 hub unreachable, 8 a run id here with other content, \
            9 the hub or the store cannot be used.

            Examples:
              Pull every run the store lacks from the default remote:
                bcli batch pull
              Pull one run from the remote named ci into another store:
                bcli batch pull ci 01a2b3c4 --store /srv/audit
            """
    )

    @OptionGroup var storeOptions: WritingStoreOptions

    @Argument(help: ArgumentHelp("The remote, then run ids or prefixes in the hub.", valueName: "remote-and-runs"))
    var arguments: [String] = []

    @Flag(name: .long, help: "Every run the store lacks (the default when no run is named).")
    var all = false

    func validate() throws {
        if all && arguments.count > 1 { throw ValidationError("give run ids or --all, not both") }
    }

    func run() async throws {
        let endpoint = try HubRemotes.endpoint(arguments.first)
        let store = try storeOptions.open()
        let asked = Array(arguments.dropFirst())
        let (pulled, present) = try await HubRemotes.with(endpoint) { session in
            // Parents before children (a rollback, resume or reconcile run is imported only once
            // its parent is here); named runs bring the ancestors the hub holds.
            let runs: [HubRun]
            if asked.isEmpty {
                runs = parentsFirst(try await HubPull.runs(session), id: \.id, parent: \.parentRunID)
            } else {
                var chosen: [HubRun] = []
                for text in asked {
                    let run = try await HubPull.resolve(text, session)
                    if !chosen.contains(run) { chosen.append(run) }
                }
                runs = try await HubPull.withAncestors(chosen, session)
            }
            var pulled = 0, present = 0
            for run in runs {
                let result: ImportResult?
                do { result = try await HubPull.pull(run, into: store, session: session) } catch let error as BundleError {
                    if case .damaged(let report) = error { for p in report.problems { Terminal.note(p.line) } }
                    throw CLIFailure(error.exitStatus, "cannot pull run \(run.id): \(error.description)")
                } catch let error as StoreError {
                    throw CLIFailure(error.exitStatus, "cannot pull run \(run.id): \(error.description)")
                }
                guard let result, !result.alreadyPresent else {
                    present += 1
                    continue
                }
                pulled += 1
                Terminal.line(run.id)
                Terminal.note("pulled run \(run.id) from \(endpoint.name) (chain seq \(run.seq)): \(result.steps) step(s), \(result.blobsWritten) blob(s) written, \(result.blobsDeduplicated) already present; record \(result.recordDigest?.description ?? "none")")
            }
            return (pulled, present)
        }
        Terminal.note("pulled \(pulled) run(s) from \(endpoint.name) (\(endpoint.display)); \(present) already in \(store.root)")
    }
}
