import Hashing

/// A blob a row is about to name, so its `object` row is written in the same transaction.
///
/// A small blob (`LedgerStore.inlineLimit`) is not written to a file by `LedgerStore.put`: its
/// bytes travel here to the transaction that indexes it and are stored in the ledger's
/// `object_data` table beside the row that names them (docs/ledger.md, "Where a blob's bytes
/// live"). Equality and hashing are by digest, size and media type; the bytes are not identity.
public struct BlobRef: Sendable, Hashable {
    public let digest: Digest
    public let size: Int64
    public let mediaType: String?
    /// The bytes, when they are to be stored in the ledger with the row that names them.
    public let inlineBytes: [UInt8]?

    public init(digest: Digest, size: Int64, mediaType: String?) {
        self.digest = digest
        self.size = size
        self.mediaType = mediaType
        self.inlineBytes = nil
    }

    /// A blob whose bytes go into the ledger with the row that names it (`Ledger.indexObjects`).
    public init(inline bytes: [UInt8], mediaType: String?) {
        digest = SHA256.hash(bytes)
        size = Int64(bytes.count)
        self.mediaType = mediaType
        inlineBytes = bytes
    }

    public init(_ put: ObjectStore.PutResult, mediaType: String?) {
        self.init(digest: put.digest, size: put.size, mediaType: mediaType)
    }

    public static func == (a: BlobRef, b: BlobRef) -> Bool {
        a.digest == b.digest && a.size == b.size && a.mediaType == b.mediaType
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(digest)
        hasher.combine(size)
        hasher.combine(mediaType)
    }
}

/// What a run row records when it starts.
public struct NewRun: Sendable {
    public var id: String = RunID.generate()
    public var kind: RunKind = .batch
    public var parentRunID: String?
    public var name: String?
    public var manifest: BlobRef?
    public var manifestPath: String?
    public var params: BlobRef?
    public var profile: String?
    public var environment: String?
    public var company: String?
    public var baseURL: String?
    public var toolVersion: String
    public var state: RunState = .running
    /// How many steps the manifest has (`run.step_count`): a run is `completed` only when that
    /// many steps landed. `nil` when there is no such count.
    public var stepCount: Int?

    public init(toolVersion: String) { self.toolVersion = toolVersion }
}

/// The intent row: written and committed before the HTTP request leaves.
public struct StepIntent: Sendable {
    public var runID: String
    public var seq: Int
    public var name: String
    public var method: RecordedMethod
    public var url: String
    public var request: BlobRef?
    public var requestHeaders: BlobRef?
    public var idempotencyKey: String?
    public var clientRequestID: String = UUIDString.generate()
    public var ifMatch: String?
    public var preImage: BlobRef?
    public var targetStepID: Int64?

    public init(runID: String, seq: Int, name: String, method: RecordedMethod, url: String) {
        self.runID = runID
        self.seq = seq
        self.name = name
        self.method = method
        self.url = url
    }

    /// For callers that hold the column's spelling (`GET`, `POST`, …, `?`, `NONE`); any other
    /// spelling is a programming error.
    public init(runID: String, seq: Int, name: String, method: String, url: String) {
        guard let parsed = RecordedMethod(rawValue: method) else {
            preconditionFailure("\(method) is not a method bcli records")
        }
        self.init(runID: runID, seq: seq, name: name, method: parsed, url: url)
    }
}

/// The outcome row: what came back (or why nothing did).
public struct StepOutcome: Sendable {
    public var status: StepStatus
    public var httpStatus: Int?
    public var response: BlobRef?
    public var responseHeaders: BlobRef?
    public var etag: String?
    public var recordID: String?
    public var requestID: String?
    public var msCorrelationX: String?
    public var correlationRequestID: String?
    public var bcErrorCode: String?
    public var bcErrorMessage: String?
    public var bcCorrelationID: String?
    public var rollbackURL: String?
    public var errorMessage: String?
    public var durationMs: Int?

    public init(status: StepStatus) { self.status = status }
}

/// One page of a GET that followed `@odata.nextLink`, as the outcome commits it: the URL fetched
/// and the exact bytes of the page's body and headers (blobs already stored). Pages are numbered
/// from 1 (the step's own request).
public struct NewStepPage: Sendable {
    public var page: Int
    public var url: String
    public var httpStatus: Int?
    public var response: BlobRef?
    public var responseHeaders: BlobRef?
    public var requestID: String?
    public var durationMs: Int?

    public init(page: Int, url: String) {
        self.page = page
        self.url = url
    }
}

/// One page of a paged GET as read back (`step_page`).
public struct StepPage: Sendable, Equatable {
    public var page: Int
    public var url: String
    public var httpStatus: Int?
    public var responseDigest: Digest?
    public var responseHeadersDigest: Digest?
    public var requestID: String?
    public var durationMs: Int?
}

/// A run as read back, with its state derived from its steps when it never finished.
public struct RunRecord: Sendable, Equatable {
    public var id: String
    public var kind: RunKind
    public var parentRunID: String?
    public var name: String?
    public var manifestDigest: Digest?
    public var manifestPath: String?
    public var paramsDigest: Digest?
    public var profile: String?
    public var environment: String?
    public var company: String?
    public var baseURL: String?
    /// The state written on the row (`running` until the run finishes).
    public var stampedState: RunState
    /// The state to report: `RunStateRule.derive` over the row, its lock and its step counts.
    public var state: RunState
    /// True when the run never finished and no process holds its lock (it was killed).
    public var interrupted: Bool
    public var startedAt: String
    public var finishedAt: String?
    public var toolVersion: String
    public var durability: Durability
    public var recordDigest: Digest?
    public var previousRecordDigest: Digest?
    public var counts: StepCounts
    /// The manifest's step count recorded at start (`run.step_count`); `nil` for runs recorded
    /// before the column existed.
    public var stepCount: Int? = nil
}

/// How many of a run's steps are in each condition.
public struct StepCounts: Sendable, Equatable {
    public var total = 0
    public var committed = 0
    public var failed = 0
    public var unknown = 0
    public var skipped = 0
    public var replayed = 0
    public var rolledBack = 0
    public var rollbackSkipped = 0
    public var rollbackFailed = 0
    public var reconciledApplied = 0
    public var reconciledNotApplied = 0
    public init() {}
}

/// A step as read back.
public struct StepRecord: Sendable, Equatable {
    public var id: Int64
    public var runID: String
    public var seq: Int
    public var name: String
    public var method: RecordedMethod
    public var url: String
    public var requestDigest: Digest?
    public var requestHeadersDigest: Digest?
    public var idempotencyKey: String?
    public var clientRequestID: String
    public var ifMatch: String?
    public var preImageDigest: Digest?
    public var targetStepID: Int64?
    public var intentAt: String
    public var outcomeAt: String?
    public var status: StepStatus?
    public var httpStatus: Int?
    public var responseDigest: Digest?
    public var responseHeadersDigest: Digest?
    public var etag: String?
    public var recordID: String?
    public var requestID: String?
    public var msCorrelationX: String?
    public var correlationRequestID: String?
    public var bcErrorCode: String?
    public var bcErrorMessage: String?
    public var bcCorrelationID: String?
    public var rollbackURL: String?
    public var errorMessage: String?
    public var durationMs: Int?
    /// The pages a GET with `all: true` received when it followed `@odata.nextLink`, in order;
    /// empty for every other step (one page: the step's own response). With pages, the step's
    /// `responseDigest` names the assembled body (`PageAssembly`).
    public var pages: [StepPage] = []

    /// `committed`, `failed`, … or `unknown` for an intent with no outcome.
    public var statusName: String { status?.rawValue ?? StepStatus.unknownName }

    /// Every blob this step names.
    public var digests: [(role: String, digest: Digest)] {
        var out: [(String, Digest)] = []
        if let d = requestDigest { out.append(("request", d)) }
        if let d = requestHeadersDigest { out.append(("request_headers", d)) }
        if let d = preImageDigest { out.append(("pre_image", d)) }
        if let d = responseDigest { out.append(("response", d)) }
        if let d = responseHeadersDigest { out.append(("response_headers", d)) }
        for p in pages {
            if let d = p.responseDigest { out.append(("page_\(p.page)_response", d)) }
            if let d = p.responseHeadersDigest { out.append(("page_\(p.page)_response_headers", d)) }
        }
        return out
    }
}
