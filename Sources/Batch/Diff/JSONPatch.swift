import Hashing

/// One RFC 6902 JSON Patch operation, as `batch diff` reports it.
///
/// Why our own type: the diff needs the old value too (the human output prints
/// `/email: "a@x" → "b@x"`), which RFC 6902 does not carry; `json` drops it so the machine output
/// stays a pure, applicable patch.
public struct JSONPatchOperation: Sendable, Hashable {
    public enum Op: String, Sendable, Hashable, Encodable {
        case add, remove, replace, move
    }

    public var op: Op
    /// RFC 6901 JSON Pointer (`""` is the whole document).
    public var path: String
    /// The source pointer of a `move`.
    public var from: String?
    /// The new value (`add`, `replace`).
    public var value: JSONValue?
    /// The value before (`remove`, `replace`); not part of the RFC 6902 output.
    public var oldValue: JSONValue?

    /// The operation as RFC 6902 writes it.
    public var json: JSONValue { JSONValueEncoder.encode(self) }
}

extension JSONPatchOperation: Encodable {
    private enum CodingKeys: CodingKey { case op, path, from, value }

    /// `op`, `path`, and `from` / `value` where the op needs them (never `oldValue`).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(op, forKey: .op)
        try c.encode(path, forKey: .path)
        if let from { try c.encode(from, forKey: .from) }
        if op == .add || op == .replace { try c.encode(value ?? .null, forKey: .value) }
    }
}

/// RFC 6901 JSON Pointers.
public enum JSONPointer {
    /// The most reference tokens a pointer may have: a pointer can only reach as deep as a document
    /// goes, and documents nest at most `JSONValue.maximumNestingDepth` levels.
    public static let maximumDepth = JSONValue.maximumNestingDepth

    /// Escapes one reference token: `~` → `~0`, then `/` → `~1`.
    public static func escape(_ token: String) -> String {
        guard token.contains("~") || token.contains("/") else { return token }
        return token.diffReplacingAll("~", with: "~0").diffReplacingAll("/", with: "~1")
    }

    /// Splits a pointer into unescaped tokens (`"/a~1b/0"` → `["a/b", "0"]`); nil when it does
    /// not start with `/` (and is not the empty whole-document pointer).
    public static func tokens(_ pointer: String) -> [String]? {
        if pointer.isEmpty { return [] }
        guard pointer.hasPrefix("/") else { return nil }
        return pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            String($0).diffReplacingAll("~1", with: "/").diffReplacingAll("~0", with: "~")
        }
    }

    /// Appends a token to a pointer.
    public static func append(_ pointer: String, _ token: String) -> String {
        pointer + "/" + escape(token)
    }
}

/// Applies RFC 6902 patches (used by tests to prove a diff turns A into B).
public enum JSONPatchApplier {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Applies `ops` in order. A pointer deeper than `JSONPointer.maximumDepth` is a failure naming
    /// the limit (application recurses once per token).
    public static func apply(_ ops: [JSONPatchOperation], to document: JSONValue) throws(Failure) -> JSONValue {
        var doc = document
        for (n, op) in ops.enumerated() {
            guard let path = JSONPointer.tokens(op.path) else { throw Failure(description: "bad pointer \(op.path)") }
            try checkDepth(path, n, "path")
            if let from = op.from.flatMap(JSONPointer.tokens) { try checkDepth(from, n, "from") }
            switch op.op {
            case .add: doc = try set(doc, path[...], op.value ?? .null, insert: true)
            case .replace: doc = try set(doc, path[...], op.value ?? .null, insert: false)
            case .remove: doc = try remove(doc, path[...]).0
            case .move:
                guard let from = op.from.flatMap(JSONPointer.tokens) else { throw Failure(description: "move without from") }
                let (rest, value) = try remove(doc, from[...])
                doc = try set(rest, path[...], value, insert: true)
            }
        }
        return doc
    }

    static func checkDepth(_ tokens: [String], _ n: Int, _ field: String) throws(Failure) {
        guard tokens.count <= JSONPointer.maximumDepth else {
            throw Failure(description: "operation \(n): '\(field)' is nested deeper than \(JSONPointer.maximumDepth) levels (\(tokens.count) reference tokens; bcli's limit)")
        }
    }

    static func set(_ doc: JSONValue, _ path: ArraySlice<String>, _ value: JSONValue, insert: Bool) throws(Failure) -> JSONValue {
        guard let head = path.first else { return value }
        let rest = path.dropFirst()
        switch doc {
        case .object(var o):
            if rest.isEmpty {
                if !insert && o[head] == nil { throw Failure(description: "replace of missing member \(head)") }
                o[head] = value
            } else {
                guard let child = o[head] else { throw Failure(description: "no member \(head)") }
                o[head] = try set(child, rest, value, insert: insert)
            }
            return .object(o)
        case .array(var a):
            if rest.isEmpty {
                if head == "-" && insert { a.append(value); return .array(a) }
                guard let i = Int(head), i >= 0, insert ? i <= a.count : i < a.count else { throw Failure(description: "bad index \(head)") }
                if insert { a.insert(value, at: i) } else { a[i] = value }
            } else {
                guard let i = Int(head), i >= 0, i < a.count else { throw Failure(description: "bad index \(head)") }
                a[i] = try set(a[i], rest, value, insert: insert)
            }
            return .array(a)
        default:
            throw Failure(description: "cannot index into \(doc.typeName) with \(head)")
        }
    }

    static func remove(_ doc: JSONValue, _ path: ArraySlice<String>) throws(Failure) -> (JSONValue, JSONValue) {
        guard let head = path.first else { throw Failure(description: "cannot remove the whole document") }
        let rest = path.dropFirst()
        switch doc {
        case .object(var o):
            guard let child = o[head] else { throw Failure(description: "no member \(head)") }
            if rest.isEmpty { o[head] = nil; return (.object(o), child) }
            let (newChild, removed) = try remove(child, rest)
            o[head] = newChild
            return (.object(o), removed)
        case .array(var a):
            guard let i = Int(head), i >= 0, i < a.count else { throw Failure(description: "bad index \(head)") }
            if rest.isEmpty { let v = a.remove(at: i); return (.array(a), v) }
            let (newChild, removed) = try remove(a[i], rest)
            a[i] = newChild
            return (.array(a), removed)
        default:
            throw Failure(description: "cannot index into \(doc.typeName) with \(head)")
        }
    }
}

extension String {
    /// Literal (non-regex) replacement of every occurrence, without Foundation.
    func diffReplacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty, contains(target) else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        out += rest
        return out
    }
}
