import Testing

@testable import Batch
@testable import Store

/// `RunVerdict`: how a finished run ended. First match wins: interrupted, in doubt, steps failed, ok.
@Suite("Run verdict")
struct RunVerdictTests {
    static func summary(failed: Int = 0, skipped: Int = 0, unknown: Int = 0, cancelled: Bool = false) -> RunSummary {
        RunSummary(runID: "r", state: .completed, committed: 3, failed: failed, skipped: skipped, unknown: unknown,
                   total: 3 + failed + skipped + unknown, recordDigest: nil, cancelled: cancelled, reports: [])
    }

    @Test func batchRun() {
        #expect(RunVerdict(Self.summary()) == .ok)
        #expect(RunVerdict(Self.summary(failed: 1)) == .stepsFailed)
        #expect(RunVerdict(Self.summary(skipped: 2)) == .stepsFailed)
        #expect(RunVerdict(Self.summary(unknown: 1)) == .inDoubt)
        #expect(RunVerdict(Self.summary(failed: 1, unknown: 1)) == .inDoubt)
        #expect(RunVerdict(Self.summary(cancelled: true)) == .interrupted)
        #expect(RunVerdict(Self.summary(failed: 1, skipped: 1, unknown: 1, cancelled: true)) == .interrupted)
    }

    @Test func rollbackRun() {
        let step = StepRecord(id: 1, runID: "r", seq: 1, name: "create", method: .post, url: "u",
                              clientRequestID: "x", intentAt: "2026-12-01T10:00:00Z", status: .committed)
        let item = RollbackItem(step: step, action: .delete(url: "u"), unresolvedAttempt: nil, recordKey: nil)
        func result(_ statuses: [StepStatus], cancelled: Bool = false) -> RollbackExecutor.Result {
            RollbackExecutor.Result(rollbackRunID: "rb", results: statuses.map {
                RollbackExecutor.ItemResult(item: item, status: $0, httpStatus: nil, message: "", conflict: false, newRecordID: nil)
            }, originalState: .rolledBack, remaining: 0, cancelled: cancelled)
        }
        #expect(RunVerdict(result([])) == .ok)
        #expect(RunVerdict(result([.rolledBack, .rollbackSkipped])) == .ok)
        #expect(RunVerdict(result([.rolledBack, .rollbackFailed])) == .stepsFailed)
        #expect(RunVerdict(result([.rollbackFailed], cancelled: true)) == .interrupted)
    }
}
