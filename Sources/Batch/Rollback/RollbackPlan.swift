import Hashing
import Store

/// What undoing one committed write takes, decided before anything is sent.
public enum RollbackAction: Sendable, Equatable {
    /// `-` DELETE the record a POST created.
    case delete(url: String)
    /// `~` PATCH the fields a PATCH changed back to their pre-image values.
    case restore(url: String, fields: [String: JSONValue])
    /// `+` re-create a deleted record from its pre-image (it gets a new id).
    case recreate(collectionURL: String, body: [String: JSONValue])
    /// `!` cannot be undone by bcli; `reason` says why and what to do.
    case irreversible(reason: String)
    /// `=` nothing to undo (e.g. the run itself created and later deleted the record); nothing is
    /// sent and the step counts as undone.
    case nothing(reason: String)

    public var symbol: String {
        switch self {
        case .delete: return "-"
        case .restore: return "~"
        case .recreate: return "+"
        case .irreversible: return "!"
        case .nothing: return "="
        }
    }
}

/// One line of the plan: an original step and what to do about it.
public struct RollbackItem: Sendable {
    public let step: StepRecord
    public let action: RollbackAction
    /// The ETag the compensating request sends (`If-Match`): the one the ledger recorded for the
    /// record's latest state — the newest committed compensation of the record in any earlier
    /// rollback run, else the run's own latest step on it. Nil for re-creation, irreversible and
    /// nothing-to-undo items.
    public var ifMatch: String?
    /// A compensation for this step was sent before with no recorded outcome (a killed rollback):
    /// the executor checks the record's current state before sending anything again.
    public let unresolvedAttempt: StepRecord?
    /// The record the item is about (for ETag bookkeeping across items).
    public let recordKey: String?
    /// The record did not exist before the run (an earlier step of the run created it): if it is
    /// gone now, a restore of it has nothing left to do.
    public var createdByRun = false
}

/// The classified plan for undoing a run, newest step first.
public struct RollbackPlan: Sendable {
    public let runID: String
    public let items: [RollbackItem]
    /// Steps whose earlier compensation committed but whose own status was never updated
    /// (a rollback killed between the two writes); the executor marks them `rolled_back`.
    public let alreadyUndone: [StepRecord]

    public var reversible: [RollbackItem] { items.filter { if case .irreversible = $0.action { return false } else { return true } } }
    public var irreversible: [RollbackItem] { items.filter { if case .irreversible = $0.action { return true } else { return false } } }

    public var summary: String {
        var deletes = 0, restores = 0, recreates = 0, bad = 0, nothing = 0
        for item in items {
            switch item.action {
            case .delete: deletes += 1
            case .restore: restores += 1
            case .recreate: recreates += 1
            case .irreversible: bad += 1
            case .nothing: nothing += 1
            }
        }
        return "Plan: \(deletes) to delete, \(restores) to restore, \(recreates) to re-create, \(bad) irreversible"
            + (nothing > 0 ? ", \(nothing) with nothing to undo." : ".")
    }
}

/// Classifies every committed write of a run (docs/rollback.md, "The plan"). Pure: rows and
/// blobs in, plan out.
public enum RollbackPlanner {
    /// Fields the server owns; never sent back.
    static let serverOwned: Set<String> = ["id", "systemId", "@odata.etag", "@odata.context", "lastModifiedDateTime",
                                           "systemCreatedAt", "systemModifiedAt", "systemCreatedBy", "systemModifiedBy"]

    /// - Parameters:
    ///   - steps: the run's steps (any order).
    ///   - compensations: earlier compensating steps that target this run's steps.
    ///   - blob: reads a stored blob (request bodies, pre-images).
    ///   - recreateDeleted: `--recreate-deleted`.
    ///   - rebase: maps a URL recorded at run time to the URL to use now (the base URL may differ,
    ///     e.g. a sandbox on another port).
    public static func plan(
        runID: String, steps: [StepRecord], compensations: [StepRecord], recreateDeleted: Bool,
        blob: (Digest) throws -> [UInt8], rebase: (String) -> String
    ) -> RollbackPlan {
        let byTarget = Dictionary(grouping: compensations, by: { $0.targetStepID ?? -1 })
        let latestETag = etagChain(steps: steps, compensations: compensations)
        let vanished = createdAndDeleted(steps)
        // A write `batch reconcile` found applied landed like a committed one.
        let wrote: Set<StepStatus?> = [.committed, .rollbackFailed, .rollbackSkipped, .reconciledApplied]
        // PATCHes still owed a restore, and the records the run deleted (and had not created).
        let restorable = steps.filter { $0.method == .patch && wrote.contains($0.status) }
        let created = Set(steps.filter { $0.method == .post && $0.status != nil }.compactMap { recordKey($0) })
        var deletions: [String: StepRecord] = [:]
        for step in steps where step.method == .delete && (wrote.contains(step.status) || step.status == .rolledBack) {
            if let key = recordKey(step), vanished[key] == nil { deletions[key] = step }
        }
        // The value each field had before the run, as far as the record's PATCHes older than
        // `seq` that are still owed a restore tell it: the oldest pre-image value wins.
        func preRun(_ key: String, olderThan seq: Int) -> [String: JSONValue] {
            var values: [String: JSONValue] = [:]
            for older in restorable.filter({ recordKey($0) == key && $0.seq < seq }).sorted(by: { $0.seq > $1.seq }) {
                if case .restore(_, let fields) = classify(older, recreateDeleted: recreateDeleted, blob: blob, rebase: rebase) {
                    values.merge(fields) { _, old in old }
                }
            }
            return values
        }
        var items: [RollbackItem] = []
        var undone: [StepRecord] = []
        for step in steps.sorted(by: { $0.seq > $1.seq }) {
            guard step.method != .get else { continue }
            // Only writes count as attempts: a GET a rollback recorded is evidence, not an undo.
            let attempts = (byTarget[step.id] ?? []).filter { $0.method != .get }
            if attempts.contains(where: { $0.status == .committed }) {
                if step.status != .rolledBack { undone.append(step) }
                continue
            }
            let unresolved = attempts.last(where: { $0.status == nil })
            switch step.status {
            case .committed?, .rollbackFailed?, .rollbackSkipped?, .reconciledApplied?:
                break
            case nil:
                items.append(RollbackItem(step: step, action: .irreversible(
                    reason: "outcome unknown: the request was sent but no answer was recorded; check Business Central for client-request-id \(step.clientRequestID) and undo it by hand if it landed"),
                    ifMatch: nil, unresolvedAttempt: nil, recordKey: nil))
                continue
            default:
                continue  // failed, skipped, replayed, rolled back: nothing to undo
            }
            let key = recordKey(step)
            if let key, let span = vanished[key], span.contains(step.seq) {
                items.append(RollbackItem(step: step, action: .nothing(
                    reason: "the run created this record (step \(span.lowerBound)) and deleted it (step \(span.upperBound))"),
                    ifMatch: nil, unresolvedAttempt: nil, recordKey: key))
                continue
            }
            let etag = key.flatMap { latestETag[$0] } ?? step.etag
            var action = classify(step, recreateDeleted: recreateDeleted, blob: blob, rebase: rebase)
            if let key, let deletion = deletions[key], deletion.seq > step.seq {
                action = afterDeletion(action, deletion: deletion, attempts: byTarget[deletion.id] ?? [],
                                       superseded: preRun(key, olderThan: step.seq),
                                       recreateDeleted: recreateDeleted, blob: blob, rebase: rebase)
            }
            if case .recreate(let url, var body) = action, let key {
                // Restores owed by older PATCHes of the record go into the re-creation (the
                // oldest pre-image value wins), since the record they target no longer exists.
                body.merge(preRun(key, olderThan: step.seq)) { _, pre in pre }
                action = .recreate(collectionURL: url, body: body)
            }
            let needsETag: Bool
            switch action {
            case .delete, .restore: needsETag = true
            default: needsETag = false
            }
            var item = RollbackItem(step: step, action: action, ifMatch: needsETag ? etag : nil,
                                    unresolvedAttempt: unresolved, recordKey: key)
            item.createdByRun = key.map { created.contains($0) } ?? false
            items.append(item)
        }
        return RollbackPlan(runID: runID, items: items, alreadyUndone: undone)
    }

    /// A restore PATCH of a record the run deleted afterwards cannot be sent (it could only answer
    /// 404). Its fields go into the re-creation of the record instead: planned now
    /// (`--recreate-deleted`), or done by an earlier rollback whose request carried them.
    /// `superseded` holds the pre-image values of the record's older PATCHes still owed a restore
    /// (the oldest wins): a re-creation carries those instead of this PATCH's own.
    static func afterDeletion(
        _ action: RollbackAction, deletion: StepRecord, attempts: [StepRecord], superseded: [String: JSONValue] = [:],
        recreateDeleted: Bool, blob: (Digest) throws -> [UInt8], rebase: (String) -> String
    ) -> RollbackAction {
        guard case .restore(_, let fields) = action else { return action }
        let later = "the run deleted this record afterwards (step \(deletion.seq) \(deletion.name))"
        if let earlier = attempts.last(where: { $0.method == .post && $0.status == .committed }) {
            let sent = earlier.requestDigest.flatMap { try? blob($0) }.flatMap { try? JSONValue(parsing: $0) }?.objectValue ?? [:]
            let newID = earlier.recordID ?? "?"
            if fields.allSatisfy({ sent[$0.key] == (superseded[$0.key] ?? $0.value) }) {
                return .nothing(reason: "\(later); an earlier rollback re-created it (new id \(newID)) with these fields restored")
            }
            return .irreversible(reason: "\(later); an earlier rollback re-created it (new id \(newID)) without these fields: restore them on \(newID) by hand")
        }
        switch classify(deletion, recreateDeleted: recreateDeleted, blob: blob, rebase: rebase) {
        case .recreate:
            return .nothing(reason: "\(later); its re-creation carries these fields' pre-run values")
        case .irreversible where !recreateDeleted:
            // Advise the flag only if it would re-create the record (the deletion has a pre-image).
            if case .recreate = classify(deletion, recreateDeleted: true, blob: blob, rebase: rebase) {
                return .irreversible(reason: "\(later); pass --recreate-deleted to re-create it with these fields restored")
            }
            return .irreversible(reason: "\(later) and it cannot be re-created; restore the record by hand")
        default:
            return .irreversible(reason: "\(later) and it cannot be re-created; restore the record by hand")
        }
    }

    /// The ETag of each record's latest known version: the run's own writes in order, then every
    /// compensation of the record that left it with a known ETag, in the order the rollbacks
    /// recorded them (a committed restore PATCH, or a restore an interrupted rollback turned out to
    /// have landed, recorded with the ETag the check read). A re-creation names a new record and
    /// does not count.
    static func etagChain(steps: [StepRecord], compensations: [StepRecord]) -> [String: String] {
        var latest: [String: String] = [:]
        var keyOfStep: [Int64: String] = [:]
        for step in steps.sorted(by: { $0.seq < $1.seq }) {
            guard step.method != .get, let key = recordKey(step) else { continue }
            keyOfStep[step.id] = key
            switch step.status {
            case .committed?, .rolledBack?, .rollbackFailed?, .rollbackSkipped?, .reconciledApplied?:
                if let etag = step.etag { latest[key] = etag }
            default:
                break
            }
        }
        for compensation in compensations.sorted(by: { $0.id < $1.id }) {
            guard compensation.method == .patch, let etag = compensation.etag,
                  compensation.status == .committed || compensation.status == .skipped,
                  let target = compensation.targetStepID, let key = keyOfStep[target]
            else { continue }
            latest[key] = etag
        }
        return latest
    }

    /// Records the run created (committed POST) and later deleted (committed DELETE): the seq span
    /// from the creation to the deletion. Every write of the record in that span needs no undo.
    static func createdAndDeleted(_ steps: [StepRecord]) -> [String: ClosedRange<Int>] {
        let wrote: Set<StepStatus?> = [.committed, .rolledBack, .rollbackFailed, .rollbackSkipped, .reconciledApplied]
        var created: [String: Int] = [:]
        var spans: [String: ClosedRange<Int>] = [:]
        for step in steps.sorted(by: { $0.seq < $1.seq }) where wrote.contains(step.status) {
            guard let key = recordKey(step) else { continue }
            switch step.method {
            case .post:
                created[key] = step.seq
            case .delete:
                if let from = created.removeValue(forKey: key) { spans[key] = from...step.seq }
            default:
                break
            }
        }
        return spans
    }

    /// The record a step touched, as a stable key: the record URL without query.
    static func recordKey(_ step: StepRecord) -> String? {
        if step.method == .post { return step.rollbackURL }
        guard step.recordID != nil else { return nil }
        return step.url.split(separator: "?", maxSplits: 1).first.map(String.init)
    }

    static func classify(
        _ step: StepRecord, recreateDeleted: Bool, blob: (Digest) throws -> [UInt8], rebase: (String) -> String
    ) -> RollbackAction {
        switch step.method {
        case .post:
            guard let url = step.rollbackURL, step.recordID != nil else {
                return .irreversible(reason: "the POST created no addressable record (an OData action, or no id in the response); undo it in Business Central")
            }
            return .delete(url: rebase(url))
        case .patch:
            guard let pre = step.preImageDigest, let preImage = (try? blob(pre)).flatMap({ try? JSONValue(parsing: $0) })?.objectValue else {
                return .irreversible(reason: "no pre-image was recorded (pre_image: false or the GET failed); restore the fields by hand")
            }
            guard let req = step.requestDigest, let sent = (try? blob(req)).flatMap({ try? JSONValue(parsing: $0) })?.objectValue else {
                return .irreversible(reason: "the request body of the PATCH is not in the store; run `bcli batch verify` to check the store")
            }
            var fields: [String: JSONValue] = [:]
            var missing: [String] = []
            for name in sent.keys.sorted() where !serverOwned.contains(name) {
                if let old = preImage[name] { fields[name] = old } else { missing.append(name) }
            }
            guard !fields.isEmpty else {
                return .irreversible(reason: "the pre-image has none of the fields the PATCH changed (\(missing.joined(separator: ", "))); restore them by hand")
            }
            return .restore(url: rebase(step.url), fields: fields)
        case .delete:
            guard let pre = step.preImageDigest, let preImage = (try? blob(pre)).flatMap({ try? JSONValue(parsing: $0) })?.objectValue else {
                return .irreversible(reason: "no pre-image was recorded for the deleted record; re-create it by hand")
            }
            guard recreateDeleted else {
                return .irreversible(reason: "a deleted record can only be re-created (with a new id): pass --recreate-deleted")
            }
            var body = preImage
            for key in preImage.keys where serverOwned.contains(key) || key.hasPrefix("@odata") || key.contains("@odata.") {
                body[key] = nil
            }
            guard let open = step.url.lastIndex(of: "(") else {
                return .irreversible(reason: "cannot tell the collection URL from \(step.url)")
            }
            return .recreate(collectionURL: rebase(String(step.url[..<open])), body: body)
        default:
            return .irreversible(reason: "\(step.method) has no known inverse")
        }
    }
}
