/// How a profile obtains its bearer token.
public enum AuthMethod: String, Sendable, Equatable, CaseIterable {
    /// OAuth2 client credentials (service-to-service) against the profile's token URL.
    case clientCredentials = "client_credentials"
    /// A bearer token given in the `BCLI_TOKEN` environment variable (CI, short-lived tokens).
    case staticToken = "static_token"
    /// The OAuth2 device authorization grant (RFC 8628): bcli prints a URL and a code on stderr,
    /// the user signs in on any browser, bcli polls the token endpoint.
    case deviceCode = "device_code"
    /// The Python tool's interactive browser sign-in (auth code + PKCE on a loopback redirect).
    /// Loaded, so its config files load; asking for a token fails with the alternative
    /// (`AuthError.unsupportedMethod`).
    case browser = "browser"
}

/// A `[profiles.NAME.companies.ALIAS]` table: a short name for a company id.
public struct CompanyAlias: Sendable, Equatable {
    public var id: String
    /// The company's display name; empty when the file gives none.
    public var name: String

    public init(id: String, name: String = "") {
        self.id = id
        self.name = name
    }
}

/// One Business Central connection: tenant, environment, company, credentials and API route.
///
/// Why a value type: a command resolves its profile once and hands it to the URL builder, the
/// token provider and the client, and the ledger records its tenant/environment/company/base URL.
public struct Profile: Sendable, Equatable {
    /// Microsoft's public API host; the default `base_url`.
    public static let defaultBaseURL = "https://api.businesscentral.dynamics.com"
    /// The OAuth2 scope of the Business Central API.
    public static let defaultScope = "https://api.businesscentral.dynamics.com/.default"
    /// Seconds a request may take before it is abandoned, when `timeout` is not set.
    public static let defaultTimeoutSeconds: Double = 60

    public var name: String
    public var tenantID: String
    public var environment: String
    /// Needed to build entity URLs; a profile without it can still authenticate.
    public var companyID: String?
    public var authMethod: AuthMethod
    public var clientID: String?
    /// The name of the environment variable holding the client secret (never the secret itself).
    public var clientSecretEnv: String?
    /// The write gate: batches that write need explicit confirmation on this profile.
    public var disableWrites: Bool
    /// Custom API route (`/api/<publisher>/<group>/<version>`); all three or none.
    public var apiPublisher: String?
    public var apiGroup: String?
    public var apiVersion: String?
    /// The scheme and host (and optional path prefix) in front of `/v2.0/…`, without a trailing
    /// slash. `nil` only for the built-in `sandbox` profile before its server is started.
    public var baseURL: String?
    /// The OAuth2 token endpoint; `nil` means the default derived from tenant (see `tokenEndpoint()`).
    public var tokenURL: String?
    public var timeoutSeconds: Double
    /// `company_name`: the company's display name; when `company_id` is absent, the name a
    /// `CompanyResolver` looks up through the companies endpoint.
    public var companyName: String?
    /// `[profiles.NAME.companies.ALIAS]` tables, by alias.
    public var companies: [String: CompanyAlias] = [:]
    /// The policy keys (see `PolicyGate` in Batch): refuse steps outside the custom API,
    /// and allow-lists of entity sets and of the standard catalogue's categories.
    public var disableStandardAPI = false
    public var allowedCategories: [String] = []
    public var allowedEndpoints: [String] = []
    /// `[defaults] format` (or `BCLI_FORMAT`): the output format commands use when no
    /// `--format` is given, as written (`table`, `json`, …); nil when not set.
    public var defaultFormat: String?
    /// `[defaults] page_size`: records per page for GET paging.
    public var pageSize: Int = Profile.defaultPageSize
    /// Records per page when `page_size` is not set (the Python tool's default).
    public static let defaultPageSize = 100
    /// `rate_limit_requests`, `rate_limit_window_seconds`, `rate_limit_concurrent` (in the
    /// profile, else `[defaults]`, else BC's documented per-user limits): what the client's
    /// `RateLimiter` holds every request of this profile to.
    public var rateLimit: RateLimit = .businessCentral

    /// True when any of `disable_standard_api`, `allowed_categories`, `allowed_endpoints` is set.
    public var hasEndpointPolicy: Bool {
        disableStandardAPI || !allowedCategories.isEmpty || !allowedEndpoints.isEmpty
    }

    public init(
        name: String,
        tenantID: String,
        environment: String,
        companyID: String? = nil,
        authMethod: AuthMethod = .clientCredentials,
        clientID: String? = nil,
        clientSecretEnv: String? = nil,
        disableWrites: Bool = false,
        apiPublisher: String? = nil,
        apiGroup: String? = nil,
        apiVersion: String? = nil,
        baseURL: String? = Profile.defaultBaseURL,
        tokenURL: String? = nil,
        timeoutSeconds: Double = Profile.defaultTimeoutSeconds
    ) {
        self.name = name
        self.tenantID = tenantID
        self.environment = environment
        self.companyID = companyID
        self.authMethod = authMethod
        self.clientID = clientID
        self.clientSecretEnv = clientSecretEnv
        self.disableWrites = disableWrites
        self.apiPublisher = apiPublisher
        self.apiGroup = apiGroup
        self.apiVersion = apiVersion
        self.baseURL = baseURL.map(Profile.trimTrailingSlashes)
        self.tokenURL = tokenURL
        self.timeoutSeconds = timeoutSeconds
    }

    /// True for the built-in `sandbox` profile (the fixed test secret applies only to it).
    public var isSandbox: Bool { isBuiltinSandbox }

    /// Set by `BuiltinProfiles.sandbox`; a user profile that happens to be named "sandbox" is not
    /// the built-in one.
    var isBuiltinSandbox = false

    /// The same profile pointed at `url` (e.g. a sandbox started in-process on a random port).
    public func withBaseURL(_ url: String) -> Profile {
        var copy = self
        copy.baseURL = Profile.trimTrailingSlashes(url)
        return copy
    }

    /// The custom API route when the profile names one, else the standard `v2.0` route.
    public var defaultRoute: APIRoute {
        if let p = apiPublisher, let g = apiGroup, let v = apiVersion {
            return .custom(publisher: p, group: g, version: v)
        }
        return .standard
    }

    /// The token endpoint: `token_url` when set; for the built-in sandbox
    /// `<base>/<tenant>/oauth2/v2.0/token`; otherwise Microsoft Entra's
    /// `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token`.
    public func tokenEndpoint() throws(ConfigError) -> String {
        if let tokenURL { return tokenURL }
        if isBuiltinSandbox {
            guard let baseURL else { throw ConfigError.sandboxNotStarted }
            return "\(baseURL)/\(tenantID)/oauth2/v2.0/token"
        }
        return "https://login.microsoftonline.com/\(tenantID)/oauth2/v2.0/token"
    }

    static func trimTrailingSlashes(_ url: String) -> String {
        var u = Substring(url)
        while u.hasSuffix("/") { u = u.dropLast() }
        return String(u)
    }
}

/// Which API an entity set lives under.
public enum APIRoute: Sendable, Equatable {
    /// Microsoft's standard API: `/api/v2.0`.
    case standard
    /// A custom (AL) API page: `/api/<publisher>/<group>/<version>`.
    case custom(publisher: String, group: String, version: String)
}
