import AsyncHTTPClient
import Foundation
import Testing
import TestSupport
import Hashing
import Store

/// A damaged store is never taken for an empty one, new stores
/// do not race, a store that cannot be used exits 9 with its cause, and one exit code per
/// condition for every command.
@Suite struct StoreFailureTests {
    static let oneGet = "name: one\nsteps:\n  - {name: list_customers, action: get, endpoint: customers}\n"

    /// Environment for a child `bcli` on `store` with the built-in in-process sandbox.
    static func env(_ dir: TempDir, store: String) -> [String: String] {
        ["BCLI_STORE": store, "XDG_CONFIG_HOME": dir.path + "/config", "XDG_CACHE_HOME": dir.path + "/cache"]
    }

    /// A store with one finished run; returns the run id.
    static func storeWithRun(_ dir: TempDir, store: String, manifest: String) async throws -> String {
        let r = try await bcliAsync(["batch", "run", "-p", "sandbox", manifest], env: env(dir, store: store))
        #expect(r.status == 0, "\(r.stderr)")
        return try #require(runID(fromStderr: r.stderr), "no run id in \(r.stderr)")
    }

    static func size(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    static func removeLedger(_ store: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: store + "/ledger.sqlite3" + suffix) }
    }

    /// Every command that opens the store, as argument lists (the store comes from BCLI_STORE).
    static func storeCommands(id: String, manifest: String, bundle: String, digest: String, out: String) -> [[String]] {
        [
            ["batch", "list"],
            ["batch", "state", id],
            ["batch", "show", id],
            ["batch", "export", id, "-o", out],
            ["batch", "gc"],
            ["batch", "cat", digest],
            ["batch", "run", "-p", "sandbox", manifest],
            ["batch", "import", bundle],
            ["batch", "rollback", id, "--yes"],
            ["batch", "diff", id, id],
            ["batch", "verify", id],
        ]
    }

    /// Every store command exits 9 naming the damage; `verify --all` and `fsck` report it as a
    /// finding (exit 1); the ledger stays as it was.
    static func expectRefused(_ dir: TempDir, store: String, id: String, manifest: String, bundle: String,
                              digest: String, mention: String, ledgerSize: Int?) async throws {
        let env = env(dir, store: store)
        let out = dir.path + "/refused-export.tar"
        for args in storeCommands(id: id, manifest: manifest, bundle: bundle, digest: digest, out: out) {
            let r = try await bcliAsync(args, env: env)
            #expect(r.status == 9, "\(args.joined(separator: " ")): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(mention), "\(args.joined(separator: " ")): \(r.stderr)")
            #expect(!r.stderr.contains("Fatal error"))
        }
        #expect(!exists(out))
        for args in [["batch", "verify", "--all"], ["batch", "fsck"]] {
            let r = try await bcliAsync(args, env: env)
            #expect(r.status == 1, "\(args.joined(separator: " ")): \(r.status) \(r.stderr)")
            #expect(r.out.contains("ledger"), "\(args.joined(separator: " ")): \(r.out)")
            #expect(r.stderr.contains(mention), "\(args.joined(separator: " ")): \(r.stderr)")
        }
        #expect(size(store + "/ledger.sqlite3") == ledgerSize, "the ledger was touched")
        #expect(!exists(store + "/ledger.sqlite3-wal"))
    }

    /// Exports the run (for the import command) and returns the bundle path and the manifest digest.
    static func exportRun(_ dir: TempDir, store: String, id: String, manifest: String) async throws -> (String, String) {
        let bundle = dir.path + "/run.tar"
        let e = try await bcliAsync(["batch", "export", id, "-o", bundle], env: env(dir, store: store))
        #expect(e.status == 0, "\(e.stderr)")
        let digest = SHA256.hash([UInt8](try Data(contentsOf: URL(fileURLWithPath: manifest)))).description
        return (bundle, digest)
    }

    // MARK: - A damaged store is never a new one

    /// A ledger truncated to zero bytes beside the store's blobs: no command takes it for a new,
    /// empty store, and nothing writes a new ledger in its place.
    @Test func zeroByteLedgerIsRefusedEverywhere() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let store = dir.path + "/store"
        let manifest = try writeManifest(dir, "one.yaml", Self.oneGet)
        let id = try await Self.storeWithRun(dir, store: store, manifest: manifest)
        let (bundle, digest) = try await Self.exportRun(dir, store: store, id: id, manifest: manifest)
        Self.removeLedger(store)
        #expect(FileManager.default.createFile(atPath: store + "/ledger.sqlite3", contents: Data()))
        try await Self.expectRefused(dir, store: store, id: id, manifest: manifest, bundle: bundle, digest: digest,
                                     mention: "damaged", ledgerSize: 0)
    }

    /// The ledger deleted, the blobs gone too, only `refs/head` left: still damaged, not new.
    @Test func deletedLedgerWithHeadFileIsRefused() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let store = dir.path + "/store"
        let manifest = try writeManifest(dir, "one.yaml", Self.oneGet)
        let id = try await Self.storeWithRun(dir, store: store, manifest: manifest)
        let (bundle, digest) = try await Self.exportRun(dir, store: store, id: id, manifest: manifest)
        let head = try String(contentsOfFile: store + "/refs/head", encoding: .utf8)
        #expect(head.range(of: #"^sha256:[0-9a-f]{64}\n$"#, options: .regularExpression) != nil, "refs/head is \(head)")
        Self.removeLedger(store)
        try FileManager.default.removeItem(atPath: store + "/objects")
        try await Self.expectRefused(dir, store: store, id: id, manifest: manifest, bundle: bundle, digest: digest,
                                     mention: "damaged", ledgerSize: nil)
        #expect(!Self.exists(store + "/objects"))
    }

    /// `refs/head` names the newest finished run's record, and moves at every finish; a ledger
    /// replaced by an older copy of itself verifies clean on its own, but not against the file.
    @Test func olderLedgerCopyIsCaughtByVerifyAll() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let store = dir.path + "/store"
        let env = Self.env(dir, store: store)
        let manifest = try writeManifest(dir, "one.yaml", Self.oneGet)
        let first = try await Self.storeWithRun(dir, store: store, manifest: manifest)
        let fm = FileManager.default
        try fm.copyItem(atPath: store + "/ledger.sqlite3", toPath: dir.path + "/old.sqlite3")
        #expect(!Self.exists(store + "/ledger.sqlite3-wal"), "the ledger was not checkpointed at exit")
        let second = try await Self.storeWithRun(dir, store: store, manifest: manifest)
        let state = try await bcliAsync(["batch", "state", second, "--format", "json"], env: env)
        let record = try JSONValue(parsing: [UInt8](state.stdout))["run"]?["record_digest"]?.stringValue
        #expect(try String(contentsOfFile: store + "/refs/head", encoding: .utf8) == (record ?? "?") + "\n")
        let clean = try await bcliAsync(["batch", "verify", "--all"], env: env)
        #expect(clean.status == 0, "\(clean.out) \(clean.stderr)")

        Self.removeLedger(store)
        try fm.copyItem(atPath: dir.path + "/old.sqlite3", toPath: store + "/ledger.sqlite3")
        let list = try await bcliAsync(["batch", "list", "--format", "json"], env: env)
        #expect(list.status == 0)
        #expect(list.out.contains(first) && !list.out.contains(second))
        let r = try await bcliAsync(["batch", "verify", "--all"], env: env)
        #expect(r.status == 1, "\(r.out) \(r.stderr)")
        #expect(r.out.contains("refs/head"), "\(r.out)")
        #expect(r.out.contains(record ?? "?"), "\(r.out)")
        let fsck = try await bcliAsync(["batch", "fsck"], env: env)
        #expect(fsck.status == 1, "\(fsck.out) \(fsck.stderr)")
        #expect(fsck.out.contains("refs/head"), "\(fsck.out)")
    }

    // MARK: - New stores do not race

    /// 16 processes open one new store at once, 20 times: every one succeeds and the schema is
    /// migrated once. Half create the store from nothing (`import`, which opens the store before
    /// it reads the bundle), half find the zero-byte file SQLite creates first (`list`).
    @Test func sixteenProcessesOpenOneNewStore() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let junk = dir.path + "/junk.tar"
        try Data("not a bundle".utf8).write(to: URL(fileURLWithPath: junk))
        for round in 0..<20 {
            for variant in ["import", "list"] {
                let store = dir.path + "/store-\(variant)-\(round)"
                if variant == "list" {
                    try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
                    #expect(FileManager.default.createFile(atPath: store + "/ledger.sqlite3", contents: Data()))
                }
                let args = variant == "import" ? ["batch", "import", "--store", store, junk] : ["batch", "list", "--store", store]
                let results = try await withThrowingTaskGroup(of: Completed.self) { group in
                    for _ in 0..<16 { group.addTask { try await bcliAsync(args) } }
                    var all: [Completed] = []
                    for try await r in group { all.append(r) }
                    return all
                }
                let expected: Int32 = variant == "import" ? 5 : 0  // import: the store opened, the bundle was refused
                for r in results {
                    #expect(r.status == expected, "round \(round) \(variant): \(r.status) \(r.stderr)")
                    #expect(!r.stderr.contains("already exists"), "round \(round) \(variant): \(r.stderr)")
                }
                let opened = try LedgerStore(root: store)
                #expect(try opened.ledger.appliedMigrations().count >= 3)
            }
        }
    }

    // MARK: - A store that cannot be used exits 9 with its cause

    /// A read-only store (a read-only bind mount: tests run as root, who ignores permissions).
    @Test func readOnlyStoreExitsNine() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let store = dir.path + "/store"
        let env = Self.env(dir, store: store)
        let manifest = try writeManifest(dir, "one.yaml", Self.oneGet)
        let id = try await Self.storeWithRun(dir, store: store, manifest: manifest)
        let (bundle, _) = try await Self.exportRun(dir, store: store, id: id, manifest: manifest)
        let bind = try run("/usr/bin/mount", ["--bind", store, store])
        guard bind.status == 0 else {
            print("skipped readOnlyStoreExitsNine: cannot bind-mount (\(bind.stderr))")
            return
        }
        defer { if (try? run("/usr/bin/umount", [store]))?.status != 0 { _ = try? run("/usr/bin/umount", ["-l", store]) } }
        let ro = try run("/usr/bin/mount", ["-o", "remount,ro,bind", store])
        guard ro.status == 0 else {
            print("skipped readOnlyStoreExitsNine: cannot remount read-only (\(ro.stderr))")
            return
        }
        for args in [["batch", "list"], ["batch", "state", id], ["batch", "run", "-p", "sandbox", manifest], ["batch", "import", bundle]] {
            let r = try await bcliAsync(args, env: env)
            #expect(r.status == 9, "\(args.joined(separator: " ")): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains("read-only"), "\(args.joined(separator: " ")): \(r.stderr)")
        }
    }

    /// Garbage where the ledger should be: exit 9, "not a bcli ledger"; verify/fsck report it.
    @Test func notADatabaseExitsNine() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let store = dir.path + "/store"
        let manifest = try writeManifest(dir, "one.yaml", Self.oneGet)
        let id = try await Self.storeWithRun(dir, store: store, manifest: manifest)
        let (bundle, digest) = try await Self.exportRun(dir, store: store, id: id, manifest: manifest)
        Self.removeLedger(store)
        let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 13) })
        try garbage.write(to: URL(fileURLWithPath: store + "/ledger.sqlite3"))
        try await Self.expectRefused(dir, store: store, id: id, manifest: manifest, bundle: bundle, digest: digest,
                                     mention: "not a bcli ledger", ledgerSize: 8192)
        // A fresh folder with garbage and no blobs is no better.
        let other = dir.path + "/other"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try garbage.write(to: URL(fileURLWithPath: other + "/ledger.sqlite3"))
        let r = try await bcliAsync(["batch", "list", "--store", other])
        #expect(r.status == 9, "\(r.stderr)")
        #expect(r.stderr.contains("not a bcli ledger"))
    }

    /// A run whose disk fills up mid-run (a 4 MB tmpfs, filled while the sandbox holds step 2):
    /// exit 9 naming the full disk, and the run never reads `running` afterwards.
    @Test func diskFullMidRunExitsNine() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let mountPoint = dir.path + "/small"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mounted = try run("/usr/bin/mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mountPoint])
        guard mounted.status == 0 else {
            print("skipped diskFullMidRunExitsNine: cannot mount a tmpfs (\(mounted.stderr))")
            return
        }
        defer {
            // Lazily if a child of another test still has a file of it open.
            if (try? run("/usr/bin/umount", [mountPoint]))?.status != 0 { _ = try? run("/usr/bin/umount", ["-l", mountPoint]) }
        }
        try await withSandbox(faults: ["hold:nth=2,method=GET"]) { sandbox in
            let store = mountPoint + "/store"
            let env = sandbox.env(store: store)
            let manifest = try writeManifest(dir, "two.yaml",
                "name: two\nsteps:\n  - {name: first, action: get, endpoint: customers}\n  - {name: second, action: get, endpoint: customers}\n")

            let (child, held) = try await bcliUntilHeld(sandbox, ["batch", "run", "-p", "sandbox", manifest], env: env)
            #expect(held, "bcli ended before the sandbox held a request")
            // Fill the disk to the last byte.
            let filler = mountPoint + "/filler"
            let fd = open(filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)  // no child of a parallel test inherits it
            #expect(fd >= 0)
            let chunk = [UInt8](repeating: 0x5A, count: 4096)
            var small = [UInt8](repeating: 0x5A, count: 1)
            while chunk.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
            while small.withUnsafeMutableBytes({ write(fd, $0.baseAddress, 1) }) > 0 {}
            close(fd)
            try await sandbox.release()
            let r = try await child.finish()
            let stderr = r.stderr
            #expect(r.status == 9, "\(r.status): \(stderr)")
            #expect(stderr.contains("disk") && stderr.contains("full"), "\(stderr)")
            #expect(!stderr.contains("Fatal error"))
            let id = try #require(runID(fromStderr: stderr))
            try FileManager.default.removeItem(atPath: filler)
            let state = try await bcliAsync(["batch", "state", id, "--format", "json"], env: env)
            #expect(state.status == 0, "\(state.stderr)")
            let row = try JSONValue(parsing: [UInt8](state.stdout))["run"]
            #expect(row?["state"]?.stringValue != "running", "\(state.out)")
            #expect(row?["finished_at"] != .null || row?["interrupted"] == .bool(true), "\(state.out)")
        }
    }

    // MARK: - One exit code per condition

    /// One exit code per condition, whichever command meets it: unknown run 4, ambiguous prefix 2,
    /// missing file 4, no store 4.
    @Test func oneExitCodePerCondition() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let store = dir.path + "/store"
        let env = Self.env(dir, store: store)
        let manifest = try writeManifest(dir, "one.yaml", Self.oneGet)
        let id = try await Self.storeWithRun(dir, store: store, manifest: manifest)
        do {
            // Two runs sharing the prefix `abcdef`, and two blob names sharing `abcdef0`.
            let s = try LedgerStore(root: store)
            for last in ["1", "2"] {
                var row = NewRun(toolVersion: "test")
                row.id = "abcdef" + String(repeating: "0", count: 25) + last
                try s.ledger.startRun(row)
            }
            let fan = s.objects.objectsDirectory + "/ab"
            try FileManager.default.createDirectory(atPath: fan, withIntermediateDirectories: true)
            for c in ["1", "2"] {
                #expect(FileManager.default.createFile(atPath: fan + "/cdef0" + String(repeating: c, count: 57), contents: Data([1])))
            }
        }
        let unknown = "0123456789ab"
        let out = dir.path + "/x.tar"
        func commands(_ run: String) -> [[String]] {
            [
                ["batch", "state", run], ["batch", "show", run], ["batch", "export", run, "-o", out],
                ["batch", "rollback", run, "--yes"], ["batch", "verify", run], ["batch", "diff", id, run], ["batch", "diff", run, id],
            ]
        }
        for args in commands(unknown) {
            let r = try await bcliAsync(args, env: env)
            #expect(r.status == 4, "\(args.joined(separator: " ")): \(r.status) \(r.stderr)")
        }
        for args in commands("abcdef") {
            let r = try await bcliAsync(args, env: env)
            #expect(r.status == 2, "\(args.joined(separator: " ")): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains("give more characters"), "\(args.joined(separator: " ")): \(r.stderr)")
        }
        let catUnknown = try await bcliAsync(["batch", "cat", "0000000"], env: env)
        #expect(catUnknown.status == 4)
        let catAmbiguous = try await bcliAsync(["batch", "cat", "abcdef0"], env: env)
        #expect(catAmbiguous.status == 2, "\(catAmbiguous.stderr)")
        #expect(catAmbiguous.stderr.contains("give more characters"))

        let missing = dir.path + "/missing.yaml"
        for args in [
            ["batch", "run", "-p", "sandbox", missing], ["batch", "run", "-p", "sandbox", manifest, "--params", missing],
            ["batch", "run", "-p", "sandbox", manifest, "--dry-run", "--params", missing], ["batch", "import", dir.path + "/missing.tar"],
            ["batch", "verify", "--bundle", dir.path + "/missing.tar"], ["batch", "diff", id, missing],
            ["batch", "verify", id, "--manifest", missing], ["batch", "hash", missing],
        ] {
            let r = try await bcliAsync(args, env: env)
            #expect(r.status == 4, "\(args.joined(separator: " ")): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains("missing."), "\(args.joined(separator: " ")): \(r.stderr)")
        }

        let nowhere = dir.path + "/nowhere"
        for args in [["batch", "state", id], ["batch", "verify", "--all"], ["batch", "fsck"],
                     ["batch", "diff", id, id], ["batch", "gc"], ["batch", "cat", "0000000"]] {
            let r = try await bcliAsync(args + ["--store", nowhere])
            #expect(r.status == 4, "\(args.joined(separator: " ")): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains("no bcli store"), "\(args.joined(separator: " ")): \(r.stderr)")
        }
        // `list` with no store lists nothing (exit 0), in every format, and creates nothing.
        let list = try await bcliAsync(["batch", "list", "--store", nowhere])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.out.isEmpty)
        #expect(list.stderr.contains("No batch runs found (no store at \(nowhere) yet)."), "\(list.stderr)")
        let listJSON = try await bcliAsync(["batch", "list", "--store", nowhere, "-f", "json"])
        #expect(listJSON.status == 0)
        let doc = try JSONValue(parsing: [UInt8](listJSON.stdout))
        #expect(doc["format_version"] == 1)
        #expect(doc["runs"] == .array([]))
        #expect(!Self.exists(nowhere))
        // `--store ''` is a usage error, not the default store.
        for args in [["batch", "list"], ["batch", "run", "-p", "sandbox", manifest]] {
            let r = try await bcliAsync(args + ["--store", ""])
            #expect(r.status == 2, "\(args): \(r.stderr)")
            #expect(r.stderr.contains("--store needs a folder path"), "\(args): \(r.stderr)")
        }
    }
}
