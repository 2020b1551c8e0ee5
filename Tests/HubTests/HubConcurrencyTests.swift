import Foundation
import Hub
import Testing
import TestSupport

/// Many CI runners pushing to one hub at once (the issue's figure: 8 processes × 50 runs): the
/// head's row lock serialises them into one unbroken chain, every run exactly once, and pushing
/// again changes nothing.
@Suite(.enabled(if: PG.available, PG.skipReason)) struct HubConcurrencyTests {
    static let stores = 8
    static let runsPerStore = 50

    /// One write per run, its body unique to the run (so every run brings blobs of its own), and
    /// the manifest shared (so the hub stores that blob once for all 400 runs).
    static let manifest = """
        params:
          name: {required: true}
        steps:
          - {name: create, action: post, endpoint: customers, data: {displayName: "${{ params.name }}"}}
        """

    @Test func eightProcessesPushFiftyRunsEachAtOnce() async throws {
        try await TestHub.with { hub in
            try await withSandbox { sandbox in
                let manifest = try hub.dir.write("one.yaml", Self.manifest)
                let env = hub.env.merging(["BCLI_SANDBOX_URL": sandbox.url, "XDG_CACHE_HOME": hub.dir.path + "/cache"]) { $1 }
                let stores = (0..<Self.stores).map { hub.dir.path + "/store\($0)" }

                // 400 finished runs, 50 in each of 8 stores (made 8 at a time).
                let made = try await withThrowingTaskGroup(of: [String].self) { group in
                    for (s, store) in stores.enumerated() {
                        group.addTask {
                            var ids: [String] = []
                            for n in 0..<Self.runsPerStore {
                                let r = try await bcliAsync(["batch", "run", "-p", "sandbox", manifest, "--store", store,
                                                             "--set", "name=store \(s) run \(n)"], env: env)
                                #expect(r.status == 0, "\(r.stderr)")
                                if let id = runID(r.stderr) { ids.append(id) }
                            }
                            return ids
                        }
                    }
                    var all: [String] = []
                    for try await ids in group { all += ids }
                    return all
                }
                #expect(made.count == Self.stores * Self.runsPerStore)

                // Eight pushers at once, each with its 50 runs.
                try await withThrowingTaskGroup(of: Completed.self) { group in
                    for store in stores {
                        group.addTask { try await bcliAsync(["batch", "push", "--store", store], env: env) }
                    }
                    for try await r in group { #expect(r.status == 0, "push: \(r.stderr)") }
                }

                try await hub.session { s in
                    let runs = try await HubPull.runs(s)
                    #expect(runs.count == made.count, "every run is in the hub")
                    #expect(runs.map(\.seq) == (1...Int64(made.count)).map { $0 }, "one chain, no gap, no duplicate seq")
                    #expect(Set(runs.map(\.id)) == Set(made), "each run exactly once")
                    #expect(Set(runs.map(\.id)).count == runs.count)
                    for (previous, run) in zip([nil] + runs.map(\.entryDigest), runs) {
                        #expect(run.previousEntry == previous, "entry \(run.seq) links to the one before it")
                    }
                }
                #expect(try await hub.count("SELECT count(*) FROM bcli_hub.head WHERE seq = \(made.count)") == 1, "the head names the last entry")
                // The shared manifest is one blob; each run's request body is its own.
                #expect(try await hub.count("SELECT count(*) FROM bcli_hub.blob WHERE media_type = 'application/yaml'") == 1)

                // Pushing everything again (all eight at once) adds nothing.
                try await withThrowingTaskGroup(of: Completed.self) { group in
                    for store in stores {
                        group.addTask { try await bcliAsync(["batch", "push", "--store", store], env: env) }
                    }
                    for try await r in group { #expect(r.status == 0, "re-push: \(r.stderr)") }
                }
                #expect(try await hub.count("SELECT count(*) FROM bcli_hub.chain") == Int64(made.count))
                #expect(try await hub.count("SELECT count(*) FROM bcli_hub.run") == Int64(made.count))
                // The auditor's check over the whole hub: every blob, the chain, every run's bundle.
                let verify = try await bcliAsync(["batch", "verify", "--remote", "origin", "--all"], env: env)
                #expect(verify.status == 0 && verify.stderr.contains("\(made.count) run(s)"), "\(verify.status) \(verify.out) \(verify.stderr)")
            }
        }
    }

    func runID(_ stderr: String) -> String? {
        stderr.range(of: #"run [0-9a-f]{32}"#, options: .regularExpression).map { String(stderr[$0].dropFirst(4)) }
    }
}
