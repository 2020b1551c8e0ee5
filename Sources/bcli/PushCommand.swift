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
            are runs (default: every finished run the hub lacks). Runs go in the order they finished, and a named \
            rollback, resume or reconcile run takes its parent (and the parent's parent…) along first, so the hub \
            never holds a run it cannot give back. Each run becomes \
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
        var ancestorsAdded: [String: String] = [:]  // parent id → the child that needs it
        do {
            let finished = try HubPush.finishedRuns(store)
            for run in finished { records[run.id] = run.record.hex }
            let order = Dictionary(uniqueKeysWithValues: finished.enumerated().map { ($1.id, $0) })
            let runs = Dictionary(try store.runs().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            var chosen = Set<String>()
            if asked.isEmpty {
                // Every finished run whose ancestors have all finished (a run whose parent never
                // finished could not be imported anywhere: it waits, with a note).
                for run in finished {
                    var cursor = runs[run.id]?.parentRunID, missing: String?
                    var seen = Set<String>()
                    while let parent = cursor, seen.insert(parent).inserted {
                        if records[parent] == nil { missing = parent; break }
                        cursor = runs[parent]?.parentRunID
                    }
                    if let missing {
                        Terminal.note("run \(run.id) is not pushed: its ancestor \(missing) has not finished (or is not in this store)")
                        continue
                    }
                    chosen.insert(run.id)
                }
            } else {
                for text in asked {
                    let run = try store.run(text)
                    guard run.finishedAt != nil, run.recordDigest != nil else {
                        throw CLIFailure(.refused, "run \(run.id) has not finished; only finished runs (with a run record) are pushed")
                    }
                    chosen.insert(run.id)
                    // Its ancestors go first (the hub needs a rollback's, resume's or reconcile's
                    // parent for the run to be pulled anywhere); one the hub holds is skipped.
                    var child = run.id, cursor = run.parentRunID
                    while let parent = cursor, !chosen.contains(parent) {
                        guard let p = runs[parent], p.finishedAt != nil, p.recordDigest != nil else {
                            throw CLIFailure(.refused, "run \(child) needs its parent \(parent), which \(runs[parent] == nil ? "is not in this store" : "has not finished"); it cannot be pushed without it")
                        }
                        chosen.insert(parent)
                        ancestorsAdded[parent] = child
                        child = parent
                        cursor = p.parentRunID
                    }
                }
            }
            // In finish order, a parent always before its children.
            let sorted = chosen.sorted { (order[$0] ?? Int.max, $0) < (order[$1] ?? Int.max, $1) }
            ids = parentsFirst(sorted, id: { $0 }, parent: { runs[$0]?.parentRunID })
        } catch let error as StoreError { throw CLIFailure(error) }
        let all = asked.isEmpty
        let (pushed, skipped) = try await HubRemotes.with(endpoint) { session in
            var pushed = 0, skipped = 0
            let present = all ? try await HubPush.hubRuns(session) : [:]
            for id in ids {
                if let child = ancestorsAdded[id] { Terminal.note("run \(child) needs run \(id) in the hub: pushing it first") }
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
