import Foundation
import Hashing
import Store
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `batch run --concurrency N` against the sandbox, made deterministic by its `hold` fault: while
/// one request is held, the steps that may go around it do, and the ones that must wait for it
/// have no intent row.
@Suite struct ConcurrencyTests {
    /// The store's only run and its step rows, read while bcli may still be writing them.
    static func rows(_ store: String) throws -> [StepRecord] {
        guard FileManager.default.fileExists(atPath: store + "/" + LedgerStore.databaseName) else { return [] }
        let ledger = try LedgerStore(root: store).ledger
        guard let run = try ledger.runs().first else { return [] }
        return try ledger.steps(runID: run.id)
    }

    /// Polls the store until `condition` holds for its step rows (or bcli has ended, or 300 s,
    /// which only a hang reaches: in the full suite a test can wait a minute for a thread).
    static func until(_ store: String, _ child: ChildProcess, _ what: String,
                      _ condition: ([StepRecord]) -> Bool) async throws -> [StepRecord] {
        let deadline = ContinuousClock.now + .seconds(300)
        while ContinuousClock.now < deadline {
            let rows = (try? rows(store)) ?? []
            if condition(rows) { return rows }
            if !child.isRunning { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("never reached: \(what)")
        return (try? rows(store)) ?? []
    }

    static func step(_ rows: [StepRecord], _ name: String) -> StepRecord? { rows.first { $0.name == name } }

    /// Eight GETs of `items`: reads that conflict with nothing in these manifests.
    static let reads = (1...8).map { "  - {name: r\($0), action: get, endpoint: items}" }.joined(separator: "\n")

    /// The PATCH that references a held POST has no intent row while eight later reads go around
    /// it; once the POST is released the PATCH is sent after the POST's outcome.
    @Test func aStepWaitsForTheStepItReferences() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox(faults: ["hold:nth=1,method=POST"]) { sandbox in
            let dir = TempDir()
            let store = dir.path + "/store"
            let manifest = try writeManifest(dir, "ref.yaml", """
                steps:
                  - {name: c1, action: post, endpoint: customers, data: {displayName: Held}}
                  - {name: p1, action: patch, endpoint: customers, id: "${{ steps.c1.id }}", data: {displayName: Patched}}
                \(Self.reads)
                """)
            let child = try ChildProcess(Paths.bcli, ["batch", "run", "-p", "sandbox", "--concurrency", "5", manifest],
                                         env: sandbox.env(store: store))
            let during = try await Self.until(store, child, "the reads committed around the held POST") { rows in
                rows.filter { $0.name.hasPrefix("r") && $0.status == .committed }.count == 8
            }
            #expect(try await sandbox.held() == 1)
            #expect(Self.step(during, "c1")?.status == nil, "c1 is held: no outcome yet")
            #expect(Self.step(during, "p1") == nil, "p1 started before the step it references committed")
            try await sandbox.release()
            let r = try await child.finish()
            #expect(r.status == 0, "\(r.stderr)")
            let rows = try Self.rows(store)
            let c1 = try #require(Self.step(rows, "c1")), p1 = try #require(Self.step(rows, "p1"))
            #expect(c1.status == .committed && p1.status == .committed)
            #expect(p1.intentAt >= (try #require(c1.outcomeAt)))
            #expect(rows.map(\.seq).sorted() == Array(1...10))
        }
    }

    /// Two PATCHes of one record: while the first is held, the second has not started, though
    /// the reads after it have all committed.
    @Test func writesToOneRecordNeverOverlap() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox(faults: ["hold:nth=1,method=PATCH"]) { sandbox in
            let created = try await sandbox.send("POST", sandbox.entityURL("customers"), body: #"{"displayName":"Shared"}"#)
            let id = try #require(created.json["id"]?.stringValue)
            let dir = TempDir()
            let store = dir.path + "/store"
            let manifest = try writeManifest(dir, "same.yaml", """
                steps:
                  - {name: p1, action: patch, endpoint: customers, id: "\(id)", data: {displayName: First}}
                  - {name: p2, action: patch, endpoint: customers, id: "\(id)", data: {displayName: Second}}
                \(Self.reads)
                """)
            let child = try ChildProcess(Paths.bcli, ["batch", "run", "-p", "sandbox", "--concurrency", "5", manifest],
                                         env: sandbox.env(store: store))
            let during = try await Self.until(store, child, "the reads committed around the held PATCH") { rows in
                rows.filter { $0.name.hasPrefix("r") && $0.status == .committed }.count == 8
            }
            #expect(try await sandbox.held() == 1)
            let started = during.filter { $0.name == "p1" || $0.name == "p2" }
            #expect(started.map(\.name) == ["p1"], "writes to one record overlapped: \(started.map(\.name))")
            try await sandbox.release()
            let r = try await child.finish()
            #expect(r.status == 0, "\(r.stderr)")
            let rows = try Self.rows(store)
            let p1 = try #require(Self.step(rows, "p1")), p2 = try #require(Self.step(rows, "p2"))
            #expect(p2.intentAt >= (try #require(p1.outcomeAt)))
            let record = try await sandbox.send("GET", sandbox.entityURL("customers", id: id))
            #expect(record.json["displayName"]?.stringValue == "Second", "the manifest's last write wins")
        }
    }

    /// `after:` orders a step behind one it does not reference.
    @Test func afterWaitsForTheNamedStep() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox(faults: ["hold:nth=1,method=POST"]) { sandbox in
            let dir = TempDir()
            let store = dir.path + "/store"
            let manifest = try writeManifest(dir, "after.yaml", """
                steps:
                  - {name: c1, action: post, endpoint: customers, data: {displayName: Held}}
                  - {name: w1, action: get, endpoint: vendors, after: [c1]}
                \(Self.reads)
                """)
            let child = try ChildProcess(Paths.bcli, ["batch", "run", "-p", "sandbox", "--concurrency", "3", manifest],
                                         env: sandbox.env(store: store))
            let during = try await Self.until(store, child, "the reads committed around the held POST") { rows in
                rows.filter { $0.name.hasPrefix("r") && $0.status == .committed }.count == 8
            }
            #expect(Self.step(during, "w1") == nil, "w1 started before the step its after: names")
            try await sandbox.release()
            let r = try await child.finish()
            #expect(r.status == 0, "\(r.stderr)")
            let rows = try Self.rows(store)
            let c1 = try #require(Self.step(rows, "c1")), w1 = try #require(Self.step(rows, "w1"))
            #expect(w1.intentAt >= (try #require(c1.outcomeAt)))
        }
    }

    static func posts(_ dir: TempDir, _ count: Int) throws -> String {
        try writeManifest(dir, "posts.yaml", "steps:\n" + (1...count).map {
            "  - {name: c\($0), action: post, endpoint: customers, data: {displayName: \"Customer \($0)\"}}"
        }.joined(separator: "\n") + "\n")
    }

    /// The first SIGINT starts nothing new: the five requests in flight finish and are recorded,
    /// the run is stamped cancelled, bcli exits 130.
    @Test func firstInterruptLetsInFlightStepsFinish() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox(faults: ["hold:method=POST"]) { sandbox in
            let dir = TempDir()
            let store = dir.path + "/store"
            let child = try ChildProcess(Paths.bcli, ["batch", "run", "-p", "sandbox", "--concurrency", "5", try Self.posts(dir, 20)],
                                         env: sandbox.env(store: store))
            _ = try await Self.until(store, child, "five intents") { $0.count == 5 }
            while try await sandbox.held() < 5, child.isRunning { try await Task.sleep(for: .milliseconds(10)) }
            child.kill(SIGINT)
            #expect(try await child.stderrContains("interrupt: starting no new step"))
            _ = try await sandbox.setFaults([])
            try await sandbox.release()
            let r = try await child.finish()
            #expect(r.status == 130, "\(r.stderr)")
            let rows = try Self.rows(store)
            #expect(rows.count == 5, "a step started after the interrupt: \(rows.map(\.name))")
            #expect(rows.allSatisfy { $0.status == .committed })
            #expect(try await sandbox.journal().filter { $0["method"]?.stringValue == "POST" }.count == 5)
            let state = try bcli(["batch", "state", try #require(runID(fromStderr: r.stderr)), "--format", "json"], env: sandbox.env(store: store))
            #expect(try JSONValue(parsing: Array(state.stdout))["run"]?["state"]?.stringValue == "cancelled")
        }
    }

    /// A second SIGINT exits at once: the requests in flight keep their intent and no outcome
    /// (unknown), never a guessed one.
    @Test func secondInterruptLeavesInFlightStepsUnknown() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox(faults: ["hold:method=POST"]) { sandbox in
            let dir = TempDir()
            let store = dir.path + "/store"
            let child = try ChildProcess(Paths.bcli, ["batch", "run", "-p", "sandbox", "--concurrency", "3", try Self.posts(dir, 10)],
                                         env: sandbox.env(store: store))
            _ = try await Self.until(store, child, "three intents") { $0.count == 3 }
            while try await sandbox.held() < 3, child.isRunning { try await Task.sleep(for: .milliseconds(10)) }
            child.kill(SIGINT)
            #expect(try await child.stderrContains("interrupt: starting no new step"))
            child.kill(SIGINT)
            let r = try await child.finish()
            #expect(r.status == 130, "\(r.stderr)")
            let rows = try Self.rows(store)
            #expect(rows.count == 3)
            #expect(rows.allSatisfy { $0.status == nil }, "\(rows.map { $0.status?.rawValue ?? "unknown" })")
            _ = try await sandbox.setFaults([])
            try await sandbox.release()
        }
    }

    /// `--fail-fast` with two workers: the failure stops new steps; the held step in flight still
    /// finishes and is recorded.
    @Test func failFastStartsNothingAfterAFailure() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox(faults: ["hold:nth=1,method=POST"]) { sandbox in
            let dir = TempDir()
            let store = dir.path + "/store"
            let manifest = try writeManifest(dir, "ff.yaml", """
                steps:
                  - {name: c1, action: post, endpoint: customers, data: {displayName: Held}}
                  - {name: missing, action: get, endpoint: customers, id: 00000000-0000-0000-0000-0000000000aa}
                \(Self.reads)
                """)
            let child = try ChildProcess(Paths.bcli, ["batch", "run", "-p", "sandbox", "--concurrency", "2", "--fail-fast", manifest],
                                         env: sandbox.env(store: store))
            _ = try await Self.until(store, child, "the failed GET") { Self.step($0, "missing")?.status == .failed }
            try await sandbox.release()
            let r = try await child.finish()
            #expect(r.status == 1, "\(r.stderr)")
            let rows = try Self.rows(store)
            #expect(rows.map(\.name).sorted() == ["c1", "missing"])
            #expect(Self.step(rows, "c1")?.status == .committed)
        }
    }

    /// Five workers give the same ledger a sequential run gives: every step in manifest order by
    /// `seq`, all committed, the run completed and verified.
    @Test func concurrentRunVerifies() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let store = dir.path + "/store"
            let env = sandbox.env(store: store)
            let manifest = try writeManifest(dir, "mixed.yaml", """
                steps:
                  - {name: c1, action: post, endpoint: customers, data: {displayName: One}}
                  - {name: c2, action: post, endpoint: customers, data: {displayName: Two}}
                  - {name: p1, action: patch, endpoint: customers, id: "${{ steps.c1.id }}", data: {displayName: One again}}
                  - {name: p2, action: patch, endpoint: customers, id: "${{ steps.c2.id }}", data: {displayName: Two again}}
                  - {name: list, action: get, endpoint: customers, filter: "displayName eq 'One again'"}
                  - {name: d2, action: delete, endpoint: customers, id: "${{ steps.c2.id }}"}
                \(Self.reads)
                """)
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", "--concurrency", "5", manifest, "-f", "json"], env: env)
            #expect(r.status == 0, "\(r.stderr)")
            let doc = try JSONValue(parsing: Array(r.stdout))
            #expect(doc["steps"]?.arrayValue?.compactMap { $0["seq"]?.doubleValue } == (1...14).map(Double.init))
            #expect(doc["steps"]?.arrayValue?[4]["record_count"]?.doubleValue == 1, "the listing ran after the PATCH it follows")
            let id = try #require(runID(fromStderr: r.stderr))
            let verify = try await bcliAsync(["batch", "verify", id], env: env)
            #expect(verify.status == 0, "\(verify.stderr)")
        }
    }

    /// Out of range: exit 2 and the range in the message.
    @Test func concurrencyOutOfRangeIsAUsageError() throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let r = try bcli(["batch", "run", "-p", "sandbox", "--concurrency", "6", try Self.posts(dir, 1)], env: ["BCLI_STORE": dir.path + "/s"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("give 1 to 5"))
    }

    /// `after:` naming a later or unknown step is an invalid manifest (exit 5), nothing sent.
    @Test func afterNamingALaterOrUnknownStepIsInvalid() throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let later = try writeManifest(dir, "later.yaml", """
            steps:
              - {name: a, action: get, endpoint: items, after: [b]}
              - {name: b, action: get, endpoint: items}
            """)
        var r = try bcli(["batch", "run", "-p", "sandbox", "--dry-run", later], env: ["BCLI_STORE": dir.path + "/s"])
        #expect(r.status == 5)
        #expect(r.stderr.contains("after: names step 'b' (step 2), which comes after step 'a'"))
        let unknown = try writeManifest(dir, "unknown.yaml", """
            steps:
              - {name: load, action: get, endpoint: items}
              - {name: b, action: get, endpoint: items, after: lod}
            """)
        r = try bcli(["batch", "run", "-p", "sandbox", "--dry-run", unknown], env: ["BCLI_STORE": dir.path + "/s"])
        #expect(r.status == 5)
        #expect(r.stderr.contains("unknown step 'lod' (did you mean 'load'?)"))
    }
}
