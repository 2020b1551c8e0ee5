import Batch
import BusinessCentral
import Hashing
import Store

// Every `--format json` document (and `-o`, `--result-out`) is an `Encodable` report type,
// encoded to a `JSONValue` by `JSONValueEncoder` and printed by the project's printer: keys in
// JCS order, numbers as ECMAScript writes them — the same bytes as the hand-built values gave.

/// A JSON document bcli prints: an `Encodable` report with `format_version` at the top.
protocol JSONReport: Encodable {}

extension JSONReport {
    /// The report as a `JSONValue` (property names in snake_case, `nil` as `null`).
    var jsonValue: JSONValue { JSONValueEncoder.encode(self) }

    /// The report, pretty-printed, on stdout.
    func printJSON() { Terminal.line(jsonValue.prettyPrinted()) }
}

/// Encodes an `Encodable` value to a `JSONValue`.
///
/// - Property names are converted to snake_case (`stepsRecorded` → `steps_recorded`,
///   `clientRequestID` → `client_request_id`); names in a `VerbatimJSON` object are kept as they are.
/// - An optional property that is `nil` is written as `null`, never left out: every document
///   keeps its keys whatever the run.
/// - Integers become JSON numbers (doubles), as `.number(Double(n))` did.
enum JSONValueEncoder {
    static func encode<T: Encodable>(_ value: T) -> JSONValue {
        let slot = Slot()
        // Only an `encode(to:)` that throws on its own can fail; none of the report types does.
        do { try value.encode(to: SlotEncoder(slot: slot, codingPath: [])) } catch {
            preconditionFailure("a report failed to encode: \(error)")
        }
        return slot.resolved
    }

    static func snakeCase(_ name: String) -> String {
        let chars = Array(name)
        var out = ""
        for (i, c) in chars.enumerated() {
            if c.isUppercase, i > 0 {
                let prev = chars[i - 1]
                let nextIsLower = i + 1 < chars.count && chars[i + 1].isLowercase
                if prev.isLowercase || prev.isNumber || (prev.isUppercase && nextIsLower) { out.append("_") }
            }
            out.append(contentsOf: c.lowercased())
        }
        return out
    }
}

/// A `JSONValue` inside a report, written as it is (its object member names are not converted).
struct VerbatimJSON: Encodable {
    let value: JSONValue
    init(_ value: JSONValue) { self.value = value }

    func encode(to encoder: any Encoder) throws {
        switch value {
        case .null:
            var c = encoder.singleValueContainer(); try c.encodeNil()
        case .bool(let b):
            var c = encoder.singleValueContainer(); try c.encode(b)
        case .number(let d):
            var c = encoder.singleValueContainer(); try c.encode(d)
        case .string(let s):
            var c = encoder.singleValueContainer(); try c.encode(s)
        case .array(let elements):
            var c = encoder.unkeyedContainer()
            for e in elements { try c.encode(VerbatimJSON(e)) }
        case .object(let members):
            var c = encoder.container(keyedBy: VerbatimKey.self)
            for (k, v) in members { try c.encode(VerbatimJSON(v), forKey: VerbatimKey(k)) }
        }
    }
}

/// A member name written as it is.
struct VerbatimKey: CodingKey {
    let stringValue: String
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}

// MARK: - The encoder's storage

private final class Slot {
    var value: JSONValue = .null
    var members: [String: Slot]?
    var elements: [Slot]?

    var resolved: JSONValue {
        if let members { return .object(members.mapValues(\.resolved)) }
        if let elements { return .array(elements.map(\.resolved)) }
        return value
    }
}

private struct SlotEncoder: Encoder {
    let slot: Slot
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if slot.members == nil { slot.members = [:] }
        return KeyedEncodingContainer(KeyedSlot<Key>(slot: slot, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if slot.elements == nil { slot.elements = [] }
        return UnkeyedSlot(slot: slot, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleSlot(slot: slot, codingPath: codingPath)
    }
}

private func encodeNested<T: Encodable>(_ value: T, path: [any CodingKey]) throws -> Slot {
    let slot = Slot()
    try value.encode(to: SlotEncoder(slot: slot, codingPath: path))
    return slot
}

private func leaf(_ v: JSONValue) -> Slot {
    let s = Slot()
    s.value = v
    return s
}

private struct KeyedSlot<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let slot: Slot
    let codingPath: [any CodingKey]

    private func name(_ key: Key) -> String {
        key is VerbatimKey ? key.stringValue : JSONValueEncoder.snakeCase(key.stringValue)
    }
    private func set(_ v: JSONValue, _ key: Key) { slot.members![name(key)] = leaf(v) }

    mutating func encodeNil(forKey key: Key) throws { set(.null, key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(.bool(value), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { set(.number(value), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { set(.number(Double(value)), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { set(.number(Double(value)), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { set(.number(Double(value)), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { set(.number(Double(value)), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { set(.number(Double(value)), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { set(.number(Double(value)), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { set(.number(Double(value)), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { set(.number(Double(value)), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { set(.number(Double(value)), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { set(.number(Double(value)), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { set(.number(Double(value)), key) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        slot.members![name(key)] = try encodeNested(value, path: codingPath + [key])
    }

    // `nil` is written as `null` (the synthesised `encode(to:)` calls these for optionals).
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { set(value.map { .bool($0) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { set(value.map { .string($0) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { set(value.map { .number($0) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { set(value.map { .number(Double($0)) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { set(value.map { .number(Double($0)) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { set(value.map { .number(Double($0)) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { set(value.map { .number(Double($0)) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { set(value.map { .number(Double($0)) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { set(value.map { .number(Double($0)) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { set(value.map { .number(Double($0)) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { set(value.map { .number(Double($0)) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { set(value.map { .number(Double($0)) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { set(value.map { .number(Double($0)) } ?? .null, key) }
    mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { set(value.map { .number(Double($0)) } ?? .null, key) }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { set(.null, key) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let child = Slot()
        slot.members![name(key)] = child
        return SlotEncoder(slot: child, codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = Slot()
        slot.members![name(key)] = child
        return SlotEncoder(slot: child, codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { superEncoder(forKey: Key(stringValue: "super")!) }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        let child = Slot()
        slot.members![name(key)] = child
        return SlotEncoder(slot: child, codingPath: codingPath + [key])
    }
}

private struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { String(intValue ?? 0) }
    init(_ i: Int) { intValue = i }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private struct UnkeyedSlot: UnkeyedEncodingContainer {
    let slot: Slot
    let codingPath: [any CodingKey]
    var count: Int { slot.elements!.count }

    private func append(_ v: JSONValue) { slot.elements!.append(leaf(v)) }

    mutating func encodeNil() throws { append(.null) }
    mutating func encode(_ value: Bool) throws { append(.bool(value)) }
    mutating func encode(_ value: String) throws { append(.string(value)) }
    mutating func encode(_ value: Double) throws { append(.number(value)) }
    mutating func encode(_ value: Float) throws { append(.number(Double(value))) }
    mutating func encode(_ value: Int) throws { append(.number(Double(value))) }
    mutating func encode(_ value: Int8) throws { append(.number(Double(value))) }
    mutating func encode(_ value: Int16) throws { append(.number(Double(value))) }
    mutating func encode(_ value: Int32) throws { append(.number(Double(value))) }
    mutating func encode(_ value: Int64) throws { append(.number(Double(value))) }
    mutating func encode(_ value: UInt) throws { append(.number(Double(value))) }
    mutating func encode(_ value: UInt8) throws { append(.number(Double(value))) }
    mutating func encode(_ value: UInt16) throws { append(.number(Double(value))) }
    mutating func encode(_ value: UInt32) throws { append(.number(Double(value))) }
    mutating func encode(_ value: UInt64) throws { append(.number(Double(value))) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        slot.elements!.append(try encodeNested(value, path: codingPath + [IndexKey(count)]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let child = Slot()
        let path = codingPath + [IndexKey(count)]
        slot.elements!.append(child)
        return SlotEncoder(slot: child, codingPath: path).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let child = Slot()
        let path = codingPath + [IndexKey(count)]
        slot.elements!.append(child)
        return SlotEncoder(slot: child, codingPath: path).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let child = Slot()
        let path = codingPath + [IndexKey(count)]
        slot.elements!.append(child)
        return SlotEncoder(slot: child, codingPath: path)
    }
}

private struct SingleSlot: SingleValueEncodingContainer {
    let slot: Slot
    let codingPath: [any CodingKey]

    private func set(_ v: JSONValue) { slot.value = v }

    mutating func encodeNil() throws { set(.null) }
    mutating func encode(_ value: Bool) throws { set(.bool(value)) }
    mutating func encode(_ value: String) throws { set(.string(value)) }
    mutating func encode(_ value: Double) throws { set(.number(value)) }
    mutating func encode(_ value: Float) throws { set(.number(Double(value))) }
    mutating func encode(_ value: Int) throws { set(.number(Double(value))) }
    mutating func encode(_ value: Int8) throws { set(.number(Double(value))) }
    mutating func encode(_ value: Int16) throws { set(.number(Double(value))) }
    mutating func encode(_ value: Int32) throws { set(.number(Double(value))) }
    mutating func encode(_ value: Int64) throws { set(.number(Double(value))) }
    mutating func encode(_ value: UInt) throws { set(.number(Double(value))) }
    mutating func encode(_ value: UInt8) throws { set(.number(Double(value))) }
    mutating func encode(_ value: UInt16) throws { set(.number(Double(value))) }
    mutating func encode(_ value: UInt32) throws { set(.number(Double(value))) }
    mutating func encode(_ value: UInt64) throws { set(.number(Double(value))) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let nested = try encodeNested(value, path: codingPath)
        slot.value = nested.value
        slot.members = nested.members
        slot.elements = nested.elements
    }
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

    init(_ r: RunRecord) {
        id = r.id
        kind = r.kind
        parent = r.parentRunID
        name = r.name
        state = r.state
        stampedState = r.stampedState
        interrupted = r.interrupted
        startedAt = r.startedAt
        finishedAt = r.finishedAt
        profile = r.profile
        environment = r.environment
        company = r.company
        baseURL = r.baseURL
        manifestPath = r.manifestPath
        manifestDigest = r.manifestDigest?.description
        paramsDigest = r.paramsDigest?.description
        toolVersion = r.toolVersion
        durability = r.durability.rawValue
        recordDigest = r.recordDigest?.description
        previousRecordDigest = r.previousRecordDigest?.description
        stepCount = r.stepCount
        stepsRecorded = r.counts.total
        committed = r.counts.committed
        failed = r.counts.failed
        unknown = r.counts.unknown
        skipped = r.counts.skipped
        replayed = r.counts.replayed
        rolledBack = r.counts.rolledBack
        rollbackSkipped = r.counts.rollbackSkipped
        rollbackFailed = r.counts.rollbackFailed
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

    init(_ report: VerifyReport, subject: String, recordDigest: Digest?) {
        ok = report.isOK
        self.subject = subject
        self.recordDigest = recordDigest?.description
        runsChecked = report.runsChecked.count
        blobsChecked = report.blobsChecked
        bytesChecked = report.bytesChecked
        chain = report.chain.map(\.description)
        problems = report.problems.map {
            Problem(kind: $0.kind.rawValue, runID: $0.runID, subject: $0.subject, digest: $0.digest?.description, detail: $0.detail)
        }
        notes = report.notes
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

    init(_ report: FsckReport) {
        clean = report.isClean
        objectsChecked = report.objectsChecked
        filesOnDisk = report.filesOnDisk
        findings = report.findings.map {
            Finding(severity: $0.severity.rawValue, kind: $0.kind, path: $0.path, digest: $0.digest?.description, detail: $0.detail)
        }
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

    init(_ report: GCReport, dryRun: Bool) {
        self.dryRun = dryRun
        blobs = report.blobs.map { Blob(digest: $0.digest.description, size: $0.size) }
        tempFiles = report.temps.map { TempFile(path: $0.path, size: $0.size) }
        prunedRuns = report.prunedRuns.map {
            PrunedRun(runID: $0.id, recordDigest: $0.recordDigest.description, finishedAt: $0.finishedAt, steps: $0.steps)
        }
        keptRuns = report.keptRuns.map { KeptRun(runID: $0.id, reason: $0.reason) }
        indexRowsDropped = report.indexRowsDropped
        youngUnreferencedBlobs = report.youngUnreferenced
        bytesFreed = report.bytesFreed
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

// MARK: - batch run: --format json, -o, --result-out, --dry-run

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
    let durationMs: Int
    let message: String?
    let bcErrorCode: String?
    let correlationID: String?
    let clientRequestID: String?

    init(_ r: StepReport) {
        seq = r.seq
        name = r.name
        method = r.method.rawValue
        endpoint = r.endpoint
        url = r.url
        status = r.statusName
        httpStatus = r.httpStatus
        recordID = r.recordID
        recordCount = r.recordCount
        durationMs = r.durationMs
        message = r.message
        bcErrorCode = r.bcErrorCode
        correlationID = r.correlationID
        clientRequestID = r.clientRequestID
    }
}

/// `batch run --format json` and `-o FILE`: the run's result and every step.
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

    init(_ s: RunSummary, manifest: Manifest, digest: Digest) {
        batch = manifest.name
        runID = s.runID
        state = s.state
        manifestDigest = digest.description
        recordDigest = s.recordDigest?.description
        committed = s.committed
        failed = s.failed
        skipped = s.skipped
        unknown = s.unknown
        total = s.total
        steps = s.reports.map(StepResultReport.init)
    }
}

/// `batch run --result-out FILE`: the result envelope of the Python tool, `record_id` = the run id.
struct ResultEnvelopeReport: JSONReport {
    let formatVersion = 1
    let version = "0.1"
    let invocationID: String
    let toolVersion: String
    let profile: String
    let environment: String
    let company: String?
    let method = "BATCH_RUN"
    let endpoint = "batch"
    let resolvedURL: String? = nil
    let recordID: String
    let dryRun = false
    let status: String
    let exitCode: Int32
    let bcCorrelationID: String?
    let telemetryEventID: String? = nil
    let auditLogOffset: Int? = nil
    let startedAt: String
    let durationMs: Int

    init(_ s: RunSummary, profile: Profile, exit: Int32, startedAt: String, durationMs: Int) {
        invocationID = UUIDString.generate().replacingOccurrences(of: "-", with: "")
        toolVersion = ToolVersion.current
        self.profile = profile.name
        environment = profile.environment
        company = profile.companyID
        recordID = s.runID
        status = exit == 0 ? "succeeded" : "failed"
        exitCode = exit
        bcCorrelationID = s.reports.last(where: { $0.status != .committed })?.correlationID
        self.startedAt = startedAt
        self.durationMs = durationMs
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

    init(_ outcome: RollbackExecutor.Result, runID: String) {
        self.runID = runID
        rollbackRunID = outcome.rollbackRunID
        runState = outcome.originalState
        remaining = outcome.remaining
        results = outcome.results.map {
            ItemResult(seq: $0.item.step.seq, name: $0.item.step.name, action: $0.item.action.symbol, status: $0.status.rawValue,
                   httpStatus: $0.httpStatus, conflict: $0.conflict, message: $0.message, newRecordID: $0.newRecordID)
        }
    }
}
