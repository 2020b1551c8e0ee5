import BusinessCentral
import Support
import Hashing

/// A step with every reference filled in: what the runner sends.
public struct ResolvedStep: Sendable, Hashable {
    public let seq: Int
    public let name: String
    public let method: HTTPVerb
    public let endpointPath: EndpointPath
    public let id: String?
    /// The body for POST/PATCH (nil when the step has none; the runner sends `{}` for a POST
    /// without data).
    public let data: JSONValue?
    public let query: ODataQuery
    public let etag: String?
    public let idempotencyKey: String?
    /// True only for a PATCH/DELETE on a record whose manifest did not opt out: the runner GETs
    /// the record first and stores it as the pre-image.
    public let preImage: Bool
    /// Follow `@odata.nextLink` to the last page (a get of a collection with `all: true`).
    public var all: Bool = false

    /// Canonical text of `endpointPath` (below `companies({id})/`).
    public var endpoint: String { endpointPath.description }
}

/// Why a step could not be resolved at run time. The runner records the step as `skipped` with
/// `description` as the reason, and sends nothing.
public struct UnresolvedReason: Error, Sendable, Hashable, CustomStringConvertible {
    /// The step key concerned: `endpoint`, `id`, `data.vendorId`, `params.top`, `action` …
    public let field: String
    /// The reference that failed, as written, when one did.
    public let reference: String?
    public let message: String

    public init(field: String, reference: String?, message: String) {
        self.field = field
        self.reference = reference
        self.message = message
    }

    public var description: String {
        "cannot resolve \(field)" + (reference.map { " \($0)" } ?? "") + ": " + message
    }
}

/// Fills in `${{ params.x }}` and `${{ steps.name.path }}` just before a step runs.
///
/// Typing (as the Python tool): a string that is exactly one reference (surrounding whitespace
/// allowed) becomes the referenced JSON value with its type (number, object, list …); references
/// embedded in a longer string are interpolated as text — strings as is, numbers as RFC 8785 /
/// ECMAScript write them (`1e21`, `0.1`, `42`), booleans `true`/`false`, null `null`, objects and
/// lists as canonical JSON. Resolved values are not scanned again for references.
public enum ReferenceResolver {
    /// Resolves `step`. `outputs` maps the names of earlier steps that succeeded to their
    /// reference output (see `referenceOutput`); a step missing from it failed or was skipped.
    public static func resolve(_ step: StepTemplate, params: ParamSet, outputs: [String: JSONValue]) -> Result<ResolvedStep, UnresolvedReason> {
        let context = Context(params: params, outputs: outputs)
        do {
            let verb: HTTPVerb
            switch step.method {
            case .literal(let v): verb = v
            case .template(let t):
                let text = try context.text(t, field: "action")
                guard let v = HTTPVerb(manifestValue: text) else {
                    throw UnresolvedReason(field: "action", reference: t, message: "resolved to '\(text)'; expected get, post, patch or delete")
                }
                verb = v
            }
            let endpointText = try context.text(step.endpoint, field: "endpoint")
            let path: EndpointPath
            // A templated endpoint that resolves to `entitySet(<id>)` means the set and that id, as
            // the parser reads a written one.
            var keyFromEndpoint: String?
            switch EndpointPath.parse(endpointText) {
            case .success(let p): path = p
            case .failure(let e):
                if step.id == nil, let split = EndpointPath.splitRecordKey(endpointText), !split.collection.isEmpty,
                   case .success(let p) = EndpointPath.parse(split.collection) {
                    path = p
                    keyFromEndpoint = split.key
                } else {
                    throw UnresolvedReason(field: "endpoint", reference: step.endpoint == endpointText ? nil : step.endpoint, message: e.message)
                }
            }
            var id: String?
            if let template = step.id {
                let text = try context.text(template, field: "id", rejectNonScalar: true)
                if let problem = EndpointPath.keyProblem(text) {
                    throw UnresolvedReason(field: "id", reference: template == text ? nil : template, message: "id '\(text)' \(problem)")
                }
                id = text
            } else if let key = keyFromEndpoint {
                if let problem = EndpointPath.keyProblem(key) {
                    throw UnresolvedReason(field: "endpoint", reference: step.endpoint, message: "key '\(key)' \(problem)")
                }
                id = key
            }
            var data: JSONValue?
            if let template = step.data {
                let value = try context.value(template, field: "data")
                guard case .object = value else {
                    throw UnresolvedReason(field: "data", reference: template.stringValue, message: "resolved to \(value.typeName); data must be an object")
                }
                data = value
            }
            let query = try resolveQuery(step.query, context: context)
            let etag = try step.etag.map { try context.text($0, field: "etag", rejectNonScalar: true) }
            let idempotencyKey = try step.idempotencyKey.map { try context.text($0, field: "idempotency_key", rejectNonScalar: true) }

            if case .template = step.method {
                let shape = StepRules.Shape(verb: verb, endpoint: path, hasID: id != nil, hasData: data != nil, hasQuery: !step.query.isEmpty,
                                            hasETag: etag != nil, hasIdempotencyKey: idempotencyKey != nil, preImageGiven: false,
                                            allGiven: step.all, reconcileByGiven: step.reconcileBy != nil)
                if let v = StepRules.violations(shape, stepName: step.name).first {
                    throw UnresolvedReason(field: "action", reference: nil, message: "\(v.message) (\(v.fix))")
                }
            }
            let preImage = step.preImage && (verb == .patch || verb == .delete) && !path.isAction && id != nil
            return .success(ResolvedStep(seq: step.seq, name: step.name, method: verb, endpointPath: path, id: id, data: data,
                                         query: query, etag: etag, idempotencyKey: idempotencyKey, preImage: preImage,
                                         all: step.all && verb == .get && id == nil && !path.isAction))
        } catch let reason as UnresolvedReason {
            return .failure(reason)
        } catch {
            return .failure(UnresolvedReason(field: "step", reference: nil, message: "\(error)"))
        }
    }

    /// What later steps see as `steps.<name>`: a GET of a collection → its `value` array (so
    /// `steps.find.0.number`); a GET of one record → the record; POST/PATCH → the response
    /// object (`{}` when BC answered 204); DELETE → `{}`.
    public static func referenceOutput(for step: ResolvedStep, responseBody: JSONValue?) -> JSONValue {
        switch step.method {
        case .get:
            guard let body = responseBody else { return .object([:]) }
            if step.id == nil, !step.endpointPath.isAction, case .array(let items)? = body["value"] { return .array(items) }
            return body
        case .post, .patch:
            guard let body = responseBody, !body.isNull else { return .object([:]) }
            return body
        case .delete:
            return .object([:])
        }
    }

    /// Walks `path` from `root`. `subject` names the root in messages ("step 'find' output").
    public static func walk(_ root: JSONValue, path: [String], subject: String) -> Result<JSONValue, UnresolvedReason> {
        var current = root
        var walked: [String] = []
        for segment in path {
            let here = walked.isEmpty ? subject : "\(subject) at '\(walked.joined(separator: "."))'"
            switch current {
            case .array(let items):
                if segment == "length" {
                    current = .number(Double(items.count))
                } else if let index = Int(segment), segment.allSatisfy(\.isASCIIDigit) {
                    guard index < items.count else {
                        return .failure(UnresolvedReason(field: "", reference: nil,
                                                         message: "index \(index) out of range (\(here) is a list with \(items.count) item\(items.count == 1 ? "" : "s"))"))
                    }
                    current = items[index]
                } else {
                    return .failure(UnresolvedReason(field: "", reference: nil,
                                                     message: "expected a numeric index or 'length' for a list, got '\(segment)' (\(here) is a list)"))
                }
            case .object(let members):
                guard let next = members[segment] else {
                    let fields = members.keys.sorted()
                    let guess = Suggestion.didYouMean(segment, in: fields)
                    return .failure(UnresolvedReason(field: "", reference: nil,
                                                     message: "\(here) has no field '\(segment)'\(guess). Available fields: \(Suggestion.list(fields))"))
                }
                current = next
            default:
                return .failure(UnresolvedReason(field: "", reference: nil,
                                                 message: "cannot traverse into \(current.typeName) with key '\(segment)' (\(here) is \(current.typeName))"))
            }
            walked.append(segment)
        }
        return .success(current)
    }

    /// The text a value takes when interpolated into a longer string.
    public static func interpolationText(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): return s
        case .number(let d): return ECMAScriptNumber.format(d)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .array, .object: return (try? value.canonicalString()) ?? ""
        }
    }

    // MARK: internals

    static func resolveQuery(_ q: QueryTemplate, context: Context) throws -> ODataQuery {
        var out = ODataQuery()
        out.filter = try q.filter.map { try context.text($0, field: "params.filter") }
        if let select = q.select {
            let fields = try context.text(select, field: "params.select").split(separator: ",")
                .map { String($0).trimmed(" \t") }.filter { !$0.isEmpty }
            out.select = fields.isEmpty ? nil : fields.joined(separator: ",")
        }
        out.top = try q.top.map { try context.int($0, field: "params.top") }
        out.skip = try q.skip.map { try context.int($0, field: "params.skip") }
        out.orderby = try q.orderby.map { try context.text($0, field: "params.orderby") }
        out.expand = try q.expand.map { try context.text($0, field: "params.expand") }
        return out
    }

    struct Context {
        let params: ParamSet
        let outputs: [String: JSONValue]

        func lookup(_ ref: TemplateSyntax.ParsedReference, field: String) throws -> JSONValue {
            let root: JSONValue
            let subject: String
            switch ref.namespace {
            case .params:
                guard let v = params.values[ref.name] else {
                    throw UnresolvedReason(field: field, reference: ref.text,
                                           message: "param '\(ref.name)' has no value; pass --set \(ref.name)=<value>")
                }
                root = v
                subject = "param '\(ref.name)'"
            case .steps:
                guard let v = outputs[ref.name] else {
                    throw UnresolvedReason(field: field, reference: ref.text,
                                           message: "step '\(ref.name)' has no output (it failed, was skipped, or has not run)")
                }
                root = v
                subject = "step '\(ref.name)' output"
            }
            switch ReferenceResolver.walk(root, path: ref.path, subject: subject) {
            case .success(let v): return v
            case .failure(let r): throw UnresolvedReason(field: field, reference: ref.text, message: r.message)
            }
        }

        /// Resolves every string inside `value` (objects and lists recursively).
        func value(_ value: JSONValue, field: String) throws -> JSONValue {
            switch value {
            case .string(let s): return try resolveString(s, field: field)
            case .array(let items):
                return .array(try items.enumerated().map { try self.value($0.element, field: "\(field).\($0.offset)") })
            case .object(let members):
                var out: [String: JSONValue] = [:]
                for (k, v) in members { out[k] = try self.value(v, field: "\(field).\(k)") }
                return .object(out)
            default: return value
            }
        }

        func resolveString(_ s: String, field: String) throws -> JSONValue {
            guard TemplateSyntax.containsTemplate(s) else { return .string(s) }
            let parts: [TemplateSyntax.Part]
            switch TemplateSyntax.parse(s) {
            case .success(let p): parts = p
            case .failure(let e): throw UnresolvedReason(field: field, reference: nil, message: e.message)
            }
            if let exact = TemplateSyntax.exactReference(parts) { return try lookup(exact, field: field) }
            var out = ""
            for part in parts {
                switch part {
                case .literal(let t): out += t
                case .reference(let r): out += ReferenceResolver.interpolationText(try lookup(r, field: field))
                }
            }
            return .string(out)
        }

        /// A template that must end up as text (endpoint, id, filter …). With `rejectNonScalar`,
        /// an exact reference to null, a list or an object is an error rather than JSON text.
        func text(_ s: String, field: String, rejectNonScalar: Bool = false) throws -> String {
            let v = try resolveString(s, field: field)
            switch v {
            case .string(let t): return t
            case .number, .bool: return ReferenceResolver.interpolationText(v)
            case .null, .array, .object:
                if rejectNonScalar {
                    throw UnresolvedReason(field: field, reference: s, message: "resolved to \(v.typeName); expected a string or number")
                }
                return ReferenceResolver.interpolationText(v)
            }
        }

        func int(_ t: IntTemplate, field: String) throws -> Int {
            switch t {
            case .literal(let n): return n
            case .template(let s):
                let v = try resolveString(s, field: field)
                switch v {
                case .number(let d) where d >= 0 && d == d.rounded() && d <= CoreSchema.maxExactInteger: return Int(d)
                case .string(let str) where Int(str) != nil && Int(str)! >= 0: return Int(str)!
                default:
                    throw UnresolvedReason(field: field, reference: s,
                                           message: "resolved to \(v.typeName) \(ReferenceResolver.interpolationText(v)); expected a whole number of at least 0")
                }
            }
        }
    }
}
