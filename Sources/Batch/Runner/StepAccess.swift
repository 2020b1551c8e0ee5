import Hashing

/// What a step reads or writes in Business Central, as far as it is known: the runner's rule for
/// which steps may overlap under `--concurrency` (docs/manifest.md, "Concurrency").
///
/// Two steps conflict — the later waits for the earlier to finish — when at least one of them
/// writes and they may touch the same thing:
/// - the same record (same entity-set path, keys that may be equal); a write below a record
///   (`salesOrders(X)/salesOrderLines`) writes that record too, since BC changes the document (and
///   its ETag) when a line changes;
/// - a collection read (a GET without id) and any write to that collection or one of its records
///   (a listing sees what an earlier write did);
/// - anything and an action (bound or unbound: posting a document creates and changes other
///   records), or a step whose endpoint is not known yet (a reference to a step still running):
///   these order against every write and, when they write, against all.
/// Two POSTs to one collection never conflict: each creates its own record.
///
/// A key not known yet is a `${{ }}` template: it may equal any key — except that an unfinished
/// POST's `${{ steps.X.id }}` names a record that does not exist yet, so it equals only the same
/// reference (unless X has an `idempotency_key`: a replayed X names an existing record).
struct StepAccess: Sendable {
    /// A record key, resolved or still a template.
    enum Key: Hashable, Sendable {
        case known(String)
        /// The template text; `createdBy` is the POST step whose new record's id it is, when the
        /// template is exactly `${{ steps.<that step>.id }}`.
        case pending(String, createdBy: String?)
    }

    struct Part: Hashable, Sendable {
        let entitySet: String
        let key: Key?
    }

    enum Target: Sendable {
        /// A record: every part keyed.
        case record([Part])
        /// A collection: the last part has no key.
        case collection([Part])
        /// Everything (an unbound action, or an endpoint not resolved yet under `entitySet` —
        /// nil when even that is unknown).
        case unknown(entitySet: String?)
    }

    struct Touch: Sendable {
        let target: Target
        let write: Bool
    }

    let touches: [Touch]
    /// The idempotency key it sends, resolved or pending; two writes that may share a key run in
    /// order (the second is replayed or refused on what the first left).
    let idempotencyKey: Key?

    static let none = StepAccess(touches: [], idempotencyKey: nil)

    /// The access of a resolved step.
    init(_ step: ResolvedStep) {
        self.init(path: step.endpointPath, id: step.id.map(Key.known), isWrite: step.method.isWrite,
                  idempotencyKey: step.idempotencyKey.map(Key.known))
    }

    init(touches: [Touch], idempotencyKey: Key?) {
        self.touches = touches
        self.idempotencyKey = idempotencyKey
    }

    init(path: EndpointPath, id: Key?, isWrite: Bool, idempotencyKey: Key?) {
        self.idempotencyKey = idempotencyKey
        if path.isAction {
            // An action (posting a document, …): BC may change other records and create new
            // ones (a posted invoice), so it is ordered with every write and listing.
            touches = [Touch(target: .unknown(entitySet: nil), write: true)]
            return
        }
        var parts: [Part] = []
        var touches: [Touch] = []
        let write = isWrite || path.isAction
        for (index, segment) in path.segments.enumerated() {
            let isLast = index == path.segments.count - 1
            let key: Key? = isLast ? (id ?? segment.key.map(Key.known)) : segment.key.map(Key.known)
            parts.append(Part(entitySet: segment.entitySet, key: key))
            if isLast {
                touches.append(Touch(target: key == nil ? .collection(parts) : .record(parts), write: write))
            } else if key != nil {
                touches.append(Touch(target: .record(parts), write: write))
            }
        }
        self.touches = touches
    }

    /// The access of a step that cannot be resolved yet (it reads a step still running): its
    /// endpoint and id as far as `context` resolves them, the rest pending.
    init(unresolved template: StepTemplate, context: ReferenceResolver.Context, postSteps: Set<String>) {
        func key(_ text: String, field: String) -> Key {
            if let value = try? context.text(text, field: field, rejectNonScalar: true) { return .known(value) }
            return .pending(text, createdBy: Self.createdBy(text, postSteps: postSteps))
        }
        let idKey = template.idempotencyKey.map { key($0, field: "idempotency_key") }
        let write = template.method.mayWrite
        guard let endpoint = try? context.text(template.endpoint, field: "endpoint") else {
            let head = template.endpoint.prefix { $0 != "(" && $0 != "/" && $0 != "$" }
            self.init(touches: [Touch(target: .unknown(entitySet: head.isEmpty ? nil : String(head)), write: write)],
                      idempotencyKey: idKey)
            return
        }
        var id = template.id.map { key($0, field: "id") }
        var pathText = endpoint
        if id == nil, case .failure = EndpointPath.parse(endpoint), let split = EndpointPath.splitRecordKey(endpoint) {
            pathText = split.collection
            id = .known(split.key)
        }
        guard case .success(let path) = EndpointPath.parse(pathText) else {
            self.init(touches: [], idempotencyKey: idKey)  // it will be skipped: the endpoint does not parse
            return
        }
        self.init(path: path, id: id, isWrite: write, idempotencyKey: idKey)
    }

    /// `X` when `text` is exactly `${{ steps.X.id }}` and X is a POST that creates a record.
    static func createdBy(_ text: String, postSteps: Set<String>) -> String? {
        guard case .success(let parts) = TemplateSyntax.parse(text), parts.count == 1,
              case .reference(let r) = parts[0], r.namespace == .steps, r.path == ["id"], postSteps.contains(r.name)
        else { return nil }
        return r.name
    }

    /// Whether a step with this access must wait for an unfinished earlier step with `earlier`.
    func conflicts(with earlier: StepAccess) -> Bool {
        if let a = idempotencyKey, let b = earlier.idempotencyKey, Self.mayEqual(a, b) { return true }
        for mine in touches {
            for theirs in earlier.touches where mine.write || theirs.write {
                if Self.overlap(mine, theirs) { return true }
            }
        }
        return false
    }

    static func overlap(_ a: Touch, _ b: Touch) -> Bool {
        switch (a.target, b.target) {
        case (.unknown(let x), .unknown(let y)):
            return x == nil || y == nil || x == y
        case (.unknown(let set), .record(let parts)), (.record(let parts), .unknown(let set)),
             (.unknown(let set), .collection(let parts)), (.collection(let parts), .unknown(let set)):
            return set == nil || parts.first?.entitySet == set
        case (.record(let x), .record(let y)):
            return samePath(x, y)
        case (.collection(let x), .collection(let y)):
            // Two creates in one collection are independent; a listing and a create are not.
            return a.write != b.write && samePath(x, y)
        case (.collection(let c), .record(let r)):
            return !a.write && b.write && member(r, of: c)
        case (.record(let r), .collection(let c)):
            return !b.write && a.write && member(r, of: c)
        }
    }

    /// Same length, same entity sets, keys that may be equal.
    static func samePath(_ x: [Part], _ y: [Part]) -> Bool {
        guard x.count == y.count else { return false }
        for (p, q) in zip(x, y) {
            guard p.entitySet.caseInsensitiveCompare(q.entitySet) else { return false }
            switch (p.key, q.key) {
            case (nil, nil): continue
            case (let k?, let l?): if !mayEqual(k, l) { return false }
            default: return false
            }
        }
        return true
    }

    /// Whether the record `r` is in the collection `c`.
    static func member(_ r: [Part], of c: [Part]) -> Bool {
        guard r.count == c.count, let last = r.last, let set = c.last else { return false }
        return samePath(Array(r.dropLast()) + [Part(entitySet: last.entitySet, key: nil)],
                        Array(c.dropLast()) + [Part(entitySet: set.entitySet, key: nil)])
    }

    static func mayEqual(_ a: Key, _ b: Key) -> Bool {
        switch (a, b) {
        case (.known(let x), .known(let y)):
            return x.lowercased() == y.lowercased()
        case (.pending(let x, let px), .pending(let y, let py)):
            if x == y { return true }
            if let px, let py { return px == py }
            return true
        case (.known, .pending(_, let created)), (.pending(_, let created), .known):
            // A record an unfinished POST will create has no id anyone knows yet.
            return created == nil
        }
    }
}

private extension String {
    func caseInsensitiveCompare(_ other: String) -> Bool { lowercased() == other.lowercased() }
}
