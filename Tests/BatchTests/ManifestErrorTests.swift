import Foundation
import Hashing
import Testing
import TestSupport

@testable import Batch

/// One test per manifest error class: message text, line and column, and the fix.
@Suite("Manifest errors")
struct ManifestErrorTests {
    /// Asserts `yaml` yields exactly one diagnostic, at `line`:`column`, whose message contains
    /// `message` and whose fix contains `fix`.
    func expectOne(_ yaml: String, _ line: Int, _ column: Int, _ message: String, fix: String = "",
                   sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let ds = ManifestFixture.diagnostics(yaml)
        #expect(ds.count == 1, "\(ds.map(\.description))", sourceLocation: sourceLocation)
        guard let d = ds.first else { return }
        #expect(d.path == "m.yaml", sourceLocation: sourceLocation)
        #expect(d.line == line && d.column == column, "at \(d.line):\(d.column): \(d.message)", sourceLocation: sourceLocation)
        #expect(d.message.contains(message), "message: \(d.message)", sourceLocation: sourceLocation)
        #expect(fix.isEmpty || d.fix.contains(fix), "fix: \(d.fix)", sourceLocation: sourceLocation)
    }

    @Test func unknownStepKeySuggestsTheKnownOne() {
        expectOne("""
            steps:
              - action: post
                endpoint: customers
                dta:
                  displayName: Contoso
            """, 4, 5, "unknown step key 'dta' (did you mean 'data'?)", fix: "rename 'dta' to 'data'")
    }

    @Test func unknownStepKeyFromTheOldDocsSuggestsData() {
        expectOne("""
            steps:
              - action: post
                endpoint: customers
                body: {displayName: Contoso}
            """, 4, 5, "unknown step key 'body' (did you mean 'data'?)")
    }

    @Test func queryOptionOnTheStepAndUnderParamsNamesTheOneToRemove() {
        // A query option on the step itself means the same as under params: (issue 10); giving
        // one option both ways is the error.
        expectOne("""
            steps:
              - endpoint: customers
                filter: "number eq '10000'"
                params: {filter: "number eq '20000'"}
            """, 3, 5, "step 1 gives 'filter' twice: on the step and under params:", fix: "remove the step-level filter:")
    }

    @Test func unknownTopLevelKey() {
        expectOne("""
            name: demo
            step:
              - endpoint: customers
            steps:
              - endpoint: customers
            """, 2, 1, "unknown top-level key 'step' (did you mean 'steps'?)")
    }

    @Test func unknownQueryOption() {
        expectOne("""
            steps:
              - endpoint: customers
                params:
                  $filter: "number eq '1'"
            """, 4, 7, "unknown query option key '$filter' (did you mean 'filter'?)")
    }

    @Test func unknownActionWithSuggestion() {
        expectOne("""
            steps:
              - action: pots
                endpoint: customers
            """, 2, 13, "unknown action 'pots' (did you mean 'post'?)", fix: "use get, post, patch or delete")
    }

    @Test func unknownMethodValue() {
        expectOne("""
            steps:
              - method: PUT
                endpoint: customers
                id: abc
            """, 2, 13, "unknown method 'PUT'", fix: "use get, post, patch or delete")
    }

    @Test func methodIsCaseInsensitiveAlias() throws {
        let m = try ManifestFixture.parse("""
            steps:
              - method: DELETE
                endpoint: customers
                id: abc
            """)
        #expect(m.steps[0].method == .literal(.delete))
    }

    @Test func actionAndMethodTogether() {
        expectOne("""
            steps:
              - action: post
                method: post
                endpoint: customers
            """, 3, 5, "step 1 declares both 'action' and 'method'", fix: "keep one of them")
    }

    @Test func booleanLookingDataKey() {
        expectOne("""
            steps:
              - action: post
                endpoint: items
                data:
                  no: "1000"
                  description: Bicycle
            """, 5, 7, "key 'no' is read as a boolean (YAML 1.1 turns unquoted no into false)", fix: "quote the key: \"no\":")
    }

    @Test func booleanLookingKeysAnywhere() {
        let ds = ManifestFixture.diagnostics("""
            on: push
            steps:
              - action: post
                endpoint: items
                Yes: 1
                data:
                  lines:
                    - n: 1
                      "no": ok
            """)
        #expect(ds.map(\.brief) == [
            "1:1 key 'on' is read as a boolean (YAML 1.1 turns unquoted on into true)",
            "5:5 key 'Yes' is read as a boolean (YAML 1.1 turns unquoted Yes into true)",
            "8:11 key 'n' is read as a boolean (YAML 1.1 turns unquoted n into false)",
        ])
    }

    @Test func duplicateStepNames() {
        expectOne("""
            steps:
              - name: a
                endpoint: customers
              - name: a
                endpoint: vendors
            """, 4, 11, "duplicate step name 'a' (also step 1 at line 2)", fix: "unique name")
    }

    @Test func explicitNameCollidingWithAnAutomaticName() {
        expectOne("""
            steps:
              - name: step_2
                endpoint: customers
              - endpoint: vendors
            """, 4, 5, "step 2 has no name and its automatic name 'step_2' is already used by step 1", fix: "give step 2 a name:")
    }

    @Test func automaticNamesAreAssigned() throws {
        let m = try ManifestFixture.parse("""
            steps:
              - endpoint: customers
              - name: second
                endpoint: vendors
              - endpoint: items
            """)
        #expect(m.steps.map(\.name) == ["step_1", "second", "step_3"])
        #expect(m.steps.map(\.nameIsAssigned) == [true, false, true])
        #expect(m.steps.map(\.seq) == [1, 2, 3])
    }

    @Test func referenceToUnknownStep() {
        expectOne("""
            steps:
              - name: create_x
                action: post
                endpoint: customers
                data: {displayName: A}
              - action: patch
                endpoint: customers
                id: ${{ steps.crate_x.id }}
                data: {displayName: B}
            """, 8, 9, "${{ steps.crate_x.id }} refers to unknown step 'crate_x' (did you mean 'create_x'?)",
            fix: "earlier steps: 'create_x'")
    }

    @Test func referenceToLaterStep() {
        expectOne("""
            steps:
              - name: update
                action: patch
                endpoint: customers
                id: ${{ steps.create.id }}
                data: {displayName: B}
              - name: create
                action: post
                endpoint: customers
                data: {displayName: A}
            """, 5, 9, "${{ steps.create.id }} refers to step 'create' (step 2), which runs after step 'update' (step 1)",
            fix: "move step 'create' before step 'update'")
    }

    @Test func referenceToItself() {
        expectOne("""
            steps:
              - name: create
                action: post
                endpoint: customers
                data:
                  displayName: "copy of ${{ steps.create.displayName }}"
            """, 6, 29, "step 'create' refers to itself in ${{ steps.create.displayName }}")
    }

    @Test func missingIDOnPatchAndDelete() {
        expectOne("""
            steps:
              - action: patch
                endpoint: customers
                data: {displayName: B}
            """, 2, 5, "patch step 'step_1' has no 'id'", fix: "add id:")
        expectOne("""
            steps:
              - name: remove
                action: delete
                endpoint: customers
            """, 2, 5, "delete step 'remove' has no 'id'")
    }

    @Test func dataOnGetAndDelete() {
        expectOne("""
            steps:
              - endpoint: customers
                data:
                  displayName: A
            """, 4, 7, "'data' is not sent by a get step", fix: "remove data:")
        expectOne("""
            steps:
              - action: delete
                endpoint: customers
                id: abc
                data: {displayName: A}
            """, 5, 11, "'data' is not sent by a delete step")
    }

    @Test func patchWithoutDataAndIdempotencyKeyOnGet() {
        expectOne("""
            steps:
              - action: patch
                endpoint: customers
                id: abc
            """, 2, 5, "patch step 'step_1' has no 'data'", fix: "add data:")
        expectOne("""
            steps:
              - endpoint: customers
                idempotency_key: k1
            """, 3, 22, "'idempotency_key' applies only to writes (post, patch, delete), not get")
    }

    @Test func queryParamsOnNonGet() {
        expectOne("""
            steps:
              - action: post
                endpoint: customers
                data: {displayName: A}
                params: {top: 1}
            """, 5, 13, "query params (filter, select, …) only apply to get steps, not post", fix: "remove params:")
    }

    @Test func etagAndPreImageOnlyOnPatchOrDelete() {
        let ds = ManifestFixture.diagnostics("""
            steps:
              - action: post
                endpoint: customers
                etag: "*"
                pre_image: false
                data: {displayName: A}
            """)
        #expect(ds.map(\.brief) == [
            "4:11 'etag' (If-Match) applies only to patch and delete steps, not post",
            "5:16 'pre_image' applies only to patch and delete steps, not post",
        ])
    }

    @Test func nonMappingTopLevel() {
        expectOne("""
            - action: get
              endpoint: customers
            """, 1, 1, "the manifest must be a mapping with the keys name, params and steps; found a list")
    }

    @Test func emptyFile() {
        expectOne("# nothing here\n", 1, 1, "the manifest is empty", fix: "add a steps: list")
    }

    @Test func emptyAndMissingSteps() {
        expectOne("name: x\nsteps: []\n", 2, 8, "'steps' is empty")
        expectOne("name: x\nsteps:\n", 2, 7, "'steps' is empty")
        expectOne("name: x\n", 1, 1, "the manifest has no 'steps'")
    }

    @Test func stepThatIsNotAMapping() {
        expectOne("steps:\n  - customers\n", 2, 5, "step 1 must be a mapping (name, action, endpoint, …), found the string 'customers'")
    }

    @Test func missingEndpoint() {
        expectOne("steps:\n  - action: get\n", 2, 5, "step 1 has no 'endpoint'", fix: "endpoint: customers")
    }

    @Test func wrongValueTypes() {
        let ds = ManifestFixture.diagnostics("""
            steps:
              - endpoint: customers
                params:
                  top: "ten"
                  skip: -1
                  filter: 5
                  select: {a: 1}
              - action: patch
                endpoint: customers
                id: abc
                data: [1, 2]
                pre_image: yes
              - name: [a]
                endpoint: customers
            """)
        #expect(ds.map(\.brief) == [
            "4:12 'top' must be a whole number of at least 0, found the string 'ten'",
            "5:13 'skip' must be a whole number of at least 0, found the number -1",
            "6:15 'filter' must be a string, found the number 5",
            "7:15 'select' must be a string or a list of strings, found a mapping",
            "11:11 'data' must be a mapping of fields, found a list",
            "12:16 'pre_image' must be true or false, found the string 'yes'",
            "13:11 'name' must be a string, found a list",
        ])
    }

    @Test func unsupportedJSONNumbers() {
        let ds = ManifestFixture.diagnostics("""
            steps:
              - action: post
                endpoint: items
                data:
                  unitPrice: .nan
                  big: 12345678901234567890
                  fine: 9007199254740992
            """)
        #expect(ds.map(\.brief) == [
            "5:18 '.nan' is not a JSON number (JSON has no NaN or infinity)",
            "6:12 integer 12345678901234567890 is too large to be sent exactly as a JSON number (limit 2^53 = 9007199254740992)",
        ])
        #expect(ds.last?.fix == "quote it to send it as a string: \"12345678901234567890\"")
    }

    @Test func duplicateYAMLKeyPointsAtTheRepeat() {
        expectOne("""
            steps:
              - action: post
                endpoint: customers
                data:
                  displayName: A
                  email: a@example.com
                  displayName: B
            """, 7, 7, "duplicate key 'displayName' (first defined at line 5, column 7)", fix: "remove one of the two 'displayName' keys")
    }

    @Test func duplicateKeyInFlowMapping() {
        expectOne("""
            steps:
              - {action: post, endpoint: customers, action: get}
            """, 2, 41, "duplicate key 'action' (first defined at line 2, column 6)")
    }

    @Test func duplicateKeyDifferingOnlyInQuoting() {
        expectOne("""
            steps:
              - action: post
                endpoint: customers
                data:
                  "10": a
                  10: b
            """, 6, 7, "duplicate key '10' (first defined at line 5, column 7)")
    }

    @Test func yamlSyntaxError() {
        let ds = ManifestFixture.diagnostics("steps:\n  - action: get\n   endpoint: customers\n")
        #expect(ds.count == 1)
        #expect(ds.first?.line == 3)
        #expect(ds.first?.message.hasPrefix("YAML syntax error:") == true)
    }

    @Test func malformedReferences() {
        let ds = ManifestFixture.diagnostics("""
            steps:
              - action: post
                endpoint: customers
                data:
                  a: "x ${{ foo.bar }}"
                  b: "${{ params.x "
                  c: "${{ steps..id }}"
            """)
        #expect(ds.map(\.brief) == [
            "5:13 unknown reference '${{ foo.bar }}': references start with 'params.' or 'steps.'",
            "6:11 unterminated reference '${{ params.x ' (missing '}}')",
            "7:11 malformed reference '${{ steps..id }}': an empty segment is not allowed",
        ])
    }

    @Test func undeclaredParamReferenceWhenParamsAreDeclared() {
        expectOne("""
            params:
              vendor_no: "V1"
            steps:
              - endpoint: vendors
                params:
                  filter: "number eq '${{ params.vendor_num }}'"
            """, 6, 27, "${{ params.vendor_num }} refers to undeclared param 'vendor_num' (did you mean 'vendor_no'?)",
            fix: "write params.vendor_no")
    }

    @Test func endpointShapes() {
        // `customers(abc)` means endpoint customers, id abc (issue 10); a key in both places is the error.
        expectOne("steps:\n  - endpoint: customers(abc)\n    id: abc\n", 2, 15, "step 1 gives the record id twice: in endpoint 'customers(abc)' and in id:",
                  fix: "write endpoint: customers and keep id:")
        expectOne("steps:\n  - endpoint: https://api.example/customers\n", 2, 15, "must be relative to the company")
        expectOne("steps:\n  - endpoint: salesOrders/salesOrderLines\n", 2, 15, "needs a key to navigate further")
        expectOne("steps:\n  - endpoint: \"customers?$top=1\"\n", 2, 15, "contains a query string")
        expectOne("steps:\n  - endpoint: salesInvoices(abc)/Microsoft.NAV.post\n", 2, 5,
                  "calls action 'Microsoft.NAV.post' with get; OData actions are invoked with post")
    }

    @Test func postWithID() {
        expectOne("steps:\n  - action: post\n    endpoint: customers\n    id: abc\n", 4, 9, "post step 'step_1' has an 'id'")
    }

    @Test func referencesNotAllowedInKeysOrDefaults() {
        let ds = ManifestFixture.diagnostics("""
            params:
              a: "${{ params.b }}"
            steps:
              - action: post
                endpoint: customers
                data:
                  "${{ params.a }}": 1
            """)
        #expect(ds.map(\.brief) == [
            "2:7 references are not allowed in param defaults ('${{ params.b }}')",
            "7:7 references are not allowed in keys ('${{ params.a }}')",
        ])
    }

    @Test func allErrorsAreCollectedInOnePass() {
        let ds = ManifestFixture.diagnostics("""
            name: many
            params:
              vendor_no:
                descripton: typo here
            steps:
              - name: find
                endpoint: vendors
                params:
                  top: many
              - name: find
                action: post
                endpoint: purchaseInvoices
                dta: {vendorId: "${{ steps.find.0.id }}"}
              - action: patch
                endpoint: purchaseInvoices
                data:
                  off: 1
                  ref: ${{ steps.later.id }}
              - name: later
                endpoint: vendors
            """, path: "examples/x.yaml")
        #expect(ds.map(\.brief) == [
            "4:5 unknown key 'descripton' in the declaration of param 'vendor_no' (did you mean 'description'?)",
            "9:12 'top' must be a whole number of at least 0, found the string 'many'",
            "10:11 duplicate step name 'find' (also step 1 at line 6)",
            "13:5 unknown step key 'dta' (did you mean 'data'?)",
            "14:5 patch step 'step_3' has no 'id'",
            "17:7 key 'off' is read as a boolean (YAML 1.1 turns unquoted off into false)",
            "18:12 ${{ steps.later.id }} refers to step 'later' (step 4), which runs after step 'step_3' (step 3)",
        ])
        #expect(ds.allSatisfy { $0.path == "examples/x.yaml" })
    }

    @Test func compilerStyleDescription() {
        let ds = ManifestFixture.diagnostics("""
            steps:
              - action: post
                endpoint: customers
                dta: {}
            """, path: "examples/x.yaml")
        let error = ManifestError(diagnostics: ds)
        #expect(error.description == """
            examples/x.yaml:4:5: error: unknown step key 'dta' (did you mean 'data'?)
              fix: rename 'dta' to 'data'
            """)
    }

    @Test func missingFile() throws {
        let dir = TempDir("bcli-manifest-tests")
        let path = dir.path + "/absent.yaml"
        do {
            _ = try ManifestLoader.load(path: path)
            Issue.record("expected an error")
        } catch {
            #expect(error.diagnostics.map(\.description) == ["\(path): error: file not found\n  fix: check the path (it is relative to the current directory)"])
        }
    }
}

/// The first byte that is not UTF-8, located as every other manifest error is.
@Suite struct InvalidUTF8PlaceTests {
    @Test func placesTheFirstBadByte() {
        func place(_ bytes: [UInt8]) -> InvalidUTF8.Place? { InvalidUTF8.first(in: bytes[...]) }
        #expect(place(Array("a: b\n".utf8)) == nil)
        #expect(place(Array("a: b\nc: d".utf8) + [0xFF]) == .init(line: 2, column: 5, offset: 9, byte: 0xFF))
        // Multi-byte characters count as one column; the bad byte after them is found exactly.
        #expect(place(Array("é€😀".utf8) + [0xE9, 0x41]) == .init(line: 1, column: 4, offset: 9, byte: 0xE9))
        // A truncated sequence at the end, and an overlong encoding of '/'.
        #expect(place(Array("x\n".utf8) + [0xE2, 0x82]) == .init(line: 2, column: 1, offset: 2, byte: 0xE2))
        #expect(place([0x41, 0xC0, 0xAF]) == .init(line: 1, column: 2, offset: 1, byte: 0xC0))
        // The decoder reads ahead: a bad byte right after a good multi-byte character, and after
        // ASCII that follows one, is still found at its own offset.
        #expect(place(Array("é".utf8) + [0xE9, 0x78]) == .init(line: 1, column: 2, offset: 2, byte: 0xE9))
        #expect(place(Array("\"é".utf8) + [0xE9] + Array("x\"".utf8)) == .init(line: 1, column: 3, offset: 3, byte: 0xE9))
        // A slice that dropped a BOM reports offsets in the file.
        let withBOM: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("steps: ".utf8) + [0xE9]
        #expect(InvalidUTF8.first(in: withBOM.dropFirst(3)) == .init(line: 1, column: 8, offset: 10, byte: 0xE9))
        // A UTF-16 surrogate encoded in UTF-8 is not UTF-8.
        #expect(place([0xED, 0xA0, 0x80]) == .init(line: 1, column: 1, offset: 0, byte: 0xED))
    }
}
