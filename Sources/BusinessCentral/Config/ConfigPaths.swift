/// Where bcli's config file and token cache live (XDG Base Directory rules).
///
/// Why it takes the environment as a parameter: tests point it at a temp folder without touching
/// the real process environment, which is shared by tests running in parallel.
public enum ConfigPaths {
    /// `$XDG_CONFIG_HOME/bcli/config.toml`, else `~/.config/bcli/config.toml`.
    public static func configFile(environment: [String: String]) -> String {
        "\(base(environment, xdg: "XDG_CONFIG_HOME", fallback: ".config"))/bcli/config.toml"
    }

    /// `$XDG_CACHE_HOME/bcli/tokens.json`, else `~/.cache/bcli/tokens.json`.
    public static func tokenCacheFile(environment: [String: String]) -> String {
        "\(base(environment, xdg: "XDG_CACHE_HOME", fallback: ".cache"))/bcli/tokens.json"
    }

    /// XDG says relative values must be ignored.
    private static func base(_ env: [String: String], xdg: String, fallback: String) -> String {
        if let value = env[xdg], value.hasPrefix("/") {
            return Profile.trimTrailingSlashes(value)
        }
        let home = env["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        return "\(Profile.trimTrailingSlashes(home))/\(fallback)"
    }
}
