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
            newer schema); 130 interrupted. Under --format json a failure is also JSON on stdout.
            Every command takes --no-color; colour is also off with NO_COLOR, TERM=dumb, or when the \
            output is not a terminal. Run ids: the prefix `bcli batch list` shows, `latest`, `latest~N`.

            Examples:
              Run a manifest against the built-in sandbox (no tenant needed):
                bcli batch run -p sandbox examples/quickstart.yaml
              Show what the newest run did (or give the id `bcli batch list` shows):
                bcli batch state latest
              Start the local Business Central emulator; the first stdout line is its URL:
                bcli sandbox serve
              Check config.toml for keys bcli does not use and for typos:
                bcli config check
            """,
        version: ToolVersion.current,
        subcommands: [BatchCommand.self, SandboxCommand.self, ConfigCommand.self]
    )

    /// Parses, runs, and maps every failure to a documented exit code (the exit table in
    /// Exit.swift) with a message on stderr — and, under `--format json`, as JSON on stdout too
    /// (`ErrorOutput`). ArgumentParser's own usage errors (its exit 64) become exit 2, as README
    /// "Exit codes" documents. `--no-color` is taken out wherever it is written (it is every
    /// command's), and global options written before the subcommand (`bcli -p prod batch run
    /// m.yaml`) are moved first (`GlobalOptions`).
    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        let noColour = ErrorOutput.takeFlag("--no-color", from: &arguments)
        Style.configure(noColourFlag: noColour)
        let global = GlobalOptions.rewrite(arguments, root: BCLI.self)
        for (name, value) in global.environment { setenv(name, value, 1) }
        let errors = ErrorOutput(arguments: global.arguments, root: BCLI.self)
        if let unknown = CommandTypo.unknownHelpTopic(in: global.arguments, root: BCLI.self) {
            errors.fail(unknown.message, .usage)
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
                errors.fail((error as? CLIFailure)?.message ?? String(describing: error), status)
            }
            if exitCode(for: error) == .validationFailure {
                if let unknown = CommandTypo.unknownSubcommand(in: global.arguments, root: BCLI.self) {
                    errors.fail(unknown.message, .usage)
                }
                errors.fail(fullMessage(for: error), .usage, short: message(for: error))
            }
            // Help and --version (exit 0), and an `ExitCode` a command throws after printing its
            // own result (`diff` exits 1 when the runs differ), end as ArgumentParser ends them.
            Self.exit(withError: error)
        }
    }
}
