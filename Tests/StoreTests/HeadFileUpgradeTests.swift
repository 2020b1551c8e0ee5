import Foundation
import GRDB
import Hashing
import Testing
import TestSupport
@testable import Store

/// A store last written by a bcli from before the `refs/head` file existed has a head ref in its
/// ledger and no file. Opening it with this bcli adopts the ledger's head into the file once (the
/// migration that does it is recorded in the ledger), so an upgrade verifies clean; after that a
/// missing file is damage, not history.
@Suite("Upgrading a store to the refs/head file")
struct HeadFileUpgradeTests {
    /// Makes a store with one finished run, then turns it into what an older bcli left: no
    /// `refs/head` file and no record of the head-file migration.
    private func olderStore(_ dir: TempDir) throws -> (root: String, head: Digest) {
        let root = dir.path + "/store"
        let head: Digest
        do {
            let store = try LedgerStore(root: root)
            let run = try startRun(store)
            try addStep(store, run: run, seq: 1, status: .committed)
            head = try store.finishRun(run, state: .completed)
            try store.ledger.write { db in
                try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = ?", arguments: [Schema.headFileMigration])
            }
        }
        #expect(unlink(HeadFile.path(root: root)) == 0)
        return (root, head)
    }

    @Test("opening an older store writes the file from the ledger's head, and verify --all is clean")
    func adoptsTheLedgersHead() throws {
        let dir = TempDir()
        let (root, head) = try olderStore(dir)
        let store = try LedgerStore(root: root)
        #expect(HeadFile.read(root: root) == .digest(head))
        let report = try StoreVerifier.verifyAll(in: store)
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(try store.ledger.appliedMigrations().contains(Schema.headFileMigration))
    }

    @Test("once adopted, a deleted refs/head file is a head mismatch")
    func deletedAfterAdoptionIsAProblem() throws {
        let dir = TempDir()
        let (root, _) = try olderStore(dir)
        _ = try LedgerStore(root: root)
        #expect(unlink(HeadFile.path(root: root)) == 0)
        let store = try LedgerStore(root: root)
        #expect(HeadFile.read(root: root) == .absent)
        let report = try StoreVerifier.verifyAll(in: store)
        #expect(report.problems.contains { $0.kind == .headMismatch }, "\(report.problems)")
    }

    @Test("an older ledger copied over a newer store does not overwrite the newer file")
    func olderLedgerDoesNotRewriteAnExistingFile() throws {
        let dir = TempDir()
        let (root, oldHead) = try olderStore(dir)
        // A newer finish moved the file on; then the older ledger comes back.
        let newer = try Digest(parsing: String(repeating: "ab", count: 32))
        try HeadFile.write(newer, root: root)
        _ = oldHead
        let store = try LedgerStore(root: root)
        #expect(HeadFile.read(root: root) == .digest(newer))
        let report = try StoreVerifier.verifyAll(in: store)
        #expect(report.problems.contains { $0.kind == .headMismatch }, "\(report.problems)")
    }
}
