import Batch
import BusinessCentral
import Hashing
import Store

// Every `--format json` document (and `-o`, `--result-out`: ResultEnvelope.swift) is an `Encodable` report type,
// encoded to a `JSONValue` by `JSONValueEncoder` (Hashing) and printed by the project's printer:
// keys in JCS order, numbers as ECMAScript writes them — the same bytes as the hand-built values gave.

/// A JSON document bcli prints: an `Encodable` report with `format_version` at the top.
protocol JSONReport: Encodable {}

extension JSONReport {
    /// The report as a `JSONValue` (property names in snake_case, `nil` as `null`).
    var jsonValue: JSONValue { JSONValueEncoder.encode(self) }

    /// The report, pretty-printed, on stdout.
    func printJSON() { Terminal.line(jsonValue.prettyPrinted()) }
}

// MARK: - A run: one shape in `list` and `state`

/// A run as `batch list` and `batch state` report it. `state` is the derived state,
/// `stamped_state` what the row says; `step_count` is the manifest's step count (null for runs
/// recorded before it was kept), `steps_recorded` how many step rows the run has.
struct RunReport: Encodable {
    let id: String
    let kind: RunKind
    /// The run this one acts on (a rollback's original run); null for a batch run.
    let parent: String?
    let name: String?
    let state: RunState
    let stampedState: RunState
    let interrupted: Bool
    let startedAt: String
    let finishedAt: String?
    let profile: String?
    let environment: String?
    let company: String?
    let baseURL: String?
    let manifestPath: String?
    let manifestDigest: String?
    let paramsDigest: String?
    let toolVersion: String
    let durability: String
    let recordDigest: String?
    let previousRecordDigest: String?
    let stepCount: Int?
    let stepsRecorded: Int
    let committed: Int
    let failed: Int
    let unknown: Int
    let skipped: Int
    let replayed: Int
    let rolledBack: Int
    let rollbackSkipped: Int
    let rollbackFailed: Int
}

extension RunReport {
    init(_ r: RunRecord) {
        let c = r.counts
        self.init(id: r.id, kind: r.kind, parent: r.parentRunID, name: r.name, state: r.state, stampedState: r.stampedState,
                  interrupted: r.interrupted, startedAt: r.startedAt, finishedAt: r.finishedAt, profile: r.profile,
                  environment: r.environment, company: r.company, baseURL: r.baseURL, manifestPath: r.manifestPath,
                  manifestDigest: r.manifestDigest?.description, paramsDigest: r.paramsDigest?.description,
                  toolVersion: r.toolVersion, durability: r.durability.rawValue, recordDigest: r.recordDigest?.description,
                  previousRecordDigest: r.previousRecordDigest?.description, stepCount: r.stepCount, stepsRecorded: c.total,
                  committed: c.committed, failed: c.failed, unknown: c.unknown, skipped: c.skipped, replayed: c.replayed,
                  rolledBack: c.rolledBack, rollbackSkipped: c.rollbackSkipped, rollbackFailed: c.rollbackFailed)
    }
}

/// `batch list --format json`.
struct RunListReport: JSONReport {
    let formatVersion = 1
    let runs: [RunReport]
}

/// `batch state --format json`: the run and every step row (`RunRecordDocument.stepJSON`, the
/// columns as the ledger keeps them).
struct RunStateReport: JSONReport {
    let formatVersion = 1
    let run: RunReport
    let steps: [VerbatimJSON]
    /// Runs whose parent is this one (rollbacks, reconciles, resumes), oldest first.
    let children: [Child]

    struct Child: Encodable {
        let id: String
        let kind: String
        let state: String
    }
}

// MARK: - verify, fsck, gc, show

/// `batch verify --format json`.
struct VerifyJSONReport: JSONReport {
    struct Problem: Encodable {
        let kind: String
        let runID: String?
        let subject: String
        let digest: String?
        let detail: String
    }

    let formatVersion = 1
    let ok: Bool
    let subject: String
    let recordDigest: String?
    let runsChecked: Int
    let blobsChecked: Int
    let bytesChecked: Int64
    let chain: [String]
    let problems: [Problem]
    let notes: [String]
    /// Not failures: values imported runs hold as hashes only ("hash only, no bytes").
    let hashOnly: [Problem]
}

extension VerifyJSONReport {
    init(_ report: VerifyReport, subject: String, recordDigest: Digest?) {
        self.init(ok: report.isOK, subject: subject, recordDigest: recordDigest?.description, runsChecked: report.runsChecked.count,
                  blobsChecked: report.blobsChecked, bytesChecked: report.bytesChecked, chain: report.chain.map(\.description),
                  problems: report.problems.map {
                      Problem(kind: $0.kind.rawValue, runID: $0.runID, subject: $0.subject, digest: $0.digest?.description, detail: $0.detail)
                  },
                  notes: report.notes,
                  hashOnly: report.hashOnly.map {
                      Problem(kind: $0.kind.rawValue, runID: $0.runID, subject: $0.subject, digest: $0.digest?.description, detail: $0.detail)
                  })
    }
}

/// `batch fsck --format json`.
struct FsckJSONReport: JSONReport {
    struct Finding: Encodable {
        let severity: String
        let kind: String
        let path: String
        let digest: String?
        let detail: String
    }

    let formatVersion = 1
    let clean: Bool
    let objectsChecked: Int
    let filesOnDisk: Int
    let findings: [Finding]
}

extension FsckJSONReport {
    init(_ report: FsckReport) {
        self.init(clean: report.isClean, objectsChecked: report.objectsChecked, filesOnDisk: report.filesOnDisk,
                  findings: report.findings.map {
                      Finding(severity: $0.severity.rawValue, kind: $0.kind, path: $0.path, digest: $0.digest?.description, detail: $0.detail)
                  })
    }
}

/// `batch gc --format json`.
struct GCJSONReport: JSONReport {
    struct Blob: Encodable { let digest: String; let size: Int64 }
    struct TempFile: Encodable { let path: String; let size: Int64 }
    struct PrunedRun: Encodable { let runID: String; let recordDigest: String; let finishedAt: String; let steps: Int }
    struct KeptRun: Encodable { let runID: String; let reason: String }

    let formatVersion = 1
    let dryRun: Bool
    let blobs: [Blob]
    let tempFiles: [TempFile]
    let prunedRuns: [PrunedRun]
    let keptRuns: [KeptRun]
    let indexRowsDropped: Int
    let youngUnreferencedBlobs: Int
    let bytesFreed: Int64
}

extension GCJSONReport {
    init(_ report: GCReport, dryRun: Bool) {
        self.init(dryRun: dryRun, blobs: report.blobs.map { Blob(digest: $0.digest.description, size: $0.size) },
                  tempFiles: report.temps.map { TempFile(path: $0.path, size: $0.size) },
                  prunedRuns: report.prunedRuns.map {
                      PrunedRun(runID: $0.id, recordDigest: $0.recordDigest.description, finishedAt: $0.finishedAt, steps: $0.steps)
                  },
                  keptRuns: report.keptRuns.map { KeptRun(runID: $0.id, reason: $0.reason) },
                  indexRowsDropped: report.indexRowsDropped, youngUnreferencedBlobs: report.youngUnreferenced,
                  bytesFreed: report.bytesFreed)
    }
}

/// `batch show RUN --step N`: the step's row (`RunRecordDocument.stepJSON`, the columns as the
/// ledger keeps them) with `format_version` and `run_id` beside its columns.
struct StepRowReport: JSONReport {
    let formatVersion = 1
    let runID: String
    let row: JSONValue

    private enum Keys: String, CodingKey { case formatVersion, runID }

    func encode(to encoder: any Encoder) throws {
        try VerbatimJSON(row).encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(formatVersion, forKey: .formatVersion)
        try c.encode(runID, forKey: .runID)
    }
}

// MARK: - batch run: --format json, --dry-run

/// One step of a run as `batch run --format json` reports it.
struct StepResultReport: Encodable {
    let seq: Int
    let name: String
    let method: String
    let endpoint: String
    let url: String
    let status: String
    let httpStatus: Int?
    let recordID: String?
    let recordCount: Int?
    /// Pages a get with `all: true` read (null for other steps).
    let pages: Int?
    let durationMs: Int
    let message: String?
    let bcErrorCode: String?
    let correlationID: String?
    let clientRequestID: String?
    /// The response's records (a collection's `value`, else the one record); null without a body.
    let data: [VerbatimJSON]?
}

extension StepResultReport {
    init(_ r: StepReport, data: [JSONValue]?) {
        self.init(seq: r.seq, name: r.name, method: r.method.rawValue, endpoint: r.endpoint, url: r.url, status: r.statusName,
                  httpStatus: r.httpStatus, recordID: r.recordID, recordCount: r.recordCount, pages: r.pages, durationMs: r.durationMs,
                  message: r.message, bcErrorCode: r.bcErrorCode, correlationID: r.correlationID, clientRequestID: r.clientRequestID,
                  data: data?.map(VerbatimJSON.init))
    }
}

/// `batch run --format json`: the run's result and every step, with its response data.
struct RunResultReport: JSONReport {
    let formatVersion = 1
    let batch: String
    let runID: String
    let state: RunState
    let manifestDigest: String
    let recordDigest: String?
    let committed: Int
    let failed: Int
    let skipped: Int
    let unknown: Int
    let total: Int
    let steps: [StepResultReport]
}

extension RunResultReport {
    init(_ s: RunSummary, manifest: Manifest, digest: Digest, store: LedgerStore) {
        let rows = Dictionary(((try? store.ledger.steps(runID: s.runID)) ?? []).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        self.init(batch: manifest.name, runID: s.runID, state: s.state, manifestDigest: digest.description,
                  recordDigest: s.recordDigest?.description, committed: s.committed, failed: s.failed, skipped: s.skipped,
                  unknown: s.unknown, total: s.total,
                  steps: s.reports.map { StepResultReport($0, data: StepData.records($0.stepID.flatMap { rows[$0] }, store: store)) })
    }
}

/// `batch run --dry-run --format json`.
struct DryRunReport: JSONReport {
    /// One step: resolved (`method`, `url`, `body`) or resolved at run time (`method` as written,
    /// `endpoint`, `reason`).
    struct Step: Encodable {
        enum Request {
            case resolved(url: String, body: String?)
            case atRunTime(endpoint: String, reason: String)
        }

        let seq: Int
        let name: String
        let method: String
        let request: Request

        private enum Keys: String, CodingKey { case seq, name, method, resolved, url, body, endpoint, reason }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(seq, forKey: .seq)
            try c.encode(name, forKey: .name)
            try c.encode(method, forKey: .method)
            switch request {
            case .resolved(let url, let body):
                try c.encode(true, forKey: .resolved)
                try c.encode(url, forKey: .url)
                try c.encodeIfPresent(body, forKey: .body)
            case .atRunTime(let endpoint, let reason):
                try c.encode(false, forKey: .resolved)
                try c.encode(endpoint, forKey: .endpoint)
                try c.encode(reason, forKey: .reason)
            }
        }
    }

    let formatVersion = 1
    let dryRun = true
    let steps: [Step]
}

// MARK: - batch rollback

/// `batch rollback RUN --dry-run --format json`: the plan, newest step first.
struct RollbackPlanReport: JSONReport {
    /// One item: the compensating `request` (with `fields` for a PATCH, `body` for a POST), or the
    /// `reason` nothing is sent.
    struct Item: Encodable {
        let item: RollbackItem

        private enum Keys: String, CodingKey { case seq, name, method, action, ifMatch, request, fields, body, reason }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(item.step.seq, forKey: .seq)
            try c.encode(item.step.name, forKey: .name)
            try c.encode(item.step.method.rawValue, forKey: .method)
            try c.encode(item.action.symbol, forKey: .action)
            try c.encodeIfPresent(item.ifMatch, forKey: .ifMatch)
            switch item.action {
            case .delete(let url):
                try c.encode("DELETE " + url, forKey: .request)
            case .restore(let url, let fields):
                try c.encode("PATCH " + url, forKey: .request)
                try c.encode(VerbatimJSON(.object(fields)), forKey: .fields)
            case .recreate(let url, let body):
                try c.encode("POST " + url, forKey: .request)
                try c.encode(VerbatimJSON(.object(body)), forKey: .body)
            case .irreversible(let reason):
                try c.encode(reason, forKey: .reason)
            case .nothing(let reason):
                try c.encode("nothing to undo: " + reason, forKey: .reason)
            }
        }
    }

    let formatVersion = 1
    let runID: String
    let plan: [Item]
    let summary: String

    init(_ plan: RollbackPlan, runID: String) {
        self.runID = runID
        self.plan = plan.items.map(Item.init)
        summary = plan.summary
    }
}

/// `batch rollback RUN --format json`: what each compensating request did.
struct RollbackResultReport: JSONReport {
    struct ItemResult: Encodable {
        let seq: Int
        let name: String
        let action: String
        let status: String
        let httpStatus: Int?
        let conflict: Bool
        let message: String
        let newRecordID: String?
    }

    let formatVersion = 1
    let runID: String
    let rollbackRunID: String
    let runState: RunState
    let remaining: Int
    let results: [ItemResult]
}

extension RollbackResultReport {
    init(_ outcome: RollbackExecutor.Result, runID: String) {
        self.init(runID: runID, rollbackRunID: outcome.rollbackRunID, runState: outcome.originalState, remaining: outcome.remaining,
                  results: outcome.results.map {
                      ItemResult(seq: $0.item.step.seq, name: $0.item.step.name, action: $0.item.action.symbol, status: $0.status.rawValue,
                                 httpStatus: $0.httpStatus, conflict: $0.conflict, message: $0.message, newRecordID: $0.newRecordID)
                  })
    }
}

// MARK: - import-python-ledger

/// `batch import-python-ledger --format json`: one entry per `.db` file.
struct PythonImportReport: JSONReport {
    struct File: Encodable {
        let file: String
        /// `imported`, `already` (imported before; nothing added) or `refused`.
        let result: String
        let runID: String?
        let state: RunState?
        let steps: Int?
        let sourceDigest: String?
        let walRecovered: Bool?
        let recordDigest: String?
        /// For `already`: the file's bytes differ from those imported (the Python tool changed it since).
        let sourceChanged: Bool?
        /// For `refused`: `not-a-python-ledger`, `unimportable`, `collision` or `store`.
        let reason: String?
        let error: String?
    }

    let formatVersion = 1
    let folder: String
    let imported: Int
    let already: Int
    let refused: Int
    let files: [File]
}

extension PythonImportReport {
    init(folder: String, results: [PythonImportResult]) {
        var files: [File] = []
        var counts = (imported: 0, already: 0, refused: 0)
        for r in results {
            switch r.outcome {
            case let .imported(runID, steps, state, source, wal, record):
                counts.imported += 1
                files.append(File(file: r.file, result: "imported", runID: runID, state: state, steps: steps, sourceDigest: source.description,
                                  walRecovered: wal, recordDigest: record.description, sourceChanged: nil, reason: nil, error: nil))
            case let .alreadyImported(runID, changed):
                counts.already += 1
                files.append(File(file: r.file, result: "already", runID: runID, state: nil, steps: nil, sourceDigest: nil,
                                  walRecovered: nil, recordDigest: nil, sourceChanged: changed, reason: nil, error: nil))
            case let .refused(error):
                counts.refused += 1
                let runID: String? = if case .collision(_, let id, _) = error { id } else { nil }
                files.append(File(file: r.file, result: "refused", runID: runID, state: nil, steps: nil, sourceDigest: nil,
                                  walRecovered: nil, recordDigest: nil, sourceChanged: nil, reason: error.reasonName,
                                  error: error.description))
            }
        }
        self.init(folder: folder, imported: counts.imported, already: counts.already, refused: counts.refused, files: files)
    }
}

extension PythonLedgerError {
    /// The `reason` word of a refused file in `import-python-ledger --format json`.
    var reasonName: String {
        switch self {
        case .folderMissing: return "folder-missing"
        case .notAPythonLedger: return "not-a-python-ledger"
        case .unimportable: return "unimportable"
        case .collision: return "collision"
        case .store: return "store"
        }
    }
}
