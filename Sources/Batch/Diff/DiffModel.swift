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

/// One side of a diff: a recorded run, or a manifest file as it would run now.
public struct DiffSideInfo: Sendable, Equatable {
    public enum Kind: String, Sendable { case run, manifest }
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

    public var json: JSONValue {
        func s(_ v: String?) -> JSONValue { v.map { .string($0) } ?? .null }
        var o: [String: JSONValue] = [
            "kind": .string(kind.rawValue),
            "manifest_path": s(manifestPath),
            "manifest_digest": s(manifestDigest?.description),
            "params_digest": s(paramsDigest?.description),
        ]
        switch kind {
        case .run:
            o["run_id"] = s(runID); o["name"] = s(name); o["profile"] = s(profile); o["environment"] = s(environment)
            o["company"] = s(company); o["base_url"] = s(baseURL); o["started_at"] = s(startedAt); o["state"] = s(state)
        case .manifest:
            o["name"] = s(name); o["params_from_run"] = s(paramsFromRun)
        }
        return .object(o)
    }
}

/// One step of one side as the diff sees it.
public struct DiffStep: Sendable, Equatable {
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

    public var json: JSONValue {
        func d(_ v: Digest?) -> JSONValue { v.map { .string($0.description) } ?? .null }
        var o: [String: JSONValue] = [
            "seq": .number(Double(seq)), "method": .string(method.rawValue), "url": .string(url),
            "request_digest": d(requestDigest),
        ]
        if let statusName {
            o["status"] = .string(statusName)
            o["http_status"] = httpStatus.map { .number(Double($0)) } ?? .null
            o["response_digest"] = d(responseDigest)
        } else {
            o["resolved"] = .bool(unresolved == nil)
            o["reason"] = unresolved.map { .string($0) } ?? .null
        }
        return .object(o)
    }
}

/// A scalar field that differs between the sides (`method`, `url`, `status`, `http_status`,
/// `resolved`, or a run-context field in the header).
public struct FieldChange: Sendable, Equatable {
    public var field: String
    public var a: JSONValue
    public var b: JSONValue

    public var json: JSONValue { .object(["field": .string(field), "a": a, "b": b]) }
}

/// One aligned pair of steps and what differs.
public struct StepComparison: Sendable {
    public enum Change: String, Sendable {
        case same, changed, added, removed
    }

    public var name: String
    public var change: Change
    public var a: DiffStep?
    public var b: DiffStep?
    public var fieldChanges: [FieldChange]
    public var requestPatch: [JSONPatchOperation]
    public var responsePatch: [JSONPatchOperation]

    public var json: JSONValue {
        .object([
            "name": .string(name),
            "change": .string(change.rawValue),
            "a": a?.json ?? .null,
            "b": b?.json ?? .null,
            "changes": .array(fieldChanges.map(\.json)),
            "request_patch": .array(requestPatch.map(\.json)),
            "response_patch": .array(responsePatch.map(\.json)),
        ])
    }
}

/// The comparison of two runs (or a run and a manifest): header, aligned steps, counts.
public struct RunDiff: Sendable {
    public static let formatVersion = 1

    public struct Counts: Sendable, Equatable {
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
        let c = counts
        var o: [String: JSONValue] = [
            "format_version": .number(Double(Self.formatVersion)),
            "identical": .bool(identical),
            "include_volatile": .bool(includeVolatile),
            "a": a.json,
            "b": b.json,
            "manifest": .object([
                "same": .bool(manifestSame),
                "a": a.manifestDigest.map { .string($0.description) } ?? .null,
                "b": b.manifestDigest.map { .string($0.description) } ?? .null,
                "diff": .array(manifestDiff.map { .string($0) }),
                "note": manifestNote.map { .string($0) } ?? .null,
            ]),
            "params": .object([
                "same": .bool(paramsSame),
                "a": a.paramsDigest.map { .string($0.description) } ?? .null,
                "b": b.paramsDigest.map { .string($0.description) } ?? .null,
                "patch": .array(paramsPatch.map(\.json)),
            ]),
            "context": .array(context.map(\.json)),
            "summary": .object([
                "same": .number(Double(c.same)), "changed": .number(Double(c.changed)),
                "only_in_a": .number(Double(c.onlyInA)), "only_in_b": .number(Double(c.onlyInB)),
            ]),
        ]
        if !stat { o["steps"] = .array(steps.map(\.json)) }
        return .object(o)
    }
}
