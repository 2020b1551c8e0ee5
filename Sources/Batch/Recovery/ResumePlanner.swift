import BusinessCentral
import Hashing
import Store

/// What `batch resume` sends: the steps of a run's manifest that are not done yet, and what the
/// done ones left for later references.
public struct ResumePlan: Sendable {
    /// The original batch run: every resume run is its child, whichever run was named.
    public let rootRunID: String
    /// Manifest seqs already done in the family (committed, replayed or reconciled applied).
    public let done: Set<Int>
    /// `${{ steps.<name>… }}` values of the done steps, from their stored responses.
    public let outputs: [String: JSONValue]
    /// The manifest steps still owed, in order.
    public let owed: [StepTemplate]
    /// The runs of the family (the original, then its resume runs, oldest first).
    public let family: [String]
}

/// Why a run cannot be resumed. Each names the way forward.
public enum ResumeRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    case notABatchRun(runID: String, kind: RunKind)
    case running(runID: String)
    case rolledBack(runID: String)
    /// `runID`: the first run of the family with an unknown step (the one to reconcile).
    case unknownSteps(runID: String, steps: [String])
    case noManifest(runID: String)
    case manifestDiffers(runID: String, recorded: Digest, file: String, given: Digest)
    case manifestUnreadable(runID: String, reason: String)

    public var description: String {
        switch self {
        case .notABatchRun(let id, let kind):
            return "run \(id) is a \(kind.rawValue) run; only a batch run (or one of its resume runs) is resumed"
        case .running(let id):
            return "run \(id) is still running (a process holds its lock); wait for it to finish, or stop it, then resume"
        case .rolledBack(let id):
            return "run \(id) was rolled back (in whole or in part); resuming would re-apply what was undone — run the manifest again instead"
        case .unknownSteps(let id, let steps):
            return "steps whose outcome is unknown (\(steps.joined(separator: ", "))) may have landed. Reconcile first: bcli batch reconcile \(id) (or pass --reconcile to reconcile every run of the family and resume in one go)"
        case .noManifest(let id):
            return "run \(id) recorded no manifest; there is nothing to resume from"
        case .manifestDiffers(let id, let recorded, let file, let given):
            return "\(file) is \(given), but run \(id) ran \(recorded): resume sends the recorded manifest only (drop --manifest, or run the new file as a new run)"
        case .manifestUnreadable(let id, let reason):
            return "the manifest run \(id) recorded no longer parses with this bcli: \(reason)"
        }
    }
}

/// Decides what a resume owes, from the ledger alone: the family of the original run (it and
/// its resume runs), which manifest steps are done, and the outputs done steps left. Refuses
/// whatever would risk a second write (`ResumeRefusal`).
public enum ResumePlanner {
    /// Statuses that mean a step's write is in Business Central (or the read was made).
    static let done: Set<StepStatus> = [.committed, .replayed, .reconciledApplied]

    /// The family of the batch run `root`: it, then its resume runs, oldest first.
    public static func family(root: String, store: LedgerStore) throws(StoreError) -> [RunRecord] {
        var family = [try store.run(root)]
        for child in try store.ledger.children(of: root) {
            let run = try store.run(child)
            if run.kind == .resume { family.append(run) }
        }
        return family
    }

    /// - Parameters:
    ///   - runID: a resolved run id: the original batch run or one of its resume runs.
    ///   - manifestFile: `--manifest FILE` as (path, bytes), checked against the recorded manifest.
    ///   - familyLocked: the caller holds the original run's lock (no other process is in the family).
    public static func plan(store: LedgerStore, runID: String, manifestFile: (path: String, bytes: [UInt8])? = nil,
                            allowUnknown: Bool = false, familyLocked: Bool = false) throws -> (plan: ResumePlan, manifest: Manifest, params: ParamSet, manifestBlob: BlobRef) {
        let named = try store.run(runID)
        let rootID: String
        switch named.kind {
        case .batch: rootID = named.id
        case .resume:
            guard let parent = named.parentRunID else { throw ResumeRefusal.notABatchRun(runID: named.id, kind: named.kind) }
            rootID = parent
        default: throw ResumeRefusal.notABatchRun(runID: named.id, kind: named.kind)
        }
        let family = try Self.family(root: rootID, store: store)
        let root = family[0]
        // With the family's lock in hand (`familyLocked`), a run reading `running` is only our own
        // lock on the original: no other process can be in the family.
        if !familyLocked, let live = family.first(where: { $0.state == .running }) { throw ResumeRefusal.running(runID: live.id) }
        var rows: [StepRecord] = []
        for run in family {
            if run.state == .rolledBack { throw ResumeRefusal.rolledBack(runID: run.id) }
            rows += try store.ledger.steps(runID: run.id)
        }
        let rollbackStatuses: Set<StepStatus> = [.rolledBack, .rollbackSkipped, .rollbackFailed]
        if rows.contains(where: { $0.status.map(rollbackStatuses.contains) ?? false }) {
            throw ResumeRefusal.rolledBack(runID: rootID)
        }
        let unknown = rows.filter { $0.status == nil }
        if !unknown.isEmpty && !allowUnknown {
            throw ResumeRefusal.unknownSteps(runID: unknown[0].runID, steps: unknown.map { "step \($0.seq) (\($0.name)) of run \($0.runID)" })
        }

        guard let manifestDigest = root.manifestDigest else { throw ResumeRefusal.noManifest(runID: rootID) }
        if let file = manifestFile {
            let given = SHA256.hash(file.bytes)
            if given != manifestDigest {
                throw ResumeRefusal.manifestDiffers(runID: rootID, recorded: manifestDigest, file: file.path, given: given)
            }
        }
        let bytes = try store.objects.get(manifestDigest)
        let manifest: Manifest
        do { manifest = try ManifestLoader.parse(bytes: bytes, path: root.manifestPath ?? "manifest.yaml") } catch {
            throw ResumeRefusal.manifestUnreadable(runID: rootID, reason: error.diagnostics.first.map { "\($0)" } ?? "\(error)")
        }
        var params = ParamSet(values: [:])
        if let digest = root.paramsDigest, let values = try JSONValue(parsing: store.objects.get(digest)).objectValue {
            params = ParamSet(values: values)
        }

        // Done steps and their outputs; a later row of the family wins (rows are in run order).
        var doneSeqs = Set<Int>()
        var outputs: [String: JSONValue] = [:]
        let applied = try store.ledger.reconciliations(ofSteps: rows.filter { $0.status == .reconciledApplied }.map(\.id))
            .filter { $0.decision == .applied }
        for row in rows {
            guard let status = row.status, done.contains(status) else { continue }
            doneSeqs.insert(row.seq)
            var body: JSONValue?
            if status == .reconciledApplied {
                if let digest = applied.last(where: { $0.targetStepID == row.id })?.recordDigest {
                    body = try? JSONValue(parsing: store.objects.get(digest))
                }
            } else if let digest = row.responseDigest {
                let bytes = try store.objects.get(digest)
                body = bytes.isEmpty ? nil : try? JSONValue(parsing: bytes)
            }
            outputs[row.name] = ManifestSide.recordedOutput(method: row.method, url: row.url, body: body)
        }
        let owed = manifest.steps.filter { !doneSeqs.contains($0.seq) }
        let blob = BlobRef(digest: manifestDigest, size: Int64(bytes.count), mediaType: "application/yaml")
        return (ResumePlan(rootRunID: rootID, done: doneSeqs, outputs: outputs, owed: owed, family: family.map(\.id)),
                manifest, params, blob)
    }
}
