import BusinessCentral
import Hashing

/// What a step would send if it ran now, worked out without sending or recording anything: the
/// one resolution `batch run --dry-run` and a manifest's side of `batch diff` share. It goes
/// through `ReferenceResolver.resolve` and `StepRequest`, as the runner does, so a preview shows
/// the bytes a run sends.
public struct StepPreview: Sendable {
    public enum Outcome: Sendable {
        /// A `${{ }}` reference cannot be resolved here (it needs an earlier response, or the
        /// step it reads did not succeed).
        case unresolved(UnresolvedReason)
        /// Resolved: the full URL (with a GET's query) and the exact body bytes, each, or the
        /// error that stops building it.
        case resolved(ResolvedStep, url: Result<String, URLBuildError>, body: Result<[UInt8]?, CanonicalJSONError>)
    }

    public let template: StepTemplate
    public let outcome: Outcome

    /// `template` resolved with `params` and the `steps.<name>` values in `outputs`, its URL built
    /// for `profile`.
    public init(_ template: StepTemplate, params: ParamSet, outputs: [String: JSONValue], profile: Profile) {
        self.template = template
        switch ReferenceResolver.resolve(template, params: params, outputs: outputs) {
        case .failure(let reason):
            outcome = .unresolved(reason)
        case .success(let resolved):
            outcome = .resolved(resolved,
                                url: Result { () throws(URLBuildError) in try StepRequest.requestURL(for: resolved, profile: profile) },
                                body: Result { () throws(CanonicalJSONError) in try StepRequest.body(for: resolved) })
        }
    }

    /// Every step of `manifest`, in order.
    public static func all(_ manifest: Manifest, params: ParamSet, outputs: [String: JSONValue], profile: Profile) -> [StepPreview] {
        manifest.steps.map { StepPreview($0, params: params, outputs: outputs, profile: profile) }
    }
}
