import Foundation
import Hashing

/// The OAuth2 client-credentials token endpoint and bearer-token checks.
///
/// Why emulate Entra ID at all: the CLI's auth code (token request, caching, refresh on 401) must
/// run unchanged against the sandbox, so a manifest that works here works against a real tenant.
struct Authenticator: Sendable {
    /// client id → secret
    let secrets: [String: String]
    let store: EntityStore
    let lifetimeSeconds: Int
    /// Device codes handed out by `/devicecode` (the device authorization grant).
    let deviceCodes = DeviceCodes()

    init(credentials: [SandboxCredential], store: EntityStore, lifetimeSeconds: Int) {
        var secrets: [String: String] = [:]
        for credential in credentials { secrets[credential.clientID] = credential.clientSecret }
        self.secrets = secrets
        self.store = store
        self.lifetimeSeconds = lifetimeSeconds
    }

    /// An error in Entra ID's shape (`{"error":"invalid_client","error_description":"AADSTS…"}`).
    struct TokenError: Error {
        var status: Int
        var error: String
        var description: String
        var code: Int

        func body(correlationID: String) -> JSONValue {
            [
                "error": .string(error),
                "error_description": .string("AADSTS\(code): \(description) Trace ID: \(correlationID) Correlation ID: \(correlationID) Timestamp: \(Timestamp.now().text)"),
                "error_codes": [.number(Double(code))],
                "correlation_id": .string(correlationID),
                "trace_id": .string(correlationID),
            ]
        }
    }

    /// Answers `POST /{tenant}/oauth2/v2.0/token` with a form body.
    func issueToken(formBody: [UInt8]) async throws -> JSONValue {
        let form = Dictionary(FormDecoding.decode(String(decoding: formBody, as: UTF8.self)), uniquingKeysWith: { a, _ in a })
        guard let grant = form["grant_type"] else {
            throw TokenError(status: 400, error: "invalid_request",
                             description: "The request body must contain the following parameter: 'grant_type'.", code: 900144)
        }
        if grant == DeviceCodes.grantType {
            return try await mint(clientID: try await deviceCodes.poll(form: form))
        }
        guard grant == "client_credentials" else {
            throw TokenError(status: 400, error: "unsupported_grant_type",
                             description: "The sandbox supports grant_type=client_credentials and \(DeviceCodes.grantType) only.", code: 70003)
        }
        guard let clientID = form["client_id"], !clientID.isEmpty else {
            throw TokenError(status: 400, error: "invalid_request",
                             description: "The request body must contain the following parameter: 'client_id'.", code: 900144)
        }
        guard let scope = form["scope"], !scope.isEmpty else {
            throw TokenError(status: 400, error: "invalid_request",
                             description: "The request body must contain the following parameter: 'scope'.", code: 90014)
        }
        guard scope.hasSuffix("/.default") else {
            throw TokenError(status: 400, error: "invalid_scope",
                             description: "The provided value for the input parameter 'scope' is not valid: use https://api.businesscentral.dynamics.com/.default.", code: 1002012)
        }
        guard let expected = secrets[clientID] else {
            throw TokenError(status: 400, error: "unauthorized_client",
                             description: "Application with identifier '\(clientID)' was not found in the directory 'sandbox'.", code: 700016)
        }
        guard form["client_secret"] == expected else {
            throw TokenError(status: 401, error: "invalid_client",
                             description: "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.", code: 7000215)
        }
        return try await mint(clientID: clientID)
    }

    /// Answers `POST /{tenant}/oauth2/v2.0/devicecode` (the device authorization request).
    func issueDeviceCode(formBody: [UInt8]) async throws -> JSONValue {
        let form = Dictionary(FormDecoding.decode(String(decoding: formBody, as: UTF8.self)), uniquingKeysWith: { a, _ in a })
        return try await deviceCodes.start(form: form, knownClients: Set(secrets.keys))
    }

    /// A new bearer token for `clientID`, stored until it expires.
    private func mint(clientID: String) async throws -> JSONValue {
        var bytes = [UInt8](repeating: 0, count: 24)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        let token = "sbx." + bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        try await store.saveToken(token, clientID: clientID, expiresAt: Timestamp.now().seconds + Double(lifetimeSeconds))
        return [
            "token_type": "Bearer",
            "expires_in": .number(Double(lifetimeSeconds)),
            "ext_expires_in": .number(Double(lifetimeSeconds)),
            "access_token": .string(token),
        ]
    }

    /// The client id behind an `Authorization: Bearer …` header; 401 otherwise.
    func authenticate(authorization: String?) async throws -> String {
        guard let authorization else {
            var error = SandboxAPIError.unauthorized
            error.message = "The server has rejected the client credentials: no Authorization header. Send Authorization: Bearer <token> from the token endpoint."
            throw error
        }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            var error = SandboxAPIError.unauthorized
            error.message = "The server has rejected the client credentials: only Bearer tokens are accepted."
            throw error
        }
        guard let client = try await store.client(forToken: parts[1].trimmingWhitespace) else {
            var error = SandboxAPIError.unauthorized
            error.message = "The server has rejected the client credentials: the token is unknown or expired. Request a new one."
            throw error
        }
        return client
    }

    /// Reads `<data>/settings.json` (`{"clients":[{"client_id":"…","client_secret":"…"}]}`) if present.
    static func credentials(fromSettingsIn directory: String) throws(SandboxConfigurationError) -> [SandboxCredential] {
        let path = (directory as NSString).appendingPathComponent("settings.json")
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        let value: JSONValue
        do {
            value = try JSONValue(parsing: Array(data))
        } catch {
            throw .invalidSettings(path: path, reason: error.description)
        }
        guard let clients = value["clients"]?.arrayValue else {
            throw .invalidSettings(path: path, reason: "no \"clients\" array")
        }
        return try clients.map { (client: JSONValue) throws(SandboxConfigurationError) -> SandboxCredential in
            guard let id = client["client_id"]?.stringValue, let secret = client["client_secret"]?.stringValue else {
                throw .invalidSettings(path: path, reason: "each client needs client_id and client_secret strings")
            }
            return SandboxCredential(clientID: id, clientSecret: secret)
        }
    }
}

/// `application/x-www-form-urlencoded` and query-string decoding.
enum FormDecoding {
    /// Splits `a=1&b=2`, turning `+` into a space and decoding `%XX`.
    static func decode(_ text: some StringProtocol) -> [(name: String, value: String)] {
        text.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            if let eq = pair.firstIndex(of: "=") {
                return (percentDecode(pair[..<eq], plusIsSpace: true), percentDecode(pair[pair.index(after: eq)...], plusIsSpace: true))
            }
            return (percentDecode(pair, plusIsSpace: true), "")
        }
    }

    static func percentDecode(_ text: some StringProtocol, plusIsSpace: Bool) -> String {
        var bytes: [UInt8] = []
        let utf8 = Array(text.utf8)
        var i = 0
        while i < utf8.count {
            let c = utf8[i]
            if c == UInt8(ascii: "%"), i + 2 < utf8.count, let hex = UInt8(String(decoding: utf8[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) {
                bytes.append(hex)
                i += 3
            } else if c == UInt8(ascii: "+"), plusIsSpace {
                bytes.append(UInt8(ascii: " "))
                i += 1
            } else {
                bytes.append(c)
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
