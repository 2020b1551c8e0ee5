import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Something that hands out bearer tokens for `BCClient`.
///
/// Why a protocol: the client should not care whether a token is static (`BCLI_TOKEN`) or comes
/// from OAuth2, and the Batch module may want to wrap it.
public protocol BearerTokenSource: Sendable {
    /// A bearer token (without the `Bearer ` prefix).
    func token() async throws(AuthError) -> String
    /// Forget `token` after the API rejected it with 401. Returns true when asking again may yield
    /// a different token (so one retry makes sense), false for a static token.
    func invalidate(_ token: String) async -> Bool
}

/// OAuth2 client-credentials tokens, or a static `BCLI_TOKEN`, with an in-memory and on-disk cache.
///
/// Rules:
/// - `BCLI_TOKEN` set and non-empty → used as is (any auth method), never cached.
/// - `auth_method = "static_token"` without `BCLI_TOKEN` → `AuthError.missingStaticToken`.
/// - `auth_method = "browser"` → `AuthError.unsupportedMethod`, naming device_code.
/// - `auth_method = "device_code"` → the device authorization grant (`DeviceCodeFlow`).
/// - client credentials: secret from the variable named by `client_secret_env`, else (built-in
///   sandbox only) the sandbox's fixed test secret, else `BCLI_CLIENT_SECRET`, else
///   `BCLI_SECRET`. Token requested
///   by a form-encoded POST to `profile.tokenEndpoint()` with scope
///   `https://api.businesscentral.dynamics.com/.default`; reused until 5 minutes before expiry.
/// - Concurrent callers share one token request.
public actor TokenProvider: BearerTokenSource {
    public static let staticTokenVariable = "BCLI_TOKEN"
    public static let secretVariable = "BCLI_CLIENT_SECRET"
    /// The Python tool's generic fallback (and the variable name its `config init` suggests).
    public static let fallbackSecretVariable = "BCLI_SECRET"
    /// A token is not used when it has less than this left.
    public static let expiryMargin: TimeInterval = 5 * 60

    private let profile: Profile
    private let environment: [String: String]
    private let cache: TokenCache?
    private let httpClient: HTTPClient
    private let now: @Sendable () -> Date
    private let sleep: @Sendable (Double) async throws -> Void
    private let prompt: @Sendable (String) -> Void
    private var memory: CachedToken?
    private var inFlight: Task<CachedToken, any Error>?
    /// How many token requests this provider sent (for tests and diagnostics).
    public private(set) var fetchCount = 0

    /// - Parameters:
    ///   - cacheFile: the token cache (usually `ConfigPaths.tokenCacheFile(environment:)`);
    ///     nil keeps tokens in memory only.
    ///   - now: the clock, injectable so tests can move past the expiry margin.
    ///   - sleep: waits between device-code polls (seconds); injectable so tests need not wait.
    ///   - prompt: shows the device-code sign-in message (default: stderr).
    public init(
        profile: Profile,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        cacheFile: String?,
        httpClient: HTTPClient,
        now: @escaping @Sendable () -> Date = { Date() },
        sleep: @escaping @Sendable (Double) async throws -> Void = { try await Task.sleep(nanoseconds: UInt64(max(0, $0) * 1e9)) },
        prompt: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data(("\n" + $0 + "\n\n").utf8)) }
    ) {
        self.profile = profile
        self.environment = environment
        self.cache = cacheFile.map(TokenCache.init(path:))
        self.httpClient = httpClient
        self.now = now
        self.sleep = sleep
        self.prompt = prompt
    }

    public func token() async throws(AuthError) -> String {
        if let fixed = environment[Self.staticTokenVariable], !fixed.isEmpty {
            return fixed
        }
        if profile.authMethod == .staticToken {
            throw .missingStaticToken(profile: profile.name)
        }
        if profile.authMethod == .browser {
            throw .unsupportedMethod(profile: profile.name, method: profile.authMethod.rawValue)
        }
        let credentials = try resolveCredentials()
        if let memory, memory.isUsable(at: now(), margin: Self.expiryMargin) {
            return memory.accessToken
        }
        if let cached = cache?.read(key: credentials.cacheKey), cached.isUsable(at: now(), margin: Self.expiryMargin) {
            memory = cached
            return cached.accessToken
        }
        let task: Task<CachedToken, any Error>
        if let inFlight {
            task = inFlight
        } else {
            task = Task { try await self.fetch(credentials) }
            inFlight = task
        }
        do {
            let fresh = try await task.value
            if inFlight == task { inFlight = nil }
            memory = fresh
            return fresh.accessToken
        } catch {
            if inFlight == task { inFlight = nil }
            throw (error as? AuthError) ?? .unreachable(tokenURL: credentials.tokenURL, reason: String(describing: error))
        }
    }

    public func invalidate(_ token: String) async -> Bool {
        if let fixed = environment[Self.staticTokenVariable], !fixed.isEmpty { return false }
        if profile.authMethod == .staticToken { return false }
        if memory?.accessToken == token { memory = nil }
        if let cache, let credentials = try? resolveCredentials(),
            cache.read(key: credentials.cacheKey)?.accessToken == token
        {
            try? cache.write(key: credentials.cacheKey, token: nil, now: now())
        }
        return true
    }

    // MARK: Client credentials

    struct Credentials: Sendable {
        var tokenURL: String
        var clientID: String
        var secret: String
        /// The device authorization endpoint, for `auth_method = "device_code"` (no secret then).
        var deviceCodeURL: String? = nil
        /// A device-code token acts for a user, a client-credentials one for the app: kept apart.
        var cacheKey: String { TokenCache.key(tokenURL: tokenURL, clientID: clientID) + (deviceCodeURL == nil ? "" : " device_code") }
    }

    func resolveCredentials() throws(AuthError) -> Credentials {
        let tokenURL: String
        do {
            tokenURL = try profile.tokenEndpoint()
        } catch {
            throw .config(error)
        }
        guard let clientID = profile.clientID, !clientID.isEmpty else {
            throw .missingClientID(profile: profile.name)
        }
        if profile.authMethod == .deviceCode {
            guard tokenURL.hasSuffix("/token") else {
                throw .config(.invalidValue(path: "config.toml", line: nil, table: "profiles.\(profile.name)", key: "token_url",
                                            message: "device_code sign-in needs a token_url ending in /token (the device code endpoint is the same URL ending in /devicecode)"))
            }
            return Credentials(tokenURL: tokenURL, clientID: clientID, secret: "",
                               deviceCodeURL: String(tokenURL.dropLast("token".count)) + "devicecode")
        }
        var looked: [String] = []
        if let variable = profile.clientSecretEnv {
            looked.append(variable)
            if let secret = environment[variable], !secret.isEmpty {
                return Credentials(tokenURL: tokenURL, clientID: clientID, secret: secret)
            }
        }
        if profile.isSandbox {
            return Credentials(tokenURL: tokenURL, clientID: clientID, secret: BuiltinProfiles.sandboxClientSecret)
        }
        for variable in [Self.secretVariable, Self.fallbackSecretVariable] where !looked.contains(variable) {
            looked.append(variable)
            if let secret = environment[variable], !secret.isEmpty {
                return Credentials(tokenURL: tokenURL, clientID: clientID, secret: secret)
            }
        }
        throw .missingSecret(profile: profile.name, variables: looked)
    }

    private func fetch(_ credentials: Credentials) async throws -> CachedToken {
        fetchCount += 1
        if let deviceCodeURL = credentials.deviceCodeURL {
            let flow = DeviceCodeFlow(deviceCodeURL: deviceCodeURL, tokenURL: credentials.tokenURL, clientID: credentials.clientID,
                                      profile: profile, httpClient: httpClient, now: now, sleep: sleep, prompt: prompt)
            let token = try await flow.run()
            if let cache { try? cache.write(key: credentials.cacheKey, token: token, now: now()) }
            return token
        }
        let form = FormEncoding.encode([
            ("grant_type", "client_credentials"),
            ("client_id", credentials.clientID),
            ("client_secret", credentials.secret),
            ("scope", Profile.defaultScope),
        ])
        var request = HTTPClientRequest(url: credentials.tokenURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: Array(form.utf8)))

        let status: Int
        let body: [UInt8]
        let sentAt = now()
        do {
            let response = try await httpClient.execute(request, timeout: .seconds(Int64(max(1, profile.timeoutSeconds.rounded(.up)))))
            status = Int(response.status.code)
            let buffer = try await response.body.collect(upTo: 1 << 20)
            body = Array(buffer.readableBytesView)
        } catch {
            throw AuthError.unreachable(tokenURL: credentials.tokenURL, reason: TransportFailure.describe(error))
        }

        let token = try Self.parseTokenResponse(status: status, body: body, tokenURL: credentials.tokenURL, sentAt: sentAt, profile: profile)
        if let cache {
            try? cache.write(key: credentials.cacheKey, token: token, now: now())
        }
        return token
    }

    /// A token endpoint's answer as a token, or the `AuthError` naming the fix.
    static func parseTokenResponse(status: Int, body: [UInt8], tokenURL: String, sentAt: Date, profile: Profile) throws(AuthError) -> CachedToken {
        let json = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        guard (200..<300).contains(status) else {
            let code = json?["error"] as? String
            let text = json?["error_description"] as? String
            throw .rejected(
                tokenURL: tokenURL, status: status, error: code, errorDescription: text,
                hint: Self.hint(status: status, error: code, description: text, profile: profile))
        }
        guard let json else {
            throw .invalidResponse(tokenURL: tokenURL, reason: "the body is not a JSON object")
        }
        guard let accessToken = json["access_token"] as? String, !accessToken.isEmpty else {
            throw .invalidResponse(tokenURL: tokenURL, reason: "no access_token in the response")
        }
        if let type = json["token_type"] as? String, type.lowercased() != "bearer" {
            throw .invalidResponse(tokenURL: tokenURL, reason: "token_type is \(type), expected Bearer")
        }
        let lifetime: TimeInterval
        if let n = json["expires_in"] as? NSNumber {
            lifetime = n.doubleValue
        } else if let s = json["expires_in"] as? String, let n = Double(s) {
            lifetime = n
        } else {
            lifetime = 3600
        }
        return CachedToken(accessToken: accessToken, expiresAt: sentAt.addingTimeInterval(lifetime))
    }

    /// The fix to name for a refused token request (Microsoft Entra's AADSTS codes).
    static func hint(status: Int, error: String?, description: String?, profile: Profile) -> String {
        let d = description ?? ""
        let secretSource = profile.clientSecretEnv.map { "`\($0)`" } ?? "`\(secretVariable)`"
        if d.contains("AADSTS7000222") {
            return "The client secret has expired: create a new one for the app registration and put it in \(secretSource)."
        }
        if d.contains("AADSTS7000215") || error == "invalid_client" {
            return "Check the client secret in \(secretSource) and client_id `\(profile.clientID ?? "")`."
        }
        if d.contains("AADSTS700016") || error == "unauthorized_client" {
            return "Check client_id `\(profile.clientID ?? "")`: the app registration must exist in tenant `\(profile.tenantID)`."
        }
        if d.contains("AADSTS90002") || d.contains("AADSTS900023") || error == "invalid_tenant" {
            return "Check tenant_id `\(profile.tenantID)` in profile `\(profile.name)`."
        }
        if error == "invalid_scope" {
            return "The app registration needs the Business Central application permission API.ReadWrite.All."
        }
        return "Check tenant_id, client_id and the client secret in \(secretSource) for profile `\(profile.name)`."
    }
}

/// `application/x-www-form-urlencoded` encoding (RFC 3986 unreserved characters kept, all else
/// percent-encoded).
enum FormEncoding {
    static func encode(_ fields: [(String, String)]) -> String {
        fields.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    static func escape(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? s
    }

    static let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
}
