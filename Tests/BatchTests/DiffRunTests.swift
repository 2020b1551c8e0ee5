import Foundation
import Hashing
import Store
import Testing
import TestSupport

@testable import Batch

/// `RunDiffer` over a real store in a temp folder, with runs written through the ledger API.
@Suite struct DiffRunTests {
    static let base = "http://127.0.0.1:9"
    static let company = base + "/v2.0/t/e/api/v2.0/companies(4d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f601)"

    struct Step {
        var name: String
        var method: String = "POST"
        var url: String
        var request: JSONValue?
        var status: StepStatus = .committed
        var http: Int = 201
        var response: JSONValue?
    }

    final class Fixture: @unchecked Sendable {
        let dir = TempDir("bcli-diff")
        let store: LedgerStore
        init() throws {
            store = try LedgerStore(root: dir.path + "/store")
        }

        func put(_ v: JSONValue?) throws -> BlobRef? {
            guard let v else { return nil }
            return try store.put(try v.canonicalBytes(), mediaType: "application/json")
        }

        /// Records a finished run and returns its id.
        func run(manifest: String, params: JSONValue = [:], base: String = DiffRunTests.base, _ steps: [Step]) throws -> String {
            var row = NewRun(toolVersion: "test")
            row.manifest = try store.put(Array(manifest.utf8), mediaType: "application/yaml")
            row.manifestPath = "m.yaml"
            row.params = try put(params)
            row.baseURL = base
            row.profile = "sandbox"
            try store.ledger.startRun(row)
            for (i, s) in steps.enumerated() {
                var intent = StepIntent(runID: row.id, seq: i + 1, name: s.name, method: s.method, url: s.url)
                intent.request = try put(s.request)
                let id = try store.ledger.writeIntent(intent)
                var outcome = StepOutcome(status: s.status)
                outcome.httpStatus = s.http
                outcome.response = try put(s.response)
                if s.method == "POST" { outcome.recordID = s.response?["id"]?.stringValue }
                try store.ledger.writeOutcome(stepID: id, outcome)
            }
            try store.finishRun(row.id, state: .completed)
            return row.id
        }

        func write(_ text: String, _ name: String) throws -> String {
            let path = dir.path + "/" + name
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            return path
        }
    }

    static let manifest = """
        steps:
          - {name: create, action: post, endpoint: customers, data: {displayName: A, email: a@x}}
          - {name: update, action: patch, endpoint: customers, id: "${{ steps.create.id }}", data: {email: "${{ params.email }}"}}
        """

    /// A run of `manifest` as the sandbox would record it, with fresh server ids.
    func recordedRun(_ f: Fixture, email: String = "b@x", id: String = UUID().uuidString.lowercased(), etag: String = UUID().uuidString,
                     manifest: String = DiffRunTests.manifest) throws -> String {
        let created: JSONValue = ["id": .string(id), "displayName": "A", "email": "a@x", "number": "C1",
                                  "@odata.etag": .string("W/\"\(etag)\""), "lastModifiedDateTime": .string(etag)]
        var patched = created.objectValue!
        patched["email"] = .string(email)
        return try f.run(manifest: manifest, params: ["email": .string(email)], [
            Step(name: "create", url: Self.company + "/customers", request: ["displayName": "A", "email": "a@x"], response: created),
            Step(name: "update", method: "PATCH", url: Self.company + "/customers(\(id))", request: ["email": .string(email)],
                 http: 200, response: .object(patched)),
        ])
    }

    @Test func identicalRerunsAreTheSame() throws {
        let f = try Fixture()
        let a = try recordedRun(f), b = try recordedRun(f)
        let d = try RunDiffer.compare(store: f.store, a: a, b: b)
        #expect(d.identical)
        #expect(d.counts == RunDiff.Counts(same: 2, changed: 0, onlyInA: 0, onlyInB: 0))
        let strict = try RunDiffer.compare(store: f.store, a: a, b: b, options: .init(includeVolatile: true))
        #expect(!strict.identical)
        #expect(strict.steps.allSatisfy { $0.change == .changed })
        #expect(strict.steps[1].fieldChanges.map(\.field) == ["url"])
    }

    @Test func oneChangedFieldIsReportedAtItsPath() throws {
        let f = try Fixture()
        let a = try recordedRun(f), b = try recordedRun(f, email: "c@x")
        let d = try RunDiffer.compare(store: f.store, a: a, b: b)
        #expect(!d.identical)
        #expect(!d.paramsSame)
        #expect(d.paramsPatch.map(\.json) == [["op": "replace", "path": "/email", "value": "c@x"]])
        #expect(d.steps.map(\.change) == [.same, .changed])
        #expect(d.steps[1].requestPatch.map(\.json) == [["op": "replace", "path": "/email", "value": "c@x"]])
        #expect(d.steps[1].responsePatch.map(\.json) == [["op": "replace", "path": "/email", "value": "c@x"]])
        #expect(d.steps[1].fieldChanges.isEmpty)
        let json = d.json()
        #expect(json["format_version"] == 1)
        #expect(json["steps"]?.arrayValue?[1]["change"] == "changed")
        #expect(json["summary"] == ["same": 1, "changed": 1, "only_in_a": 0, "only_in_b": 0])
    }

    @Test func addedRemovedAndStatusChanges() throws {
        let f = try Fixture()
        let a = try f.run(manifest: "a", [
            Step(name: "one", method: "GET", url: Self.company + "/customers", http: 200, response: ["value": []]),
            Step(name: "gone", method: "DELETE", url: Self.company + "/customers(x)", http: 204),
            Step(name: "three", method: "GET", url: Self.company + "/items", http: 200, response: ["value": []]),
        ])
        let b = try f.run(manifest: "b", [
            Step(name: "new", method: "GET", url: Self.company + "/vendors", http: 200, response: ["value": []]),
            Step(name: "one", method: "GET", url: Self.company + "/customers", http: 200, response: ["value": []]),
            Step(name: "three", method: "GET", url: Self.company + "/items", status: .failed, http: 500,
                 response: ["error": ["code": "X", "message": "boom CorrelationId: 0a1b2c3d-0000-4000-8000-000000000001."]]),
        ])
        let d = try RunDiffer.compare(store: f.store, a: a, b: b)
        #expect(d.steps.map { "\($0.name):\($0.change.rawValue)" } == ["new:added", "one:same", "gone:removed", "three:changed"])
        #expect(d.steps[3].fieldChanges.map(\.field) == ["status", "http_status"])
        #expect(!d.manifestSame)
        let (shortA, shortB) = (f.store.ledger.abbreviation(of: a), f.store.ledger.abbreviation(of: b))
        #expect(shortA.count >= 8 && a.hasPrefix(shortA) && !b.hasPrefix(shortA), "the shortest unique prefix labels each run")
        #expect(d.manifestDiff == ["--- a/run \(shortA) m.yaml", "+++ b/run \(shortB) m.yaml", "@@ -1 +1 @@", "-a", "+b"])
        #expect(d.counts.line == "1 same, 1 changed, 1 only in A, 1 only in B")
    }

    @Test func manifestFileIsResolvedWithTheRunsParamsAndResponses() throws {
        let f = try Fixture()
        let a = try recordedRun(f)
        // The same manifest: nothing would change.
        let same = try RunDiffer.compare(store: f.store, a: a, manifestPath: try f.write(Self.manifest, "same.yaml"))
        #expect(same.identical, "\(same.steps.map(\.fieldChanges))")
        #expect(same.b.kind == .manifest && same.b.paramsFromRun == a)
        #expect(same.steps[1].b?.url == (try f.store.ledger.steps(runID: a))[1].url)

        // A changed body field, a new step reading a step A never ran, a removed step.
        let edited = """
            steps:
              - {name: create, action: post, endpoint: customers, data: {displayName: A, email: z@x}}
              - {name: missing, action: post, endpoint: vendors, data: {displayName: V}}
              - {name: lookup, action: get, endpoint: customers, id: "${{ steps.missing.id }}"}
            """
        let d = try RunDiffer.compare(store: f.store, a: a, manifestPath: try f.write(edited, "edited.yaml"))
        #expect(!d.identical)
        #expect(d.steps.map { "\($0.name):\($0.change.rawValue)" } == ["create:changed", "update:removed", "missing:added", "lookup:added"])
        #expect(d.steps[0].requestPatch.map(\.json) == [["op": "replace", "path": "/email", "value": "z@x"]])
        #expect(d.steps[3].b?.unresolved?.contains("missing") == true)
        #expect(d.manifestDiff.contains("+  - {name: lookup, action: get, endpoint: customers, id: \"${{ steps.missing.id }}\"}"))
    }

    /// The `--format json` document keeps every key whatever the diff: a run side and a manifest
    /// side each have theirs, a step that ran and one that would run each have theirs, and
    /// `--stat` leaves out only `steps`.
    @Test func jsonDocumentKeys() throws {
        func keys(_ v: JSONValue?) -> Set<String> { Set(v?.objectValue?.keys ?? [String: JSONValue]().keys) }
        let f = try Fixture()
        let a = try recordedRun(f)
        let edited = """
            steps:
              - {name: create, action: post, endpoint: customers, data: {displayName: A, email: z@x}}
            """
        let d = try RunDiffer.compare(store: f.store, a: a, manifestPath: try f.write(edited, "edited.yaml"))
        let json = d.json()
        let top: Set = ["format_version", "identical", "include_volatile", "a", "b", "manifest", "params", "context", "summary"]
        #expect(keys(json) == top.union(["steps"]))
        #expect(keys(d.json(stat: true)) == top)
        #expect(keys(json["a"]) == ["kind", "manifest_path", "manifest_digest", "params_digest", "name", "run_id", "profile",
                                    "environment", "company", "base_url", "started_at", "state"])
        #expect(keys(json["b"]) == ["kind", "manifest_path", "manifest_digest", "params_digest", "name", "params_from_run"])
        #expect(keys(json["manifest"]) == ["same", "a", "b", "diff", "note"])
        #expect(keys(json["params"]) == ["same", "a", "b", "patch"])
        #expect(keys(json["summary"]) == ["same", "changed", "only_in_a", "only_in_b"])
        let step = json["steps"]?.arrayValue?.first
        #expect(keys(step) == ["name", "change", "a", "b", "changes", "request_patch", "response_patch"])
        #expect(keys(step?["a"]) == ["seq", "method", "url", "request_digest", "status", "http_status", "response_digest"])
        #expect(keys(step?["b"]) == ["seq", "method", "url", "request_digest", "resolved", "reason"])
        #expect(step?["b"]?["resolved"] == true && step?["b"]?["reason"] == .null)
        #expect(step?["request_patch"] == [["op": "replace", "path": "/email", "value": "z@x"]])
        #expect(json["a"]?["name"] != nil && json["b"]?["params_from_run"] == .string(a))
    }

    @Test func manifestErrorsAndUnknownRunsAreErrors() throws {
        let f = try Fixture()
        let a = try recordedRun(f)
        let missing = f.dir.path + "/nope.yaml"
        let unreadable = #expect(throws: DiffError.self) { try RunDiffer.compare(store: f.store, a: a, manifestPath: missing) }
        guard case .unreadableManifest(missing, _)? = unreadable else {
            Issue.record("expected DiffError.unreadableManifest, got \(String(describing: unreadable))")
            return
        }
        let bad = try f.write("steps: [{action: fly}]", "bad.yaml")
        let invalid = #expect(throws: DiffError.self) { try RunDiffer.compare(store: f.store, a: a, manifestPath: bad) }
        guard case .invalidManifest(bad, let manifestError)? = invalid else {
            Issue.record("expected DiffError.invalidManifest, got \(String(describing: invalid))")
            return
        }
        #expect(!manifestError.diagnostics.isEmpty)
        let unknown = #expect(throws: DiffError.self) { try RunDiffer.compare(store: f.store, a: "ffffffffff", b: a) }
        #expect(unknown?.description == StoreError.runNotFound("ffffffffff").description)
        guard case .store(.runNotFound("ffffffffff"))? = unknown else {
            Issue.record("expected DiffError.store(.runNotFound), got \(String(describing: unknown))")
            return
        }
    }

    /// Not a timed assertion: run with BCLI_DIFF_PERF=1 to print how long two 10,000-step runs take.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["BCLI_DIFF_PERF"] != nil))
    func tenThousandStepRuns() throws {
        let f = try Fixture()
        func big(_ tag: String) throws -> String {
            let steps = (0..<10_000).map { i -> Step in
                let id = UUID().uuidString.lowercased()
                return Step(name: "s\(i)", url: Self.company + "/customers", request: ["displayName": .string("n\(i)")],
                            response: ["id": .string(id), "displayName": .string("n\(i)"), "@odata.etag": .string(tag + id)])
            }
            return try f.run(manifest: "m", steps)
        }
        let a = try big("a"), b = try big("b")
        let clock = ContinuousClock()
        let start = clock.now
        let d = try RunDiffer.compare(store: f.store, a: a, b: b)
        print("diff of two 10,000-step runs: \(clock.now - start), identical: \(d.identical)")
        #expect(d.identical)
    }
}
