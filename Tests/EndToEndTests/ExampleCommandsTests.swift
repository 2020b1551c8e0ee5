import Foundation
import Sandbox
import Testing
import TestSupport

/// The commands written in the examples' headers work as written, from the package folder, with
/// the files the repository ships (a header that needs a file nobody supplied is a defect).
@Suite struct ExampleCommandsTests {
    /// `#   bcli …` lines of every examples/*.yaml.
    static func headerCommands() throws -> [(file: String, command: String)] {
        let folder = Paths.packageRoot + "/examples"
        return try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yaml") }.sorted().flatMap { name in
            // Comment lines, with `\` continuations joined.
            var lines: [String] = []
            var continued = false
            for raw in try String(contentsOfFile: folder + "/" + name, encoding: .utf8).split(separator: "\n") {
                guard raw.hasPrefix("#") else { continued = false; continue }
                let text = String(raw.drop { $0 == "#" || $0 == " " })
                if continued, !lines.isEmpty { lines[lines.count - 1] += " " + text } else { lines.append(text) }
                continued = text.hasSuffix("\\")
                if continued { lines[lines.count - 1].removeLast() }
            }
            return lines.filter { $0.hasPrefix("bcli batch run ") }.map { (name, $0) }
        }
    }

    @Test func everyHeaderCommandRuns() async throws {
        try requireBinary(Paths.bcli)
        let commands = try Self.headerCommands()
        #expect(commands.contains { $0.command.contains("--params examples/params-driven.params.yaml") })
        var configuration = SandboxConfiguration()
        configuration.demoData = true  // as the built-in profile's: vendor 20000 and the items exist
        try await withSandbox(configuration) { sandbox in
            let dir = TempDir()
            let env = sandbox.env(store: dir.path + "/store")
            for (file, command) in commands {
                let line = "cd '\(Paths.packageRoot)' && exec '\(Paths.bcli)'" + command.dropFirst("bcli".count)
                let r = try await offload { try run("/bin/sh", ["-c", line], env: env) }
                #expect(r.status == 0, "\(file): \(command)\n\(r.stderr)")
            }
        }
    }
}
