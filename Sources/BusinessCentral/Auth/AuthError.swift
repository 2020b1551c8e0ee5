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

    public var description: String {
        switch self {
        case .missingStaticToken(let profile):
            return "profile `\(profile)` uses auth_method = \"static_token\" but BCLI_TOKEN is not set; export BCLI_TOKEN=<bearer token>."
        case .missingClientID(let profile):
            return "profile `\(profile)` has no client_id; add client_id = \"<application (client) id>\" under [profiles.\(profile)], or set BCLI_TOKEN."
        case .missingSecret(let profile, let variables):
            let names = variables.map { "`\($0)`" }.joined(separator: " or ")
            return "no client secret for profile `\(profile)`: set the environment variable \(names) (or set client_secret_env in the profile to the variable that holds it)."
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
        }
    }

    private static func firstLine(_ s: String) -> String {
        let line = s.split(whereSeparator: \.isNewline).first.map(String.init) ?? s
        return line.count > 300 ? String(line.prefix(300)) + "…" : line
    }
}
