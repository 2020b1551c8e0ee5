/// A line diff (Myers' O((N+M)·D) algorithm) and its `diff -u` rendering, for showing how two
/// manifests differ.
public enum LineDiff {
    public enum Edit: Sendable, Hashable {
        case same(String)
        case delete(String)
        case insert(String)
    }

    /// Above this many differing lines the diff gives up on minimality and reports every line
    /// from the first to the last difference as replaced (keeps memory at O(D²) bounded).
    public static let maximumEditDistance = 4_000

    /// Splits text into lines (a final newline does not start an empty line; `\r\n` counts as one).
    public static func lines(_ text: String) -> [String] {
        // Split on UTF-8 bytes: as Characters, "\r\n" is one grapheme and would not split on "\n".
        var out = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line -> String in
            let bytes = line.last == UInt8(ascii: "\r") ? line.dropLast() : line[...]
            return String(decoding: bytes, as: UTF8.self)
        }
        if out.last == "" { out.removeLast() }
        return out
    }

    /// A shortest edit script from `a` to `b`.
    public static func diff(_ a: [String], _ b: [String]) -> [Edit] {
        // Common prefix and suffix cost nothing and keep D (and memory) small.
        var prefix = 0
        while prefix < a.count, prefix < b.count, a[prefix] == b[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < a.count - prefix, suffix < b.count - prefix, a[a.count - 1 - suffix] == b[b.count - 1 - suffix] { suffix += 1 }
        let midA = Array(a[prefix..<(a.count - suffix)])
        let midB = Array(b[prefix..<(b.count - suffix)])
        var out: [Edit] = a[..<prefix].map { .same($0) }
        out += myers(midA, midB)
        out += a[(a.count - suffix)...].map { .same($0) }
        return out
    }

    static func myers(_ a: [String], _ b: [String]) -> [Edit] {
        let n = a.count, m = b.count
        if n == 0 { return b.map { .insert($0) } }
        if m == 0 { return a.map { .delete($0) } }
        // Compare by integer ids: hashing each line once is cheaper than repeated string compares.
        var ids: [String: Int] = [:]
        let ai = a.map { line -> Int in if let i = ids[line] { return i }; ids[line] = ids.count; return ids.count - 1 }
        let bi = b.map { line -> Int in if let i = ids[line] { return i }; ids[line] = ids.count; return ids.count - 1 }
        let maxD = min(n + m, maximumEditDistance)
        // v[k + offset] = furthest x on diagonal k; trace[d] = v after step d, limited to k in -d...d.
        let offset = maxD + 1
        var v = [Int](repeating: 0, count: 2 * maxD + 3)
        var trace: [[Int]] = []
        var found = -1
        outer: for d in 0...maxD {
            for k in stride(from: -d, through: d, by: 2) {
                var x: Int
                if k == -d || (k != d && v[k - 1 + offset] < v[k + 1 + offset]) {
                    x = v[k + 1 + offset]
                } else {
                    x = v[k - 1 + offset] + 1
                }
                var y = x - k
                while x < n, y < m, ai[x] == bi[y] { x += 1; y += 1 }
                v[k + offset] = x
                if x >= n, y >= m {
                    trace.append(Array(v[(offset - d)...(offset + d)]))
                    found = d
                    break outer
                }
            }
            trace.append(Array(v[(offset - d)...(offset + d)]))
        }
        guard found >= 0 else { return a.map { .delete($0) } + b.map { .insert($0) } }

        // Walk the trace back from (n, m).
        var edits: [Edit] = []
        var x = n, y = m
        for d in stride(from: found, to: 0, by: -1) {
            let prev = trace[d - 1]  // k in -(d-1)...(d-1), index k + d - 1
            func at(_ k: Int) -> Int { prev[k + d - 1] }
            let k = x - y
            let prevK = (k == -d || (k != d && at(k - 1) < at(k + 1))) ? k + 1 : k - 1
            let prevX = at(prevK)
            let prevY = prevX - prevK
            while x > prevX, y > prevY { x -= 1; y -= 1; edits.append(.same(a[x])) }
            if prevK == k + 1 { y -= 1; edits.append(.insert(b[y])) } else { x -= 1; edits.append(.delete(a[x])) }
        }
        while x > 0, y > 0 { x -= 1; y -= 1; edits.append(.same(a[x])) }
        return edits.reversed()
    }

    /// `diff -u` output: `--- from`, `+++ to`, then hunks `@@ -l,s +l,s @@` with `context` lines
    /// around each change. Empty when the texts have the same lines.
    public static func unified(_ a: String, _ b: String, from: String, to: String, context: Int = 3) -> [String] {
        let edits = diff(lines(a), lines(b))
        guard edits.contains(where: { if case .same = $0 { return false } else { return true } }) else { return [] }
        var out = ["--- " + from, "+++ " + to]
        // Positions of changed edits; hunks merge when their context would overlap.
        let changed = edits.indices.filter { if case .same = edits[$0] { return false } else { return true } }
        var hunks: [(Int, Int)] = []
        for i in changed {
            let lo = max(0, i - context), hi = min(edits.count - 1, i + context)
            if let last = hunks.last, lo <= last.1 + 1 { hunks[hunks.count - 1].1 = hi } else { hunks.append((lo, hi)) }
        }
        // Line numbers before each edit index.
        var lineA = [Int](repeating: 0, count: edits.count + 1)
        var lineB = [Int](repeating: 0, count: edits.count + 1)
        for (i, e) in edits.enumerated() {
            lineA[i + 1] = lineA[i] + (e.isInsert ? 0 : 1)
            lineB[i + 1] = lineB[i] + (e.isDelete ? 0 : 1)
        }
        for (lo, hi) in hunks {
            let countA = lineA[hi + 1] - lineA[lo], countB = lineB[hi + 1] - lineB[lo]
            let startA = countA == 0 ? lineA[lo] : lineA[lo] + 1
            let startB = countB == 0 ? lineB[lo] : lineB[lo] + 1
            out.append("@@ -\(range(startA, countA)) +\(range(startB, countB)) @@")
            for e in edits[lo...hi] {
                switch e {
                case .same(let l): out.append(" " + l)
                case .delete(let l): out.append("-" + l)
                case .insert(let l): out.append("+" + l)
                }
            }
        }
        return out
    }

    static func range(_ start: Int, _ count: Int) -> String { count == 1 ? "\(start)" : "\(start),\(count)" }
}

extension LineDiff.Edit {
    var isInsert: Bool { if case .insert = self { return true } else { return false } }
    var isDelete: Bool { if case .delete = self { return true } else { return false } }
}
