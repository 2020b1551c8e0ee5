import ArgumentParser
import Foundation
import Store

/// The `bcli` command line: Business Central batches with a content-addressed ledger.
@main
struct BCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bcli",
        abstract: "Run Business Central API batches and keep a verifiable ledger of every run.",
        discussion: """
            Exit codes (every command): 0 ok; 1 a step failed or was skipped, problems found, \
            differences; 2 usage (also an ambiguous run id or digest prefix); 3 auth; 4 not found \
            (unknown run, missing file, no store); 5 invalid input; 6/7 reserved (remote 4xx/5xx); \
            8 refused by policy; 9 store unusable (damaged, not a database, read-only, disk full, \
            newer schema); 130 interrupted.

            Examples:
              Run a manifest against the built-in sandbox (no tenant needed):
                bcli batch run -p sandbox examples/quickstart.yaml
              Show what a run did (a unique prefix of 6+ characters of its id will do):
                bcli batch state 01a2b3c4
              Start the local Business Central emulator; the first stdout line is its URL:
                bcli sandbox serve
              Check config.toml for keys bcli does not use and for typos:
                bcli config check
            """,
        version: ToolVersion.current,
        subcommands: [BatchCommand.self, SandboxCommand.self, ConfigCommand.self]
    )

    /// Parses, runs, and maps every failure to a documented exit code (the exit table in
    /// Exit.swift) with a message on stderr. ArgumentParser's own usage errors (its exit 64)
    /// become exit 2, as README "Exit codes" documents. Global options written before the
    /// subcommand (`bcli -p prod batch run m.yaml`) are moved first (`GlobalOptions`).
    static func main() async {
        let global = GlobalOptions.rewrite(Array(CommandLine.arguments.dropFirst()), root: BCLI.self)
        for (name, value) in global.environment { setenv(name, value, 1) }
        if let unknown = CommandTypo.unknownHelpTopic(in: global.arguments, root: BCLI.self) {
            Terminal.error(unknown.message)
            exitProcess(.usage)
        }
        do {
            var command = try parseAsRoot(global.arguments)
            if var async = command as? AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch {
            if let status = ExitStatus(for: error) {
                Terminal.error((error as? CLIFailure)?.message ?? String(describing: error))
                exitProcess(status)
            }
            if exitCode(for: error) == .validationFailure {
                if let unknown = CommandTypo.unknownSubcommand(in: global.arguments, root: BCLI.self) {
                    Terminal.error(unknown.message)
                } else {
                    Terminal.error(fullMessage(for: error))
                }
                exitProcess(.usage)
            }
            Self.exit(withError: error)
        }
    }
}
