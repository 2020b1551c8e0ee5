/// Profiles that exist without a config file.
///
/// Why the constants are duplicated here: `BusinessCentral` must not depend on the `Sandbox`
/// module, yet the built-in profile has to match the emulator's fixed tenant, company and test
/// credential (`SandboxDefaults`). A test in BusinessCentralTests checks they stay equal.
public enum BuiltinProfiles {
    public static let sandboxName = "sandbox"
    public static let sandboxTenant = "sandbox"
    public static let sandboxEnvironment = "production"
    public static let sandboxCompanyID = "4d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f601"
    public static let sandboxClientID = "bcli-sandbox"
    /// A documented test credential of the emulator, not a secret.
    public static let sandboxClientSecret = "bcli-sandbox-secret"
    /// Where a running sandbox is, when set (e.g. `http://127.0.0.1:8080`).
    public static let sandboxURLVariable = "BCLI_SANDBOX_URL"

    /// The built-in `sandbox` profile. `baseURL` is `BCLI_SANDBOX_URL` when set; otherwise `nil`,
    /// which tells the caller to start a sandbox in-process and call `withBaseURL(_:)`.
    public static func sandbox(environment: [String: String]) -> Profile {
        let url = environment[sandboxURLVariable].flatMap { $0.isEmpty ? nil : $0 }
        var profile = Profile(
            name: sandboxName,
            tenantID: sandboxTenant,
            environment: sandboxEnvironment,
            companyID: sandboxCompanyID,
            authMethod: .clientCredentials,
            clientID: sandboxClientID,
            clientSecretEnv: nil,
            disableWrites: false,
            baseURL: url,
            tokenURL: nil,
            timeoutSeconds: Profile.defaultTimeoutSeconds
        )
        profile.isBuiltinSandbox = true
        return profile
    }
}
