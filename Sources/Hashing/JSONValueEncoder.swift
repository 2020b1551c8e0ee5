/// Encodes an `Encodable` value to a `JSONValue`: the one way a JSON document bcli writes (every
/// `--format json` report, `batch diff`'s document) is built from Swift types.
///
/// - Property names are converted to snake_case (`stepsRecorded` → `steps_recorded`,
///   `clientRequestID` → `client_request_id`); the member names of a `JSONValue` object inside
///   the value are kept as they are.
/// - An optional property that is `nil` is written as `null`, never left out: every document
///   keeps its keys whatever the run.
/// - Integers become JSON numbers (doubles), as `.number(Double(n))` does.
///
/// Key order is not the encoder's business: a `JSONValue` object is printed in JCS order.
public enum JSONValueEncoder {
    public static func encode<T: Encodable>(_ value: T) -> JSONValue {
        let slot = Slot()
        // Only an `encode(to:)` that throws on its own can fail; none of bcli's types does.
        do { try value.encode(to: SlotEncoder(slot: slot, codingPath: [])) } catch {
            preconditionFailure("a JSON document failed to encode: \(error)")
        }
        return slot.resolved
    }

    public static func snakeCase(_ name: String) -> String {
        let chars = Array(name)
        var out = ""
        for (i, c) in chars.enumerated() {
            if c.isUppercase, i > 0 {
                let prev = chars[i - 1]
                let nextIsLower = i + 1 < chars.count && chars[i + 1].isLowercase
                if prev.isLowercase || prev.isNumber || (prev.isUppercase && nextIsLower) { out.append("_") }
            }
            out.append(contentsOf: c.lowercased())
        }
        return out
    }
}

/// A `JSONValue` inside an `Encodable` value is written as it is (its member names are not converted).
extension JSONValue: Encodable {
    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var c = encoder.singleValueContainer(); try c.encodeNil()
        case .bool(let b):
            var c = encoder.singleValueContainer(); try c.encode(b)
        case .number(let d):
            var c = encoder.singleValueContainer(); try c.encode(d)
        case .string(let s):
            var c = encoder.singleValueContainer(); try c.encode(s)
        case .array(let elements):
            var c = encoder.unkeyedContainer()
            for e in elements { try c.encode(e) }
        case .object(let members):
            var c = encoder.container(keyedBy: VerbatimKey.self)
            for (k, v) in members { try c.encode(v, forKey: VerbatimKey(k)) }
        }
    }
}

/// A `JSONValue` in a report, written as it is (`JSONValue`'s own encoding, under a name that
/// says so where a report holds rows as the ledger keeps them).
public struct VerbatimJSON: Encodable, Sendable {
    public let value: JSONValue
    public init(_ value: JSONValue) { self.value = value }

    public func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}

/// A member name written as it is.
public struct VerbatimKey: CodingKey {
    public let stringValue: String
    public init(_ s: String) { stringValue = s }
    public init?(stringValue: String) { self.stringValue = stringValue }
    public var intValue: Int? { nil }
    public init?(intValue: Int) { nil }
}

// MARK: - The encoder's storage

private final class Slot {
    var value: JSONValue = .null
    var members: [String: Slot]?
    var elements: [Slot]?

    var resolved: JSONValue {
        if let members { return .object(members.mapValues(\.resolved)) }
        if let elements { return .array(elements.map(\.resolved)) }
        return value
    }

    /// A scalar the containers were given (`Bool`, `String`, a floating-point or integer number)
    /// as a leaf, or everything else encoded through its own `encode(to:)`. One generic method per
    /// container serves every `encode` requirement of the `Encoder` protocols.
    static func of<T: Encodable>(_ value: T, path: [any CodingKey]) throws -> Slot {
        let slot = Slot()
        switch value as Any {
        case let b as Bool: slot.value = .bool(b)
        case let s as String: slot.value = .string(s)
        case let d as Double: slot.value = .number(d)
        case let f as Float: slot.value = .number(Double(f))
        case let i as any BinaryInteger: slot.value = .number(Double(i))
        default: try value.encode(to: SlotEncoder(slot: slot, codingPath: path))
        }
        return slot
    }
}

private struct SlotEncoder: Encoder {
    let slot: Slot
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if slot.members == nil { slot.members = [:] }
        return KeyedEncodingContainer(KeyedSlot<Key>(slot: slot, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if slot.elements == nil { slot.elements = [] }
        return UnkeyedSlot(slot: slot, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleSlot(slot: slot, codingPath: codingPath)
    }
}

private struct KeyedSlot<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let slot: Slot
    let codingPath: [any CodingKey]

    private func child(_ key: Key, _ child: Slot = Slot()) -> Slot {
        slot.members![key is VerbatimKey ? key.stringValue : JSONValueEncoder.snakeCase(key.stringValue)] = child
        return child
    }

    mutating func encodeNil(forKey key: Key) throws { _ = child(key) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        _ = child(key, try Slot.of(value, path: codingPath + [key]))
    }
    // `nil` is written as `null`: the synthesised `encode(to:)` calls these for optionals, and the
    // protocol's own versions (which leave the key out) would win over the generic one alone.
    private mutating func present<T: Encodable>(_ value: T?, _ key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try present(value, key) }
    mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try present(value, key) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        SlotEncoder(slot: child(key), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        SlotEncoder(slot: child(key), codingPath: codingPath + [key]).unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder { superEncoder(forKey: Key(stringValue: "super")!) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { SlotEncoder(slot: child(key), codingPath: codingPath + [key]) }
}

private struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { String(intValue ?? 0) }
    init(_ i: Int) { intValue = i }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private struct UnkeyedSlot: UnkeyedEncodingContainer {
    let slot: Slot
    let codingPath: [any CodingKey]
    var count: Int { slot.elements!.count }

    private func append(_ child: Slot = Slot()) -> SlotEncoder {
        let path = codingPath + [IndexKey(count)]
        slot.elements!.append(child)
        return SlotEncoder(slot: child, codingPath: path)
    }

    mutating func encodeNil() throws { _ = append() }
    mutating func encode<T: Encodable>(_ value: T) throws {
        _ = append(try Slot.of(value, path: codingPath + [IndexKey(count)]))
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        append().container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { append().unkeyedContainer() }
    mutating func superEncoder() -> any Encoder { append() }
}

private struct SingleSlot: SingleValueEncodingContainer {
    let slot: Slot
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { slot.value = .null }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let nested = try Slot.of(value, path: codingPath)
        slot.value = nested.value
        slot.members = nested.members
        slot.elements = nested.elements
    }
}
