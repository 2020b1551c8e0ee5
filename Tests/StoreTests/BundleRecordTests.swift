import Foundation
import GRDB
import Testing
import TestSupport
import Hashing
@testable import Store

/// `Importer.record(runRow:stepsRow:)` — how `list --remote` reads a hub — derives from a bundle's
/// two row members exactly the record the ledger derives for the same run.
@Suite struct BundleRecordTests {
    /// A sample of every stamp × finished × kind × step count × step statuses, written as real
    /// rows, exported as bundles, and read back from the bundles' row members alone.
    @Test func theBundleRowsGiveTheLedgersRecord() throws {
        let dir = TempDir()
        let store = try makeStore(dir)
        let combos = RunStateRuleTests.combinations().enumerated().filter { $0.offset % 37 == 0 }.map(\.element)
        #expect(combos.count > 3000)
        var ids: [String] = []
        try store.ledger.queue.write { db in
            for (i, c) in combos.enumerated() {
                let id = String(format: "%032x", i + 1)
                ids.append(id)
                try db.execute(sql: """
                    INSERT INTO run (id, kind, state, started_at, finished_at, tool_version, durability, step_count, name, profile)
                    VALUES (?,?,?,?,?,?,?,?,?,?)
                    """, arguments: [id, c.kind.rawValue, c.stamped.rawValue, "2026-01-01T00:00:00.000000Z",
                                     c.finished ? "2026-01-01T00:00:01.000000Z" : nil, "t", "process", c.n, "n\(i)", i % 2 == 0 ? "sandbox" : nil])
                for (j, s) in c.statuses.enumerated() {
                    try db.execute(sql: """
                        INSERT INTO step (run_id, seq, name, method, url, client_request_id, intent_at, outcome_at, status)
                        VALUES (?,?,?,?,?,?,?,?,?)
                        """, arguments: [id, j + 1, "s\(j + 1)", "POST", "http://x", "crid-\(i)-\(j)", "2026-01-01T00:00:00.000000Z",
                                         s == nil ? nil : "2026-01-01T00:00:00.500000Z", s?.rawValue])
                }
            }
        }
        var mismatches: [String] = []
        for id in ids {
            let members = try BundleTar.read(try RunBundle.export(runID: id, from: store))
            let runRow = try #require(members.first { $0.name == RunBundle.runName }).bytes
            let stepsRow = try #require(members.first { $0.name == RunBundle.stepsName }).bytes
            let fromRows = try Importer.record(runRow: runRow, stepsRow: stepsRow)
            let fromLedger = try store.ledger.run(id)
            if fromRows != fromLedger { mismatches.append("\(combos[Int(id, radix: 16)! - 1]): rows \(fromRows.state) \(fromRows.counts), ledger \(fromLedger.state) \(fromLedger.counts)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) differ, e.g. \(mismatches.prefix(5))")
    }

    @Test func rowsThatAreNotARunAreRefused() throws {
        let run = Array(#"{"id":"0123456789abcdef0123456789abcdef","kind":"batch","state":"completed","started_at":"x","tool_version":"t","durability":"process"}"#.utf8)
        #expect(throws: BundleError.self) { try Importer.record(runRow: Array("[]".utf8), stepsRow: Array("[]".utf8)) }
        #expect(throws: BundleError.self) { try Importer.record(runRow: run, stepsRow: Array("{}".utf8)) }
        #expect(throws: BundleError.self) { try Importer.record(runRow: run, stepsRow: Array(#"[{"status":"landed"}]"#.utf8)) }
        #expect(throws: BundleError.self) { try Importer.record(runRow: Array(#"{"id":"nope"}"#.utf8), stepsRow: Array("[]".utf8)) }
        let ok = try Importer.record(runRow: run, stepsRow: Array(#"[{"status":"committed"},{"status":"unknown"},{"status":null}]"#.utf8))
        #expect(ok.counts.total == 3 && ok.counts.committed == 1 && ok.counts.unknown == 2 && ok.state == .inDoubt)
    }
}
