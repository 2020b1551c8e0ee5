import BusinessCentral
import Hashing
import Store

/// A validated batch manifest: what `bcli batch run` executes. Produced only by `ManifestLoader`,
/// so holding one means every step passed static validation (keys, types, verbs, references to
/// earlier steps, declared params). Values may still contain `${{ }}` references, which
/// `ReferenceResolver` fills in step by step during the run.
public struct Manifest: Sendable, Hashable {
    /// `name:` or, when absent, the file name without its extension.
    public let name: String
    /// The path as given (used in diagnostics and recorded in the ledger).
    public let path: String
    /// The exact bytes that were parsed (hashed and stored as the manifest blob).
    public let bytes: [UInt8]
    /// Declared params in document order; empty when the manifest has no `params:` block.
    public let params: [ParamDeclaration]
    /// True when the manifest has a `params:` block (then undeclared `--set`/`--params` keys are
    /// errors; without one any key is accepted).
    public let declaresParams: Bool
    /// The steps in order (never empty).
    public let steps: [StepTemplate]
    /// Top-level `description:`, kept for people and tools; it changes nothing in the run.
    public let description: String?
    /// Top-level `version:` as written (`3`, `"0.1.0"`); it changes nothing in the run.
    public let version: String?
    /// Top-level `idempotency:` — where a keyed write looks for the step that committed its key
    /// (`run`, the default: earlier steps of the same run; `store`: any earlier batch or resume
    /// run in the store). docs/manifest.md, "Idempotency replay".
    public var idempotency: IdempotencyScope = .run

    public init(name: String, path: String, bytes: [UInt8], params: [ParamDeclaration],
                declaresParams: Bool, steps: [StepTemplate], description: String? = nil, version: String? = nil) {
        self.name = name
        self.path = path
        self.bytes = bytes
        self.params = params
        self.declaresParams = declaresParams
        self.steps = steps
        self.description = description
        self.version = version
    }

    /// The step named `name`, if any.
    public func step(named name: String) -> StepTemplate? { steps.first { $0.name == name } }

    /// Steps that may write: a literal post/patch/delete, or a templated method (which could
    /// resolve to one). The write gate asks about these before any request is sent.
    public var writeSteps: [StepTemplate] { steps.filter(\.method.mayWrite) }
}

/// Where a write with an `idempotency_key` looks for the step that committed the key first
/// (`BatchRunner.replayDecision`).
public enum IdempotencyScope: String, Sendable, Hashable, CaseIterable {
    /// Earlier steps of the same run only (the default).
    case run
    /// Any earlier run of kind `batch` or `resume` in the store, and this run.
    case store
}

/// The steps the write gate must consider (see `Manifest.writeSteps`).
public func writesIn(_ manifest: Manifest) -> [StepTemplate] { manifest.writeSteps }

/// A parameter declared in the manifest's `params:` block.
///
/// Long form `{description, default, required}` (required defaults to true); the shorthand
/// `name: value` means `default: value, required: false`.
public struct ParamDeclaration: Sendable, Hashable {
    public let name: String
    public let description: String
    /// The default value; nil when there is none (a `null` default counts as none).
    public let defaultValue: JSONValue?
    public let required: Bool
    public let location: SourceLocation

    public init(name: String, description: String, defaultValue: JSONValue?, required: Bool, location: SourceLocation) {
        self.name = name
        self.description = description
        self.defaultValue = defaultValue
        self.required = required
        self.location = location
    }
}

/// The four HTTP methods a step may use: the ledger's `StepMethod`, one type from the manifest
/// to the ledger.
public typealias HTTPVerb = StepMethod

extension StepMethod {
    /// The spelling used in manifests (`get`, `post`, …).
    public var manifestName: String { rawValue.lowercased() }

    /// Parses a manifest value case-insensitively (`post`, `POST`, `Post`).
    public init?(manifestValue: String) {
        self.init(rawValue: manifestValue.uppercased())
    }
}

/// A step's method: written out, or a `${{ }}` template decided at run time.
public enum MethodSpec: Sendable, Hashable {
    case literal(HTTPVerb)
    case template(String)

    /// A templated method might resolve to a write, so the write gate counts it as one.
    public var mayWrite: Bool {
        switch self {
        case .literal(let verb): return verb.isWrite
        case .template: return true
        }
    }

    /// The verb when it is literal.
    public var literal: HTTPVerb? {
        if case .literal(let v) = self { return v }
        return nil
    }

    /// What the ledger and the outputs show before the step resolves: the literal verb, or `?`.
    public var recorded: RecordedMethod { literal.map(RecordedMethod.http) ?? .unresolved }
}

/// An integer option (`top`, `skip`) written out or given by a `${{ }}` template.
public enum IntTemplate: Sendable, Hashable {
    case literal(Int)
    case template(String)
}

/// A GET step's OData query options as written (under the step's `params:`, or on the step itself).
/// String options may hold `${{ }}` references. List forms of `select`, `orderby` and `expand` are
/// joined with commas.
public typealias QueryTemplate = ODataOptions<IntTemplate>

extension ODataOptions where Integer == IntTemplate {
    /// True when the step wrote no option at all.
    public var isEmpty: Bool {
        filter == nil && select == nil && top == nil && skip == nil && orderby == nil && expand == nil
    }
}

/// One step as written in the manifest, validated but not yet resolved.
public struct StepTemplate: Sendable, Hashable {
    /// 1-based position in the manifest.
    public let seq: Int
    /// `name:`, or `step_<seq>` when absent (see `nameIsAssigned`).
    public let name: String
    public let nameIsAssigned: Bool
    public let method: MethodSpec
    /// `entitySet`, `parentSet(key)/childSet`, `entitySet(key)/Ns.action` or `Ns.action`;
    /// may contain references.
    public let endpoint: String
    public let id: String?
    /// The request body template: an object, or a string that is exactly one reference.
    public let data: JSONValue?
    public let query: QueryTemplate
    /// `If-Match` to send; nil means the runner uses the pre-image's ETag (or `*`).
    public let etag: String?
    public let idempotencyKey: String?
    /// Whether the runner GETs the record before a PATCH/DELETE (default true).
    public let preImage: Bool
    /// Where the step's mapping starts.
    public let location: SourceLocation
    /// Every `${{ }}` reference in the step, in document order.
    public let references: [Reference]
    /// `description:`, kept for people and tools; it changes nothing in the run.
    public var description: String? = nil
    /// `all: true` on a get of a collection: follow `@odata.nextLink` to the last page (the
    /// Python tool's `--all`); pages are `page_size` records (`Prefer: odata.maxpagesize`).
    public var all: Bool = false
    /// `reconcile_by:` on a post: the fields whose values, taken from the body the post sent,
    /// find the record it created when its outcome is unknown (`batch reconcile`); nil when not
    /// written (reconcile then keys on `number`/`code`, else on the whole body and the time).
    public var reconcileBy: [String]? = nil
    /// `after:`: earlier steps this one waits for under `--concurrency` although it does not
    /// reference them (an order BC needs that the manifest cannot show otherwise, e.g. a posting
    /// after its lines). Without `--concurrency` steps run in order anyway.
    public var after: [StepName] = []

    /// Names of the earlier steps this step reads from (for scheduling and for skipping a step
    /// whose inputs failed).
    public var dependencies: [String] {
        var seen = Set<String>()
        return references.compactMap { $0.namespace == .steps && seen.insert($0.name).inserted ? $0.name : nil }
    }

    /// Params this step reads.
    public var paramNames: [String] {
        var seen = Set<String>()
        return references.compactMap { $0.namespace == .params && seen.insert($0.name).inserted ? $0.name : nil }
    }
}

/// A step named in another step's `after:`, with where it was written (for diagnostics).
public struct StepName: Sendable, Hashable {
    public let name: String
    public let location: SourceLocation
    public init(name: String, location: SourceLocation) {
        self.name = name
        self.location = location
    }
}

/// A `${{ params.x }}` or `${{ steps.name.path }}` reference found in a step.
public struct Reference: Sendable, Hashable, CustomStringConvertible {
    public enum Namespace: String, Sendable, Hashable {
        case params, steps
    }

    public let namespace: Namespace
    /// The param name or the step name.
    public let name: String
    /// Segments after the name (`["0", "number"]` for `steps.find.0.number`).
    public let path: [String]
    /// The reference as written, e.g. `${{ steps.find.0.id }}`.
    public let text: String
    public let location: SourceLocation

    public init(namespace: Namespace, name: String, path: [String], text: String, location: SourceLocation) {
        self.namespace = namespace
        self.name = name
        self.path = path
        self.text = text
        self.location = location
    }

    /// `steps.find.0.number`.
    public var dottedPath: String { ([namespace.rawValue, name] + path).joined(separator: ".") }

    public var description: String { text }
}
