import Hashing
import Store

/// Which step of a run starts next. Steps start in manifest order, each as soon as every earlier
/// step it must wait for has finished: the steps it references (`${{ steps.X… }}`), the steps its
/// `after:` names, and every earlier unfinished step it may conflict with (`StepAccess`: the same
/// record, a listing and a write, the same idempotency key). With one worker this is plain
/// manifest order.
///
/// Only a window of the next unstarted steps is considered (`lookahead`), so the cost per step
/// stays constant however long the manifest is; a step blocked for long holds later ones back
/// only once the window is full of blocked steps.
struct StepSchedule {
    let steps: [StepTemplate]
    let concurrency: Int
    let lookahead: Int
    private let params: ParamSet
    /// Position (in `steps`) of each owed step's name.
    private let positionByName: [String: Int]
    /// For each position, the positions it must wait for by reference or `after:` (owed steps only).
    private let prerequisites: [[Int]]
    /// For each name a later step references, the last position that reads it: after that step
    /// is prepared, its output is dropped.
    private let lastUse: [String: Int]
    /// Names of literal POSTs that create a record (their new ids are unknown until they finish).
    private let postSteps: Set<String>
    private var finishedFlags: [Bool]
    /// Started but not finished, with what they touch.
    private var running: [Int: StepAccess] = [:]
    /// Admitted, not started, in manifest order.
    private var window: [Int] = []
    private var nextToAdmit = 0
    /// Accesses of window steps whose prerequisites have all finished (final: resolution cannot change).
    private var settledAccess: [Int: StepAccess] = [:]

    init(steps: [StepTemplate], all: [StepTemplate], params: ParamSet, concurrency: Int) {
        self.steps = steps
        self.params = params
        self.concurrency = concurrency
        self.lookahead = max(32, 8 * concurrency)
        var positionByName: [String: Int] = [:]
        for (i, s) in steps.enumerated() { positionByName[s.name] = i }
        self.positionByName = positionByName
        var lastUse: [String: Int] = [:]
        var prerequisites: [[Int]] = []
        prerequisites.reserveCapacity(steps.count)
        for (i, s) in steps.enumerated() {
            var pre: [Int] = []
            for name in s.dependencies {
                lastUse[name] = i
                if let p = positionByName[name], p < i { pre.append(p) }
            }
            for wait in s.after { if let p = positionByName[wait.name], p < i { pre.append(p) } }
            prerequisites.append(pre)
        }
        self.prerequisites = prerequisites
        self.lastUse = lastUse
        self.postSteps = Set(all.compactMap { s in
            // A keyed POST may be replayed: its id is then an existing record anyone may name.
            guard s.method.literal == .post, s.idempotencyKey == nil, !TemplateSyntax.containsTemplate(s.endpoint),
                  case .success(let path) = EndpointPath.parse(s.endpoint), !path.isAction else { return nil }
            return s.name
        })
        self.finishedFlags = Array(repeating: false, count: steps.count)
    }

    /// Whether a later step reads `name`'s output (only those outputs are kept).
    func isReferenced(_ name: String) -> Bool { lastUse[name] != nil }

    /// The next step that may start now, or nil when none may (the caller waits for one in flight
    /// to finish). Call `started` (or `finished`, for a step that ended without a request) for
    /// what it returns. How many run at once is the caller's to limit (a `$batch` is one request
    /// carrying several steps).
    /// With `only`, the next ready step is returned only when it matches (nil otherwise): a
    /// `$batch` gathers consecutive ready writes and stops at the first step it cannot carry.
    mutating func next(outputs: [String: JSONValue], only: ((StepTemplate) -> Bool)? = nil) -> Int? {
        while window.count < lookahead, nextToAdmit < steps.count {
            window.append(nextToAdmit)
            nextToAdmit += 1
        }
        guard !window.isEmpty else { return nil }
        // With nothing in flight the first waiting step is always free to go: everything before
        // it has finished.
        if running.isEmpty {
            if let only, !only(steps[window[0]]) { return nil }
            settledAccess[window[0]] = nil
            return window.removeFirst()
        }
        let context = ReferenceResolver.Context(params: params, outputs: outputs)
        var earlier: [StepAccess] = []
        for (index, position) in window.enumerated() {
            let access = self.access(position, context: context)
            if prerequisites[position].allSatisfy({ finishedFlags[$0] }) {
                // Every running step counts, later ones too: a step whose access was not known
                // when a later one started may turn out to touch the same record. Waiting is
                // always safe (a running step waits for nothing).
                let blocked = running.contains { access.conflicts(with: $0.value) }
                    || earlier.contains { access.conflicts(with: $0) }
                if !blocked {
                    if let only, !only(steps[position]) { return nil }
                    window.remove(at: index)
                    settledAccess[position] = nil
                    return position
                }
            }
            earlier.append(access)
        }
        return nil
    }

    /// What the step at `position` touches, as far as is known now.
    private mutating func access(_ position: Int, context: ReferenceResolver.Context) -> StepAccess {
        if let known = settledAccess[position] { return known }
        let template = steps[position]
        let settled = prerequisites[position].allSatisfy { finishedFlags[$0] }
        let access: StepAccess
        if settled {
            // Every step it reads has finished: resolution is final (or the step will be skipped,
            // touching nothing).
            switch ReferenceResolver.resolve(template, params: params, outputs: context.outputs) {
            case .success(let step): access = StepAccess(step)
            case .failure: access = .none
            }
            settledAccess[position] = access
        } else {
            access = StepAccess(unresolved: template, context: context, postSteps: postSteps)
        }
        return access
    }

    mutating func started(_ position: Int, access: StepAccess) {
        running[position] = access
    }

    /// The step at `position` has resolved its references: drop outputs no later step reads.
    func used(_ position: Int, outputs: inout [String: JSONValue]) {
        for name in steps[position].dependencies where lastUse[name] == position {
            outputs[name] = nil
        }
    }

    mutating func finished(_ position: Int) {
        running[position] = nil
        finishedFlags[position] = true
    }
}

/// What the run loop keeps between steps, and what every worker's result updates.
struct SharedRunState {
    /// `steps.<name>` values later steps still read.
    var outputs: [String: JSONValue]
    /// The ids of this run's step rows sent with each idempotency key, in order.
    var keyed: [String: [Int64]] = [:]
    /// Record URLs (without query) a PATCH/DELETE of this run left unknown, with that step's seq.
    var inDoubt: [String: Int] = [:]

    mutating func apply(_ result: BatchRunner.StepResult, keep: Bool) {
        if keep, let output = result.output { outputs[result.name] = output }
        if let keyed = result.keyed { self.keyed[keyed.key, default: []].append(keyed.stepID) }
        if let record = result.inDoubt { inDoubt[record] = result.report.seq }
    }
}

/// The counts a run ends with, and (when asked) every step's report.
struct RunTally {
    let keepReports: Bool
    var reports: [StepReport] = []
    var total = 0, committed = 0, replayed = 0, failed = 0, unknown = 0, skipped = 0
    var lastProblemCorrelationID: String?
    private var lastProblemSeq = 0

    init(keepReports: Bool) { self.keepReports = keepReports }

    mutating func add(_ report: StepReport) {
        total += 1
        switch report.status {
        case .committed?: committed += 1
        case .replayed?: replayed += 1
        case .failed?: failed += 1
        case .skipped?: skipped += 1
        case nil: unknown += 1
        default: break
        }
        if report.status != .committed, report.status != .replayed, report.seq >= lastProblemSeq {
            lastProblemSeq = report.seq
            lastProblemCorrelationID = report.correlationID
        }
        if keepReports { reports.append(report) }
    }
}
