/// A value of the TOML subset bcli reads (see `TOMLParser` and docs/configuration.md).
///
/// Why our own type: no TOML package is mirrored, and config needs only strings, numbers,
/// booleans, arrays and tables — plus the line of every key, so errors can point at it.
public enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    case array([TOMLValue])
    case table(TOMLTable)

    /// A short name of the type, for error messages ("expected string, got integer").
    public var typeName: String {
        switch self {
        case .string: return "string"
        case .integer: return "integer"
        case .float: return "float"
        case .boolean: return "boolean"
        case .array: return "array"
        case .table: return "table"
        }
    }
}

/// A TOML table: its keys in file order, their values and the 1-based line each was defined on.
public struct TOMLTable: Sendable, Equatable {
    public private(set) var keys: [String] = []
    public private(set) var values: [String: TOMLValue] = [:]
    /// The line where each key was defined (for a sub-table: its header line, or the first
    /// line that implied it).
    public private(set) var lines: [String: Int] = [:]

    public init() {}

    public subscript(key: String) -> TOMLValue? { values[key] }

    /// The line a key was defined on, if known.
    public func line(of key: String) -> Int? { lines[key] }

    mutating func set(_ key: String, _ value: TOMLValue, line: Int) {
        if values[key] == nil {
            keys.append(key)
            lines[key] = line
        }
        values[key] = value
    }
}
