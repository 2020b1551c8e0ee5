import Hashing
import PostgresNIO
import Store

/// `batch verify --remote`: reads a hub without pulling. The server re-hashes its blobs
/// (`sha256()`, in case the `blob` CHECK was dropped); this end walks the chain from the head down
/// to seq 1 and rebuilds and verifies each run's bundle exactly as pull does (`HubPull.bundle`),
/// importing nothing. Findings are problems of a `VerifyReport`; only errors that stop the check
/// (connection, login, schema) are thrown.
public enum HubVerify {
    /// Every run and the whole chain.
    public static func verifyAll(_ session: HubSession) async throws -> VerifyReport {
        var report = VerifyReport()
        try await checkBlobsOnServer(runID: nil, session, into: &report)
        let runs = try await HubPull.runs(session)
        try await checkChain(runs, session, into: &report)
        for run in runs { try await checkRun(run, session, into: &report) }
        return report
    }

    /// One run: its blobs (hashed by the server), its entry, its link to the entry before, its bundle.
    public static func verifyRun(_ run: HubRun, _ session: HubSession) async throws -> VerifyReport {
        var report = VerifyReport()
        try await checkBlobsOnServer(runID: run.id, session, into: &report)
        try await checkRun(run, session, into: &report)
        return report
    }

    static func digest(_ hex: String?) -> Digest? { hex.flatMap { try? Digest(parsing: "sha256:" + $0) } }

    /// Blobs whose bytes do not hash to their name or whose size column is not their length,
    /// found by the server (every blob, or the blobs `runID`'s `run_blob` rows name and its chain
    /// entry); counts what was hashed.
    static func checkBlobsOnServer(runID: String?, _ session: HubSession, into report: inout VerifyReport) async throws {
        let rows: [PostgresRow]
        if let runID {
            rows = try await session.query("""
                SELECT b.digest, b.size, octet_length(b.data)::bigint, encode(sha256(b.data), 'hex') = b.digest
                FROM bcli_hub.blob b
                WHERE b.digest IN (SELECT digest FROM bcli_hub.run_blob WHERE run_id = \(runID)
                                   UNION SELECT entry_digest FROM bcli_hub.chain WHERE run_id = \(runID))
                """)
        } else {
            rows = try await session.query("""
                SELECT digest, size, octet_length(data)::bigint, encode(sha256(data), 'hex') = digest FROM bcli_hub.blob
                """)
        }
        for row in rows {
            let (hex, size, length, hashes) = try row.decode((String, Int64, Int64, Bool).self)
            report.blobsChecked += 1
            report.bytesChecked += length
            if !hashes {
                report.problems.append(.init(.corrupt, runID: runID, subject: "hub blob", digest: digest(hex),
                                             detail: "the hub's bytes for sha256:\(hex) do not hash to it (sha256() on the server)"))
            } else if size != length {
                report.problems.append(.init(.wrongSize, runID: runID, subject: "hub blob", digest: digest(hex),
                                             detail: "the hub's size column says \(size) bytes, the data is \(length)"))
            }
        }
    }

    /// The chain from the head down to seq 1: the head names the newest entry, seqs are 1…head
    /// with no gap, each entry's `previous_entry` is the digest of the entry before (none at
    /// seq 1), and every run row has exactly one entry.
    static func checkChain(_ runs: [HubRun], _ session: HubSession, into report: inout VerifyReport) async throws {
        func broken(_ subject: String, _ detail: String, run: String? = nil, digest d: String? = nil) {
            report.problems.append(.init(.chainBroken, runID: run, subject: subject, digest: digest(d), detail: detail))
        }
        let head = try await session.query("SELECT seq, entry_digest FROM bcli_hub.head WHERE id = 1").first
            .map { try $0.decode((Int64, String?).self) }
        guard let head else { return broken("head", "the hub has no head row") }
        var entries: [Int64: (runID: String, entry: String, previous: String?)] = [:]
        for row in try await session.query("SELECT seq, run_id, entry_digest, previous_entry FROM bcli_hub.chain") {
            let (seq, runID, entry, previous) = try row.decode((Int64, String, String, String?).self)
            if entries[seq] != nil { broken("chain entry \(seq)", "seq \(seq) appears more than once", run: runID) }
            entries[seq] = (runID, entry, previous)
        }
        if let newest = entries.keys.max(), newest > head.0 {
            broken("head", "the head stands at seq \(head.0) but the chain has entries up to \(newest)")
        }
        if head.0 > 0, entries[head.0]?.entry != head.1 {
            broken("head", "the head names sha256:\(head.1 ?? "nothing") for seq \(head.0), but that entry is \(entries[head.0].map { "sha256:" + $0.entry } ?? "missing")", digest: head.1)
        } else if head.0 == 0, head.1 != nil {
            broken("head", "the head is at seq 0 but names an entry", digest: head.1)
        }
        var seq = head.0
        while seq >= 1 {
            defer { seq -= 1 }
            guard let e = entries[seq] else { broken("chain entry \(seq)", "missing: the chain from the head has a gap"); continue }
            report.chain.append(contentsOf: digest(e.entry).map { [$0] } ?? [])
            if seq == 1 {
                if e.previous != nil { broken("chain entry 1", "the first entry names a previous entry", run: e.runID, digest: e.previous) }
            } else if let before = entries[seq - 1], before.entry != e.previous {
                broken("chain entry \(seq)", "names sha256:\(e.previous ?? "nothing") as previous, but entry \(seq - 1) is sha256:\(before.entry)",
                       run: e.runID, digest: e.entry)
            }
        }
        var perRun: [String: Int] = [:]
        for e in entries.values { perRun[e.runID, default: 0] += 1 }
        for (id, n) in perRun where n > 1 { broken("run", "the run has \(n) chain entries", run: id) }
        for row in try await session.query("SELECT id FROM bcli_hub.run r WHERE NOT EXISTS (SELECT 1 FROM bcli_hub.chain c WHERE c.run_id = r.id)") {
            broken("run", "the run has no chain entry", run: try row.decode(String.self))
        }
        for e in entries.values where !runs.contains(where: { $0.id == e.runID }) {
            broken("chain entry", "names a run the hub has no row for", run: e.runID, digest: e.entry)
        }
    }

    /// The run's entry (fields, canonical bytes, digest, equal to the rows), its link to the entry
    /// before, and its rebuilt bundle (`RunBundle.verify`): `HubPull.bundle` without the import.
    static func checkRun(_ run: HubRun, _ session: HubSession, into report: inout VerifyReport) async throws {
        report.runsChecked.append(run.id)
        do {
            _ = try await HubPull.bundle(run, session)
        } catch HubError.damaged(_, let detail) {
            report.problems.append(.init(detail.hasPrefix("chain entry") ? .chainBroken : .bundle, runID: run.id,
                                         subject: "run \(run.id) (chain seq \(run.seq))", digest: digest(run.entryDigest), detail: detail))
        } catch BundleError.damaged(let bundleReport) {
            for p in bundleReport.problems {
                report.problems.append(.init(p.kind, runID: p.runID ?? run.id, subject: p.subject, digest: p.digest, detail: p.detail))
            }
        } catch let error as BundleError {
            report.problems.append(.init(.bundle, runID: run.id, subject: "run \(run.id) bundle", digest: digest(run.indexDigest), detail: error.description))
        }
    }
}
