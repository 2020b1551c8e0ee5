import Foundation
import Hashing
import Testing
import TestSupport

@testable import Batch

@Suite("Manifest params layering")
struct ManifestParamsTests {
    static let manifest = """
        params:
          vendor_no:
            description: Vendor number
            default: "V0001"
          city:
            default: Seattle
            required: false
          limit: 10
          note:
            description: free text, optional
            required: false
          company_code:
            description: must be given
        steps:
          - endpoint: vendors
            params:
              filter: "number eq '${{ params.vendor_no }}' and city eq '${{ params.city }}'"
              top: ${{ params.limit }}
        """

    func layer(_ yaml: String = manifest, file: String? = nil, sets: [String]) throws -> ParamSet {
        let m = try ManifestFixture.parse(yaml)
        return try ParamSet.layer(manifest: m, paramsFile: file, sets: sets)
    }

    @Test func declarationsAreParsed() throws {
        let m = try ManifestFixture.parse(Self.manifest)
        #expect(m.declaresParams)
        #expect(m.params.map(\.name) == ["vendor_no", "city", "limit", "note", "company_code"])
        #expect(m.params.map(\.required) == [true, false, false, false, true])
        #expect(m.params.map(\.defaultValue) == ["V0001", "Seattle", 10, nil, nil])
        #expect(m.params[0].description == "Vendor number")
        #expect(m.params[4].location == SourceLocation(path: "m.yaml", line: 12, column: 3))
    }

    @Test func layeringOrderDefaultsThenFileThenSets() throws {
        let dir = TempDir("bcli-manifest-tests")
        let file = try ManifestFixture.write("""
            vendor_no: V0002
            city: Oslo
            company_code: C1
            """, to: "params.yaml", in: dir)
        let p = try layer(file: file, sets: ["city=Bergen", "limit=3", "city=Trondheim"])
        #expect(p.values == ["vendor_no": "V0002", "city": "Trondheim", "limit": 3, "company_code": "C1"])
        #expect(p.sources == ["vendor_no": .paramsFile, "city": .commandLine, "limit": .commandLine, "company_code": .paramsFile])
        #expect(String(decoding: p.canonicalBytes(), as: UTF8.self)
                == #"{"city":"Trondheim","company_code":"C1","limit":3,"vendor_no":"V0002"}"#)
    }

    @Test func requiredParamMissingPointsAtTheDeclaration() {
        let ds = ManifestFixture.prepareDiagnostics(Self.manifest)
        #expect(ds.map(\.brief) == ["12:3 required param 'company_code' has no value"])
        #expect(ds.first?.fix == "pass --set company_code=<value>, or put company_code in the --params file")
    }

    @Test func setValueSplitsAtTheFirstEquals() throws {
        let p = try layer(sets: ["company_code=a=b=c", "note = spaced "])
        #expect(p.values["company_code"] == "a=b=c")
        #expect(p.values["note"] == "spaced")
    }

    @Test func setTypingFollowsYAML12CoreScalars() {
        let cases: [(String, JSONValue)] = [
            ("4500", 4500), ("-7", -7), ("3.14", 3.14), ("1e3", 1000), ("0x1F", 31), ("0o17", 15),
            ("true", true), ("False", false), ("null", nil), ("~", nil),
            ("yes", "yes"), ("no", "no"), ("on", "on"),
            ("2026-04-01", "2026-04-01"), ("2026-04-01T10:00:00Z", "2026-04-01T10:00:00Z"),
            ("0123", "0123"), ("007.5", "007.5"), ("1_000", "1_000"), ("V00011", "V00011"),
            ("\"42\"", "42"), ("'true'", "true"), ("", ""), ("a # b", "a # b"), ("a: b", "a: b"),
            ("[1, two]", [1, "two"]), ("{a: 1}", ["a": 1]),
        ]
        for (raw, expected) in cases {
            #expect((try? ParamSet.parseSetValue(raw).get()) == expected, "--set k=\(raw)")
        }
    }

    @Test func setErrors() {
        let ds = ManifestFixture.prepareDiagnostics(Self.manifest, sets: ["company_code", "limit=.inf", "vendr_no=V9", "bad key=1", "company_code=C"])
        #expect(ds.map(\.description) == [
            "--set: error: 'company_code' is not key=value\n  fix: write --set company_code=<value>",
            "--set: error: 'limit=.inf': '.inf' is not a JSON number (JSON has no NaN or infinity)\n  fix: quote the value to pass it as a string: --set 'limit=\".inf\"'",
            "--set: error: 'bad key=1': 'bad key' is not a valid param name\n  fix: param names use letters, digits, '_' and '-'",
            // An undeclared --set key is accepted (issue 10); with errors around, its warning goes with them.
            "--set: warning: param 'vendr_no' is not declared by m.yaml (did you mean 'vendor_no'?); it is accepted, but no step can use it\n  fix: write vendor_no instead of vendr_no",
        ])
    }

    @Test func undeclaredKeysAreAcceptedWithoutAParamsBlock() throws {
        let yaml = """
            steps:
              - endpoint: vendors
                params:
                  filter: "number eq '${{ params.vendor_no }}'"
            """
        let p = try layer(yaml, sets: ["vendor_no=V1", "extra=1"])
        #expect(p.values == ["vendor_no": "V1", "extra": 1])
    }

    @Test func referencedParamWithoutValuePointsAtTheReference() {
        let yaml = """
            steps:
              - endpoint: vendors
                params:
                  filter: "number eq '${{ params.vendor_no }}'"
            """
        let ds = ManifestFixture.prepareDiagnostics(yaml)
        #expect(ds.map(\.brief) == ["4:27 ${{ params.vendor_no }} has no value: param 'vendor_no' is not given and has no default"])
        #expect(ds.first?.fix == "pass --set vendor_no=<value>, or declare it under params: with a default")
    }

    @Test func optionalDeclaredParamWithoutValueButReferenced() {
        let yaml = """
            params:
              note:
                required: false
            steps:
              - action: post
                endpoint: customers
                data: {displayName: "${{ params.note }}"}
            """
        let ds = ManifestFixture.prepareDiagnostics(yaml)
        #expect(ds.map(\.brief) == ["7:26 ${{ params.note }} has no value: param 'note' is not given and has no default"])
    }

    @Test func paramsFileErrors() throws {
        let dir = TempDir("bcli-manifest-tests")
        let missing = dir.path + "/missing.yaml"
        var ds = ManifestFixture.prepareDiagnostics(Self.manifest, paramsFile: missing, sets: ["company_code=C"])
        #expect(ds.map(\.description) == ["\(missing): error: params file: file not found\n  fix: check the path (it is relative to the current directory)"])

        let list = try ManifestFixture.write("- a\n- b\n", to: "list.yaml", in: dir)
        ds = ManifestFixture.prepareDiagnostics(Self.manifest, paramsFile: list, sets: ["company_code=C"])
        #expect(ds.map(\.brief) == ["1:1 the params file must be a YAML mapping (key: value)"])
        #expect(ds.first?.path == list)

        let typo = try ManifestFixture.write("city: Oslo\nvendorno: V1\nno: 1\n", to: "typo.yaml", in: dir)
        ds = ManifestFixture.prepareDiagnostics(Self.manifest, paramsFile: typo, sets: ["company_code=C"])
        #expect(ds.map(\.brief) == [
            "2:1 param 'vendorno' is not declared by m.yaml (did you mean 'vendor_no'?)",
            "3:1 key 'no' is read as a boolean (YAML 1.1 turns unquoted no into false)",
        ])
    }

    @Test func prepareReportsManifestAndParamErrorsTogether() {
        let ds = ManifestFixture.prepareDiagnostics("""
            params:
              who:
                description: required
            steps:
              - endpoint: vendors
                dat: 1
            """, sets: ["whom=x"])
        #expect(ds.map(\.brief) == [
            "0:0 param 'whom' is not declared by m.yaml (did you mean 'who'?); it is accepted, but no step can use it",
            "2:3 required param 'who' has no value",
            "6:5 unknown step key 'dat' (did you mean 'data'?)",
        ])
    }
}
