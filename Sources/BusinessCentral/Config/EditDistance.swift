/// "Did you mean …" suggestions for misspelt profile names and config keys.
enum Suggestion {
    /// The candidate closest to `word` by Levenshtein distance, if close enough to be a typo
    /// (at most a third of the word's length, minimum 1, maximum 3 edits). Case-insensitive.
    static func closest(to word: String, in candidates: [String]) -> String? {
        let w = Array(word.lowercased())
        let limit = min(3, max(1, w.count / 3))
        var best: (String, Int)?
        for candidate in candidates {
            let d = distance(w, Array(candidate.lowercased()))
            if d <= limit, best == nil || d < best!.1 {
                best = (candidate, d)
            }
        }
        return best?.0
    }

    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
