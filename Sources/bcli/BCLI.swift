import ArgumentParser
import Store

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
            """,
        version: ToolVersion.current,
        subcommands: [BatchCommand.self, SandboxCommand.self]
    )

    /// Parses, runs, and maps every failure to a documented exit code with a message on stderr.
    /// ArgumentParser's own usage errors (its exit 64) become exit 2, as DESIGN §4 documents.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var async = command as? AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch let failure as CLIFailure {
            Terminal.error(failure.message)
            Glibc.exit(failure.code.rawValue)
        } catch let error as StoreError {
            Terminal.error(error.description)
            Glibc.exit(error.exitStatus.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                Terminal.error(fullMessage(for: error))
                Glibc.exit(ExitStatus.usage.rawValue)
            }
            Self.exit(withError: error)
        }
    }
}
