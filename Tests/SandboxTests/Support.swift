import AsyncHTTPClient
import Foundation
import Hashing
import NIOCore
import NIOHTTP1
import Testing
import TestSupport
@testable import Sandbox

/// A response as the tests look at it.
struct TestResponse {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]

    var json: JSONValue { (try? JSONValue(parsing: body)) ?? .null }
    var text: String { String(decoding: body, as: UTF8.self) }
    func header(_ name: String) -> String? { headers[name].first }
    var errorCode: String? { json["error"]?["code"]?.stringValue }
    var values: [JSONValue] { json["value"]?.arrayValue ?? [] }
}

/// A sandbox started on port 0 for one test, with a bearer token for the built-in credential.
struct Harness {
    let server: SandboxServer
    let baseURL: String
    var token: String = ""

    var companyRoot: String {
        "\(baseURL)/v2.0/\(SandboxDefaults.tenant)/\(SandboxDefaults.environment)/api/v2.0/companies(\(SandboxDefaults.companyID))"
    }
    var tokenURL: String { "\(baseURL)/\(SandboxDefaults.tenant)/oauth2/v2.0/token" }

    func url(_ entityPath: String) -> String { "\(companyRoot)/\(entityPath)" }

    /// Starts a server (`withSandbox`: its stop is awaited on every way out), fetches a token,
    /// and runs `body`.
    static func with<T>(_ configuration: SandboxConfiguration = SandboxConfiguration(),
                        _ body: (Harness) async throws -> T) async throws -> T
    {
        try await withSandbox(configuration) { sandbox in
            var harness = Harness(server: sandbox.server, baseURL: sandbox.url)
            harness.token = try await harness.fetchToken()
            return try await body(harness)
        }
    }

    func fetchToken(id: String = SandboxDefaults.clientID, secret: String = SandboxDefaults.clientSecret) async throws -> String {
        let response = try await tokenRequest(
            "grant_type=client_credentials&client_id=\(id)&client_secret=\(secret)&scope=https%3A%2F%2Fapi.businesscentral.dynamics.com%2F.default")
        try #require(response.status == 200, "token request failed: \(response.text)")
        return try #require(response.json["access_token"]?.stringValue)
    }

    func tokenRequest(_ form: String) async throws -> TestResponse {
        try await send(.POST, tokenURL, rawBody: Array(form.utf8), headers: ["Content-Type": "application/x-www-form-urlencoded"], auth: false)
    }

    func send(_ method: HTTPMethod, _ url: String, json: JSONValue? = nil, rawBody: [UInt8]? = nil,
              headers: [String: String] = [:], auth: Bool = true) async throws -> TestResponse
    {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if auth { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try json.canonicalBytes()))
        } else if let rawBody {
            request.body = .bytes(ByteBuffer(bytes: rawBody))
        }
        // A hang guard, not a speed check: under CI's full parallel load a debug sandbox took over
        // 30 s to serve a 100-operation $batch.
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let body = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return TestResponse(status: Int(response.status.code), headers: response.headers, body: Array(buffer: body))
    }

    func get(_ entityPath: String, headers: [String: String] = [:]) async throws -> TestResponse {
        try await send(.GET, url(entityPath), headers: headers)
    }

    /// POSTs and requires a 201; returns the created entity.
    @discardableResult
    func create(_ set: String, _ body: JSONValue, headers: [String: String] = [:]) async throws -> JSONValue {
        let response = try await send(.POST, url(set), json: body, headers: headers)
        try #require(response.status == 201, "POST \(set) failed: \(response.status) \(response.text)")
        return response.json
    }

    func journal() async throws -> [JSONValue] {
        let response = try await send(.GET, "\(baseURL)/_sandbox/journal", auth: false)
        try #require(response.status == 200)
        return try response.text.split(separator: "\n").map { try JSONValue(parsing: String($0)) }
    }

    func setFaults(_ specs: [String], latency: String? = nil) async throws -> TestResponse {
        var body: [String: JSONValue] = ["faults": .array(specs.map { .string($0) })]
        if let latency { body["latency"] = .string(latency) }
        return try await send(.POST, "\(baseURL)/_sandbox/faults", json: .object(body), auth: false)
    }

    func faultState() async throws -> JSONValue {
        try await send(.GET, "\(baseURL)/_sandbox/faults", auth: false).json
    }
}

extension JSONValue {
    var id: String? { self["id"]?.stringValue }
    var etag: String? { self["@odata.etag"]?.stringValue }
}
