import Foundation
import Hashing
import Testing
import TestSupport

@testable import Batch

@Suite("Manifest YAML typing")
struct ManifestYAMLTests {
    func data(_ body: String) throws -> JSONValue? {
        let m = try ManifestFixture.parse("steps:\n  - action: post\n    endpoint: items\n    data:\n" + body)
        return m.steps[0].data
    }

    @Test func coreSchemaTypingOfData() throws {
        let d = try data("""
                  a: 42
                  b: -0.5
                  c: true
                  d: ~
                  e: no
                  f: "42"
                  g: 2026-04-01
                  h: 0123
                  i: 0x10
                  j: 'it''s'
                  k: |
                    two
                    lines
                  l: [1, "1", yes]
                  m: !!str 7
                  nn: 1e3
                  "10000": numeric key
                  o:
                  p: Yes please
            """)
        #expect(d == [
            "a": 42, "b": -0.5, "c": true, "d": nil, "e": "no", "f": "42", "g": "2026-04-01", "h": "0123", "i": 16,
            "j": "it's", "k": "two\nlines\n", "l": [1, "1", "yes"], "m": "7", "nn": 1000, "10000": "numeric key",
            "o": nil, "p": "Yes please",
        ])
    }

    @Test func coreSchemaEdgeCases() {
        let cases: [(String, JSONValue?)] = [
            ("0", 0), ("-0", 0), ("+5", 5), (".5", 0.5), ("5.", 5), ("1e-7", 1e-7), ("00", "00"), ("0.50", 0.5),
            ("1.2.3", "1.2.3"), ("e5", "e5"), ("0x", "0x"), ("0xZZ", "0xZZ"), ("-.nan", "-.nan"),
            ("9007199254740993", nil), (".inf", nil), ("-.Inf", nil), (".NaN", nil), ("1e400", nil),
        ]
        for (text, expected) in cases {
            let got = try? CoreSchema.type(plain: text).get()
            #expect(got == expected, "\(text)")
        }
    }

    @Test func aliasesExpandAndMergeKeysAreRejected() throws {
        let d = try data("""
                  base: &b {city: Oslo}
                  copy: *b
            """)
        #expect(d == ["base": ["city": "Oslo"], "copy": ["city": "Oslo"]])
        let ds = ManifestFixture.diagnostics("""
            steps:
              - action: post
                endpoint: items
                data:
                  base: &b {city: Oslo}
                  other:
                    <<: *b
            """)
        #expect(ds.map(\.brief) == ["7:9 YAML merge keys ('<<') are not supported"])
    }

    @Test func unsupportedTags() {
        let ds = ManifestFixture.diagnostics("""
            steps:
              - action: post
                endpoint: items
                data:
                  picture: !!binary aGVsbG8=
                  nn: !!int abc
            """)
        #expect(ds.map(\.brief) == [
            "5:16 unsupported YAML tag '!!binary'",
            "6:11 'abc' is not a valid !!int",
        ])
    }

    @Test func invalidUTF8() {
        var bytes = Array("steps:\n  - endpoint: x\n".utf8)
        bytes.append(0xFF)
        do {
            _ = try ManifestLoader.parse(bytes: bytes, path: "bad.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.diagnostics.map(\.message) == ["the file is not valid UTF-8 text (byte 0xFF at offset 23)"])
            #expect(error.diagnostics.map(\.location.description) == ["bad.yaml:3:1"], "the place of the first bad byte")
        }
    }

    @Test func fullManifestRoundTrip() throws {
        let yaml = """
            name: full
            params:
              vendor_no:
                description: Vendor
                default: "20000"
              qty: 2
            steps:
              - name: find
                method: get
                endpoint: vendors
                params:
                  filter: "number eq '${{ params.vendor_no }}'"
                  select: id,number
                  top: 1
                  skip: 0
                  orderby: number
                  expand: currency
              - name: create
                action: POST
                endpoint: purchaseInvoices
                idempotency_key: inv-${{ params.vendor_no }}
                data:
                  vendorId: ${{ steps.find.0.id }}
              - name: post_it
                action: post
                endpoint: purchaseInvoices(${{ steps.create.id }})/Microsoft.NAV.post
              - name: touch
                action: patch
                endpoint: vendors
                id: ${{ steps.find.0.id }}
                etag: "*"
                pre_image: false
                data: {blocked: " "}
              - name: remove
                action: delete
                endpoint: purchaseInvoices
                id: ${{ steps.create.id }}
            """
        let bytes = Array(yaml.utf8)
        let m = try ManifestLoader.parse(bytes: bytes, path: "dir/full.yaml")
        #expect(m.name == "full")
        #expect(m.path == "dir/full.yaml")
        #expect(m.bytes == bytes)
        #expect(m.steps.map(\.method) == [.literal(.get), .literal(.post), .literal(.post), .literal(.patch), .literal(.delete)])
        #expect(m.steps[0].query == QueryTemplate(filter: "number eq '${{ params.vendor_no }}'", select: "id,number", top: .literal(1),
                                                  skip: .literal(0), orderby: "number", expand: "currency"))
        #expect(m.steps[1].idempotencyKey == "inv-${{ params.vendor_no }}")
        #expect(m.steps[3].preImage == false && m.steps[4].preImage == true)
        #expect(m.steps[3].etag == "*")
        #expect(m.steps[0].location == SourceLocation(path: "dir/full.yaml", line: 8, column: 5))
        #expect(m.writeSteps.map(\.name) == ["create", "post_it", "touch", "remove"])

        let params = try ParamSet.layer(manifest: m, paramsFile: nil, sets: [])
        let outputs: [String: JSONValue] = ["find": [["id": "v-1"]], "create": ["id": "i-1"]]
        let action = try ReferenceResolver.resolve(m.steps[2], params: params, outputs: outputs).get()
        #expect(action.endpointPath.isAction)
        #expect(action.endpointPath.action == "Microsoft.NAV.post")
        #expect(action.endpoint == "purchaseInvoices(i-1)/Microsoft.NAV.post")
        #expect(action.data == nil)
        let remove = try ReferenceResolver.resolve(m.steps[4], params: params, outputs: outputs).get()
        #expect(remove.id == "i-1" && remove.preImage)
    }

    @Test func defaultNameIsTheFileStem() throws {
        let m = try ManifestFixture.parse("steps:\n  - endpoint: customers\n", path: "some/dir/nightly-sync.yaml")
        #expect(m.name == "nightly-sync")
    }

    @Test func loadReadsARealFile() throws {
        let dir = TempDir("bcli-manifest-tests")
        let path = try ManifestFixture.write("\u{FEFF}name: bom\nsteps:\n  - endpoint: customers\n", to: "bom.yaml", in: dir)
        let m = try ManifestLoader.load(path: path)
        #expect(m.name == "bom")
        #expect(m.bytes.count == 44)  // the BOM is kept in the bytes (they are hashed as they are)
    }

    @Test func aliasBombIsBounded() {
        var yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...6 { yaml += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        let full = "steps:\n  - action: post\n    endpoint: items\n    data:\n" + yaml.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n") + "\n"
        let ds = ManifestFixture.diagnostics(full)
        #expect(ds.contains { $0.message.contains("too many values") })
    }
}
