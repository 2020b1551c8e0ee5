/// Why no bearer token could be obtained. Every message names the fix.
/// No message ever contains a secret or a token.
public enum AuthError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `auth_method = "static_token"` but `BCLI_TOKEN` is not set.
    case missingStaticToken(profile: String)
    /// Client credentials need a `client_id`.
    case missingClientID(profile: String)
    /// No client secret in any of the environment variables looked at (in order).
    case missingSecret(profile: String, variables: [String])
    /// The token endpoint refused the request (e.g. wrong secret, unknown client or tenant).
    case rejected(tokenURL: String, status: Int, error: String?, errorDescription: String?, hint: String)
    /// The token endpoint could not be reached.
    case unreachable(tokenURL: String, reason: String)
    /// The token endpoint answered 2xx with something that is not a token response.
    case invalidResponse(tokenURL: String, reason: String)
    /// The profile cannot name a token endpoint (e.g. the sandbox is not started).
    case config(ConfigError)
    /// An auth method bcli loads but cannot perform (`browser`).
    case unsupportedMethod(profile: String, method: String)
    /// The device authorization grant ended without a token (declined, expired, refused).
    case deviceCodeFailed(url: String, error: String, errorDescription: String?)

    public var description: String {
        switch self {
        case .missingStaticToken(let profile):
            return "profile `\(profile)` uses auth_method = \"static_token\" but BCLI_TOKEN is not set; export BCLI_TOKEN=<bearer token>."
        case .missingClientID(let profile):
            return "profile `\(profile)` has no client_id; add client_id = \"<application (client) id>\" under [profiles.\(profile)], or set BCLI_TOKEN."
        case .missingSecret(let profile, let variables):
            let names = variables.map { "`\($0)`" }.joined(separator: " or ")
            return "no client secret for profile `\(profile)`: set the environment variable \(names) (or set client_secret_env in the profile to the variable that holds it). "
                + "bcli does not read the OS keyring (where the Python tool's `bcli auth store-secret` keeps it): export the secret instead, e.g. `export BCLI_SECRET=…`."
        case .rejected(let url, let status, let error, let errorDescription, let hint):
            var text = "authentication failed at \(url) (HTTP \(status)"
            if let error { text += ", \(error)" }
            text += ")"
            if let errorDescription { text += ": \(Self.firstLine(errorDescription))" }
            return text + ". \(hint)"
        case .unreachable(let url, let reason):
            return "cannot reach the token endpoint \(url): \(reason). Check the network, token_url and tenant_id."
        case .invalidResponse(let url, let reason):
            return "the token endpoint \(url) returned an unusable answer: \(reason). Check token_url."
        case .config(let error):
            return error.description
        case .unsupportedMethod(let profile, let method):
            return "profile `\(profile)` uses auth_method = \"\(method)\" (interactive browser sign-in), which bcli does not support: "
                + "use auth_method = \"device_code\" (the same app registration; bcli prints a URL and a code to enter in any browser), "
                + "or client_credentials with client_secret_env, or export BCLI_TOKEN=<bearer token>."
        case .deviceCodeFailed(let url, let error, let errorDescription):
            let why = errorDescription.map { ": \(Self.firstLine($0))" } ?? ""
            let fix: String
            switch error {
            case "expired_token": fix = "The code expired before sign-in finished: run the command again and sign in within the time shown."
            case "authorization_declined": fix = "The sign-in was declined: run the command again and accept."
            default: fix = "Check tenant_id and client_id, and that the app registration allows public client flows."
            }
            return "device code sign-in failed at \(url) (\(error))\(why). \(fix)"
        }
    }

    private static func firstLine(_ s: String) -> String {
        let line = s.split(whereSeparator: \.isNewline).first.map(String.init) ?? s
        return line.count > 300 ? String(line.prefix(300)) + "…" : line
    }
}
