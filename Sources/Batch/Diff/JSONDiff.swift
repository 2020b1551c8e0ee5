import Hashing

/// How `JSONDiff` compares two documents.
public struct JSONDiffOptions: Sendable {
    /// Skip volatile members and normalise volatile values (see `VolatileFields`).
    public var ignoreVolatile: Bool
    /// Volatile values of the first document (its run's server-generated ids).
    public var volatileA: VolatileFields
    /// Volatile values of the second document.
    public var volatileB: VolatileFields
    /// Array elements are matched by the first of these members that every element has with a
    /// unique scalar value and that matches at least one element across the sides (when several
    /// qualify, the one matching more elements wins); otherwise by position.
    public var arrayKeys: [String]
    /// Context prefixes (e.g. each run's base URL) that differ between the two sides for reasons
    /// that are not data; strings starting with `contextPrefixes.a` in A and `.b` in B compare
    /// with the prefix cut off.
    public var contextPrefixes: (a: String, b: String)?

    public init(ignoreVolatile: Bool = true, volatileA: VolatileFields = .none, volatileB: VolatileFields = .none,
                arrayKeys: [String] = ["id", "number"], contextPrefixes: (a: String, b: String)? = nil) {
        self.ignoreVolatile = ignoreVolatile
        self.volatileA = volatileA
        self.volatileB = volatileB
        self.arrayKeys = arrayKeys
        self.contextPrefixes = contextPrefixes
    }
}

/// A structural JSON diff producing RFC 6902 operations that turn A into B (up to the volatile
/// parts it was told to ignore).
///
/// Objects are compared member by member (in sorted key order, so output is deterministic);
/// arrays of objects by key (`id`, then `number`) when every element has one, else by position.
/// Linear in the size of the documents except for reordered keyed arrays.
public enum JSONDiff {
    public static func diff(_ a: JSONValue, _ b: JSONValue, options: JSONDiffOptions = JSONDiffOptions()) -> [JSONPatchOperation] {
        var differ = Differ(options: options)
        differ.diff(a, b, path: "")
        return differ.ops
    }

    /// Diff of optional bodies: a missing body against a present one is an `add`/`remove` of the
    /// whole document (path `""`).
    public static func diff(_ a: JSONValue?, _ b: JSONValue?, options: JSONDiffOptions = JSONDiffOptions()) -> [JSONPatchOperation] {
        switch (a, b) {
        case (nil, nil): return []
        case (nil, let b?): return [JSONPatchOperation(op: .add, path: "", value: b)]
        case (let a?, nil): return [JSONPatchOperation(op: .remove, path: "", oldValue: a)]
        case (let a?, let b?): return diff(a, b, options: options)
        }
    }
}

struct Differ {
    let options: JSONDiffOptions
    var ops: [JSONPatchOperation] = []

    init(options: JSONDiffOptions) { self.options = options }

    mutating func diff(_ a: JSONValue, _ b: JSONValue, path: String) {
        switch (a, b) {
        case (.object(let x), .object(let y)):
            let keys = Set(x.keys).union(y.keys).sorted()
            for key in keys {
                if options.ignoreVolatile, VolatileFields.memberNames.contains(key) { continue }
                let p = JSONPointer.append(path, key)
                switch (x[key], y[key]) {
                case (nil, let v?): ops.append(JSONPatchOperation(op: .add, path: p, value: v))
                case (let u?, nil): ops.append(JSONPatchOperation(op: .remove, path: p, oldValue: u))
                case (let u?, let v?): diff(u, v, path: p)
                case (nil, nil): break
                }
            }
        case (.array(let x), .array(let y)):
            if let key = arrayKey(x, y) {
                keyedArrayDiff(x, y, key: key, path: path)
            } else {
                positionalArrayDiff(x, y, path: path)
            }
        case (.string(let s), .string(let t)):
            if s != t, normalisedA(s) != normalisedB(t) {
                ops.append(JSONPatchOperation(op: .replace, path: path, value: b, oldValue: a))
            }
        case (.number(let p), .number(let q)):
            if p != q { ops.append(JSONPatchOperation(op: .replace, path: path, value: b, oldValue: a)) }
        case (.bool(let p), .bool(let q)):
            if p != q { ops.append(JSONPatchOperation(op: .replace, path: path, value: b, oldValue: a)) }
        case (.null, .null):
            break
        default:
            ops.append(JSONPatchOperation(op: .replace, path: path, value: b, oldValue: a))
        }
    }

    func normalisedA(_ s: String) -> String { normalise(s, prefix: options.contextPrefixes?.a, volatile: options.volatileA) }
    func normalisedB(_ s: String) -> String { normalise(s, prefix: options.contextPrefixes?.b, volatile: options.volatileB) }

    func normalise(_ s: String, prefix: String?, volatile: VolatileFields) -> String {
        var t = s
        if let prefix, !prefix.isEmpty, t.hasPrefix(prefix) { t = "{base_url}" + t.dropFirst(prefix.count) }
        return options.ignoreVolatile ? volatile.normalise(t) : t
    }

    // MARK: arrays

    mutating func positionalArrayDiff(_ x: [JSONValue], _ y: [JSONValue], path: String) {
        let common = min(x.count, y.count)
        for i in 0..<common { diff(x[i], y[i], path: JSONPointer.append(path, String(i))) }
        if y.count > common {
            for i in common..<y.count { ops.append(JSONPatchOperation(op: .add, path: JSONPointer.append(path, String(i)), value: y[i])) }
        } else if x.count > common {
            for i in stride(from: x.count - 1, through: common, by: -1) {
                ops.append(JSONPatchOperation(op: .remove, path: JSONPointer.append(path, String(i)), oldValue: x[i]))
            }
        }
    }

    /// The key member to match elements by, or nil for a positional diff.
    func arrayKey(_ x: [JSONValue], _ y: [JSONValue]) -> String? {
        guard !x.isEmpty, !y.isEmpty else { return nil }
        var best: (key: String, matches: Int)?
        for key in options.arrayKeys {
            guard let kx = keys(x, key, normalise: normalisedA), let ky = keys(y, key, normalise: normalisedB) else { continue }
            let matches = Set(kx).intersection(ky).count
            // A key no element shares says nothing about identity: try the next, else positions.
            if matches > 0, best == nil || matches > best!.matches { best = (key, matches) }
        }
        return best?.key
    }

    /// Each element's key value as text (normalised, so server-generated ids never serve as keys),
    /// or nil when one lacks it, it is not a scalar, or two share it.
    func keys(_ items: [JSONValue], _ key: String, normalise: (String) -> String) -> [String]? {
        var out: [String] = []
        out.reserveCapacity(items.count)
        var seen = Set<String>()
        for item in items {
            let k: String
            switch item[key] {
            case .string(let s)?: k = "s:" + normalise(s)
            case .number(let n)?: k = "n:" + ECMAScriptNumber.format(n)
            default: return nil
            }
            guard seen.insert(k).inserted else { return nil }
            out.append(k)
        }
        return out
    }

    /// Removes A-only elements (highest index first), then walks B in order: a matched element is
    /// moved into place when needed and diffed, a B-only element is added. Applying the ops in
    /// order to A yields B.
    mutating func keyedArrayDiff(_ x: [JSONValue], _ y: [JSONValue], key: String, path: String) {
        let kx = keys(x, key, normalise: normalisedA)!
        let ky = keys(y, key, normalise: normalisedB)!
        let inB = Set(ky)
        var indexInA: [String: Int] = [:]
        for (i, k) in kx.enumerated() { indexInA[k] = i }
        for i in stride(from: x.count - 1, through: 0, by: -1) where !inB.contains(kx[i]) {
            ops.append(JSONPatchOperation(op: .remove, path: JSONPointer.append(path, String(i)), oldValue: x[i]))
        }
        // The working array as indices into x (-1 for elements added from y).
        var working = (0..<x.count).filter { inB.contains(kx[$0]) }
        for (i, k) in ky.enumerated() {
            let p = JSONPointer.append(path, String(i))
            if let ai = indexInA[k] {
                var j = i
                while j < working.count, working[j] != ai { j += 1 }
                if j != i {
                    ops.append(JSONPatchOperation(op: .move, path: p, from: JSONPointer.append(path, String(j))))
                    working.remove(at: j)
                    working.insert(ai, at: i)
                }
                diff(x[ai], y[i], path: p)
            } else {
                ops.append(JSONPatchOperation(op: .add, path: p, value: y[i]))
                working.insert(-1, at: i)
            }
        }
    }
}
