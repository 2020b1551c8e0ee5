import AsyncHTTPClient
import Foundation
import Hashing
import NIOCore
import Sandbox
import Testing

/// A sandbox in the test process on port 0, and a way to read its journal over real HTTP.
struct LiveSandbox {
    let server: SandboxServer
    let url: String

    static func start(faults: [String] = [], latency: String? = nil, data: String? = nil) async throws -> LiveSandbox {
        var config = SandboxConfiguration(dataDirectory: data)
        config.faults = try faults.map { try SandboxFault(parsing: $0) }
        if let latency { config.latency = try SandboxLatency(parsing: latency) }
        let server = try SandboxServer(configuration: config)
        return LiveSandbox(server: server, url: try await server.start())
    }

    func stop() async { await server.stop() }

    /// The committed writes, one JSON object per line of `GET /_sandbox/journal`.
    func journal() async throws -> [JSONValue] {
        let body = try await httpGet(url + "/_sandbox/journal")
        return try String(decoding: body, as: UTF8.self).split(separator: "\n").map { try JSONValue(parsing: String($0)) }
    }

    /// Environment for a `bcli` child that should use this sandbox through the built-in profile.
    func env(store: String) -> [String: String] {
        ["BCLI_SANDBOX_URL": url, "BCLI_STORE": store, "XDG_CONFIG_HOME": store + "-config", "XDG_CACHE_HOME": store + "-cache"]
    }
}

func httpGet(_ url: String) async throws -> [UInt8] {
    let request = HTTPClientRequest(url: url)
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    let buffer = try await response.body.collect(upTo: 64 << 20)
    return Array(buffer.readableBytesView)
}

/// Writes a manifest into `dir` and returns its path.
func writeManifest(_ dir: TempDir, _ name: String, _ text: String) throws -> String {
    let path = dir.path + "/" + name
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// Run ids are printed on stderr as `run <32 hex>  store …`.
func runID(fromStderr text: String) -> String? {
    guard let range = text.range(of: #"run [0-9a-f]{32}"#, options: .regularExpression) else { return nil }
    return String(text[range].dropFirst(4))
}
