import Batch
import BusinessCentral
import Foundation
import Hashing
import Store

/// `batch run --result-out FILE` / `--result-fd N`: the result envelope of the Python tool (its
/// 18 fields, same names and meanings) plus `format_version` (docs/envelope.md).
struct ResultEnvelopeReport: JSONReport {
    let formatVersion = 1
    let version = "0.1"
    let invocationID: String
    let toolVersion: String
    let profile: String?
    let environment: String?
    let company: String?
    let method = "BATCH_RUN"
    let endpoint = "batch"
    let resolvedURL: String? = nil
    let recordID: String?
    let dryRun: Bool
    let status: String
    let exitCode: Int32
    let bcCorrelationID: String?
    let telemetryEventID: String? = nil
    let auditLogOffset: Int? = nil
    let startedAt: String
    let durationMs: Int
}

/// One invocation's envelope: filled in as `batch run` goes (profile, run id, dry run, the
/// correlation id of a failed step) and written exactly once, on whatever path the command ends.
final class ResultEnvelope: @unchecked Sendable {
    enum Destination {
        /// Written atomically (`AtomicFile`), parent folders created.
        case file(String)
        /// Written, then the fd is closed.
        case fd(Int32)
    }

    private let destination: Destination?
    private let lock = NSLock()
    private let invocationID = UUIDString.generate().replacingOccurrences(of: "-", with: "").lowercased()
    private let startedAt = Timestamp.now()
    private let started = ContinuousClock.now
    private var written = false
    private var profile: String?
    private var environment: String?
    private var company: String?
    private var recordID: String?
    private var dryRun = false
    private var bcCorrelationID: String?

    /// `profile`: the name asked for, until the profile is loaded (`set(profile:)`).
    init(_ destination: Destination?, profile: String?) {
        self.destination = destination
        self.profile = profile
    }

    /// The profile's name once known, before it is loaded (`-p`, `BCLI_PROFILE`, `[defaults] profile`, `default`).
    func set(requestedProfile name: String) { lock.withLock { profile = name } }

    func set(profile p: Profile) {
        lock.withLock { (profile, environment, company) = (p.name, p.environment, p.companyID) }
    }

    func set(recordID id: String) { lock.withLock { recordID = id } }
    func setDryRun() { lock.withLock { dryRun = true } }
    func set(bcCorrelationID id: String?) { lock.withLock { bcCorrelationID = id } }

    /// The envelope as it stands, for an invocation ending with `exit`.
    func report(exit: ExitStatus) -> ResultEnvelopeReport {
        lock.withLock {
            ResultEnvelopeReport(invocationID: invocationID, toolVersion: ToolVersion.current, profile: profile,
                                 environment: environment, company: company, recordID: recordID, dryRun: dryRun,
                                 status: exit == .ok ? "succeeded" : "failed", exitCode: exit.rawValue,
                                 bcCorrelationID: bcCorrelationID, startedAt: startedAt,
                                 durationMs: (ContinuousClock.now - started).wholeMilliseconds)
        }
    }

    /// Writes the envelope for `exit`, once (a second call does nothing). A write that fails
    /// throws exit 1 with the path or fd.
    func write(exit: ExitStatus) throws {
        guard let destination, lock.withLock({ () -> Bool in defer { written = true }; return !written }) else { return }
        let text = report(exit: exit).jsonValue.prettyPrinted() + "\n"
        switch destination {
        case .file(let path):
            try RunOutput.writeAtomically(Array(text.utf8), to: path)
        case .fd(let fd):
            let error = FileDescriptor.writeAll(fd, Array(text.utf8))
            FileDescriptor.close(fd)
            if let error {
                throw CLIFailure(.failure, "cannot write the result envelope to --result-fd \(fd): \(String(cString: strerror(error)))")
            }
        }
    }
}

/// `batch run -o FILE`: the Python tool's bundle (`batch`, `run_id`, `steps` with each step's
/// response `data`) plus `format_version` and bcli's own keys (docs/envelope.md, "The -o bundle").
struct ResultBundleReport: JSONReport {
    let formatVersion = 1
    let batch: String
    let runID: String
    let state: RunState
    let manifestDigest: String
    let recordDigest: String?
    let steps: [VerbatimJSON]
}

extension ResultBundleReport {
    init(_ s: RunSummary, manifest: Manifest, digest: Digest, store: LedgerStore) {
        let rows = Dictionary(((try? store.ledger.steps(runID: s.runID)) ?? []).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        self.init(batch: manifest.name, runID: s.runID, state: s.state, manifestDigest: digest.description,
                  recordDigest: s.recordDigest?.description,
                  steps: s.reports.map { VerbatimJSON(Self.entry($0, rows: rows, store: store)) })
    }

    /// One step: the Python tool's keys where it has them (`status` in its words: `ok`, `error`,
    /// `skipped`), then bcli's (`ledger_status`, `url`, `http_status`, …).
    static func entry(_ r: StepReport, rows: [Int64: StepRecord], store: LedgerStore) -> JSONValue {
        let row = r.stepID.flatMap { rows[$0] }
        func opt(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
        func int(_ i: Int?) -> JSONValue { i.map { .number(Double($0)) } ?? .null }
        var e: [String: JSONValue] = [
            "step": int(r.seq), "name": .string(r.name), "action": .string(r.method.rawValue.lowercased()),
            "endpoint": .string(r.endpoint), "ledger_status": .string(r.statusName), "url": .string(r.url),
            "http_status": int(r.httpStatus), "record_id": opt(r.recordID), "client_request_id": opt(r.clientRequestID ?? row?.clientRequestID),
            "correlation_id": opt(r.correlationID), "step_id": r.stepID.map { .number(Double($0)) } ?? .null,
            "duration_ms": int(r.durationMs),
        ]
        switch r.status {
        case .committed?, .replayed?:
            e["status"] = "ok"
            let records = StepData.records(row, store: store)
            switch r.method.http {
            case .get?:
                e["count"] = int(records?.count ?? r.recordCount ?? 0)
                e["data"] = .array(records ?? [])
            case .post?, .patch?:
                e["data"] = .array(records ?? [])
            default: break
            }
            if r.status == .replayed {
                // The original may be in an earlier run (`idempotency: store`): read it from the ledger.
                let original = row?.targetStepID.flatMap { rows[$0] ?? (try? store.ledger.step(id: $0)) }
                e["replayed"] = true
                e["prior_seq"] = int(original?.seq)
                e["prior_step_id"] = row?.targetStepID.map { .number(Double($0)) } ?? .null
                e["prior_bc_correlation_id"] = opt(original?.bcCorrelationID)
                e["idempotency_key"] = opt(row?.idempotencyKey)
            }
        case .skipped?:
            e["status"] = "skipped"
            e["error"] = opt(r.message)
        default:
            e["status"] = "error"
            e["error"] = opt(r.message ?? (r.status == nil ? "outcome unknown: sent, no answer (it may have landed)" : nil))
        }
        return .object(e)
    }
}
