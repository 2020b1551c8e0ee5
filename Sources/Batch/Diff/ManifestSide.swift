import BusinessCentral
import Hashing
import Store

/// A manifest file as a diff side: what each step would send if it ran now with run A's params,
/// its `${{ steps.… }}` references filled from A's recorded responses (by step name).
///
/// Nothing is sent. A step whose references cannot be resolved (the step it reads did not
/// succeed in A, or does not exist there) is kept with the reason: it would be skipped.
enum ManifestSide {
    /// Placeholder context for building URLs: only the part below `companies(…)` is used, then
    /// put behind A's own company prefix.
    static let placeholderProfile = Profile(name: "diff", tenantID: "tenant", environment: "environment",
                                            companyID: "00000000-0000-0000-0000-000000000000",
                                            baseURL: "https://bcli-diff.invalid")

    static func make(manifest: Manifest, run: RunRecord, runSteps: [StepRecord], paramsA: JSONValue?,
                     serverIDs: VolatileFields, bodies: inout BodyLoader) throws(DiffError) -> ComparableSide {
        let params = effectiveParams(manifest: manifest, runParams: paramsA)
        var outputs: [String: JSONValue] = [:]
        for s in runSteps where s.httpStatus.map({ (200..<300).contains($0) }) ?? false {
            outputs[s.name] = recordedOutput(method: s.method, url: s.url, body: try bodies.json(s.responseDigest))
        }
        let realPrefix = runSteps.lazy.compactMap { URLShape.companyPrefix($0.url) }.first ?? (run.baseURL ?? "")
        let placeholderPrefix = (try? URLBuilder.companyURL(profile: placeholderProfile)) ?? ""

        var steps: [DiffStep] = []
        for preview in StepPreview.all(manifest, params: params, outputs: outputs, profile: placeholderProfile) {
            let template = preview.template
            switch preview.outcome {
            case .unresolved(let reason):
                steps.append(DiffStep(seq: template.seq, name: template.name, method: template.method.recorded, url: template.endpoint,
                                      unresolved: reason.description))
            case .resolved(let resolved, let url, let body):
                do {
                    let url = try url.get()
                    let relative = url.hasPrefix(placeholderPrefix) ? String(url.dropFirst(placeholderPrefix.count)) : url
                    var digest: Digest?
                    if let body = try body.get() {
                        let d = SHA256.hash(body)
                        bodies.inline[d] = body
                        digest = d
                    }
                    steps.append(DiffStep(seq: template.seq, name: template.name, method: .http(resolved.method),
                                          url: realPrefix + relative, requestDigest: digest))
                } catch {
                    steps.append(DiffStep(seq: template.seq, name: template.name, method: .http(resolved.method),
                                          url: template.endpoint, unresolved: "\(error)"))
                }
            }
        }
        let paramsJSON = params.json
        var info = DiffSideInfo(kind: .manifest)
        info.name = manifest.name
        info.manifestPath = manifest.path
        info.manifestDigest = SHA256.hash(manifest.bytes)
        info.paramsDigest = SHA256.hash(params.canonicalBytes())
        info.paramsFromRun = run.id
        return ComparableSide(info: info, steps: steps, volatile: serverIDs, params: paramsJSON)
    }

    /// A's params under B's declarations: B's defaults, overridden by A's values for every param
    /// B declares (all of A's when B declares none).
    static func effectiveParams(manifest: Manifest, runParams: JSONValue?) -> ParamSet {
        var values: [String: JSONValue] = [:]
        var sources: [String: ParamSet.Source] = [:]
        for p in manifest.params {
            if let d = p.defaultValue { values[p.name] = d; sources[p.name] = .manifestDefault }
        }
        let declared = Set(manifest.params.map(\.name))
        for (k, v) in runParams?.objectValue ?? [:] where !manifest.declaresParams || declared.contains(k) {
            values[k] = v
            sources[k] = .paramsFile
        }
        return ParamSet(values: values, sources: sources)
    }

    /// What a later step saw as `steps.<name>` in the recorded run (mirrors
    /// `ReferenceResolver.referenceOutput`, deciding "collection GET" from the recorded URL).
    static func recordedOutput(method: RecordedMethod, url: String, body: JSONValue?) -> JSONValue {
        switch method.http {
        case .get?:
            guard let body else { return .object([:]) }
            let path = url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? url
            let last = path.split(separator: "/").last.map(String.init) ?? ""
            let isCollection = !last.hasSuffix(")") && !last.contains(".")
            if isCollection, case .array(let items)? = body["value"] { return .array(items) }
            return body
        case .post?, .patch?:
            guard let body, !body.isNull else { return .object([:]) }
            return body
        default:
            return .object([:])
        }
    }
}
