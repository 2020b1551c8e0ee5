import Hashing
import Testing

/// `JSONValueEncoder`: every scalar type `Encodable` knows, nil as null under every one of them.
@Suite struct JSONValueEncoderTests {
    struct Scalars: Encodable {
        var bool: Bool? = true
        var string: String? = "s"
        var double: Double? = 0.5
        var float: Float? = 0.25
        var int: Int? = -1
        var int8: Int8? = -8
        var int16: Int16? = -16
        var int32: Int32? = -32
        var int64: Int64? = -64
        var uint: UInt? = 1
        var uint8: UInt8? = 8
        var uint16: UInt16? = 16
        var uint32: UInt32? = 32
        var uint64: UInt64? = 64
    }

    static let names = ["bool", "string", "double", "float", "int", "int8", "int16", "int32", "int64", "uint", "uint8",
                        "uint16", "uint32", "uint64"]

    @Test func scalarsAreJSONValues() {
        #expect(JSONValueEncoder.encode(Scalars()) == [
            "bool": true, "string": "s", "double": 0.5, "float": 0.25, "int": -1, "int8": -8, "int16": -16, "int32": -32,
            "int64": -64, "uint": 1, "uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64,
        ])
    }

    /// The synthesised `encode(to:)` calls a typed `encodeIfPresent` for each optional: none may
    /// leave its key out.
    @Test func nilIsNullForEveryScalarType() {
        let none = Scalars(bool: nil, string: nil, double: nil, float: nil, int: nil, int8: nil, int16: nil, int32: nil,
                           int64: nil, uint: nil, uint8: nil, uint16: nil, uint32: nil, uint64: nil)
        #expect(JSONValueEncoder.encode(none) == .object(Dictionary(uniqueKeysWithValues: Self.names.map { ($0, JSONValue.null) })))
    }

    struct Nested: Encodable {
        let baseURL: String
        let items: [Int?]
        let raw: JSONValue
        let verbatim: VerbatimJSON
    }

    @Test func namesAreSnakeCaseButAJSONValueIsWrittenAsItIs() {
        let value = Nested(baseURL: "u", items: [1, nil], raw: ["camelCase": [nil, "x"]], verbatim: VerbatimJSON(["@odata.etag": "W/1"]))
        #expect(JSONValueEncoder.encode(value) == [
            "base_url": "u", "items": [1, nil], "raw": ["camelCase": [nil, "x"]], "verbatim": ["@odata.etag": "W/1"],
        ])
    }
}
