import AsyncHTTPClient
import Foundation
import Hashing
import NIOCore
import Sandbox

/// A sandbox in the test process on port 0, and a way to read its journal over real HTTP.
/// Get one from `withSandbox`, which always awaits its stop.
public struct LiveSandbox: Sendable {
    public let server: SandboxServer
    public let url: String

    /// The committed writes, one JSON object per line of `GET /_sandbox/journal`.
    public func journal() async throws -> [JSONValue] {
        let body = try await httpGet(url + "/_sandbox/journal")
        return try String(decoding: body, as: UTF8.self).split(separator: "\n").map { try JSONValue(parsing: String($0)) }
    }

    /// Environment for a `bcli` child that should use this sandbox through the built-in profile.
    public func env(store: String) -> [String: String] {
        ["BCLI_SANDBOX_URL": url, "BCLI_STORE": store, "XDG_CONFIG_HOME": store + "-config", "XDG_CACHE_HOME": store + "-cache"]
    }
}

/// Starts an in-process sandbox on port 0, runs `body`, and awaits the sandbox's stop on every
/// way out of `body` (return or throw) before returning.
public func withSandbox<T>(
    faults: [String] = [], latency: String? = nil, data: String? = nil,
    _ body: (LiveSandbox) async throws -> T
) async throws -> T {
    var configuration = SandboxConfiguration(dataDirectory: data)
    configuration.faults = try faults.map { try SandboxFault(parsing: $0) }
    if let latency { configuration.latency = try SandboxLatency(parsing: latency) }
    return try await withSandbox(configuration, body)
}

/// `withSandbox` with a configuration built by the caller.
public func withSandbox<T>(_ configuration: SandboxConfiguration, _ body: (LiveSandbox) async throws -> T) async throws -> T {
    let server = try SandboxServer(configuration: configuration)
    let sandbox = LiveSandbox(server: server, url: try await server.start())
    let result: T
    do {
        result = try await body(sandbox)
    } catch {
        await server.stop()
        throw error
    }
    await server.stop()
    return result
}

public func httpGet(_ url: String) async throws -> [UInt8] {
    let request = HTTPClientRequest(url: url)
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    let buffer = try await response.body.collect(upTo: 64 << 20)
    return Array(buffer.readableBytesView)
}
