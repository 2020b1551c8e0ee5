import Foundation
import Hashing
import Testing
import TestSupport
@testable import Sandbox

/// Starts `bcli sandbox serve` with `arguments`.
private func serve(_ arguments: [String]) throws -> ChildProcess {
    try ChildProcess(Paths.bcli, ["sandbox", "serve"] + arguments)
}

/// Sends SIGTERM and returns the exit status.
private func terminate(_ child: ChildProcess) async throws -> Int32 {
    child.kill(SIGTERM)
    return try await child.finish().status
}

@Suite("bcli sandbox serve (the built binary)")
struct BinaryTests {
    @Test("prints its base URL first, serves with flags, keeps --data across restarts, exits 0 on SIGTERM",
          .enabled(if: FileManager.default.isExecutableFile(atPath: Paths.bcli),
                   "build the CLI first: swift build --product bcli (looked for \(Paths.bcli))"))
    func serveBinary() async throws {
        let dir = TempDir("bcli-sandbox-tests")
        let directory = dir.path
        let arguments = ["--port", "0", "--data", directory, "--client", "ci:ci-secret",
                         "--fault", "throttle:request-id=throttle-me", "--latency", "0", "--log-level", "warning"]

        let first = try serve(arguments)
        let baseURL = try await first.firstStdoutLine()
        #expect(baseURL.hasPrefix("http://127.0.0.1:"))
        var h = Harness(server: try SandboxServer(configuration: .init()), baseURL: baseURL)
        h.token = try await h.fetchToken(id: "ci", secret: "ci-secret")
        let created = try await h.create("customers", ["displayName": "From the binary"])
        #expect(try await h.get("customers", headers: ["client-request-id": "throttle-me"]).status == 429)
        #expect(try await terminate(first) == 0)

        let second = try serve(arguments)
        h = Harness(server: h.server, baseURL: try await second.firstStdoutLine())
        h.token = try await h.fetchToken()
        #expect(try await h.get("customers(\(created.id!))").json["displayName"] == "From the binary")
        #expect(try await terminate(second) == 0)
    }
}
