import Hashing
import Store

/// Why `batch diff` could not compare (exit 2). Every message names the fix.
public enum DiffError: Error, CustomStringConvertible, Sendable {
    case store(StoreError)
    case unreadableManifest(path: String, ManifestError)
    case invalidManifest(path: String, ManifestError)

    public var description: String {
        switch self {
        case .store(let e): return e.description
        case .unreadableManifest(let path, let e):
            return "cannot read manifest \(path): " + e.diagnostics.map { "\($0.message) — \($0.fix)" }.joined(separator: "; ")
        case .invalidManifest(let path, let e):
            return "\(path) is not a valid manifest (\(e.diagnostics.count) problem(s)) — fix them (or check with `bcli batch run \(path) --dry-run`):\n\(e.description)"
        }
    }
}

// `batch diff --format json` is `RunDiff.json(stat:)`: these types are `Encodable` and go through
// `JSONValueEncoder` (property names in snake_case, nil as null), like every bcli report.

/// One side of a diff: a recorded run, or a manifest file as it would run now.
public struct DiffSideInfo: Sendable, Equatable, Encodable {
    public enum Kind: String, Sendable, Encodable { case run, manifest }
    public var kind: Kind
    public var runID: String?
    public var name: String?
    public var manifestPath: String?
    public var manifestDigest: Digest?
    public var paramsDigest: Digest?
    public var profile: String?
    public var environment: String?
    public var company: String?
    public var baseURL: String?
    public var startedAt: String?
    public var state: String?
    /// For a manifest side: the run whose params and recorded responses were used.
    public var paramsFromRun: String?

    public init(kind: Kind) { self.kind = kind }

    private enum CodingKeys: CodingKey {
        case kind, manifestPath, manifestDigest, paramsDigest, name
        case runID, profile, environment, company, baseURL, startedAt, state
        case paramsFromRun
    }

    /// `kind`, the manifest and params, then what the kind has: the run's context, or the run a
    /// manifest side took its params from.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(manifestPath, forKey: .manifestPath)
        try c.encode(manifestDigest?.description, forKey: .manifestDigest)
        try c.encode(paramsDigest?.description, forKey: .paramsDigest)
        try c.encode(name, forKey: .name)
        switch kind {
        case .run:
            for (key, value) in [(CodingKeys.runID, runID), (.profile, profile), (.environment, environment), (.company, company),
                                 (.baseURL, baseURL), (.startedAt, startedAt), (.state, state)] {
                try c.encode(value, forKey: key)
            }
        case .manifest:
            try c.encode(paramsFromRun, forKey: .paramsFromRun)
        }
    }
}

/// One step of one side as the diff sees it.
public struct DiffStep: Sendable, Equatable, Encodable {
    public var seq: Int
    public var name: String
    public var method: RecordedMethod
    /// The full URL recorded (run) or that would be sent (manifest).
    public var url: String
    /// True for a run side (the step was recorded); false for a manifest side (nothing ran).
    public var ran: Bool
    /// The recorded status; nil when the outcome is unknown, or for a manifest side (`ran` false).
    public var status: StepStatus?
    public var httpStatus: Int?
    public var requestDigest: Digest?
    public var responseDigest: Digest?
    /// Manifest side only: why the step could not be resolved (it would be skipped).
    public var unresolved: String?

    public init(seq: Int, name: String, method: RecordedMethod, url: String, ran: Bool = false, status: StepStatus? = nil,
                httpStatus: Int? = nil, requestDigest: Digest? = nil, responseDigest: Digest? = nil, unresolved: String? = nil) {
        self.seq = seq
        self.name = name
        self.method = method
        self.url = url
        self.ran = ran
        self.status = status
        self.httpStatus = httpStatus
        self.requestDigest = requestDigest
        self.responseDigest = responseDigest
        self.unresolved = unresolved
    }

    /// False when the step was (run) or would be (manifest) skipped, nothing sent.
    public var resolved: Bool { unresolved == nil && status != .skipped }

    /// `committed`, `failed`, `skipped`, … or `unknown` for a run side; nil for a manifest side.
    public var statusName: String? { ran ? (status?.rawValue ?? StepStatus.unknownName) : nil }

    private enum CodingKeys: CodingKey {
        case seq, method, url, requestDigest, status, httpStatus, responseDigest, resolved, reason
    }

    /// A run side's step: its status, HTTP status and response; a manifest side's: whether it
    /// resolves, and why not.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(seq, forKey: .seq)
        try c.encode(method.rawValue, forKey: .method)
        try c.encode(url, forKey: .url)
        try c.encode(requestDigest?.description, forKey: .requestDigest)
        if let statusName {
            try c.encode(statusName, forKey: .status)
            try c.encode(httpStatus, forKey: .httpStatus)
            try c.encode(responseDigest?.description, forKey: .responseDigest)
        } else {
            try c.encode(unresolved == nil, forKey: .resolved)
            try c.encode(unresolved, forKey: .reason)
        }
    }
}

/// A scalar field that differs between the sides (`method`, `url`, `status`, `http_status`,
/// `resolved`, or a run-context field in the header).
public struct FieldChange: Sendable, Equatable, Encodable {
    public var field: String
    public var a: JSONValue
    public var b: JSONValue
}

/// One aligned pair of steps and what differs.
public struct StepComparison: Sendable, Encodable {
    public enum Change: String, Sendable, Encodable {
        case same, changed, added, removed
    }

    public var name: String
    public var change: Change
    public var a: DiffStep?
    public var b: DiffStep?
    public var fieldChanges: [FieldChange]
    public var requestPatch: [JSONPatchOperation]
    public var responsePatch: [JSONPatchOperation]

    private enum CodingKeys: String, CodingKey {
        case name, change, a, b, fieldChanges = "changes", requestPatch, responsePatch
    }
}

/// The comparison of two runs (or a run and a manifest): header, aligned steps, counts.
public struct RunDiff: Sendable {
    public static let formatVersion = 1

    public struct Counts: Sendable, Equatable, Encodable {
        public var same = 0, changed = 0, onlyInA = 0, onlyInB = 0
        /// `N same, M changed, K only in A, J only in B`.
        public var line: String { "\(same) same, \(changed) changed, \(onlyInA) only in A, \(onlyInB) only in B" }
    }

    public var a: DiffSideInfo
    public var b: DiffSideInfo
    public var includeVolatile: Bool
    public var manifestSame: Bool
    /// `diff -u` lines of the two manifest texts (empty when the same or unavailable).
    public var manifestDiff: [String]
    /// Why the manifest texts could not be compared line by line, when they could not.
    public var manifestNote: String?
    public var paramsSame: Bool
    public var paramsPatch: [JSONPatchOperation]
    /// Profile, environment, company, base URL: shown, never counted as a difference.
    public var context: [FieldChange]
    public var steps: [StepComparison]

    public var counts: Counts {
        var c = Counts()
        for s in steps {
            switch s.change {
            case .same: c.same += 1
            case .changed: c.changed += 1
            case .removed: c.onlyInA += 1
            case .added: c.onlyInB += 1
            }
        }
        return c
    }

    /// Same manifest bytes, same params, every step the same: exit 0.
    public var identical: Bool { manifestSame && paramsSame && steps.allSatisfy { $0.change == .same } }

    /// The `--format json` document. With `stat`, the step list is left out.
    public func json(stat: Bool = false) -> JSONValue {
        let document = Document(
            identical: identical, includeVolatile: includeVolatile, a: a, b: b,
            manifest: .init(same: manifestSame, a: a.manifestDigest?.description, b: b.manifestDigest?.description,
                            diff: manifestDiff, note: manifestNote),
            params: .init(same: paramsSame, a: a.paramsDigest?.description, b: b.paramsDigest?.description, patch: paramsPatch),
            context: context, summary: counts)
        return stat ? JSONValueEncoder.encode(document) : JSONValueEncoder.encode(Document.WithSteps(document: document, steps: steps))
    }

    /// The `--format json` document's shape (without `steps`).
    private struct Document: Encodable {
        struct Manifest: Encodable {
            let same: Bool
            let a: String?, b: String?
            let diff: [String]
            let note: String?
        }

        struct Params: Encodable {
            let same: Bool
            let a: String?, b: String?
            let patch: [JSONPatchOperation]
        }

        /// The document and the aligned steps beside its members.
        struct WithSteps: Encodable {
            let document: Document
            let steps: [StepComparison]

            private enum CodingKeys: CodingKey { case steps }

            func encode(to encoder: any Encoder) throws {
                try document.encode(to: encoder)
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(steps, forKey: .steps)
            }
        }

        let formatVersion = RunDiff.formatVersion
        let identical: Bool
        let includeVolatile: Bool
        let a: DiffSideInfo, b: DiffSideInfo
        let manifest: Manifest
        let params: Params
        let context: [FieldChange]
        let summary: Counts
    }
}
