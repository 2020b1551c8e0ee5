import Hashing
import Store

/// Computes `batch diff`: two runs, or a run and a manifest file.
///
/// Cost: one step query per run, each blob read and parsed at most once (identical digests are
/// never read), steps aligned through a dictionary — linear in the number of steps.
public enum RunDiffer {
    public struct Options: Sendable {
        /// Compare volatile fields too (`--include-volatile`).
        public var includeVolatile = false
        public init(includeVolatile: Bool = false) { self.includeVolatile = includeVolatile }
    }

    /// Compares run `a` with run `b` (ids or unique prefixes).
    public static func compare(store: LedgerStore, a: String, b: String, options: Options = Options()) throws(DiffError) -> RunDiff {
        var bodies = BodyLoader(store: store)
        let runA = try load(store, a)
        let runB = try load(store, b)
        let sideA = try RunSide.make(run: runA.0, steps: runA.1, bodies: &bodies)
        let sideB = try RunSide.make(run: runB.0, steps: runB.1, bodies: &bodies)

        let textA = try manifestText(runA.0, store)
        let textB = try manifestText(runB.0, store)
        let paramsA = try bodies.json(runA.0.paramsDigest)
        let paramsB = try bodies.json(runB.0.paramsDigest)
        return try assemble(sideA, sideB, textA: textA, textB: textB, paramsA: paramsA, paramsB: paramsB,
                            bodies: &bodies, options: options)
    }

    /// Compares run `a` with what `manifestPath` would do if it ran now with `a`'s params, its
    /// `${{ steps.… }}` references filled from `a`'s recorded responses (by step name).
    public static func compare(store: LedgerStore, a: String, manifestPath: String, options: Options = Options()) throws(DiffError) -> RunDiff {
        let bytes: [UInt8]
        do { bytes = try ManifestLoader.readFile(manifestPath) } catch {
            throw .unreadableManifest(path: manifestPath, error)
        }
        let manifest: Manifest
        do { manifest = try ManifestLoader.parse(bytes: bytes, path: manifestPath) } catch {
            throw .invalidManifest(path: manifestPath, error)
        }
        var bodies = BodyLoader(store: store)
        let runA = try load(store, a)
        let sideA = try RunSide.make(run: runA.0, steps: runA.1, bodies: &bodies)
        let paramsA = try bodies.json(runA.0.paramsDigest)
        let sideB = try ManifestSide.make(manifest: manifest, run: runA.0, runSteps: runA.1, paramsA: paramsA,
                                          serverIDs: sideA.volatile, bodies: &bodies)
        let textA = try manifestText(runA.0, store)
        let textB = ManifestText(text: String(decoding: bytes, as: UTF8.self), label: manifestPath, note: nil)
        return try assemble(sideA, sideB, textA: textA, textB: textB, paramsA: paramsA, paramsB: sideB.params,
                            bodies: &bodies, options: options)
    }

    // MARK: - internals

    static func load(_ store: LedgerStore, _ id: String) throws(DiffError) -> (RunRecord, [StepRecord]) {
        do {
            let run = try store.run(id)
            return (run, try store.ledger.steps(runID: run.id))
        } catch {
            throw .store(error)
        }
    }

    struct ManifestText {
        var text: String?
        var label: String
        var note: String?
    }

    static func manifestText(_ run: RunRecord, _ store: LedgerStore) throws(DiffError) -> ManifestText {
        let label = "run \(store.ledger.abbreviation(of: run.id)) " + (run.manifestPath ?? "manifest")
        guard let digest = run.manifestDigest else { return ManifestText(text: nil, label: label, note: "run \(run.id) recorded no manifest") }
        guard store.objects.contains(digest) else {
            return ManifestText(text: nil, label: label, note: "manifest blob \(digest) is missing — run `bcli batch fsck`")
        }
        do { return ManifestText(text: String(decoding: try store.objects.get(digest), as: UTF8.self), label: label, note: nil) } catch {
            throw .store(error)
        }
    }

    static func assemble(_ a: ComparableSide, _ b: ComparableSide, textA: ManifestText, textB: ManifestText,
                         paramsA: JSONValue?, paramsB: JSONValue?, bodies: inout BodyLoader,
                         options: Options) throws(DiffError) -> RunDiff {
        let manifestSame = a.info.manifestDigest != nil && a.info.manifestDigest == b.info.manifestDigest
        var manifestDiff: [String] = []
        var note: String?
        if !manifestSame {
            if let ta = textA.text, let tb = textB.text {
                manifestDiff = LineDiff.unified(ta, tb, from: "a/" + textA.label, to: "b/" + textB.label)
            } else {
                note = textA.note ?? textB.note
            }
        }
        let paramsPatch = JSONDiff.diff(paramsA, paramsB, options: JSONDiffOptions(ignoreVolatile: false))
        let paramsSame = a.info.paramsDigest == b.info.paramsDigest || (paramsA != nil && paramsPatch.isEmpty)

        var context: [FieldChange] = []
        if b.info.kind == .run {
            for (field, x, y) in [("profile", a.info.profile, b.info.profile), ("environment", a.info.environment, b.info.environment),
                                  ("company", a.info.company, b.info.company), ("base_url", a.info.baseURL, b.info.baseURL)] where x != y {
                context.append(FieldChange(field: field, a: x.map { .string($0) } ?? .null, b: y.map { .string($0) } ?? .null))
            }
        }
        var prefixes: (a: String, b: String)?
        if let x = a.info.baseURL, let y = b.info.baseURL, x != y { prefixes = (x, y) }
        let jsonOptions = JSONDiffOptions(ignoreVolatile: !options.includeVolatile, volatileA: a.volatile, volatileB: b.volatile,
                                          contextPrefixes: prefixes)
        let comparer = StepComparer(options: jsonOptions, ignoreVolatile: !options.includeVolatile,
                                    baseA: a.info.baseURL, baseB: b.info.baseURL, bIsRun: b.info.kind == .run)
        var steps: [StepComparison] = []
        steps.reserveCapacity(max(a.steps.count, b.steps.count))
        for (x, y) in StepAlignment.align(a.steps, b.steps) {
            steps.append(try comparer.compare(x, y, bodies: &bodies))
        }
        return RunDiff(a: a.info, b: b.info, includeVolatile: options.includeVolatile, manifestSame: manifestSame,
                       manifestDiff: manifestDiff, manifestNote: note, paramsSame: paramsSame, paramsPatch: paramsPatch,
                       context: context, steps: steps)
    }
}

/// What `assemble` needs of either kind of side.
struct ComparableSide {
    var info: DiffSideInfo
    var steps: [DiffStep]
    var volatile: VolatileFields
    /// The params the side uses (manifest side: A's params under B's declarations).
    var params: JSONValue?
}

/// A recorded run as a diff side.
enum RunSide {
    static func make(run: RunRecord, steps: [StepRecord], bodies: inout BodyLoader) throws(DiffError) -> ComparableSide {
        var info = DiffSideInfo(kind: .run)
        info.runID = run.id
        info.name = run.name
        info.manifestPath = run.manifestPath
        info.manifestDigest = run.manifestDigest
        info.paramsDigest = run.paramsDigest
        info.profile = run.profile
        info.environment = run.environment
        info.company = run.company
        info.baseURL = run.baseURL
        info.startedAt = run.startedAt
        info.state = run.state.rawValue
        var postBodies: [JSONValue] = []
        var ids = Set<String>()
        for s in steps where s.method == .post && (s.httpStatus.map { (200..<300).contains($0) } ?? false) {
            if let id = s.recordID { ids.insert(id) }
            if let body = try bodies.json(s.responseDigest) { postBodies.append(body) }
        }
        ids.formUnion(VolatileFields.serverIDs(postResponses: postBodies))
        let diffSteps = steps.map { s in
            DiffStep(seq: s.seq, name: s.name, method: s.method, url: s.url, ran: true, status: s.status, httpStatus: s.httpStatus,
                     requestDigest: s.requestDigest, responseDigest: s.responseDigest)
        }
        return ComparableSide(info: info, steps: diffSteps, volatile: VolatileFields(serverIDs: ids), params: nil)
    }
}

/// Reads and parses blobs, each at most once; a manifest side's would-be request bodies are held
/// in memory under their digests.
struct BodyLoader {
    let store: LedgerStore
    var inline: [Digest: [UInt8]] = [:]
    var cache: [Digest: JSONValue] = [:]

    init(store: LedgerStore) { self.store = store }

    /// The blob parsed as JSON; bytes that are not JSON become a string of their text; nil
    /// when there is no digest or the body is empty.
    mutating func json(_ digest: Digest?) throws(DiffError) -> JSONValue? {
        guard let digest else { return nil }
        if let hit = cache[digest] { return hit }
        let bytes: [UInt8]
        if let held = inline[digest] {
            bytes = held
        } else {
            do { bytes = try store.objects.get(digest) } catch { throw .store(error) }
        }
        if bytes.isEmpty { return nil }
        let value = (try? JSONValue(parsing: bytes)) ?? .string(String(decoding: bytes, as: UTF8.self))
        cache[digest] = value
        return value
    }
}

/// Pairs steps by name (the k-th step of a name in A with the k-th of that name in B); output in
/// B's order, with steps only in A placed after the nearest earlier step they share.
enum StepAlignment {
    static func align(_ a: [DiffStep], _ b: [DiffStep]) -> [(DiffStep?, DiffStep?)] {
        func keys(_ steps: [DiffStep]) -> [String] {
            var seen: [String: Int] = [:]
            return steps.map { s in
                let n = seen[s.name, default: 0]
                seen[s.name] = n + 1
                return n == 0 ? s.name : "\(s.name)\u{0}\(n)"
            }
        }
        let ka = keys(a), kb = keys(b)
        var indexA: [String: Int] = [:]
        for (i, k) in ka.enumerated() { indexA[k] = i }
        var entries: [(Int?, Int?)] = []
        var entryOfA: [Int: Int] = [:]
        for (j, k) in kb.enumerated() {
            if let i = indexA[k] {
                entryOfA[i] = entries.count
                entries.append((i, j))
            } else {
                entries.append((nil, j))
            }
        }
        var anchored: [Int: [Int]] = [:]
        var last = -1
        for i in a.indices {
            if let e = entryOfA[i] { last = e } else { anchored[last, default: []].append(i) }
        }
        var out: [(DiffStep?, DiffStep?)] = []
        out.reserveCapacity(entries.count + a.count)
        for i in anchored[-1] ?? [] { out.append((a[i], nil)) }
        for (e, entry) in entries.enumerated() {
            out.append((entry.0.map { a[$0] }, entry.1.map { b[$0] }))
            for i in anchored[e] ?? [] { out.append((a[i], nil)) }
        }
        return out
    }
}

/// Compares one aligned pair.
struct StepComparer {
    let options: JSONDiffOptions
    let ignoreVolatile: Bool
    let baseA: String?
    let baseB: String?
    /// False when B is a manifest: nothing ran, so status and response are not compared.
    let bIsRun: Bool

    func compare(_ a: DiffStep?, _ b: DiffStep?, bodies: inout BodyLoader) throws(DiffError) -> StepComparison {
        guard let a, let b else {
            let s = (a ?? b)!
            return StepComparison(name: s.name, change: a == nil ? .added : .removed, a: a, b: b, fieldChanges: [],
                                  requestPatch: [], responsePatch: [])
        }
        var fields: [FieldChange] = []
        var requestPatch: [JSONPatchOperation] = []
        var responsePatch: [JSONPatchOperation] = []
        let comparable: Bool
        if bIsRun {
            comparable = true
        } else {
            // A manifest side: a step that could not resolve would be skipped, like a skipped step in A.
            if a.resolved != b.resolved {
                fields.append(FieldChange(field: "resolved", a: .bool(a.resolved), b: .bool(b.resolved)))
            }
            comparable = a.resolved && b.resolved
        }
        if comparable {
            if a.method != b.method {
                fields.append(FieldChange(field: "method", a: .string(a.method.rawValue), b: .string(b.method.rawValue)))
            }
            if normalisedURL(a.url, base: baseA, volatile: options.volatileA) != normalisedURL(b.url, base: baseB, volatile: options.volatileB) {
                fields.append(FieldChange(field: "url", a: .string(a.url), b: .string(b.url)))
            }
            if bIsRun {
                if a.statusName != b.statusName {
                    fields.append(FieldChange(field: "status", a: a.statusName.map { .string($0) } ?? .null,
                                              b: b.statusName.map { .string($0) } ?? .null))
                }
                if a.httpStatus != b.httpStatus {
                    fields.append(FieldChange(field: "http_status", a: a.httpStatus.map { .number(Double($0)) } ?? .null,
                                              b: b.httpStatus.map { .number(Double($0)) } ?? .null))
                }
            }
            if a.requestDigest != b.requestDigest {
                requestPatch = JSONDiff.diff(try bodies.json(a.requestDigest), try bodies.json(b.requestDigest), options: options)
            }
            if bIsRun, a.responseDigest != b.responseDigest {
                responsePatch = JSONDiff.diff(try bodies.json(a.responseDigest), try bodies.json(b.responseDigest), options: options)
            }
        }
        let same = fields.isEmpty && requestPatch.isEmpty && responsePatch.isEmpty
        return StepComparison(name: b.name, change: same ? .same : .changed, a: a, b: b, fieldChanges: fields,
                              requestPatch: requestPatch, responsePatch: responsePatch)
    }

    /// The URL below the company (`customers(…)?$filter=…`), server-generated ids replaced unless
    /// volatile fields are compared.
    func normalisedURL(_ url: String, base: String?, volatile: VolatileFields) -> String {
        let relative = URLShape.belowCompany(url, base: base)
        return ignoreVolatile ? volatile.normalise(relative) : relative
    }
}

/// Splits BC URLs into the run's context (base, tenant, environment, route, company) and the
/// part a manifest step decides.
enum URLShape {
    static let companyMarker = "/companies("

    /// `…/companies(<id>)/customers(<x>)?$top=1` → `customers(<x>)?$top=1`; a URL without a
    /// company segment loses `base` when it starts with it; a leading `/` is dropped.
    static func belowCompany(_ url: String, base: String?) -> String {
        var rest = Substring(url)
        if let prefix = companyPrefix(url) {
            rest = rest.dropFirst(prefix.count)
        } else if let base, !base.isEmpty, rest.hasPrefix(base) {
            rest = rest.dropFirst(base.count)
        }
        while rest.hasPrefix("/") { rest = rest.dropFirst() }
        return String(rest)
    }

    /// The URL up to and including `companies(<id>)`, when it has one.
    static func companyPrefix(_ url: String) -> String? {
        guard let r = url.firstRange(of: companyMarker) else { return nil }
        guard let close = url[r.upperBound...].firstIndex(of: ")") else { return nil }
        return String(url[...close])
    }
}
