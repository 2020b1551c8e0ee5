import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The OAuth2 device authorization grant (RFC 8628), as Microsoft Entra ID runs it and as the
/// Python tool (through MSAL) uses it for `auth_method = "device_code"`:
///
/// 1. POST `<tenant>/oauth2/v2.0/devicecode` with `client_id` and `scope`; the answer holds
///    `device_code`, `user_code`, `verification_uri`, `interval` (default 5 s), `expires_in`
///    (default 900 s) and a `message` for the user.
/// 2. Show the message (URL and code) on stderr.
/// 3. Every `interval` seconds, POST the token endpoint with
///    `grant_type=urn:ietf:params:oauth:grant-type:device_code`, `client_id`, `device_code`:
///    `authorization_pending` → poll again; `slow_down` → add 5 s to the interval and poll again;
///    a token → done; any other error (`authorization_declined`, `expired_token`,
///    `bad_verification_code`, …) or the code's expiry → `AuthError.deviceCodeFailed`.
struct DeviceCodeFlow {
    static let grantType = "urn:ietf:params:oauth:grant-type:device_code"

    let deviceCodeURL: String
    let tokenURL: String
    let clientID: String
    let profile: Profile
    let httpClient: HTTPClient
    let now: @Sendable () -> Date
    let sleep: @Sendable (Double) async throws -> Void
    let prompt: @Sendable (String) -> Void

    func run() async throws -> CachedToken {
        let (status, body) = try await post(deviceCodeURL, [("client_id", clientID), ("scope", Profile.defaultScope)])
        let json = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        guard (200..<300).contains(status) else {
            let code = json?["error"] as? String
            let text = json?["error_description"] as? String
            throw AuthError.rejected(tokenURL: deviceCodeURL, status: status, error: code, errorDescription: text,
                                     hint: TokenProvider.hint(status: status, error: code, description: text, profile: profile))
        }
        guard let json, let deviceCode = json["device_code"] as? String, let userCode = json["user_code"] as? String else {
            throw AuthError.invalidResponse(tokenURL: deviceCodeURL, reason: "no device_code and user_code in the response")
        }
        let uri = (json["verification_uri"] as? String) ?? (json["verification_url"] as? String) ?? "https://microsoft.com/devicelogin"
        var interval = Self.number(json["interval"]) ?? 5
        let deadline = now().addingTimeInterval(Self.number(json["expires_in"]) ?? 900)
        prompt((json["message"] as? String) ?? "To sign in, use a web browser to open the page \(uri) and enter the code \(userCode) to authenticate.")

        while true {
            try await sleep(interval)
            if now() >= deadline {
                throw AuthError.deviceCodeFailed(url: tokenURL, error: "expired_token",
                                                 errorDescription: "the code expired before sign-in finished")
            }
            let sentAt = now()
            let (status, body) = try await post(tokenURL, [
                ("grant_type", Self.grantType), ("client_id", clientID), ("device_code", deviceCode),
            ])
            if (200..<300).contains(status) {
                return try TokenProvider.parseTokenResponse(status: status, body: body, tokenURL: tokenURL, sentAt: sentAt, profile: profile)
            }
            let answer = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
            let error = (answer?["error"] as? String) ?? "HTTP \(status)"
            switch error {
            case "authorization_pending": continue
            case "slow_down": interval += 5
            default:
                throw AuthError.deviceCodeFailed(url: tokenURL, error: error, errorDescription: answer?["error_description"] as? String)
            }
        }
    }

    private static func number(_ value: Any?) -> Double? {
        if let n = value as? NSNumber { return n.doubleValue }
        if let s = value as? String { return Double(s) }
        return nil
    }

    private func post(_ url: String, _ fields: [(String, String)]) async throws -> (Int, [UInt8]) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: Array(FormEncoding.encode(fields).utf8)))
        do {
            let response = try await httpClient.execute(request, timeout: .seconds(Int64(max(1, profile.timeoutSeconds.rounded(.up)))))
            let buffer = try await response.body.collect(upTo: 1 << 20)
            return (Int(response.status.code), Array(buffer.readableBytesView))
        } catch {
            throw AuthError.unreachable(tokenURL: url, reason: TransportFailure.describe(error))
        }
    }
}
