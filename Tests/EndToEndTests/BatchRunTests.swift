import Foundation
import Testing
import TestSupport
import Hashing
import Store

/// `bcli batch run`, `state` and `list` as a child process against a sandbox on 127.0.0.1,
/// checked against the ledger and against the sandbox's journal of committed writes.
@Suite struct BatchRunTests {
    static let quickstart = Paths.packageRoot + "/examples/quickstart.yaml"

    @Test func quickstartLedgerMatchesTheSandboxJournal() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let store = dir.path + "/store"
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", Self.quickstart], env: sandbox.env(store: store))
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.out.contains("Step 1/5 POST customers … ✓ created C"))
            let id = try #require(runID(fromStderr: r.stderr))

            let ledger = try LedgerStore(root: store)
            let run = try ledger.run(id)
            #expect(run.state == .completed)
            #expect(run.recordDigest != nil)
            #expect(run.manifestDigest == SHA256.hash([UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.quickstart)))))
            let steps = try ledger.ledger.steps(runID: id)
            #expect(steps.map(\.statusName) == ["committed", "committed", "committed", "committed", "committed"])

            // Every committed write in the sandbox has a ledger step with the same client-request-id,
            // and the bytes the sandbox received hash to the stored request blob.
            let journal = try await sandbox.journal()
            #expect(journal.count == 4)  // 3 POST + 1 PATCH
            for entry in journal {
                let crid = try #require(entry["client_request_id"]?.stringValue)
                let step = try #require(steps.first { $0.clientRequestID == crid }, "no ledger step for \(crid)")
                #expect(step.method.rawValue == entry["method"]?.stringValue)
                #expect(step.etag == entry["etag_after"]?.stringValue)
                let received = try #require(entry["body_sha256"]?.stringValue)
                #expect(step.requestDigest?.hex == received)
                let request = try ledger.objects.get(try #require(step.requestDigest))
                _ = try JSONValue(parsing: request)  // canonical JSON
                #expect(try JSONValue(parsing: request).canonicalBytes() == request)
            }
            // The PATCH sent the pre-image's ETag and kept the pre-image.
            let patch = steps[3]
            #expect(patch.method == .patch)
            #expect(patch.preImageDigest != nil)
            #expect(patch.ifMatch == steps[1].etag)
            // Authorization never reaches the store.
            for step in steps {
                let headers = String(decoding: try ledger.objects.get(try #require(step.requestHeadersDigest)), as: UTF8.self)
                #expect(!headers.lowercased().contains("authorization"))
                #expect(!headers.contains("Bearer"))
            }

            // state and list read it back (prefix ids like git).
            let state = try await bcliAsync(["batch", "state", String(id.prefix(8)), "--format", "json"], env: sandbox.env(store: store))
            #expect(state.status == 0)
            let doc = try JSONValue(parsing: [UInt8](state.stdout))
            #expect(doc["format_version"] == 1)
            #expect(doc["run"]?["state"]?.stringValue == "completed")
            #expect(doc["steps"]?.arrayValue?.count == 5)
            let list = try await bcliAsync(["batch", "list", "--format", "json", "--state", "completed"], env: sandbox.env(store: store))
            #expect(try JSONValue(parsing: [UInt8](list.stdout))["runs"]?.arrayValue?.first?["id"]?.stringValue == id)
        }
    }

    /// The README's main command and the other examples, against the built-in `sandbox` profile
    /// with no sandbox running: bcli starts one in-process, its data kept in the store folder.
    @Test(arguments: [
        ("quickstart.yaml", [String](), 5),
        ("params-driven.yaml", ["--set", "customer_name=Trey Research"], 2),
        ("chained-purchase-invoice.yaml", ["--set", "vendor_invoice_number=INV-2025-0042"], 5),
    ])
    func examplesRunAgainstTheBuiltInSandbox(file: String, args: [String], steps: Int) async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let env = ["BCLI_STORE": dir.path + "/store", "XDG_CONFIG_HOME": dir.path + "/config", "XDG_CACHE_HOME": dir.path + "/cache"]
        let r = try await bcliAsync(["batch", "run", "-p", "sandbox", Paths.packageRoot + "/examples/" + file, "--format", "json"] + args, env: env)
        #expect(r.status == 0, "\(file): \(r.stderr)")
        let out = try JSONValue(parsing: [UInt8](r.stdout))
        #expect(out["state"]?.stringValue == "completed", "\(file)")
        #expect(out["committed"] == .number(Double(steps)), "\(file)")
        // The sandbox's data stays in the store folder, so a later command sees the same records.
        #expect(FileManager.default.fileExists(atPath: dir.path + "/store/sandbox"))
        let id = try #require(out["run_id"]?.stringValue)
        let state = try await bcliAsync(["batch", "state", String(id.prefix(10))], env: env)
        #expect(state.status == 0)
        #expect(state.out.contains("State:     completed"))
    }

    @Test func paramsAndReferencesResolve() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let manifest = try writeManifest(dir, "p.yaml", """
                name: params
                params:
                  vendor_name: {required: true}
                  limit: 5
                steps:
                  - name: make_vendor
                    action: post
                    endpoint: vendors
                    data: {displayName: "${{ params.vendor_name }}", number: "V-${{ params.limit }}"}
                  - name: rename
                    method: PATCH
                    endpoint: vendors
                    id: ${{ steps.make_vendor.id }}
                    data: {displayName: "${{ steps.make_vendor.displayName }} (renamed)"}
                  - name: find
                    endpoint: vendors
                    params: {filter: "number eq 'V-${{ params.limit }}'", top: "${{ params.limit }}"}
                """)
            let store = dir.path + "/store"
            let missing = try await bcliAsync(["batch", "run", "-p", "sandbox", manifest], env: sandbox.env(store: store))
            #expect(missing.status == 5)
            #expect(missing.stderr.contains("vendor_name"))
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", manifest, "--set", "vendor_name=Litware", "--set", "limit=7", "--format", "json"],
                             env: sandbox.env(store: store))
            #expect(r.status == 0, "\(r.stderr)")
            let out = try JSONValue(parsing: [UInt8](r.stdout))
            #expect(out["state"]?.stringValue == "completed")
            let ledger = try LedgerStore(root: store)
            let steps = try ledger.ledger.steps(runID: try #require(out["run_id"]?.stringValue))
            let body = try JSONValue(parsing: try ledger.objects.get(try #require(steps[0].requestDigest)))
            #expect(body == ["displayName": "Litware", "number": "V-7"])
            let renamed = try JSONValue(parsing: try ledger.objects.get(try #require(steps[1].requestDigest)))
            #expect(renamed == ["displayName": "Litware (renamed)"])
            #expect(steps[2].url.contains("$top=7"))
            #expect(steps[1].url.hasSuffix("vendors(\(steps[0].recordID!))"))
        }
    }

    @Test func failedStepSkipsDependentsAndExitsOne() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let manifest = try writeManifest(dir, "f.yaml", """
                steps:
                  - {name: ok, action: post, endpoint: customers, data: {displayName: A}}
                  - {name: missing, action: patch, endpoint: customers, id: 00000000-0000-0000-0000-000000000000, data: {displayName: B}}
                  - {name: dup, action: post, endpoint: customers, data: {displayName: C, number: "${{ steps.ok.number }}"}}
                  - {name: after, action: get, endpoint: customers, id: "${{ steps.dup.id }}"}
                """)
            let store = dir.path + "/store"
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", manifest], env: sandbox.env(store: store))
            #expect(r.status == 1)
            let ledger = try LedgerStore(root: store)
            let id = try #require(runID(fromStderr: r.stderr))
            let steps = try ledger.ledger.steps(runID: id)
            #expect(steps.map(\.statusName) == ["committed", "failed", "failed", "skipped"])
            #expect(steps[1].errorMessage?.contains("pre-image GET returned 404") == true)
            #expect(steps[2].bcErrorCode == "Internal_EntityWithSameKeyExists")
            #expect(steps[2].bcCorrelationID != nil)
            #expect(steps[3].errorMessage?.contains("dup") == true)
            #expect(try ledger.run(id).state == .partiallyCommitted)
            #expect(try await sandbox.journal().count == 1)
        }
    }

    @Test func dryRunSendsAndWritesNothing() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let store = dir.path + "/store"
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", Self.quickstart, "--dry-run"], env: sandbox.env(store: store))
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.out.contains("Step 1/5 POST"))
            #expect(r.out.contains("displayName"))
            #expect(!FileManager.default.fileExists(atPath: store))
            #expect(try await sandbox.journal().isEmpty)
        }
    }

    @Test func expectManifestRefusesAnotherFile() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let store = dir.path + "/store"
        let wrong = "sha256:" + String(repeating: "0", count: 64)
        let r = try await bcliAsync(["batch", "run", "-p", "sandbox", Self.quickstart, "--expect-manifest", wrong], env: ["BCLI_STORE": store])
        #expect(r.status == 8)
        #expect(r.stderr.contains("refusing to run"))
        #expect(!FileManager.default.fileExists(atPath: store))
        let hash = try await bcliAsync(["batch", "hash", Self.quickstart])
        let digest = String(hash.out.split(separator: " ")[0])
        let dry = try await bcliAsync(["batch", "run", "-p", "sandbox", Self.quickstart, "--expect-manifest", digest, "--dry-run"], env: ["BCLI_STORE": store])
        #expect(dry.status == 0, "\(dry.stderr)")
    }

    @Test func writeGateRefusesNonInteractiveWithoutYes() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let config = dir.path + "/config/bcli"
            try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true)
            try """
                [profiles.guarded]
                tenant_id = "sandbox"
                environment = "production"
                company_id = "4d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f601"
                client_id = "bcli-sandbox"
                client_secret_env = "GUARDED_SECRET"
                base_url = "\(sandbox.url)"
                token_url = "\(sandbox.url)/sandbox/oauth2/v2.0/token"
                disable_writes = true
                """.write(toFile: config + "/config.toml", atomically: true, encoding: .utf8)
            let env = ["XDG_CONFIG_HOME": dir.path + "/config", "XDG_CACHE_HOME": dir.path + "/cache",
                       "BCLI_STORE": dir.path + "/store", "GUARDED_SECRET": "bcli-sandbox-secret"]
            let refused = try await bcliAsync(["batch", "run", "-p", "guarded", Self.quickstart], env: env)
            #expect(refused.status == 8)
            #expect(refused.stderr.contains("--yes"))
            #expect(try await sandbox.journal().isEmpty)
            let allowed = try await bcliAsync(["batch", "run", "-p", "guarded", Self.quickstart, "--yes"], env: env)
            #expect(allowed.status == 0, "\(allowed.stderr)")
            #expect(try await sandbox.journal().count == 4)
        }
    }

    /// A missing secret is one auth error (exit 3) before anything is recorded, not a run whose
    /// every step failed.
    @Test func missingSecretExitsThreeBeforeAnyRun() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let config = dir.path + "/config/bcli"
        try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true)
        try """
            [profiles.p]
            tenant_id = "t"
            environment = "production"
            company_id = "4d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f601"
            client_id = "x"
            client_secret_env = "BCLI_TEST_NO_SUCH_SECRET"
            base_url = "http://127.0.0.1:9"
            token_url = "http://127.0.0.1:9/t/oauth2/v2.0/token"
            """.write(toFile: config + "/config.toml", atomically: true, encoding: .utf8)
        let env = ["XDG_CONFIG_HOME": dir.path + "/config", "XDG_CACHE_HOME": dir.path + "/cache",
                   "BCLI_STORE": dir.path + "/store", "BCLI_CLIENT_SECRET": ""]
        let r = try await bcliAsync(["batch", "run", "-p", "p", Self.quickstart], env: env)
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stderr.contains("BCLI_TEST_NO_SUCH_SECRET"))
        #expect(try LedgerStore(root: dir.path + "/store").runs().isEmpty)
    }

    @Test func resultFilesAreWritten() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", Self.quickstart, "-o", dir.path + "/bundle.json",
                              "--result-out", dir.path + "/out/envelope.json"], env: sandbox.env(store: dir.path + "/store"))
            #expect(r.status == 0, "\(r.stderr)")
            let id = try #require(runID(fromStderr: r.stderr))
            let envelope = try JSONValue(parsing: [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.path + "/out/envelope.json"))))
            #expect(envelope["record_id"]?.stringValue == id)
            #expect(envelope["status"]?.stringValue == "succeeded")
            #expect(envelope["method"]?.stringValue == "BATCH_RUN")
            #expect(envelope["format_version"] == 1)
            let bundle = try JSONValue(parsing: [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.path + "/bundle.json"))))
            #expect(bundle["steps"]?.arrayValue?.count == 5)
        }
    }
}

/// Every manifest error class: message, line and column, exit 5, and no request sent.
@Suite struct ManifestErrorEndToEndTests {
    static let cases: [(String, String, String)] = [
        ("unknown step key", "steps:\n  - name: a\n    action: post\n    endpoint: customers\n    dta: {x: 1}\n", ":5:5:"),
        ("unknown action", "steps:\n  - name: a\n    action: put\n    endpoint: customers\n", ":3:"),
        ("boolean key", "steps:\n  - name: a\n    action: post\n    endpoint: customers\n    data:\n      no: 1\n", ":6:7:"),
        ("duplicate step", "steps:\n  - {name: a, endpoint: customers}\n  - {name: a, endpoint: customers}\n", ":3:"),
        ("later reference", "steps:\n  - {name: a, endpoint: customers, id: '${{ steps.b.id }}'}\n  - {name: b, endpoint: customers}\n", ":2:"),
        ("missing id", "steps:\n  - name: a\n    action: delete\n    endpoint: customers\n", ":2:"),
        ("action and method", "steps:\n  - name: a\n    action: get\n    method: GET\n    endpoint: customers\n", ":"),
        ("required param", "params:\n  who: {required: true}\nsteps:\n  - {name: a, endpoint: customers, id: '${{ params.who }}'}\n", "who"),
    ]

    @Test(arguments: 0..<8)
    func invalidManifestExitsFiveAndSendsNothing(index: Int) async throws {
        try requireBinary(Paths.bcli)
        let (label, text, location) = Self.cases[index]
        try await withSandbox { sandbox in
            let dir = TempDir()
            let manifest = try writeManifest(dir, "bad.yaml", text)
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", manifest], env: sandbox.env(store: dir.path + "/store"))
            #expect(r.status == 5, "\(label): \(r.stderr)")
            #expect(r.stderr.contains("bad.yaml" + location) || r.stderr.contains(location), "\(label): \(r.stderr)")
            #expect(r.stderr.contains("error"), "\(label)")
            #expect(try await sandbox.journal().isEmpty, "\(label)")
            #expect(!FileManager.default.fileExists(atPath: dir.path + "/store"), "\(label): no ledger writes")
        }
    }
}
