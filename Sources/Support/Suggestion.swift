/// "Did you mean …?" for misspelt keys, profile names, step names and params. One rule for the
/// whole tool, so config files and manifests suggest the same way.
public enum Suggestion {
    /// The candidate closest to `word` when it is close enough to be a plausible typo: a
    /// case-insensitive match, or an edit distance of at most 1 (short words), 2, or 3 (long words).
    public static func closest(to word: String, in candidates: some Sequence<String>) -> String? {
        let lower = word.lowercased()
        var best: (candidate: String, distance: Int)?
        for candidate in candidates where candidate != word {
            if candidate.lowercased() == lower { return candidate }
            let d = editDistance(Array(lower.unicodeScalars), Array(candidate.lowercased().unicodeScalars))
            let limit = max(word.count, candidate.count) <= 4 ? 1 : (max(word.count, candidate.count) <= 8 ? 2 : 3)
            if d <= limit, best == nil || d < best!.distance {
                best = (candidate, d)
            }
        }
        return best?.candidate
    }

    /// ` (did you mean 'x'?)` or the empty string.
    public static func didYouMean(_ word: String, in candidates: some Sequence<String>) -> String {
        closest(to: word, in: candidates).map { " (did you mean '\($0)'?)" } ?? ""
    }

    /// Damerau–Levenshtein (optimal string alignment) distance: a swapped pair counts once.
    public static func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previous2[j - 2] + 1)
                }
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }

    /// `'a', 'b', 'c'` for messages listing what is available.
    public static func list(_ items: some Sequence<String>) -> String {
        let quoted = items.map { "'\($0)'" }
        return quoted.isEmpty ? "(none)" : quoted.joined(separator: ", ")
    }
}
