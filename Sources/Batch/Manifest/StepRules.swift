/// Which keys make sense for which method. Applied statically to steps with a literal method, and
/// again at run time to steps whose method is a template (so both paths give the same messages).
enum StepRules {
    enum Field: Hashable {
        case step, method, endpoint, id, data, params, etag, idempotencyKey, preImage, all, reconcileBy
    }

    /// A step as the rules see it: its method, its endpoint, and which keys it gives (`id`,
    /// `data`, query `params`, `etag`, `idempotency_key`, `pre_image`, `all`, `reconcile_by`).
    struct Shape {
        var verb: HTTPVerb
        var endpoint: EndpointPath?
        var given: Set<Field>

        init(verb: HTTPVerb, endpoint: EndpointPath?, hasID: Bool, hasData: Bool, hasQuery: Bool, hasETag: Bool,
             hasIdempotencyKey: Bool, preImageGiven: Bool, allGiven: Bool = false, reconcileByGiven: Bool = false) {
            self.verb = verb
            self.endpoint = endpoint
            let flags: [(Bool, Field)] = [(hasID, .id), (hasData, .data), (hasQuery, .params), (hasETag, .etag),
                                          (hasIdempotencyKey, .idempotencyKey), (preImageGiven, .preImage),
                                          (allGiven, .all), (reconcileByGiven, .reconcileBy)]
            given = Set(flags.filter(\.0).map(\.1))
        }
    }

    struct Violation: Hashable {
        let field: Field
        let message: String
        let fix: String
    }

    static func violations(_ s: Shape, stepName: String) -> [Violation] {
        var out: [Violation] = []
        let verb = s.verb.manifestName
        let isAction = s.endpoint?.isAction ?? false
        if isAction, s.verb != .post {
            out.append(Violation(field: .method, message: "step '\(stepName)' calls action '\(s.endpoint!.action!)' with \(verb); OData actions are invoked with post",
                                 fix: "write action: post"))
        }
        switch s.verb {
        case .patch, .delete:
            if !s.given.contains(.id), !isAction {
                out.append(Violation(field: .step, message: "\(verb) step '\(stepName)' has no 'id'",
                                     fix: "add id: with the record's id, e.g. id: ${{ steps.<earlier step>.id }}"))
            }
        case .post:
            if s.given.contains(.id) {
                out.append(Violation(field: .id, message: "post step '\(stepName)' has an 'id', but post creates a record and BC assigns its id",
                                     fix: "remove id; to act on a record write endpoint: entitySet(<id>)/Ns.action, to add children write endpoint: parent(<id>)/children"))
            }
        case .get:
            break
        }
        if s.given.contains(.data), s.verb == .get || s.verb == .delete {
            out.append(Violation(field: .data, message: "'data' is not sent by a \(verb) step",
                                 fix: "remove data:, or use action: post or action: patch"))
        }
        if !s.given.contains(.data), s.verb == .patch {
            out.append(Violation(field: .step, message: "patch step '\(stepName)' has no 'data'",
                                 fix: "add data: with the fields to change"))
        }
        if s.given.contains(.params), s.verb != .get {
            out.append(Violation(field: .params, message: "query params (filter, select, …) only apply to get steps, not \(verb)",
                                 fix: "remove params: from this step"))
        }
        if s.given.contains(.etag), s.verb == .get || s.verb == .post {
            out.append(Violation(field: .etag, message: "'etag' (If-Match) applies only to patch and delete steps, not \(verb)",
                                 fix: "remove etag:"))
        }
        if s.given.contains(.idempotencyKey), s.verb == .get {
            out.append(Violation(field: .idempotencyKey, message: "'idempotency_key' applies only to writes (post, patch, delete), not get",
                                 fix: "remove idempotency_key:"))
        }
        if s.given.contains(.preImage), s.verb == .get || s.verb == .post {
            out.append(Violation(field: .preImage, message: "'pre_image' applies only to patch and delete steps, not \(verb)",
                                 fix: "remove pre_image:"))
        }
        if s.given.contains(.reconcileBy) {
            if s.verb != .post {
                out.append(Violation(field: .reconcileBy, message: "'reconcile_by' (the fields that find the record a post created) applies only to post steps, not \(verb)",
                                     fix: s.verb == .get ? "remove reconcile_by:" : "remove reconcile_by: (reconcile reads a \(verb)'s record by its id)"))
            } else if isAction {
                out.append(Violation(field: .reconcileBy, message: "'reconcile_by' finds the record a post created, but post step '\(stepName)' calls action '\(s.endpoint!.action!)', which creates no record to look up",
                                     fix: "remove reconcile_by:"))
            }
        }
        if s.given.contains(.all) {
            if s.verb != .get {
                out.append(Violation(field: .all, message: "'all' (follow @odata.nextLink to the last page) applies only to get steps, not \(verb)",
                                     fix: "remove all:"))
            } else if s.given.contains(.id) || isAction {
                out.append(Violation(field: .all, message: "'all' pages a collection, but get step '\(stepName)' reads one record",
                                     fix: "remove all:, or remove id: to read the whole collection"))
            }
        }
        return out
    }
}
