import Foundation
import Testing
import TestSupport
import Store

/// A bundle ends at its end-of-archive marker, through the real binary: `verify --bundle` and `import` refuse a bundle with
/// bytes after its end-of-archive marker or cut short, naming why; import writes nothing.
@Suite struct BundleEndCommandTests {
    @Test func paddedAndCutBundlesAreRefused() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let (store, ids) = try await VerifyCommandTests.runs(sandbox, dir, count: 1)
            let good = dir.path + "/good.tar"
            let e = try await bcliAsync(["batch", "export", ids[0], "-o", good], env: sandbox.env(store: store))
            #expect(e.status == 0, "\(e.stderr)")
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: good)))
            let cases: [(String, [UInt8], String)] = [
                ("plus1", bytes + [0], "1 unexpected byte(s) after the end of the archive"),
                ("plus512", bytes + [UInt8](repeating: 0, count: 512), "512 unexpected byte(s) after the end of the archive"),
                ("plus1024", bytes + [UInt8](repeating: 0, count: 1024), "1024 unexpected byte(s) after the end of the archive"),
                ("cut512", Array(bytes.dropLast(512)), "the bundle is cut short"),
                ("cut1", Array(bytes.dropLast(1)), "the bundle is cut short"),
            ]
            for (name, data, why) in cases {
                let path = dir.path + "/\(name).tar"
                try Data(data).write(to: URL(fileURLWithPath: path))
                let v = try await bcliAsync(["batch", "verify", "--bundle", path], env: ["BCLI_STORE": dir.path + "/nowhere"])
                #expect(v.status == 1, "\(name): exit \(v.status) \(v.out) \(v.stderr)")
                #expect(v.out.contains(why), "\(name): \(v.out)")
                let fresh = dir.path + "/fresh-\(name)"
                let i = try await bcliAsync(["batch", "import", path], env: ["BCLI_STORE": fresh])
                #expect(i.status == 1, "\(name): exit \(i.status) \(i.stderr)")
                #expect(i.stderr.contains(why), "\(name): \(i.stderr)")
                #expect(try LedgerStore(root: fresh).runs().isEmpty)
            }
        }
    }
}
