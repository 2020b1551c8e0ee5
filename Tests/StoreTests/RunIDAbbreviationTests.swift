import Foundation
import GRDB
import Testing
import TestSupport
@testable import Store

/// Run ids as a person types them: `latest`, `latest~N`, and the shortest unique prefix of at
/// least 8 characters that `list` and the hints print (git's abbreviations).
@Suite struct RunIDAbbreviationTests {
    /// A ledger holding runs with exactly these ids, started in the order given.
    func ledger(_ ids: [String]) throws -> (TempDir, Ledger) {
        let dir = TempDir()
        let ledger = try Ledger(path: dir.path + "/l.sqlite3")
        try ledger.queue.write { db in
            for (i, id) in ids.enumerated() {
                try db.execute(sql: "INSERT INTO run (id, kind, state, started_at, tool_version, durability) VALUES (?, 'batch', 'completed', ?, 't', 'process')",
                               arguments: [id, String(format: "2026-12-01T00:00:%02d.000000Z", i)])
            }
        }
        return (dir, ledger)
    }

    static func id(_ prefix: String) -> String { prefix + String(repeating: "0", count: 32 - prefix.count) }

    @Test func abbreviationsGrowUntilUnique() throws {
        let a = Self.id("01a2330000aa1"), b = Self.id("01a2330000aa2"), c = Self.id("01a2339f"), d = Self.id("ffff")
        let (dir, ledger) = try ledger([a, b, c, d])
        _ = dir
        let short = try ledger.abbreviations(of: [a, b, c, d])
        #expect(short[a] == "01a2330000aa1", "shares 12 characters with b: 13 are needed")
        #expect(short[b] == "01a2330000aa2")
        #expect(short[c] == "01a2339f", "unique at 8, the minimum")
        #expect(short[d] == "ffff0000", "never fewer than 8")
        for (full, prefix) in short { #expect(try ledger.resolveRunID(prefix) == full) }
        #expect(ledger.abbreviation(of: c) == "01a2339f")
        #expect(try ledger.abbreviations(of: []).isEmpty)
        // An id the ledger does not hold is abbreviated against those it does.
        #expect(ledger.abbreviation(of: Self.id("01a2330000ab")) == "01a2330000ab")
    }

    @Test func latestCountsBackInListOrder() throws {
        let ids = [Self.id("01"), Self.id("03"), Self.id("02")]  // started in this order
        let (dir, ledger) = try ledger(ids)
        _ = dir
        #expect(try ledger.resolveRunID("latest") == ids[2])
        #expect(try ledger.resolveRunID("latest~0") == ids[2])
        #expect(try ledger.resolveRunID("latest~") == ids[1], "as git's HEAD~")
        #expect(try ledger.resolveRunID("Latest~2") == ids[0])
        #expect(throws: StoreError.self) { try ledger.resolveRunID("latest~3") }
        do {
            _ = try ledger.resolveRunID("latest~3")
        } catch {
            #expect(error.description.contains("this store has 3 runs, latest to latest~2"))
        }
        #expect(Ledger.latestOffset("latest~99999999999999999999") == Int.max)
        do {
            _ = try ledger.resolveRunID("latest~99999999999999999999")
            Issue.record("past the oldest run")
        } catch {
            if case .latestOutOfRange(_, let runs) = error { #expect(runs == 3) } else { Issue.record("\(error)") }
        }
        for text in ["latest~x", "latest~-1", "latest~1~1", "latestx", "latest~+1"] {
            #expect(Ledger.latestOffset(text) == nil, "\(text)")
        }
    }

    @Test func latestInAnEmptyStoreSaysSo() throws {
        let (dir, ledger) = try ledger([])
        _ = dir
        do {
            _ = try ledger.resolveRunID("latest")
            Issue.record("an empty store has no latest run")
        } catch {
            #expect(error.description.contains("this store has no runs yet"))
            if case .latestOutOfRange(_, let runs) = error { #expect(runs == 0) } else { Issue.record("\(error)") }
        }
    }
}
