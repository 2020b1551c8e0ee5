import BusinessCentral
import Support
import Hashing
import Yams

/// One pass over a composed manifest document, building the `Manifest` and collecting every
/// diagnostic. Steps with errors are still built (with fallbacks) so later checks — duplicate
/// names, references, params — run on the whole manifest.
struct ManifestParser {
    let doc: YAMLDocument
    let bytes: [UInt8]
    var sink: DiagnosticSink
    /// Bounds JSON expansion across the whole document (aliases).
    var budget = 1_000_000
    /// Where each step's explicit `name:` value sits, by seq (for duplicate-name errors).
    var nameLocations: [Int: SourceLocation] = [:]

    /// Known misnamings that edit distance would not catch.
    static let stepKeyAliases: [String: String] = [
        "body": "data", "payload": "data", "json": "data", "fields": "data",
        "query": "params", "options": "params", "odata": "params",
        "if_match": "etag", "if-match": "etag", "ifmatch": "etag",
        "idempotency-key": "idempotency_key", "idempotencykey": "idempotency_key",
        "preimage": "pre_image", "pre-image": "pre_image",
        "paginate": "all", "all_pages": "all", "allpages": "all", "follow_next_link": "all", "next_link": "all",
        "reconcile_key": "reconcile_by", "reconcile_keys": "reconcile_by", "match_by": "reconcile_by", "natural_key": "reconcile_by",
        "url": "endpoint", "path": "endpoint", "entity": "endpoint", "entityset": "endpoint",
        "record_id": "id", "recordid": "id", "key": "id", "verb": "method", "type": "action",
    ]

    init(doc: YAMLDocument, bytes: [UInt8], sink: DiagnosticSink) {
        self.doc = doc
        self.bytes = bytes
        self.sink = sink
    }

    mutating func parse() -> Manifest? {
        guard let root = doc.root else {
            sink.error(SourceLocation(path: doc.path, line: 1, column: 1), "the manifest is empty",
                       fix: "add a steps: list, e.g. steps: [{action: get, endpoint: customers}]")
            return nil
        }
        guard case .mapping(let top) = root else {
            sink.error(doc.location(root), "the manifest must be a mapping with the keys name, params and steps; found \(kind(root))",
                       fix: "start the file with steps: (and optionally name: and params:)")
            return nil
        }
        var name = ManifestLoader.stem(of: doc.path)
        var params: [ParamDeclaration] = []
        var declaresParams = false
        var stepsNode: Node?
        var description: String?
        var version: String?
        var idempotency = IdempotencyScope.run
        for entry in doc.entries(of: top, sink: &sink) {
            switch entry.key {
            case "name":
                if let s = string(entry.value, key: "name") {
                    if s.isEmpty { sink.error(doc.location(entry.value), "'name' is empty", fix: "give the batch a name or remove name:") } else { name = s }
                }
            case "description":
                description = string(entry.value, key: "description")
            case "version":
                version = string(entry.value, key: "version")
            case "idempotency":
                if let s = string(entry.value, key: "idempotency") {
                    if let scope = IdempotencyScope(rawValue: s) {
                        idempotency = scope
                    } else {
                        let guess = Suggestion.closest(to: s.lowercased(), in: IdempotencyScope.allCases.map(\.rawValue))
                        sink.error(doc.location(entry.value), "unknown idempotency '\(s)'" + (guess.map { " (did you mean '\($0)'?)" } ?? ""),
                                   fix: "write idempotency: run (a key replays within the run, the default) or idempotency: store (a key committed by any earlier run replays)")
                    }
                }
            case "params":
                declaresParams = true
                params = parseParams(entry.value)
            case "steps":
                stepsNode = entry.value
            default:
                unknownKey(entry, known: ManifestLoader.topLevelKeys, where: "top-level", aliases: ["step": "steps", "parameters": "params", "vars": "params", "title": "name"])
            }
        }
        var steps: [StepTemplate] = []
        if let stepsNode {
            steps = parseSteps(stepsNode)
        } else {
            sink.error(doc.location(root), "the manifest has no 'steps'",
                       fix: "add a steps: list, e.g. steps: [{action: get, endpoint: customers}]")
        }
        checkNames(steps)
        checkReferences(steps, params: params, declaresParams: declaresParams)
        var manifest = Manifest(name: name, path: doc.path, bytes: bytes, params: params, declaresParams: declaresParams, steps: steps,
                                description: description, version: version)
        manifest.idempotency = idempotency
        return manifest
    }

    // MARK: params

    mutating func parseParams(_ node: Node) -> [ParamDeclaration] {
        if case .scalar = node, doc.isPlainScalar(node), node.scalar?.string == "" || node.scalar?.string == "~" || node.scalar?.string == "null" {
            return []  // `params:` with nothing under it
        }
        guard case .mapping(let mapping) = node else {
            sink.error(doc.location(node), "'params' must be a mapping of param names, found \(kind(node))",
                       fix: "write params: { vendor_no: \"V0001\" } or one param per line")
            return []
        }
        var result: [ParamDeclaration] = []
        for entry in doc.entries(of: mapping, sink: &sink) {
            let loc = doc.location(entry.keyNode)
            if !TemplateSyntax.isSegment(entry.key) {
                sink.error(loc, "param name '\(entry.key)' cannot be referenced",
                           fix: "use only letters, digits, '_' and '-' in param names")
            }
            var description = ""
            var defaultValue: JSONValue?
            var required = false
            if case .mapping(let declaration) = entry.value {
                required = true
                for field in doc.entries(of: declaration, sink: &sink) {
                    switch field.key {
                    case "description":
                        description = string(field.value, key: "description") ?? ""
                    case "default":
                        if let v = self.defaultValue(field.value) { defaultValue = v.isNull ? nil : v }
                    case "required":
                        required = bool(field.value, key: "required") ?? true
                    default:
                        let guess = Suggestion.closest(to: field.key, in: ManifestLoader.paramDeclarationKeys)
                        sink.error(doc.location(field.keyNode),
                                   "unknown key '\(field.key)' in the declaration of param '\(entry.key)'" + (guess.map { " (did you mean '\($0)'?)" } ?? ""),
                                   fix: guess.map { "rename '\(field.key)' to '\($0)'" }
                                       ?? "use description, default and required; for an object default write default: { … }")
                    }
                }
            } else if let v = self.defaultValue(entry.value) {
                defaultValue = v.isNull ? nil : v
            }
            result.append(ParamDeclaration(name: entry.key, description: description, defaultValue: defaultValue,
                                           required: required, location: loc))
        }
        return result
    }

    // MARK: steps

    mutating func parseSteps(_ node: Node) -> [StepTemplate] {
        guard case .sequence(let sequence) = node else {
            if doc.isPlainScalar(node), ["", "~", "null"].contains(node.scalar!.string) {
                sink.error(doc.location(node), "'steps' is empty", fix: "add at least one step under steps:")
            } else {
                sink.error(doc.location(node), "'steps' must be a list of steps, found \(kind(node))",
                           fix: "write each step as a list item starting with '- '")
            }
            return []
        }
        if sequence.count == 0 {
            sink.error(doc.location(node), "'steps' is empty", fix: "add at least one step under steps:")
        }
        var steps: [StepTemplate] = []
        for (index, item) in sequence.enumerated() {
            if let step = parseStep(item, seq: index + 1) { steps.append(step) }
        }
        return steps
    }

    mutating func parseStep(_ node: Node, seq: Int) -> StepTemplate? {
        guard case .mapping(let mapping) = node else {
            sink.error(doc.location(node), "step \(seq) must be a mapping (name, action, endpoint, …), found \(kind(node))",
                       fix: "write the step as '- action: get' followed by its other keys")
            return nil
        }
        let stepLoc = doc.location(node)
        var fields: [StepRules.Field: SourceLocation] = [.step: stepLoc]
        var name: String?
        var method: MethodSpec = .literal(.get)
        var methodKey: String?
        var endpoint = ""
        var endpointNode: Node?
        var id: String?
        var data: JSONValue?
        var query = QueryTemplate()
        var hasQuery = false
        var etag: String?
        var idempotencyKey: String?
        var preImage = true
        var preImageGiven = false
        var all = false
        var reconcileBy: [String]?
        var after: [StepName] = []
        var description: String?
        var templates: [(String, Mark?)] = []
        /// Query option keys given under `params:`, and query options written on the step itself
        /// (read after the loop, so `params:` may come before or after them).
        var keysUnderParams = Set<String>()
        var stepLevelQuery: [MappingEntry] = []
        var methodValue: String?

        for entry in doc.entries(of: mapping, sink: &sink) {
            let valueLoc = doc.location(entry.value)
            switch entry.key {
            case "name":
                if let s = string(entry.value, key: "name") {
                    if s.isEmpty { sink.error(valueLoc, "step name is empty", fix: "give the step a name or remove name:") }
                    else if TemplateSyntax.containsTemplate(s) { sink.error(valueLoc, "a step name cannot contain a reference", fix: "use a fixed name") }
                    else { name = s; nameLocations[seq] = valueLoc }
                }
            case "description":
                description = string(entry.value, key: "description")
            case "action", "method":
                if let first = methodKey {
                    // The Python tool uses action: and ignores method: when both are given.
                    let other = entry.key == "method" ? first : entry.key
                    let this = entry.value.scalar?.string
                    let same = this != nil && methodValue != nil && this!.lowercased() == methodValue!.lowercased()
                    sink.error(doc.location(entry.keyNode), "step \(seq) declares both '\(first)' and '\(entry.key)'"
                               + (same ? "" : " with different values"),
                               fix: "keep one of them: remove method: (they mean the same; the Python tool reads \(other): when both are given)")
                    continue
                }
                methodKey = entry.key
                methodValue = entry.value.scalar?.string
                fields[.method] = valueLoc
                guard let s = string(entry.value, key: entry.key) else { continue }
                if TemplateSyntax.containsTemplate(s) {
                    method = .template(s)
                    templates.append((s, entry.value.mark))
                } else if let verb = HTTPVerb(manifestValue: s) {
                    method = .literal(verb)
                } else {
                    let guess = Suggestion.closest(to: s.lowercased(), in: HTTPVerb.allCases.map(\.manifestName))
                    sink.error(valueLoc, "unknown \(entry.key) '\(s)'" + (guess.map { " (did you mean '\($0)'?)" } ?? ""),
                               fix: "use get, post, patch or delete")
                }
            case "endpoint":
                fields[.endpoint] = valueLoc
                endpointNode = entry.value
                if let s = string(entry.value, key: "endpoint") {
                    endpoint = s
                    if TemplateSyntax.containsTemplate(s) { templates.append((s, entry.value.mark)) }
                }
            case "id":
                fields[.id] = valueLoc
                if let s = string(entry.value, key: "id") {
                    if s.isEmpty { sink.error(valueLoc, "'id' is empty", fix: "give the record id, e.g. id: ${{ steps.<earlier step>.id }}") }
                    else {
                        if let problem = EndpointPath.keyProblem(s), !TemplateSyntax.containsTemplate(s) {
                            sink.error(valueLoc, "id '\(s)' \(problem)", fix: "give a single record id, e.g. a GUID")
                        }
                        id = s
                        if TemplateSyntax.containsTemplate(s) { templates.append((s, entry.value.mark)) }
                    }
                }
            case "data":
                fields[.data] = valueLoc
                data = parseData(entry.value, templates: &templates)
            case "params":
                fields[.params] = valueLoc
                hasQuery = true
                query = parseQuery(entry.value, templates: &templates, given: &keysUnderParams)
            case "etag":
                fields[.etag] = valueLoc
                if let s = string(entry.value, key: "etag") {
                    if s.isEmpty { sink.error(valueLoc, "'etag' is empty", fix: "remove etag: to use the pre-image's ETag, or write etag: \"*\"") }
                    etag = s
                    if TemplateSyntax.containsTemplate(s) { templates.append((s, entry.value.mark)) }
                }
            case "idempotency_key":
                fields[.idempotencyKey] = valueLoc
                if let s = string(entry.value, key: "idempotency_key") {
                    if s.isEmpty { sink.error(valueLoc, "'idempotency_key' is empty", fix: "give a key unique to this write, or remove it") }
                    idempotencyKey = s
                    if TemplateSyntax.containsTemplate(s) { templates.append((s, entry.value.mark)) }
                }
            case "pre_image":
                fields[.preImage] = valueLoc
                preImageGiven = true
                preImage = bool(entry.value, key: "pre_image") ?? true
            case "all":
                fields[.all] = valueLoc
                all = bool(entry.value, key: "all") ?? false
            case "reconcile_by":
                fields[.reconcileBy] = valueLoc
                reconcileBy = parseReconcileBy(entry.value)
            case "after":
                after = parseAfter(entry.value)
            default:
                if ManifestLoader.queryKeys.contains(entry.key) {
                    stepLevelQuery.append(entry)
                } else {
                    unknownKey(entry, known: ManifestLoader.stepKeys + ManifestLoader.queryKeys, where: "step", aliases: Self.stepKeyAliases)
                }
            }
        }
        // Query options on the step mean the same as under params: (the Python tool drops them
        // silently; bcli sends them). One option given both ways is an error naming the one to drop.
        for entry in stepLevelQuery {
            if fields[.params] == nil { fields[.params] = doc.location(entry.keyNode) }
            hasQuery = true
            if keysUnderParams.contains(entry.key) {
                sink.error(doc.location(entry.keyNode), "step \(seq) gives '\(entry.key)' twice: on the step and under params:",
                           fix: "remove the step-level \(entry.key): (the Python tool ignores it and uses params: \(entry.key))")
                continue
            }
            parseQueryOption(entry, into: &query, templates: &templates)
        }

        // `endpoint: customers(<id>)` means `endpoint: customers` with `id: <id>`.
        var idFromEndpoint = false
        if let endpointNode, let split = EndpointPath.splitRecordKey(endpoint), !split.collection.isEmpty {
            if fields[.id] != nil {
                sink.error(doc.location(endpointNode), "step \(seq) gives the record id twice: in endpoint '\(endpoint)' and in id:",
                           fix: "write endpoint: \(split.collection) and keep id:")
                endpoint = split.collection  // one error, not a second one about the endpoint's shape
            } else if split.key.isEmpty {
                sink.error(doc.location(endpointNode), "key '' in endpoint '\(endpoint)' is empty", fix: "give a single record id, e.g. a GUID")
            } else {
                if let problem = EndpointPath.keyProblem(split.key), !TemplateSyntax.containsTemplate(split.key) {
                    sink.error(doc.location(endpointNode), "key '\(split.key)' in endpoint '\(endpoint)' \(problem)",
                               fix: "give a single record id, e.g. a GUID")
                }
                endpoint = split.collection
                id = split.key
                fields[.id] = doc.location(endpointNode)
                idFromEndpoint = true
            }
        }

        if endpointNode == nil {
            sink.error(stepLoc, "step \(seq) has no 'endpoint'", fix: "add endpoint: with the entity set, e.g. endpoint: customers")
        }
        var endpointPath: EndpointPath?
        if let endpointNode, !endpoint.isEmpty || endpointNode.scalar != nil {
            switch EndpointPath.parse(Self.placeholdered(endpoint)) {
            case .success(let p): endpointPath = p
            case .failure(let e): sink.error(doc.location(endpointNode), e.message, fix: e.fix)
            }
        }

        let stepName = name ?? "step_\(seq)"
        if case .literal(let verb) = method {
            let shape = StepRules.Shape(verb: verb, endpoint: endpointPath, hasID: id != nil, hasData: data != nil || fields[.data] != nil,
                                        hasQuery: hasQuery, hasETag: fields[.etag] != nil,
                                        hasIdempotencyKey: fields[.idempotencyKey] != nil, preImageGiven: preImageGiven,
                                        allGiven: fields[.all] != nil, reconcileByGiven: fields[.reconcileBy] != nil)
            for violation in StepRules.violations(shape, stepName: stepName) {
                if idFromEndpoint, violation.field == .id {
                    sink.error(fields[.id] ?? stepLoc, "post step '\(stepName)' addresses a single record (endpoint '\(endpoint)(\(id ?? ""))'), but post creates a record and BC assigns its id",
                               fix: "write endpoint: \(endpoint); to act on a record write endpoint: entitySet(<id>)/Ns.action")
                    continue
                }
                sink.error(fields[violation.field] ?? stepLoc, violation.message, fix: violation.fix)
            }
        }

        if let reconcileBy, let at = fields[.reconcileBy], method.literal == .post, !(endpointPath?.isAction ?? false) {
            checkReconcileBy(reconcileBy, data: data, at: at, stepName: stepName)
        }

        var references: [Reference] = []
        for (text, mark) in templates {
            switch TemplateSyntax.parse(text) {
            case .failure(let e):
                sink.error(doc.location(of: e.snippet, inScalarAt: mark), e.message, fix: e.fix)
            case .success(let parts):
                for case .reference(let r) in parts {
                    references.append(Reference(namespace: r.namespace, name: r.name, path: r.path, text: r.text,
                                                location: doc.location(of: r.text, inScalarAt: mark)))
                }
            }
        }

        return StepTemplate(seq: seq, name: stepName, nameIsAssigned: name == nil, method: method, endpoint: endpoint,
                            id: id, data: data, query: query, etag: etag, idempotencyKey: idempotencyKey,
                            preImage: preImage, location: stepLoc, references: references, description: description, all: all,
                            reconcileBy: reconcileBy, after: after)
    }

    /// `after:` is a step name or a list of them (no references: the order is fixed before the
    /// run). Names are checked against the manifest in `checkReferences`.
    mutating func parseAfter(_ node: Node) -> [StepName] {
        let items: [Node]
        switch node {
        case .sequence(let seq): items = Array(seq)
        case .scalar: items = [node]
        default:
            sink.error(doc.location(node), "'after' must be a step name or a list of step names, found \(kind(node))",
                       fix: "write after: [load_items] or after: load_items")
            return []
        }
        var names: [StepName] = []
        for item in items {
            guard let s = string(item, key: "after item") else { continue }
            if s.isEmpty || TemplateSyntax.containsTemplate(s) {
                sink.error(doc.location(item), "'after' names steps by their fixed names; '\(s)' is not one",
                           fix: "write the name of an earlier step, e.g. after: [create_customer]")
                continue
            }
            names.append(StepName(name: s, location: doc.location(item)))
        }
        return names
    }

    /// `reconcile_by:` is a field name or a list of them: each non-empty, an OData property name
    /// (letters, digits, `_`; no reference: the values come from the body the post sent), none
    /// twice. Nil when the value is unusable (the error is reported).
    mutating func parseReconcileBy(_ node: Node) -> [String]? {
        let loc = doc.location(node)
        let items: [Node]
        let itemKey: String
        switch node {
        case .sequence(let seq): items = Array(seq); itemKey = "reconcile_by item"
        case .scalar: items = [node]; itemKey = "reconcile_by"
        default:
            sink.error(loc, "'reconcile_by' must be a field name or a list of field names, found \(kind(node))",
                       fix: "write reconcile_by: [number] or reconcile_by: [externalDocumentNumber, customerNumber]")
            return nil
        }
        if items.isEmpty {
            sink.error(loc, "'reconcile_by' is empty", fix: "list the fields that identify the record the post creates, or remove reconcile_by:")
            return nil
        }
        var fields: [String] = []
        var ok = true
        for item in items {
            guard let field = string(item, key: itemKey) else { ok = false; continue }
            let at = doc.location(item)
            if field.isEmpty {
                sink.error(at, "a 'reconcile_by' field name is empty", fix: "give the name of a field the post sends, e.g. number")
                ok = false
            } else if TemplateSyntax.containsTemplate(field) {
                sink.error(at, "a 'reconcile_by' field name cannot contain a reference", fix: "name the field; its value is taken from the body the post sent")
                ok = false
            } else if !PathComponent.isIdentifier(field) {
                sink.error(at, "'reconcile_by' field '\(field)' is not a field name (letters, digits and _)",
                           fix: "give the name of a top-level field the post sends, e.g. externalDocumentNumber")
                ok = false
            } else if fields.contains(field) {
                sink.error(at, "'reconcile_by' lists '\(field)' twice", fix: "list each field once")
                ok = false
            } else {
                fields.append(field)
            }
        }
        return ok ? fields : nil
    }

    /// Each `reconcile_by` field must be a scalar the post sends, when `data:` is written out
    /// (a `data:` that is one reference is checked by reconcile, when it reads the body sent).
    mutating func checkReconcileBy(_ fields: [String], data: JSONValue?, at: SourceLocation, stepName: String) {
        guard data == nil || data?.objectValue != nil else { return }
        let members = data?.objectValue ?? [:]
        for field in fields {
            switch members[field] {
            case nil:
                let guess = Suggestion.closest(to: field, in: members.keys.sorted())
                sink.error(at, "'reconcile_by' field '\(field)' is not in the data of post step '\(stepName)'" + (guess.map { " (did you mean '\($0)'?)" } ?? ""),
                           fix: "list fields the post sends (its values find the record it created), or add \(field): to data:")
            case .object?, .array?:
                sink.error(at, "'reconcile_by' field '\(field)' of post step '\(stepName)' is not a single value in data",
                           fix: "list fields whose values are text, numbers or booleans")
            default:
                break
            }
        }
    }

    /// `data:` is a mapping (its strings may hold references) or a string that is exactly one
    /// reference resolving to an object at run time.
    mutating func parseData(_ node: Node, templates: inout [(String, Mark?)]) -> JSONValue? {
        switch node {
        case .mapping:
            var found: [(String, Mark?)]? = []
            let value = doc.json(node, budget: &budget, sink: &sink, templates: &found)
            templates += found ?? []
            return value
        case .scalar(let scalar) where TemplateSyntax.containsTemplate(scalar.string):
            if case .success(let parts) = TemplateSyntax.parse(scalar.string), TemplateSyntax.exactReference(parts) == nil {
                sink.error(doc.location(node), "'data' must be a mapping of fields or exactly one reference",
                           fix: "write data: { field: value } or data: ${{ steps.<step>.<path> }}")
                return nil
            }
            templates.append((scalar.string, node.mark))
            return .string(scalar.string)
        default:
            sink.error(doc.location(node), "'data' must be a mapping of fields, found \(kind(node))",
                       fix: "write data: { displayName: \"Contoso\" } or one field per line")
            return nil
        }
    }

    mutating func parseQuery(_ node: Node, templates: inout [(String, Mark?)], given: inout Set<String>) -> QueryTemplate {
        var query = QueryTemplate()
        guard case .mapping(let mapping) = node else {
            sink.error(doc.location(node), "step 'params' must be a mapping of query options, found \(kind(node))",
                       fix: "write params: { filter: \"…\", top: 10 }")
            return query
        }
        for entry in doc.entries(of: mapping, sink: &sink) {
            if ManifestLoader.queryKeys.contains(entry.key) {
                given.insert(entry.key)
                parseQueryOption(entry, into: &query, templates: &templates)
            } else {
                unknownKey(entry, known: ManifestLoader.queryKeys, where: "query option", aliases: ["limit": "top", "offset": "skip", "order": "orderby", "order_by": "orderby", "where": "filter", "fields": "select"])
            }
        }
        return query
    }

    /// One query option (`entry.key` is one of `ManifestLoader.queryKeys`), under `params:` or on
    /// the step: the one reading of each.
    mutating func parseQueryOption(_ entry: MappingEntry, into query: inout QueryTemplate, templates: inout [(String, Mark?)]) {
        switch entry.key {
        case "filter":
            query.filter = queryString(entry, templates: &templates, allowList: false)
        case "select":
            query.select = queryString(entry, templates: &templates, allowList: true)
        case "orderby":
            query.orderby = queryString(entry, templates: &templates, allowList: true)
        case "expand":
            query.expand = queryString(entry, templates: &templates, allowList: true)
        case "top":
            query.top = queryInt(entry, templates: &templates)
        default:
            query.skip = queryInt(entry, templates: &templates)
        }
    }

    mutating func queryString(_ entry: MappingEntry, templates: inout [(String, Mark?)], allowList: Bool) -> String? {
        if allowList, case .sequence(let seq) = entry.value {
            var items: [String] = []
            for item in seq {
                guard let s = string(item, key: "\(entry.key) item") else { continue }
                if TemplateSyntax.containsTemplate(s) { templates.append((s, item.mark)) }
                items.append(s)
            }
            return items.joined(separator: ",")
        }
        guard case .scalar(let scalar) = entry.value, case .string(let s)? = doc.scalarValue(entry.value, sink: &sink) else {
            if entry.value.scalar == nil || doc.scalarValue(entry.value, sink: &sink) != nil {
                sink.error(doc.location(entry.value), "'\(entry.key)' must be a string\(allowList ? " or a list of strings" : ""), found \(kind(entry.value))",
                           fix: allowList ? "write \(entry.key): \"a,b\" or \(entry.key): [a, b]" : "quote the value: \(entry.key): \"…\"")
            }
            return nil
        }
        if TemplateSyntax.containsTemplate(s) { templates.append((s, scalar.mark)) }
        return s
    }

    mutating func queryInt(_ entry: MappingEntry, templates: inout [(String, Mark?)]) -> IntTemplate? {
        let loc = doc.location(entry.value)
        switch doc.scalarValue(entry.value, sink: &sink) {
        case .number(let d)? where d == d.rounded() && d >= 0 && d <= CoreSchema.maxExactInteger:
            return .literal(Int(d))
        case .string(let s)? where TemplateSyntax.containsTemplate(s):
            templates.append((s, entry.value.mark))
            return .template(s)
        case .string(let s)? where !s.isEmpty && s.count <= 15 && s.allSatisfy(\.isASCIIDigit):
            return .literal(Int(s)!)  // a quoted number (`top: "50"`), as the Python tool reads it
        case nil where entry.value.scalar != nil:
            return nil  // already reported
        default:
            sink.error(loc, "'\(entry.key)' must be a whole number of at least 0, found \(kind(entry.value))",
                       fix: "write \(entry.key): 10")
            return nil
        }
    }

    // MARK: whole-manifest checks

    mutating func checkNames(_ steps: [StepTemplate]) {
        var firstByName: [String: StepTemplate] = [:]
        for step in steps {
            if let first = firstByName[step.name] {
                if step.nameIsAssigned {
                    sink.error(step.location, "step \(step.seq) has no name and its automatic name '\(step.name)' is already used by step \(first.seq) (line \(first.location.line))",
                               fix: "give step \(step.seq) a name:")
                } else {
                    let firstLine = (nameLocations[first.seq] ?? first.location).line
                    sink.error(nameLocations[step.seq] ?? step.location, "duplicate step name '\(step.name)' (also step \(first.seq) at line \(firstLine))",
                               fix: "give each step a unique name")
                }
            } else {
                firstByName[step.name] = step
            }
        }
    }

    mutating func checkReferences(_ steps: [StepTemplate], params: [ParamDeclaration], declaresParams: Bool) {
        var seqByName: [String: Int] = [:]
        for step in steps where seqByName[step.name] == nil { seqByName[step.name] = step.seq }
        let declared = Set(params.map(\.name))
        for step in steps {
            for wait in step.after {
                if wait.name == step.name {
                    sink.error(wait.location, "step '\(step.name)' is after itself",
                               fix: "name an earlier step under after:, or remove it")
                } else if let target = seqByName[wait.name] {
                    if target > step.seq {
                        sink.error(wait.location, "after: names step '\(wait.name)' (step \(target)), which comes after step '\(step.name)' (step \(step.seq))",
                                   fix: "move step '\(wait.name)' before step '\(step.name)'; after: names earlier steps only")
                    }
                } else {
                    let guess = Suggestion.closest(to: wait.name, in: steps.map(\.name))
                    sink.error(wait.location, "after: names unknown step '\(wait.name)'" + (guess.map { " (did you mean '\($0)'?)" } ?? ""),
                               fix: "name an earlier step of this manifest")
                }
            }
            for ref in step.references {
                switch ref.namespace {
                case .steps:
                    if ref.name == step.name {
                        sink.error(ref.location, "step '\(step.name)' refers to itself in \(ref.text)",
                                   fix: "reference an earlier step; a step's own output does not exist yet")
                    } else if let target = seqByName[ref.name] {
                        if target > step.seq {
                            sink.error(ref.location, "\(ref.text) refers to step '\(ref.name)' (step \(target)), which runs after step '\(step.name)' (step \(step.seq))",
                                       fix: "move step '\(ref.name)' before step '\(step.name)', or reference an earlier step")
                        }
                    } else {
                        let earlier = steps.filter { $0.seq < step.seq }.map(\.name)
                        let guess = Suggestion.closest(to: ref.name, in: steps.map(\.name))
                        sink.error(ref.location, "\(ref.text) refers to unknown step '\(ref.name)'" + (guess.map { " (did you mean '\($0)'?)" } ?? ""),
                                   fix: earlier.isEmpty ? "this step has no earlier steps to reference"
                                       : "reference one of the earlier steps: \(earlier.count > 8 ? "…, " : "")\(Suggestion.list(earlier.suffix(8)))")
                    }
                case .params:
                    if declaresParams, !declared.contains(ref.name) {
                        let guess = Suggestion.closest(to: ref.name, in: declared)
                        sink.error(ref.location, "\(ref.text) refers to undeclared param '\(ref.name)'" + (guess.map { " (did you mean '\($0)'?)" } ?? ""),
                                   fix: guess.map { "write params.\($0)" } ?? "declare '\(ref.name)' under the top-level params:")
                    }
                }
            }
        }
    }

    // MARK: helpers

    /// Replaces every reference with a neutral identifier so a templated endpoint's shape can be
    /// checked before run time (`purchaseInvoices(${{ steps.x.id }})/purchaseInvoiceLines`).
    static func placeholdered(_ text: String) -> String {
        guard TemplateSyntax.containsTemplate(text), case .success(let parts) = TemplateSyntax.parse(text) else { return text }
        return parts.map { part in
            switch part {
            case .literal(let s): return s
            case .reference: return "ref"
            }
        }.joined()
    }

    /// A scalar value meant as text. Strings, and numbers written plainly (kept as written, so
    /// `id: 10000` is "10000"), are accepted; null, booleans, lists and mappings are not.
    mutating func string(_ node: Node, key: String) -> String? {
        guard case .scalar(let scalar) = node else {
            sink.error(doc.location(node), "'\(key)' must be a string, found \(kind(node))", fix: "write \(key): \"…\"")
            return nil
        }
        switch doc.scalarValue(node, sink: &sink) {
        case .string(let s)?: return s
        case .number?: return scalar.string
        case nil: return nil
        case let other?:
            sink.error(doc.location(node), "'\(key)' must be a string, found \(other.typeName) '\(scalar.string)'",
                       fix: "quote it if you mean the text: \(key): \"\(scalar.string)\"")
            return nil
        }
    }

    /// `true` or `false` (YAML 1.2: `yes`/`no` are strings, not booleans).
    mutating func bool(_ node: Node, key: String) -> Bool? {
        if case .bool(let b)? = node.scalar != nil ? doc.scalarValue(node, sink: &sink) : nil { return b }
        sink.error(doc.location(node), "'\(key)' must be true or false, found \(kind(node))", fix: "write \(key): true or \(key): false")
        return nil
    }

    mutating func unknownKey(_ entry: MappingEntry, known: [String], where context: String, aliases: [String: String]) {
        let guess = Suggestion.closest(to: entry.key, in: known) ?? aliases[entry.key.lowercased()]
        sink.error(doc.location(entry.keyNode),
                   "unknown \(context) key '\(entry.key)'" + (guess.map { " (did you mean '\($0)'?)" } ?? ""),
                   fix: guess.map { "rename '\(entry.key)' to '\($0)'" } ?? "use one of: \(known.joined(separator: ", "))")
    }

    /// Parses a param default, reporting references in it (defaults are not resolved).
    mutating func defaultValue(_ node: Node) -> JSONValue? {
        var found: [(String, Mark?)]? = []
        let value = doc.json(node, budget: &budget, sink: &sink, templates: &found)
        for (text, mark) in found ?? [] {
            sink.error(doc.location(of: "${{", inScalarAt: mark), "references are not allowed in param defaults ('\(text)')",
                       fix: "use a fixed value; references are resolved in steps only")
        }
        return value
    }

    /// "a list", "a mapping", "the string 'x'", "the number 5" … for messages.
    func kind(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let s):
            var scratch = DiagnosticSink()
            switch doc.scalarValue(node, sink: &scratch) {
            case .string?: return "the string '\(s.string)'"
            case .number?: return "the number \(s.string)"
            case .bool?: return "the boolean \(s.string)"
            case .null?: return s.string.isEmpty ? "nothing" : "null"
            default: return "'\(s.string)'"
            }
        }
    }
}
