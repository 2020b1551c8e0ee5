import Foundation
import Testing
import TestSupport

/// Nesting depth is bounded, through the real binary: a config.toml, a YAML manifest (flow and block
/// nesting) and JSON texts (a manifest and a params file written as JSON) nested 200,000 deep are
/// invalid input (exit 5) with a message naming the limit and the place — never a crash.
@Suite struct NestingDepthCommandTests {
    static let deep = 200_000

    func write(_ text: String, _ path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    /// Runs `bcli batch run --dry-run` with a private config folder and no store.
    func dryRun(_ dir: TempDir, _ args: [String]) async throws -> Completed {
        try await bcliAsync(["batch", "run", "--dry-run"] + args, env: [
            "XDG_CONFIG_HOME": dir.path + "/config", "HOME": dir.path, "BCLI_STORE": dir.path + "/store",
        ])
    }

    func expectInvalid(_ r: Completed, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == 5, "exit \(r.status): \(r.stderr.prefix(600))", sourceLocation: sourceLocation)
        for f in fragments { #expect(r.stderr.contains(f), "missing '\(f)' in: \(r.stderr.prefix(600))", sourceLocation: sourceLocation) }
        #expect(!r.stderr.contains("Program crashed"), sourceLocation: sourceLocation)
    }

    static let okManifest = "steps:\n  - endpoint: customers\n"

    @Test("config.toml with an array nested 200,000 deep")
    func deepConfigArray() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        try write(Self.okManifest, dir.path + "/m.yaml")
        try write("x = " + String(repeating: "[", count: Self.deep) + String(repeating: "]", count: Self.deep) + "\n", dir.path + "/config/bcli/config.toml")
        let r = try await dryRun(dir, [dir.path + "/m.yaml"])
        expectInvalid(r, ["config.toml:1:", "nested deeper than 512 levels", "column 517"])
    }

    @Test("config.toml with a dotted key of 200,000 parts")
    func deepConfigKey() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        try write(Self.okManifest, dir.path + "/m.yaml")
        try write("[profiles" + String(repeating: ".a", count: Self.deep) + "]\n", dir.path + "/config/bcli/config.toml")
        let r = try await dryRun(dir, [dir.path + "/m.yaml"])
        expectInvalid(r, ["config.toml:1:", "nested deeper than 512 levels"])
    }

    @Test("a YAML manifest with flow nesting 200,000 deep")
    func deepFlowManifest() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let data = String(repeating: "[", count: Self.deep) + "1" + String(repeating: "]", count: Self.deep)
        try write("steps:\n  - action: post\n    endpoint: customers\n    data:\n      x: \(data)\n", dir.path + "/m.yaml")
        let r = try await dryRun(dir, ["-p", "sandbox", dir.path + "/m.yaml"])
        expectInvalid(r, ["m.yaml:5:", "nested deeper than 512 levels"])
    }

    @Test("a YAML manifest with block nesting 200,000 deep")
    func deepBlockManifest() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let data = String(repeating: "- ", count: Self.deep) + "1"
        try write("steps:\n  - action: post\n    endpoint: customers\n    data:\n      x:\n        \(data)\n", dir.path + "/m.yaml")
        let r = try await dryRun(dir, ["-p", "sandbox", dir.path + "/m.yaml"])
        expectInvalid(r, ["m.yaml:6:", "nested deeper than 512 levels"])
    }

    @Test("a JSON body nested 200,000 deep (manifest written as JSON)")
    func deepJSONBody() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        let body = String(repeating: "{\"a\": ", count: Self.deep) + "1" + String(repeating: "}", count: Self.deep)
        try write("{\"steps\": [{\"action\": \"post\", \"endpoint\": \"customers\",\n \"data\": \(body)}]}\n", dir.path + "/m.json")
        let r = try await dryRun(dir, ["-p", "sandbox", dir.path + "/m.json"])
        expectInvalid(r, ["m.json:2:", "nested deeper than 512 levels"])
    }

    @Test("a JSON params file nested 200,000 deep")
    func deepJSONParams() async throws {
        try requireBinary(Paths.bcli)
        let dir = TempDir()
        try write("params:\n  a: {}\nsteps:\n  - endpoint: customers\n", dir.path + "/m.yaml")
        try write("{\"a\": " + String(repeating: "[", count: Self.deep) + String(repeating: "]", count: Self.deep) + "}\n", dir.path + "/p.json")
        let r = try await dryRun(dir, ["-p", "sandbox", "--params", dir.path + "/p.json", dir.path + "/m.yaml"])
        expectInvalid(r, ["p.json:1:", "nested deeper than 512 levels"])
    }
}
