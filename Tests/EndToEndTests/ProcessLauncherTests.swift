import Foundation
import Testing
import TestSupport

/// The process launcher (TestSupport): both streams and the status come back, stdin goes in, and
/// a child that outlives its time limit is killed and reported instead of stalling the suite.
@Suite struct ProcessLauncherTests {
    @Test func capturesStdoutStderrAndStatus() throws {
        let r = try run("/bin/sh", ["-c", "cat; echo err >&2; exit 3"], stdin: Data("in\n".utf8))
        #expect(r.status == 3)
        #expect(r.out == "in\n")
        #expect(r.stderr == "err\n")
        #expect(r.reason == .exit)
    }

    @Test func aChildPastItsTimeLimitIsKilledAndReported() throws {
        let started = Date()
        let error = #expect(throws: ProcessTimedOut.self) { try run("/bin/sleep", ["30"], timeout: 0.5) }
        #expect(error?.command == ["/bin/sleep", "30"])
        #expect(Date().timeIntervalSince(started) < 10)
    }
}
