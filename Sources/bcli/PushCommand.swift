import ArgumentParser
import Hub
import Store

/// `bcli batch push [REMOTE] [RUN…]`: sends finished runs to a shared hub on PostgreSQL.
struct PushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Send finished runs to a shared hub on PostgreSQL (a remote of config.toml).",
        discussion: """
            As git's push: the first argument is the remote (default: origin, else the only remote), the rest \
            are runs (default: every finished run the hub lacks, in the order they finished). Each run becomes \
            visible in the hub all at once — blobs, rows and its entry on the hub's chain in one transaction — \
            or not at all, so a push killed at any moment can simply be run again; a run the hub already holds \
            is skipped. Unfinished runs are never pushed. The password comes from the remote's password_env, \
            PGPASSWORD or ~/.pgpass (docs/hub.md). stdout: each pushed run's id. Exit: 0 ok, 3 login refused, \
            4 unknown run, 7 hub unreachable, 8 refused (grants, a run id the hub holds with another record), \
            9 the hub is not initialised, or newer or older than this bcli.

            Examples:
              Push every finished run the hub lacks to the default remote:
                bcli batch push
              Push one run to the remote named ci:
                bcli batch push ci 01a2b3c4
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: ArgumentHelp("The remote, then run ids (a prefix, latest, latest~N).", valueName: "remote-and-runs"))
    var arguments: [String] = []

    func run() async throws {
        let endpoint = try HubRemotes.endpoint(arguments.first)
        let store = try storeOptions.openExisting()
        let asked = Array(arguments.dropFirst())
        var ids: [String] = []
        var records: [String: String] = [:]
        do {
            if asked.isEmpty {
                let finished = try HubPush.finishedRuns(store)
                ids = finished.map(\.id)
                for run in finished { records[run.id] = run.record.hex }
            } else {
                for text in asked {
                    let run = try store.run(text)
                    guard run.finishedAt != nil, run.recordDigest != nil else {
                        throw CLIFailure(.refused, "run \(run.id) has not finished; only finished runs (with a run record) are pushed")
                    }
                    if !ids.contains(run.id) { ids.append(run.id) }
                }
            }
        } catch let error as StoreError { throw CLIFailure(error) }
        let all = asked.isEmpty
        let (pushed, skipped) = try await HubRemotes.with(endpoint) { session in
            var pushed = 0, skipped = 0
            let present = all ? try await HubPush.hubRuns(session) : [:]
            for id in ids {
                // Already there with the same record: skipped without exporting it. Another
                // record under the same id goes on to push, which refuses it (exit 8).
                if all, let there = present[id], there == records[id] {
                    skipped += 1
                    continue
                }
                let result: PushResult
                do { result = try await HubPush.push(runID: id, from: store, session: session) } catch let error as BundleError {
                    throw CLIFailure(error.exitStatus, "cannot push run \(id): \(error.description)")
                } catch let error as StoreError {
                    throw CLIFailure(error.exitStatus, "cannot push run \(id): \(error.description)")
                }
                if result.pushed {
                    pushed += 1
                    Terminal.line(id)
                    Terminal.note("pushed run \(id) to \(endpoint.name): chain seq \(result.seq.map(String.init) ?? "?"), \(result.blobsUploaded) blob(s) uploaded, \(result.blobsPresent) already in the hub")
                } else {
                    skipped += 1
                    Terminal.note("run \(id) is already in \(endpoint.name) (chain seq \(result.seq.map(String.init) ?? "?")); skipped")
                }
            }
            return (pushed, skipped)
        }
        Terminal.note("pushed \(pushed) run(s) to \(endpoint.name) (\(endpoint.display)); \(skipped) already there")
    }
}
