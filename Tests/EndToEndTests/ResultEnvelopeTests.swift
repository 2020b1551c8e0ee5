import Foundation
import Hashing
import Store
import Testing
import TestSupport

/// `batch run --result-out/--result-fd`: one envelope on every exit path, with the Python tool's
/// 18 fields plus `format_version`; `--progress-fd` events through a pipe (docs/envelope.md).
@Suite struct ResultEnvelopeTests {
    static let quickstart = Paths.packageRoot + "/examples/quickstart.yaml"

    /// The Python tool's 18 fields, and bcli's `format_version`.
    static let keys: Set<String> = [
        "version", "invocation_id", "tool_version", "profile", "environment", "company", "method", "endpoint",
        "resolved_url", "record_id", "dry_run", "status", "exit_code", "bc_correlation_id", "telemetry_event_id",
        "audit_log_offset", "started_at", "duration_ms", "format_version",
    ]

    /// A config with a read-only profile and one whose secret the sandbox refuses.
    func env(_ sandbox: LiveSandbox, _ dir: TempDir) throws -> [String: String] {
        func profile(_ name: String, secretVariable: String, extra: String = "") -> String {
            """
            [profiles.\(name)]
            tenant_id = "sandbox"
            environment = "production"
            company_id = "4d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f601"
            client_id = "bcli-sandbox"
            client_secret_env = "\(secretVariable)"
            base_url = "\(sandbox.url)"
            token_url = "\(sandbox.url)/sandbox/oauth2/v2.0/token"
            \(extra)

            """
        }
        _ = try dir.write("config/bcli/config.toml", profile("guarded", secretVariable: "GOOD_SECRET", extra: "disable_writes = true")
                          + profile("badsecret", secretVariable: "BAD_SECRET"))
        return ["XDG_CONFIG_HOME": dir.path + "/config", "XDG_CACHE_HOME": dir.path + "/cache", "BCLI_STORE": dir.path + "/store",
                "GOOD_SECRET": "bcli-sandbox-secret", "BAD_SECRET": "not-the-secret"]
    }

    /// Runs `bcli batch run …args --result-out FILE` and returns the exit, the envelope and stderr.
    func run(_ args: [String], env: [String: String], _ dir: TempDir) async throws -> (Completed, JSONValue) {
        let path = dir.path + "/out/envelope-\(UUID().uuidString.prefix(8)).json"
        let r = try await bcliAsync(["batch", "run"] + args + ["--result-out", path], env: env)
        let envelope = try JSONValue(parsing: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
        #expect(Set(envelope.objectValue?.keys.map { $0 } ?? []) == Self.keys)
        #expect(envelope["version"]?.stringValue == "0.1")
        #expect(envelope["method"]?.stringValue == "BATCH_RUN")
        #expect(envelope["endpoint"]?.stringValue == "batch")
        #expect(envelope["format_version"] == 1)
        #expect(envelope["exit_code"] == .number(Double(r.status)), "the envelope's exit_code is the process's exit status")
        #expect(envelope["status"]?.stringValue == (r.status == 0 ? "succeeded" : "failed"))
        #expect(envelope["invocation_id"]?.stringValue?.count == 32)
        #expect(envelope["started_at"]?.stringValue?.hasSuffix("Z") == true)
        return (r, envelope)
    }

    @Test func okAndStepsFailed() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let env = sandbox.env(store: dir.path + "/store")
            let (ok, good) = try await run(["-p", "sandbox", Self.quickstart], env: env, dir)
            #expect(ok.status == 0, "\(ok.stderr)")
            #expect(good["record_id"]?.stringValue == runID(fromStderr: ok.stderr))
            #expect(good["dry_run"] == false)
            #expect(good["profile"]?.stringValue == "sandbox")
            #expect(good["environment"]?.stringValue == "production")
            #expect(good["company"]?.stringValue == "4d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f601")

            let manifest = try writeManifest(dir, "fails.yaml", """
                name: fails
                steps:
                  - name: missing
                    action: get
                    endpoint: customers
                    id: 00000000-0000-0000-0000-00000000dead
                """)
            let (failed, bad) = try await run(["-p", "sandbox", manifest], env: env, dir)
            #expect(failed.status == 1, "\(failed.stderr)")
            #expect(bad["record_id"]?.stringValue == runID(fromStderr: failed.stderr))
            #expect(bad["status"]?.stringValue == "failed")
        }
    }

    /// The four paths the issue names: dry run, policy refusal (8), invalid manifest (5), auth (3).
    /// None of them records a run, so `record_id` is null.
    @Test func dryRunPolicyInvalidManifestAndAuth() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let env = try env(sandbox, dir)

            let (dry, dryEnvelope) = try await run(["-p", "guarded", Self.quickstart, "--dry-run"], env: env, dir)
            #expect(dry.status == 0, "\(dry.stderr)")
            #expect(dryEnvelope["dry_run"] == true)
            #expect(dryEnvelope["status"]?.stringValue == "succeeded")
            #expect(dryEnvelope["record_id"] == .null)
            #expect(dryEnvelope["profile"]?.stringValue == "guarded")

            let (refused, policy) = try await run(["-p", "guarded", Self.quickstart], env: env, dir)
            #expect(refused.status == 8, "\(refused.stderr)")
            #expect(policy["exit_code"] == 8)
            #expect(policy["dry_run"] == false)
            #expect(policy["record_id"] == .null)

            let invalid = try writeManifest(dir, "invalid.yaml", "name: x\nsteps:\n  - name: a\n    action: get\n")
            let (bad, invalidEnvelope) = try await run(["-p", "guarded", invalid], env: env, dir)
            #expect(bad.status == 5, "\(bad.stderr)")
            #expect(invalidEnvelope["exit_code"] == 5)
            #expect(invalidEnvelope["status"]?.stringValue == "failed")

            let (auth, authEnvelope) = try await run(["-p", "badsecret", Self.quickstart], env: env, dir)
            #expect(auth.status == 3, "\(auth.stderr)")
            #expect(authEnvelope["exit_code"] == 3)
            #expect(authEnvelope["profile"]?.stringValue == "badsecret")
            #expect(authEnvelope["environment"]?.stringValue == "production")
            #expect(authEnvelope["record_id"] == .null)

            // An unknown profile: exit 2, the name asked for, no environment.
            let (unknown, unknownEnvelope) = try await run(["-p", "nope", Self.quickstart], env: env, dir)
            #expect(unknown.status == 2, "\(unknown.stderr)")
            #expect(unknownEnvelope["profile"]?.stringValue == "nope")
            #expect(unknownEnvelope["environment"] == .null)
            #expect(try await sandbox.journal().isEmpty)
        }
    }

    /// `--progress-fd 3 --result-fd 4`, both FIFOs: a started/completed pair per step with the
    /// Python tool's keys and ours, `ts` first; the envelope on fd 4, then EOF on both.
    @Test func progressAndResultThroughPipes() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let events = dir.path + "/events", result = dir.path + "/result"
            try makeFIFO(events)
            try makeFIFO(result)
            let eventReader = FIFOReader(events), resultReader = FIFOReader(result)
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", Self.quickstart, "--progress-fd", "3", "--result-fd", "4"],
                                        env: sandbox.env(store: dir.path + "/store"), fds: [3: events, 4: result])
            #expect(r.status == 0, "\(r.stderr)")
            let id = try #require(runID(fromStderr: r.stderr))

            let (envelopeBytes, envelopeEOF) = resultReader.wait()
            #expect(envelopeEOF)
            let envelope = try JSONValue(parsing: [UInt8](envelopeBytes))
            #expect(envelope["record_id"]?.stringValue == id)
            #expect(envelope["exit_code"] == 0)

            let (_, eventsEOF) = eventReader.wait()
            #expect(eventsEOF)
            let lines = eventReader.lines()
            #expect(lines.count == 10)
            #expect(lines.allSatisfy { $0.hasPrefix("{\"ts\":") })
            let parsed = try lines.map { try JSONValue(parsing: $0) }
            for (i, event) in parsed.enumerated() {
                #expect(event["event"]?.stringValue == (i % 2 == 0 ? "step_started" : "step_completed"))
                #expect(event["seq"] == .number(Double(i / 2 + 1)))
                #expect(event["run_id"]?.stringValue == id)
                #expect(event["format_version"] == 1)
                for key in ["name", "method", "endpoint", "step_id", "client_request_id"] { #expect(event[key] != nil, "\(key)") }
                if i % 2 == 1 {
                    #expect(event["status"]?.stringValue == "committed")
                    #expect(event["error"] == .null)
                    #expect(event["duration_ms"]?.doubleValue != nil)
                    #expect(event["http_status"]?.doubleValue != nil)
                }
            }
            #expect(parsed[0]["method"]?.stringValue == "POST")
            #expect(parsed[0]["endpoint"]?.stringValue == "customers")
            #expect(parsed[9]["method"]?.stringValue == "GET")
        }
    }

    /// A reader that goes away does not kill or change the run: one warning, exit 0, all steps.
    @Test func progressReaderGoneLeavesTheRunAlone() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let events = dir.path + "/events"
            try makeFIFO(events)
            let reader = FIFOReader(events, closeAfter: 0)
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", Self.quickstart, "--progress-fd", "3"],
                                        env: sandbox.env(store: dir.path + "/store"), fds: [3: events])
            _ = reader.wait()
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stderr.components(separatedBy: "--progress-fd 3:").count == 2, "\(r.stderr)")
            #expect(r.out.contains("Batch completed: 5/5"))
            #expect(try await sandbox.journal().count == 4)
        }
    }

    /// A replayed step: `step_started` with `replayed: true`, `step_completed` with the key and
    /// the original's seq and no `error` (the Python tool's keys); the bundle entry likewise.
    @Test func replayedStepEventsAndBundleEntry() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let manifest = try writeManifest(dir, "replay.yaml", """
                name: replay
                steps:
                  - name: c1
                    action: post
                    endpoint: customers
                    idempotency_key: k-1
                    data: { displayName: Replay Co }
                  - name: c1_again
                    action: post
                    endpoint: customers
                    idempotency_key: k-1
                    data: { displayName: Replay Co }
                """)
            let events = dir.path + "/events"
            try makeFIFO(events)
            let reader = FIFOReader(events)
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", manifest, "--progress-fd", "3", "-o", dir.path + "/bundle.json"],
                                        env: sandbox.env(store: dir.path + "/store"), fds: [3: events])
            #expect(r.status == 0, "\(r.stderr)")
            let parsed = try reader.lines().map { try JSONValue(parsing: $0) }
            #expect(parsed.count == 4)
            #expect(parsed[2]["event"]?.stringValue == "step_started")
            #expect(parsed[2]["replayed"] == true)
            #expect(parsed[3]["status"]?.stringValue == "replayed")
            #expect(parsed[3]["idempotency_key"]?.stringValue == "k-1")
            #expect(parsed[3]["prior_seq"] == 1)
            #expect(parsed[3]["error"] == nil)
            #expect(parsed[1]["error"] == .null)

            let bundle = try JSONValue(parsing: [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.path + "/bundle.json"))))
            let again = try #require(bundle["steps"]?.arrayValue?.last)
            #expect(again["status"]?.stringValue == "ok")
            #expect(again["replayed"] == true)
            #expect(again["prior_seq"] == 1)
            #expect(again["idempotency_key"]?.stringValue == "k-1")
            #expect(again["data"]?.arrayValue?.first?["displayName"]?.stringValue == "Replay Co")
            #expect(try await sandbox.journal().count == 1)
        }
    }

    @Test func fdsThatAreNotOpenAndBothResultOptionsAreUsageErrors() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let env = ["BCLI_STORE": dir.path + "/store", "XDG_CONFIG_HOME": dir.path + "/config"]
        for (flag, fd) in [("--progress-fd", "987"), ("--result-fd", "988")] {
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", Self.quickstart, flag, fd], env: env)
            #expect(r.status == 2, "\(r.stderr)")
            #expect(r.stderr.contains("\(flag) \(fd): file descriptor \(fd) is not open"), "\(r.stderr)")
        }
        let both = try await bcliAsync(["batch", "run", "-p", "sandbox", Self.quickstart, "--result-out", dir.path + "/e.json",
                                        "--result-fd", "2"], env: env)
        #expect(both.status == 2, "\(both.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/e.json"))
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/store"), "nothing ran")
    }
}
