import Foundation
import Testing
import TestSupport
import Hashing
import Store

/// `bcli batch export`, `verify --bundle` and `import` as child processes.
@Suite struct ExportCommandTests {
    @Test func exportVerifyElsewhereFlipAndImport() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let (store, ids) = try await VerifyCommandTests.runs(sandbox, dir, count: 2)
            let id = ids[1]
            let env = sandbox.env(store: store)
            let bundle = dir.path + "/run.bcli.tar", again = dir.path + "/again.tar"
            let e1 = try await bcliAsync(["batch", "export", id, "-o", bundle], env: env)
            #expect(e1.status == 0, "\(e1.stderr)")
            #expect(try await bcliAsync(["batch", "export", String(id.prefix(10)), "--output", again], env: env).status == 0)
            let first = try Data(contentsOf: URL(fileURLWithPath: bundle)), second = try Data(contentsOf: URL(fileURLWithPath: again))
            #expect(first == second)  // deterministic
            #expect(e1.out == "\(SHA256.hash([UInt8](first)))  \(bundle)\n")
            let record = try #require(try LedgerStore(root: store).run(id).recordDigest)

            // The auditor's machine: no store at all, no network.
            try FileManager.default.removeItem(atPath: store)
            let noStore = ["BCLI_STORE": dir.path + "/nowhere"]
            let v = try await bcliAsync(["batch", "verify", "--bundle", bundle, "--format", "json"], env: noStore)
            #expect(v.status == 0, "\(v.out)\(v.stderr)")
            let doc = try JSONValue(parsing: [UInt8](v.stdout))
            #expect(doc["ok"] == true)
            #expect(doc["record_digest"]?.stringValue == record.description)
            #expect(!FileManager.default.fileExists(atPath: dir.path + "/nowhere"))
            let m = try await bcliAsync(["batch", "verify", "--bundle", bundle, "--manifest", VerifyCommandTests.quickstart], env: noStore)
            #expect(m.status == 0, "\(m.out)\(m.stderr)")

            // Flip one bit inside one blob of the bundle: named, exit 1.
            var bytes = [UInt8](first)
            let entries = try BundleTar.read(bytes)
            let blob = try #require(entries.first { $0.name.hasPrefix(RunBundle.blobFolder) && $0.bytes.count > 8 })
            let header = Array(blob.name.utf8)
            var at = 0
            while Array(bytes[at..<at + header.count]) != header { at += 512 }
            bytes[at + 512 + 4] ^= 0x08
            let damaged = dir.path + "/damaged.tar"
            try Data(bytes).write(to: URL(fileURLWithPath: damaged))
            let bad = try await bcliAsync(["batch", "verify", "--bundle", damaged], env: noStore)
            #expect(bad.status == 1)
            #expect(bad.out.hasPrefix("corrupt"))
            #expect(bad.out.contains(blob.name))
            // …and import refuses it, writing nothing.
            let fresh = dir.path + "/fresh"
            let refused = try await bcliAsync(["batch", "import", damaged], env: ["BCLI_STORE": fresh])
            #expect(refused.status == 1)
            #expect(try LedgerStore(root: fresh).runs().isEmpty)

            // Import the good bundle into a fresh store; it verifies there; a second import is a no-op.
            let imp = try await bcliAsync(["batch", "import", bundle], env: ["BCLI_STORE": fresh])
            #expect(imp.status == 0, "\(imp.stderr)")
            #expect(imp.out == id + "\n")
            let vi = try await bcliAsync(["batch", "verify", id], env: ["BCLI_STORE": fresh])
            #expect(vi.status == 0, "\(vi.out)\(vi.stderr)")
            #expect(try await bcliAsync(["batch", "verify", "--all"], env: ["BCLI_STORE": fresh]).status == 0)
            let twice = try await bcliAsync(["batch", "import", bundle], env: ["BCLI_STORE": fresh])
            #expect(twice.status == 0)
            #expect(twice.stderr.contains("already"))
            // show works on the imported run.
            let manifest = try await bcliAsync(["batch", "show", id], env: ["BCLI_STORE": fresh])
            #expect(manifest.stdout == (try Data(contentsOf: URL(fileURLWithPath: VerifyCommandTests.quickstart))))
        }
    }

    @Test func notABundleAndMissingRunAreClear() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let junk = dir.path + "/junk.tar"
        try Data("hello".utf8).write(to: URL(fileURLWithPath: junk))
        let r = try await bcliAsync(["batch", "import", junk], env: ["BCLI_STORE": dir.path + "/s"])
        #expect(r.status == 5)
        #expect(r.stderr.contains("not a bcli bundle"))
        let s = try LedgerStore(root: dir.path + "/s")
        _ = s
        let e = try await bcliAsync(["batch", "export", "0123456789", "-o", dir.path + "/x.tar"], env: ["BCLI_STORE": dir.path + "/s"])
        #expect(e.status == 4)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/x.tar"))
    }
}
