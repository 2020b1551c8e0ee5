import Foundation
import NIOCore
import Testing
import TestSupport
@testable import Sandbox

@Suite("Server lifecycle")
struct LifecycleTests {
    @Test("start returns the real port, refuses a second start and a taken port; stop frees the port")
    func startStop() async throws {
        let server = try SandboxServer(configuration: SandboxConfiguration())
        let baseURL = try await server.start()
        let port = try #require(Int(baseURL.split(separator: ":").last ?? ""))
        #expect(port > 0)
        #expect(baseURL == "http://127.0.0.1:\(port)")
        let second = await #expect(throws: SandboxServerError.self) { _ = try await server.start() }
        if case .alreadyRunning? = second {} else { Issue.record("expected alreadyRunning, got \(String(describing: second))") }

        let clash = try SandboxServer(configuration: SandboxConfiguration(port: port))
        let bindError = await #expect(throws: IOError.self) { _ = try await clash.start() }  // bind(2) refused
        #expect(bindError?.errnoCode == EADDRINUSE)

        await server.stop()
        await server.stop()  // idempotent
        let again = try SandboxServer(configuration: SandboxConfiguration(port: port))
        #expect(try await again.start() == baseURL)
        await again.stop()
    }

    @Test("stop lets a held request finish instead of cutting it off")
    func stopReleasesHeld() async throws {
        let configuration = SandboxConfiguration(faults: [try SandboxFault(parsing: "hold")])
        let server = try SandboxServer(configuration: configuration)
        let baseURL = try await server.start()
        var h = Harness(server: server, baseURL: baseURL)
        h.token = try await h.fetchToken()
        let held = Task { try await h.get("customers") }
        while try await h.faultState()["held"] != 1 { await Task.yield() }
        await server.stop()
        #expect(try await held.value.status == 200)
    }

    @Test("an unreadable settings file or data path is a configuration error naming the fix")
    func configurationErrors() throws {
        let dir = TempDir("bcli-sandbox-tests")
        let directory = dir.path
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: directory + "/settings.json"))
        let settings = #expect(throws: SandboxConfigurationError.self) {
            _ = try SandboxServer(configuration: SandboxConfiguration(dataDirectory: directory))
        }
        guard case .invalidSettings(directory + "/settings.json", _)? = settings else {
            Issue.record("expected invalidSettings naming settings.json, got \(String(describing: settings))")
            return
        }
        try Data("x".utf8).write(to: URL(fileURLWithPath: directory + "/file"))
        let data = #expect(throws: SandboxConfigurationError.self) {
            _ = try SandboxServer(configuration: SandboxConfiguration(dataDirectory: directory + "/file"))
        }
        guard case .dataDirectory(directory + "/file", _)? = data else {
            Issue.record("expected dataDirectory naming the file, got \(String(describing: data))")
            return
        }
        #expect(throws: SandboxConfigurationError.invalidLogLevel("loud")) {
            _ = try SandboxServer(configuration: SandboxConfiguration(), logLevel: "loud")
        }
    }
}
