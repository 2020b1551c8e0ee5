import BusinessCentral
import Hashing
import Testing

@testable import Batch

/// `StepPreview`: the one resolution `--dry-run` and a manifest diff side share.
@Suite("Step preview")
struct StepPreviewTests {
    static let manifest = """
        name: preview
        steps:
          - name: create
            action: post
            endpoint: customers
            data:
              displayName: Alpine
          - name: update
            action: patch
            endpoint: customers
            id: ${{ steps.create.id }}
            data:
              email: a@example.com
          - name: read
            action: get
            endpoint: customers
            params:
              filter: "displayName eq 'Alpine'"
        """
    static let profile = Profile(name: "p", tenantID: "t", environment: "production",
                                 companyID: "11111111-2222-3333-4444-555555555555", baseURL: "https://bc.example")

    @Test func resolvesWhatItCanAndSaysWhyNot() throws {
        let manifest = try ManifestFixture.parse(Self.manifest)
        let previews = StepPreview.all(manifest, params: ParamSet(values: [:], sources: [:]), outputs: [:], profile: Self.profile)
        #expect(previews.map(\.template.name) == ["create", "update", "read"])

        guard case .resolved(let create, let url, let body) = previews[0].outcome else { Issue.record("create unresolved"); return }
        #expect(create.method == .post)
        #expect(try url.get() == (try StepRequest.requestURL(for: create, profile: Self.profile)))
        #expect(try body.get() == Array(#"{"displayName":"Alpine"}"#.utf8))

        guard case .unresolved(let reason) = previews[1].outcome else { Issue.record("update resolved without create's id"); return }
        #expect(reason.description.contains("create"))

        guard case .resolved(_, let readURL, let readBody) = previews[2].outcome else { Issue.record("read unresolved"); return }
        #expect(try readURL.get().contains("$filter="))
        #expect(try readBody.get() == nil)
    }

    /// With the referenced step's output, the reference resolves (as in a manifest diff side).
    @Test func resolvesFromOutputs() throws {
        let manifest = try ManifestFixture.parse(Self.manifest)
        let id = "0f0e0d0c-0000-0000-0000-00000000000a"
        let preview = StepPreview(manifest.steps[1], params: ParamSet(values: [:], sources: [:]),
                                  outputs: ["create": .object(["id": .string(id)])], profile: Self.profile)
        guard case .resolved(_, let url, _) = preview.outcome else { Issue.record("unresolved"); return }
        #expect(try url.get().hasSuffix("/customers(\(id))"))
    }
}
