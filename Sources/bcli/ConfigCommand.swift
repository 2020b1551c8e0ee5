import ArgumentParser
import BusinessCentral
import Foundation
import Support

/// `bcli config …`: the config file as bcli reads it.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check config.toml (and a project .bcli.toml) as bcli reads them.",
        discussion: """
            Examples:
              List every config key and whether bcli uses it:
                bcli config check
              The same as JSON, for a script:
                bcli config check --format json
              Write a commented starter config.toml to fill in:
                bcli config init
            """,
        subcommands: [ConfigCheckCommand.self, ConfigInitCommand.self]
    )
}

/// `bcli config init`: a commented starter config.toml, so a first user edits a file instead of
/// reading docs to write one. Never overwrites: an existing file is left as it is (exit 1).
struct ConfigInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a commented starter config.toml (never overwrites one).",
        discussion: """
            Writes $XDG_CONFIG_HOME/bcli/config.toml (else ~/.config/bcli/config.toml), or --path, with \
            one profile to fill in and every other key commented out. The file is created with mode \
            0600. Secrets never go in it: `client_secret_env` names the variable that holds one. \
            Exit: 0 written; 1 a file is already there (it is not touched). See docs/configuration.md.

            Examples:
              Write the starter file (then fill it in and run `bcli config check`):
                bcli config init
              Write it somewhere else (then point XDG_CONFIG_HOME at its folder's parent):
                bcli config init --path /tmp/bcli-config/bcli/config.toml
            """
    )

    @Option(help: ArgumentHelp("Where to write it (default: the file bcli reads).", valueName: "file"), completion: .file())
    var path: String?

    func validate() throws {
        try OutputPath.validate(path, flag: "--path")
    }

    func run() throws {
        let target = path ?? ConfigPaths.configFile(environment: ProcessInfo.processInfo.environment)
        if FileManager.default.fileExists(atPath: target) {
            throw CLIFailure(.failure, "\(target) already exists and was left as it is — edit it, or check it with `bcli config check`")
        }
        let folder = URL(fileURLWithPath: target).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try AtomicFile.write(Array(Self.starter.utf8), to: target, mode: 0o600)
        } catch {
            throw CLIFailure(.failure, "cannot write \(target): \(error) — check that \(folder) is writable, or pass --path")
        }
        Terminal.line(target)
        Terminal.note("wrote a starter config to \(target): fill in [profiles.prod], then run `bcli config check`")
    }

    /// Loads as it stands (the profile's values are placeholders), so `config check` passes at once.
    static let starter = """
        # bcli configuration (the Python bc-cli reads this file too). Keys: docs/configuration.md.
        # Secrets never go here: client_secret_env names the environment variable that holds one.

        [defaults]
        profile = "prod"                # used when neither -p nor BCLI_PROFILE is given
        # timeout = 60                  # seconds per request
        # format = "table"              # table, json, csv or ndjson

        [profiles.prod]
        tenant_id = "contoso.onmicrosoft.com"            # your Entra tenant: domain or GUID
        environment = "production"                       # the Business Central environment's name
        company_id = "00000000-0000-0000-0000-000000000000"  # `bcli -p prod` … companies, or the BC admin page
        auth_method = "client_credentials"               # or "device_code", or "static_token" (BCLI_TOKEN)
        client_id = "00000000-0000-0000-0000-000000000000"   # the app registration's application id
        client_secret_env = "BC_PROD_SECRET"             # the NAME of the variable holding the secret
        disable_writes = true                            # writes need --yes or a typed "yes"; remove to allow

        # A second profile, e.g. for a sandbox environment:
        # [profiles.test]
        # tenant_id = "contoso.onmicrosoft.com"
        # environment = "sandbox"
        # company_id = "…"
        # client_id = "…"
        # client_secret_env = "BC_TEST_SECRET"

        # No file is needed for the built-in emulator: `bcli batch run -p sandbox FILE`.

        """
}

/// `bcli config check`: every key of the config, whether bcli uses it, and typos.
struct ConfigCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "List every config key, say which are not used by bcli, and flag typos.",
        discussion: """
            Reads $XDG_CONFIG_HOME/bcli/config.toml (else ~/.config/bcli/config.toml), a project .bcli.toml \
            in this folder or a parent, and BCLI_FORMAT, BCLI_TIMEOUT, BCLI_PROFILE. Keys of the Python \
            tool's features bcli does not have ([telemetry], [audit], …) are listed as "not used by bcli".
            Exit: 0 no problem; 5 the config does not load, or a key is known to neither tool (a typo).

            Examples:
              List every config key and whether bcli uses it:
                bcli config check
              The same as JSON, for a script:
                bcli config check --format json
            """
    )

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let config: BCConfig
        do {
            config = try BCConfig.load(environment: environment)
        } catch {
            if format == .json {
                ConfigCheckReport(path: ConfigPaths.configFile(environment: environment), projectPath: nil, profile: nil,
                                  ok: false, keys: [], errors: [error.description]).printJSON()
                throw CLIFailure(ExitStatus(error), "the config does not load (see above)")
            }
            throw CLIFailure(error)
        }
        let inventory = ConfigInventory(config)
        let selected = config.selectedProfileName(cliProfile: nil)
        let problems = inventory.problems
        if format == .json {
            ConfigCheckReport(path: config.path, projectPath: config.projectPath, profile: selected, ok: problems.isEmpty,
                              keys: inventory.entries.map { .init(key: $0.key, status: $0.status.rawValue, note: $0.note) },
                              errors: problems.map { "\($0.key): \($0.note)" }).printJSON()
        } else {
            Terminal.line("config \(config.path)\(config.fileExists ? "" : " (not found)")")
            if !config.fileExists {
                Terminal.note("no config file at \(config.path) — `bcli config init` writes a commented starter file; the built-in `-p sandbox` needs none")
            }
            if let project = config.projectPath { Terminal.line("project \(project)") }
            Terminal.line("profile \(selected)")
            for entry in inventory.entries {
                let label: String
                switch entry.status {
                case .used: label = "used"
                case .notUsed: label = "not used by bcli"
                case .unknown: label = "UNKNOWN"
                }
                Terminal.line("  \(entry.key)  \(label)\(entry.note.isEmpty ? "" : " — \(entry.note)")")
            }
            let notUsed = inventory.entries.filter { $0.status == .notUsed }.count
            Terminal.line("\(inventory.entries.count) key(s): \(notUsed) not used by bcli, \(problems.count) unknown")
        }
        if !problems.isEmpty {
            throw CLIFailure(.invalidInput, "\(problems.count) key(s) are known to neither bcli nor the Python tool: "
                + problems.map(\.key).joined(separator: ", ") + " — fix the spelling or remove them")
        }
    }
}

/// `bcli config check --format json`.
struct ConfigCheckReport: JSONReport {
    struct Key: Encodable {
        let key: String
        /// `used`, `not-used` or `unknown`.
        let status: String
        let note: String
    }

    let formatVersion = 1
    let path: String
    let projectPath: String?
    /// The profile that applies without -p.
    let profile: String?
    let ok: Bool
    let keys: [Key]
    let errors: [String]
}
