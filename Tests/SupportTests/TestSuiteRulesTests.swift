import Foundation
import Testing
import TestSupport

/// Rules the test suite keeps so that it passes on CI's two cores, checked in its own sources.
@Suite struct TestSuiteRulesTests {
    /// Every Swift file under Tests/, with its path relative to the package.
    static func testSources() throws -> [(path: String, text: String)] {
        let root = Paths.packageRoot + "/Tests"
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var files: [(String, String)] = []
        for case let relative as String in walker where relative.hasSuffix(".swift") {
            files.append(("Tests/" + relative, try String(contentsOfFile: root + "/" + relative, encoding: .utf8)))
        }
        return files
    }

    /// A time limit's clock runs while its test waits for a thread, and Swift Testing runs the
    /// synchronous end-to-end tests (which block while a child `bcli` works) on the same one thread
    /// per core as async tests. A full run can so hold an async test for over a minute: a one-minute
    /// limit failed a clean CI run with nothing wrong. A limit is there to turn a hang into a
    /// failure, so none is shorter than 10 minutes.
    @Test func noTimeLimitIsShorterThanTenMinutes() throws {
        let pattern = /\.timeLimit\(\s*\.(minutes|seconds)\(\s*(\d+)\s*\)\s*\)/
        var seen = 0
        for (path, text) in try Self.testSources() where path != "Tests/SupportTests/TestSuiteRulesTests.swift" {
            for match in text.matches(of: pattern) {
                seen += 1
                let minutes = match.output.1 == "minutes" ? Int(match.output.2)! : Int(match.output.2)! / 60
                #expect(minutes >= 10, "\(path): \(match.output.0) — a starved run can exceed it; use .minutes(10) or more")
            }
        }
        #expect(seen > 0, "no time limit found: has the pattern or the folder changed?")
    }
}
