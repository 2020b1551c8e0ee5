import Foundation
import Hashing
import Testing
import TestSupport
@testable import Sandbox

/// A `bcli sandbox serve` child process.
private final class ServeProcess: @unchecked Sendable {
    let process = Process()
    let stdout = Pipe()

    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: Paths.bcli)
        process.arguments = ["sandbox", "serve"] + arguments
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// The first stdout line (read on a plain thread: the read blocks).
    func firstLine() async -> String {
        await withCheckedContinuation { continuation in
            Thread {
                var bytes: [UInt8] = []
                let handle = self.stdout.fileHandleForReading
                while true {
                    let chunk = handle.readData(ofLength: 1)
                    if chunk.isEmpty || chunk.first == UInt8(ascii: "\n") { break }
                    bytes += chunk
                }
                continuation.resume(returning: String(decoding: bytes, as: UTF8.self))
            }.start()
        }
    }

    /// Sends SIGTERM and returns the exit status.
    func terminate() async -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        return await withCheckedContinuation { continuation in
            Thread {
                self.process.waitUntilExit()
                continuation.resume(returning: self.process.terminationStatus)
            }.start()
        }
    }
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

        let first = try ServeProcess(arguments)
        let baseURL = await first.firstLine()
        #expect(baseURL.hasPrefix("http://127.0.0.1:"))
        var h = Harness(server: try SandboxServer(configuration: .init()), baseURL: baseURL)
        h.token = try await h.fetchToken(id: "ci", secret: "ci-secret")
        let created = try await h.create("customers", ["displayName": "From the binary"])
        #expect(try await h.get("customers", headers: ["client-request-id": "throttle-me"]).status == 429)
        #expect(await first.terminate() == 0)

        let second = try ServeProcess(arguments)
        h = Harness(server: h.server, baseURL: await second.firstLine())
        h.token = try await h.fetchToken()
        #expect(try await h.get("customers(\(created.id!))").json["displayName"] == "From the binary")
        #expect(await second.terminate() == 0)
    }
}
