import Support
import Testing
import TestSupport

@testable import Batch

/// `LineDiff`: Myers' shortest edit script and the `diff -u` rendering.
@Suite struct DiffLineTests {
    @Test func identicalTextsHaveNoHunks() {
        #expect(LineDiff.unified("a\nb\n", "a\nb\n", from: "a", to: "b").isEmpty)
        #expect(LineDiff.unified("a\r\nb", "a\nb\n", from: "a", to: "b").isEmpty)
    }

    @Test func oneChangedLineGivesOneHunkWithContext() {
        let a = (1...10).map { "line \($0)" }.joined(separator: "\n") + "\n"
        let b = a.replacingOccurrences(of: "line 5\n", with: "line five\n")
        #expect(LineDiff.unified(a, b, from: "a/m.yaml", to: "b/m.yaml") == [
            "--- a/m.yaml", "+++ b/m.yaml", "@@ -2,7 +2,7 @@",
            " line 2", " line 3", " line 4", "-line 5", "+line five", " line 6", " line 7", " line 8",
        ])
    }

    @Test func distantChangesGiveSeparateHunksAndEdgesAreNumberedLikeDiff() {
        let a = (1...20).map(String.init).joined(separator: "\n")
        let b = (["0"] + (1...20).map(String.init) + ["21"]).joined(separator: "\n")
        let out = LineDiff.unified(a, b, from: "a", to: "b")
        #expect(out.filter { $0.hasPrefix("@@") } == ["@@ -1,3 +1,4 @@", "@@ -18,3 +19,4 @@"])
        #expect(out.filter { $0.hasPrefix("+") && !$0.hasPrefix("+++") } == ["+0", "+21"])
        // Insertion into empty text.
        #expect(LineDiff.unified("", "x\n", from: "a", to: "b") == ["--- a", "+++ b", "@@ -0,0 +1 @@", "+x"])
    }

    @Test func editScriptIsMinimalAndRebuildsBothSides() {
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<200 {
            let a = (0..<Int(rng.next() % 12)).map { _ in String(rng.next() % 4) }
            let b = (0..<Int(rng.next() % 12)).map { _ in String(rng.next() % 4) }
            let edits = LineDiff.diff(a, b)
            var ra: [String] = [], rb: [String] = []
            var changes = 0
            for e in edits {
                switch e {
                case .same(let l): ra.append(l); rb.append(l)
                case .delete(let l): ra.append(l); changes += 1
                case .insert(let l): rb.append(l); changes += 1
                }
            }
            #expect(ra == a && rb == b)
            #expect(changes == a.count + b.count - 2 * lcs(a, b))
        }
    }

    @Test func largeInputsWithFewChangesAreFast() {
        let a = (0..<50_000).map { "  - name: step_\($0)" }
        var b = a
        b[100] = "changed"
        b.insert("new", at: 40_000)
        let edits = LineDiff.diff(a, b)
        #expect(edits.filter { if case .same = $0 { return false } else { return true } }.count == 3)
    }

    func lcs(_ a: [String], _ b: [String]) -> Int {
        var t = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                t[i][j] = a[i] == b[j] ? t[i + 1][j + 1] + 1 : max(t[i + 1][j], t[i][j + 1])
            }
        }
        return t[0][0]
    }
}
