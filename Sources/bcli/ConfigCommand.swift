import ArgumentParser
import BusinessCentral
import Foundation

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
            """,
        subcommands: [ConfigCheckCommand.self]
    )
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
