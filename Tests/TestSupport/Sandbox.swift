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
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
    let buffer = try await response.body.collect(upTo: 64 << 20)
    return Array(buffer.readableBytesView)
}

/// Talking to the sandbox over real HTTP the way a test does: its fault controls, a token for the
/// built-in credential, and authorized requests.
extension LiveSandbox {
    /// `GET /_sandbox/faults`: the faults, how many requests are held, what is in flight.
    public func faultState() async throws -> JSONValue {
        try JSONValue(parsing: try await httpGet(url + "/_sandbox/faults"))
    }

    /// The number of requests the sandbox holds right now (the `hold` fault); -1 if unreadable.
    public func held() async throws -> Int {
        Int(try await faultState()["held"]?.doubleValue ?? -1)
    }

    /// Replaces the faults; returns the HTTP status.
    @discardableResult
    public func setFaults(_ faults: [String]) async throws -> Int {
        let body = try JSONValue.object(["faults": .array(faults.map { .string($0) })]).canonicalString()
        return try await send("POST", url + "/_sandbox/faults", body: body, auth: false).status
    }

    /// `POST /_sandbox/release`: lets the held requests go on.
    public func release() async throws {
        _ = try await send("POST", url + "/_sandbox/release", auth: false)
    }

    /// A bearer token for the built-in client credential.
    public func token() async throws -> String {
        let form = "grant_type=client_credentials&client_id=\(SandboxDefaults.clientID)&client_secret=\(SandboxDefaults.clientSecret)"
            + "&scope=https%3A%2F%2Fapi.businesscentral.dynamics.com%2F.default"
        var request = HTTPClientRequest(url: "\(url)/\(SandboxDefaults.tenant)/oauth2/v2.0/token")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: form))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let bytes = Array(try await response.body.collect(upTo: 1 << 20).readableBytesView)
        guard let token = (try? JSONValue(parsing: bytes))?["access_token"]?.stringValue else {
            throw SandboxTokenRefused(status: Int(response.status.code), body: String(decoding: bytes, as: UTF8.self))
        }
        return token
    }

    /// The URL of `entitySet` (or one entity of it) in the seeded company.
    public func entityURL(_ entitySet: String, id: String? = nil) -> String {
        "\(url)/v2.0/\(SandboxDefaults.tenant)/\(SandboxDefaults.environment)/api/v2.0/companies(\(SandboxDefaults.companyID))/\(entitySet)"
            + (id.map { "(\($0))" } ?? "")
    }

    /// Sends a request; with `auth`, as the built-in client and with `If-Match: *` (a write goes
    /// through whatever the record's ETag). Returns the status and the body as JSON (null if not JSON).
    public func send(_ method: String, _ url: String, body: String? = nil, auth: Bool = true) async throws -> (status: Int, json: JSONValue) {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        if auth {
            request.headers.add(name: "Authorization", value: "Bearer \(try await token())")
            request.headers.add(name: "If-Match", value: "*")
        }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let bytes = Array(try await response.body.collect(upTo: 1 << 20).readableBytesView)
        return (Int(response.status.code), (try? JSONValue(parsing: bytes)) ?? .null)
    }
}

public struct SandboxTokenRefused: Error, CustomStringConvertible {
    public let status: Int
    public let body: String
    public var description: String { "the sandbox refused a token (\(status)): \(body)" }
}

/// Starts `bcli` with `args` and returns once `sandbox` holds one of its requests (the `hold`
/// fault), so a signal sent next lands at an exact point, not after a guessed delay. `held` is
/// false when bcli ended before that.
public func bcliUntilHeld(_ sandbox: LiveSandbox, _ args: [String], env: [String: String]) async throws -> (child: ChildProcess, held: Bool) {
    let child = try ChildProcess(Paths.bcli, args, env: env)
    while try await sandbox.held() != 1 {
        if !child.isRunning { return (child, false) }
        await Task.yield()
    }
    return (child, true)
}
