/// Fixed identifiers of the emulated Business Central tenant.
///
/// Why constants: the built-in `sandbox` profile, tests and docs all point at the same tenant,
/// environment, company and test credential, so they must never drift apart.
public enum SandboxDefaults {
    /// The tenant segment of every sandbox URL (`/v2.0/sandbox/…`, `/sandbox/oauth2/v2.0/token`).
    public static let tenant = "sandbox"
    /// The only environment the sandbox serves.
    public static let environment = "production"
    /// The id of the seeded company.
    public static let companyID = "4d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f601"
    /// The display name of the seeded company.
    public static let companyName = "CRONUS USA, Inc."
    /// The fixed test client id of the built-in `sandbox` profile (not a secret: documented).
    public static let clientID = "bcli-sandbox"
    /// The fixed test client secret of the built-in `sandbox` profile (not a secret: documented).
    public static let clientSecret = "bcli-sandbox-secret"
}
