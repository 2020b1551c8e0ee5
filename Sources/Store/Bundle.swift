#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GRDB
import Hashing

/// Why a bundle could not be written, read or imported (as opposed to a bundle that was read and
/// failed verification, which is a `VerifyReport`).
public enum BundleError: Error, CustomStringConvertible, Sendable {
    case unreadable(path: String, errno: Int32)
    case notABundle(String)
    case unsupportedVersion(Double)
    case damaged(VerifyReport)
    case conflict(runID: String, detail: String)
    case missingParent(runID: String, parent: String)
    case unfinished(runID: String)
    case store(StoreError)

    public var description: String {
        switch self {
        case .unreadable(let path, let e):
            return "cannot read \(path): \(String(cString: strerror(e))) — check the path"
        case .notABundle(let why):
            return "not a bcli bundle: \(why) — give a file written by `bcli batch export`"
        case .unsupportedVersion(let v):
            return "bundle format_version \(v) is newer than this bcli understands — upgrade bcli"
        case .damaged(let report):
            let first = report.problems.first.map { ": \($0.subject): \($0.detail)\(report.problems.count > 1 ? "; …" : "")" } ?? ""
            return "the bundle failed verification (\(report.problems.count) problem(s)\(first)); nothing was imported — run `bcli batch verify --bundle FILE` for the list"
        case .conflict(let id, let detail):
            return "run \(id) already exists in this store with different content (\(detail)); refusing to import — import into another store (--store) to compare them"
        case .missingParent(let id, let parent):
            return "run \(id) is a rollback of run \(parent), which is not in this store — import \(parent)'s bundle first"
        case .unfinished(let id):
            return "run \(id) had not finished when it was exported, so the bundle has no run record to check its rows against; refusing to import — export it again once it has finished"
        case .store(let e):
            return e.description
        }
    }
}

/// Why a bundle member is not usable JSON (internal to `RunBundle.verify`).
struct BundleMemberProblem: Error {
    let detail: String
}

/// A blob as a bundle lists it.
public struct BundleBlob: Sendable, Equatable {
    public let digest: Digest
    public let size: Int64
    public let mediaType: String?
}

/// One run as a self-contained, deterministic bundle: a ustar archive holding
///
/// ```
/// bcli-bundle.json            format_version, run id, tool version, record digests, blob list
/// blobs/sha256/<hex>          every blob the run names (manifest, params, bodies, headers,
///                             pre-images, the run record), exact bytes
/// rows/run.json               the run row, RFC 8785 canonical JSON
/// rows/steps.json             the step rows, RFC 8785 canonical JSON
/// ```
///
/// Rows are proved by the run record (a blob, so hashed): `verify --bundle` checks every blob's
/// size and hash, that every digest a row names is in the bundle, and that the rows match the
/// record. The record's own digest is the anchor an auditor compares with the source store.
public struct RunBundle: Sendable {
    public static let formatVersion = 1
    public static let indexName = "bcli-bundle.json"
    public static let runName = "rows/run.json"
    public static let stepsName = "rows/steps.json"
    public static let blobFolder = "blobs/sha256/"

    public let runID: String
    /// `rows/run.json`: the run row (`RunRecordDocument.runJSON`) plus `record_digest` and
    /// `previous_record_digest`.
    public let run: [String: JSONValue]
    /// `rows/steps.json`: each step row (`RunRecordDocument.stepJSON`) plus `target_step`
    /// (`{run_id, seq}` of the step a rollback step undid, or null): step ids are local to a store.
    public let steps: [[String: JSONValue]]
    public let blobs: [BundleBlob]
    public let contents: [Digest: [UInt8]]
    public let recordDigest: Digest?
    public let previousRecordDigest: Digest?
    public let createdBy: String

    /// The run JSON key listing the steps a reconcile run decided (`reconciledBy`).
    public static let reconciledByKey = "reconciled_by"

    /// `[{seq, decision, reconcile_run_id}]` for the steps of a run that a reconcile run decided.
    static func reconciledBy(steps: [StepRecord], store: LedgerStore) throws(StoreError) -> [JSONValue] {
        let bySeq = Dictionary(steps.map { ($0.id, $0.seq) }, uniquingKeysWith: { a, _ in a })
        return try store.ledger.reconciliations(ofSteps: steps.map(\.id)).filter { $0.decision != .undecidable }.compactMap { r in
            bySeq[r.targetStepID].map { seq in
                .object(["seq": .number(Double(seq)), "decision": .string(r.decision.rawValue),
                         "reconcile_run_id": .string(r.reconcileRunID)])
            }
        }
    }

    // MARK: - Export

    /// The bundle bytes for one run. Refuses a run that is still executing; fails naming the blob
    /// if any blob the run names is missing or damaged (a bundle is never made from bad bytes).
    public static func export(runID: String, from store: LedgerStore) throws(StoreError) -> [UInt8] {
        let run = try store.run(runID)
        if run.finishedAt == nil && RunLock.isHeld(store: store.root, runID: run.id) { throw .runLocked(run.id) }
        let steps = try store.ledger.steps(runID: run.id)
        // A reconcile run carries its decisions, and the records they found are blobs of the bundle.
        let reconciliations: JSONValue? = run.kind == .reconcile ? try store.ledger.reconciliationsJSON(byRun: run.id) : JSONValue?.none
        let found = run.kind == .reconcile ? try store.ledger.reconciliations(byRun: run.id).compactMap(\.recordDigest) : []
        let digests = Set(StoreVerifier.blobs(run: run, steps: steps).map(\.digest) + found).sorted()
        let mediaTypes = try mediaTypes(of: digests, in: store)
        var entries: [BundleTar.Entry] = []
        var listed: [JSONValue] = []
        for digest in digests {
            let bytes = try store.objects.get(digest)
            entries.append(.init(name: blobFolder + digest.hex, bytes: bytes))
            listed.append(.object([
                "digest": .string(digest.description),
                "size": .number(Double(bytes.count)),
                "media_type": (mediaTypes[digest.hex] ?? nil).map { .string($0) } ?? .null,
            ]))
        }
        var runJSON = RunRecordDocument.runJSON(run).objectValue ?? [:]
        runJSON["record_digest"] = run.recordDigest.map { .string($0.description) } ?? .null
        runJSON["previous_record_digest"] = run.previousRecordDigest.map { .string($0.description) } ?? .null
        if let reconciliations { runJSON[RunRecordDocument.reconciliationsKey] = reconciliations }
        // Steps of this run a reconcile run decided since it finished: the evidence that lets the
        // bundle's rows differ from its record (the decisions themselves travel with the
        // reconcile run's bundle).
        let decided = try RunBundle.reconciledBy(steps: steps, store: store)
        if !decided.isEmpty { runJSON[RunBundle.reconciledByKey] = .array(decided) }
        var stepsJSON: [JSONValue] = []
        for step in steps {
            var s = RunRecordDocument.stepJSON(step).objectValue ?? [:]
            s["target_step"] = .null
            if let target = step.targetStepID, let t = try store.ledger.step(id: target) {
                s["target_step"] = .object(["run_id": .string(t.runID), "seq": .number(Double(t.seq))])
            }
            stepsJSON.append(.object(s))
        }
        let index: JSONValue = .object([
            "format_version": .number(Double(formatVersion)),
            "type": "bcli.bundle",
            "created_by": .string("bcli \(ToolVersion.current)"),
            "run_id": .string(run.id),
            "record_digest": runJSON["record_digest"] ?? .null,
            "previous_record_digest": runJSON["previous_record_digest"] ?? .null,
            "blobs": .array(listed),
        ])
        do {
            entries.append(.init(name: indexName, bytes: try index.canonicalBytes()))
            entries.append(.init(name: runName, bytes: try JSONValue.object(runJSON).canonicalBytes()))
            entries.append(.init(name: stepsName, bytes: try JSONValue.array(stepsJSON).canonicalBytes()))
        } catch {
            throw .invalidState("cannot encode the bundle rows: \(error)")
        }
        return BundleTar.write(entries)
    }

    static func mediaTypes(of digests: [Digest], in store: LedgerStore) throws(StoreError) -> [String: String?] {
        let rows = try store.ledger.read { db in try ObjectRow.fetchAll(db, digests: digests.map(\.hex)) }
        var out: [String: String?] = [:]
        for row in rows { out[row.digest] = .some(row.mediaType) }
        return out
    }

    /// Writes bytes to `path` atomically, mode 0644 (`POSIX.writeAtomically`: temp file in the same
    /// folder, fsync, rename, fsync of the folder).
    public static func write(_ bytes: [UInt8], to path: String) throws(StoreError) {
        try POSIX.writeAtomically(bytes, to: path, mode: 0o644)
    }

    // MARK: - Read and verify

    /// Reads and verifies a bundle file with no store and no network. Throws only when the file
    /// cannot be read or is not a bundle at all; every finding is in the report.
    public static func verify(fileAt path: String) throws(BundleError) -> (report: VerifyReport, bundle: RunBundle?) {
        let bytes: [UInt8]
        do { bytes = try POSIX.readFile(path) } catch {
            if case .io(_, _, let e) = error { throw .unreadable(path: path, errno: e) }
            throw .store(error)
        }
        return try verify(bytes: bytes)
    }

    public static func verify(bytes: [UInt8]) throws(BundleError) -> (report: VerifyReport, bundle: RunBundle?) {
        var report = VerifyReport()
        let entries: [BundleTar.Entry]
        do { entries = try BundleTar.read(bytes) } catch {
            if bytes.count < 512 || !looksLikeTar(bytes) { throw .notABundle(error.description) }
            report.problems.append(.init(.bundle, runID: nil, subject: "archive", digest: nil, detail: error.description))
            return (report, nil)
        }
        var byName: [String: [UInt8]] = [:]
        for e in entries { byName[e.name] = e.bytes }
        guard let indexBytes = byName[indexName] else { throw .notABundle("it has no \(indexName)") }
        let index: JSONValue
        do { index = try JSONValue(parsing: indexBytes) } catch {
            report.problems.append(.init(.bundle, runID: nil, subject: indexName, digest: nil, detail: "not valid bundle JSON (damaged?): \(error)"))
            return (report, nil)
        }
        guard index["type"]?.stringValue == "bcli.bundle" else {
            report.problems.append(.init(.bundle, runID: nil, subject: indexName, digest: nil, detail: "not valid bundle JSON (damaged?)"))
            return (report, nil)
        }
        guard let v = index["format_version"]?.doubleValue else {
            report.problems.append(.init(.bundle, runID: nil, subject: indexName, digest: nil, detail: "format_version is missing or not a number (damaged?)"))
            return (report, nil)
        }
        if v != Double(formatVersion) { throw .unsupportedVersion(v) }
        func fail(_ subject: String, _ detail: String, _ runID: String? = nil) -> (VerifyReport, RunBundle?) {
            report.problems.append(.init(.bundle, runID: runID, subject: subject, digest: nil, detail: detail))
            return (report, nil)
        }
        guard let runID = index["run_id"]?.stringValue, RunID.isValid(runID) else { return fail(indexName, "run_id is missing or not a run id") }
        /// A member's JSON, or why not (the parser's message names the line, column and any limit).
        func member(_ name: String) -> Result<JSONValue, BundleMemberProblem> {
            guard let data = byName[name] else { return .failure(BundleMemberProblem(detail: "missing")) }
            do { return .success(try JSONValue(parsing: data)) } catch { return .failure(BundleMemberProblem(detail: "not valid JSON: \(error)")) }
        }
        let runBytes = byName[runName] ?? [], stepsBytes = byName[stepsName] ?? []
        let run: [String: JSONValue]
        switch member(runName) {
        case .failure(let p): return fail(runName, p.detail, runID)
        case .success(let value):
            guard let object = value.objectValue else { return fail(runName, "not a JSON object", runID) }
            run = object
        }
        let stepItems: [JSONValue]
        switch member(stepsName) {
        case .failure(let p): return fail(stepsName, p.detail, runID)
        case .success(let value):
            guard let array = value.arrayValue else { return fail(stepsName, "not a JSON array", runID) }
            stepItems = array
        }
        let steps = stepItems.compactMap(\.objectValue)
        guard steps.count == stepItems.count else { return fail(stepsName, "a step is not a JSON object", runID) }
        guard run["id"]?.stringValue == runID else { return fail(runName, "names run \(run["id"]?.stringValue ?? "null"), the index names \(runID)", runID) }
        report.runsChecked.append(runID)
        for (name, data) in [(indexName, indexBytes), (runName, runBytes), (stepsName, stepsBytes)] {
            if (try? JSONValue(parsing: data).canonicalBytes()) != data {
                report.problems.append(.init(.bundle, runID: runID, subject: name, digest: nil, detail: "not RFC 8785 canonical JSON as export writes it (edited?)"))
            }
        }

        // Every listed blob: present, right size, right hash.
        var listed: [BundleBlob] = []
        var contents: [Digest: [UInt8]] = [:]
        for item in index["blobs"]?.arrayValue ?? [] {
            guard let text = item["digest"]?.stringValue, let digest = try? Digest(parsing: text),
                  let size = item["size"]?.doubleValue.flatMap({ Int64(exactly: $0) }), size >= 0 else {
                report.problems.append(.init(.bundle, runID: runID, subject: indexName, digest: nil, detail: "a blob entry has no valid digest or size"))
                continue
            }
            listed.append(BundleBlob(digest: digest, size: size, mediaType: item["media_type"]?.stringValue))
            let subject = blobFolder + digest.hex
            guard let data = byName[subject] else {
                report.problems.append(.init(.missing, runID: runID, subject: subject, digest: digest, detail: "listed in \(indexName) but not in the archive"))
                continue
            }
            report.blobsChecked += 1
            if data.isEmpty && digest != ObjectStore.emptyDigest {
                report.problems.append(.init(.empty, runID: runID, subject: subject, digest: digest, detail: "the blob is empty"))
            } else if Int64(data.count) != size {
                report.problems.append(.init(.wrongSize, runID: runID, subject: subject, digest: digest, detail: "the blob has \(data.count) bytes, the bundle lists \(size)"))
            } else {
                let actual = SHA256.hash(data)
                if actual != digest {
                    report.problems.append(.init(.corrupt, runID: runID, subject: subject, digest: digest, detail: "the blob's bytes hash to \(actual)"))
                } else {
                    contents[digest] = data
                    report.bytesChecked += Int64(data.count)
                }
            }
        }
        let listedHex = Set(listed.map(\.digest.hex))
        for name in byName.keys.sorted() where name != indexName && name != runName && name != stepsName {
            if name.hasPrefix(blobFolder) && listedHex.contains(String(name.dropFirst(blobFolder.count))) { continue }
            report.problems.append(.init(.bundle, runID: runID, subject: name, digest: nil, detail: "an entry the bundle index does not list"))
        }

        // Every digest a row names is in the bundle.
        func named(_ key: String, _ row: [String: JSONValue], _ subject: String) -> Digest? {
            guard let value = row[key], !value.isNull else { return nil }
            guard let text = value.stringValue, let d = try? Digest(parsing: text) else {
                report.problems.append(.init(.bundle, runID: runID, subject: subject, digest: nil, detail: "\(key) is not a digest"))
                return nil
            }
            if !listedHex.contains(d.hex) {
                report.problems.append(.init(.missing, runID: runID, subject: subject, digest: d, detail: "the row names this blob but the bundle does not hold it"))
            }
            return d
        }
        _ = named("manifest_digest", run, "manifest")
        _ = named("params_digest", run, "params")
        let record = named("record_digest", run, "record")
        let previous: Digest? = run["previous_record_digest"]?.stringValue.flatMap { try? Digest(parsing: $0) }
        for s in steps {
            let label = "step \(s["seq"].map(RecordComparison.show) ?? "?") (\(s["name"]?.stringValue ?? "?"))"
            for key in ["request_digest", "request_headers_digest", "pre_image_digest", "response_digest", "response_headers_digest"] {
                _ = named(key, s, "\(label) \(key.replacingOccurrences(of: "_digest", with: "").replacingOccurrences(of: "_", with: " "))")
            }
            for page in s["pages"]?.arrayValue ?? [] {
                let row = page.objectValue ?? [:]
                let number = row["page"].map(RecordComparison.show) ?? "?"
                _ = named("response_digest", row, "\(label) page \(number) response")
                _ = named("response_headers_digest", row, "\(label) page \(number) response headers")
            }
        }
        if (index["record_digest"] ?? .null) != (run["record_digest"] ?? .null) {
            report.problems.append(.init(.bundle, runID: runID, subject: indexName, digest: record, detail: "record_digest differs from \(runName)"))
        }

        // The rows match the run record.
        if let record, let bytes = contents[record] {
            var rowRun = run
            rowRun["record_digest"] = nil
            rowRun["previous_record_digest"] = nil
            // A reconcile run's decisions are a top-level key of its record, not a run column.
            let decisions = rowRun.removeValue(forKey: RunRecordDocument.reconciliationsKey)
            var reconciledSeqs = Set<Int>()
            for item in rowRun.removeValue(forKey: RunBundle.reconciledByKey)?.arrayValue ?? [] {
                guard let seq = item["seq"]?.doubleValue.flatMap({ Int(exactly: $0) }),
                      let decision = item["decision"]?.stringValue.flatMap(ReconcileDecision.init(rawValue:)),
                      let row = steps.first(where: { $0["seq"]?.doubleValue == Double(seq) }) else { continue }
                let status = row["status"]?.stringValue
                if status == decision.stepStatus?.rawValue || RecordComparison.rollbackStatuses.contains(status ?? "") {
                    reconciledSeqs.insert(seq)
                }
            }
            if let decisions, let doc = try? JSONValue(parsing: bytes), (doc[RunRecordDocument.reconciliationsKey] ?? .null) != decisions {
                report.problems.append(.init(.rowChanged, runID: runID, subject: "reconciliations", digest: record,
                                             detail: "the bundle's decisions differ from those its run record captured"))
            }
            let rowSteps = steps.map { s -> [String: JSONValue] in
                var copy = s
                copy["target_step"] = nil
                return copy
            }
            report.problems += RecordComparison.compare(recordBytes: bytes, recordDigest: record, runID: runID, previous: previous,
                                                        run: rowRun, steps: rowSteps, strictLocalIDs: false,
                                                        reconciledSeqs: reconciledSeqs)
            if !reconciledSeqs.isEmpty {
                // The bundle's own list vouches for these rows; the proof is the reconcile run's bundle.
                report.notes.append("run \(runID): step(s) \(reconciledSeqs.sorted().map(String.init).joined(separator: ", ")) were decided by a reconcile run after this run finished; their evidence is in that run's bundle — import it too (until then `verify --all` reports them)")
            }
        } else if record == nil {
            report.notes.append("run \(runID) had not finished when it was exported: there is no run record to check the rows against")
        }
        let bundle = RunBundle(runID: runID, run: run, steps: steps, blobs: listed, contents: contents, recordDigest: record,
                               previousRecordDigest: previous, createdBy: index["created_by"]?.stringValue ?? "?")
        return (report, bundle)
    }

    /// True when the first header carries the ustar magic (damaged archive, not some other file).
    static func looksLikeTar(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 262 && Array(bytes[257..<262]) == Array("ustar".utf8)
    }
}
