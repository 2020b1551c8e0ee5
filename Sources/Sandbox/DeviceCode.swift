import Foundation
import Hashing

/// The OAuth2 device authorization grant (RFC 8628) as Microsoft Entra ID answers it:
/// `POST /{tenant}/oauth2/v2.0/devicecode` hands out a device code and a user code, and the token
/// endpoint answers `grant_type=urn:ietf:params:oauth:grant-type:device_code` polls with
/// `authorization_pending` until the user has signed in.
///
/// The sandbox has no user to sign in: it approves a code on the poll after
/// `DeviceCodes.pendingPolls` pending answers, so a client's whole loop (message, interval,
/// pending, token) runs unchanged. Codes expire after `lifetimeSeconds`.
actor DeviceCodes {
    static let grantType = "urn:ietf:params:oauth:grant-type:device_code"
    /// How many polls of a code are answered `authorization_pending` before it is approved.
    static let pendingPolls = 2
    /// Seconds a client should wait between polls (Entra says 5; the sandbox keeps tests short).
    static let intervalSeconds = 1
    static let lifetimeSeconds = 900
    static let verificationURI = "https://microsoft.com/devicelogin"

    struct Pending {
        let clientID: String
        let expiresAt: Date
        var polls = 0
    }

    private var codes: [String: Pending] = [:]

    /// Answers the device authorization request (form: `client_id`, `scope`).
    func start(form: [String: String], knownClients: Set<String>) throws -> JSONValue {
        guard let clientID = form["client_id"], !clientID.isEmpty else {
            throw Authenticator.TokenError(status: 400, error: "invalid_request",
                                           description: "The request body must contain the following parameter: 'client_id'.", code: 900144)
        }
        guard knownClients.contains(clientID) else {
            throw Authenticator.TokenError(status: 400, error: "unauthorized_client",
                                           description: "Application with identifier '\(clientID)' was not found in the directory 'sandbox'.", code: 700016)
        }
        guard let scope = form["scope"], !scope.isEmpty else {
            throw Authenticator.TokenError(status: 400, error: "invalid_request",
                                           description: "The request body must contain the following parameter: 'scope'.", code: 90014)
        }
        let deviceCode = Self.random(32)
        let userCode = String(Self.random(4).uppercased())
        codes[deviceCode] = Pending(clientID: clientID, expiresAt: Date().addingTimeInterval(Double(Self.lifetimeSeconds)))
        return [
            "device_code": .string(deviceCode),
            "user_code": .string(userCode),
            "verification_uri": .string(Self.verificationURI),
            "expires_in": .number(Double(Self.lifetimeSeconds)),
            "interval": .number(Double(Self.intervalSeconds)),
            "message": .string("To sign in, use a web browser to open the page \(Self.verificationURI) and enter the code \(userCode) to authenticate."),
        ]
    }

    /// One poll: the client id to issue a token for once approved; `authorization_pending`,
    /// `expired_token` or `bad_verification_code` otherwise.
    func poll(form: [String: String]) throws -> String {
        guard let deviceCode = form["device_code"], var pending = codes[deviceCode] else {
            throw Authenticator.TokenError(status: 400, error: "bad_verification_code",
                                           description: "The provided value for the input parameter 'device_code' is not valid.", code: 70019)
        }
        guard form["client_id"] == pending.clientID else {
            throw Authenticator.TokenError(status: 400, error: "invalid_grant",
                                           description: "The device code was issued to another client.", code: 70000)
        }
        guard Date() < pending.expiresAt else {
            codes[deviceCode] = nil
            throw Authenticator.TokenError(status: 400, error: "expired_token",
                                           description: "The device code has expired.", code: 70020)
        }
        pending.polls += 1
        if pending.polls <= Self.pendingPolls {
            codes[deviceCode] = pending
            throw Authenticator.TokenError(status: 400, error: "authorization_pending",
                                           description: "The user has not yet completed authorization.", code: 70016)
        }
        codes[deviceCode] = nil
        return pending.clientID
    }

    private static func random(_ bytes: Int) -> String {
        (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }
}
