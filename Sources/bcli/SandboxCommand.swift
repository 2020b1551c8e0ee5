import ArgumentParser
import Foundation
import Sandbox

/// `bcli sandbox …`: a local Business Central API v2.0 emulator for tests, demos and first runs.
struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Run a local Business Central API v2.0 emulator.",
        discussion: """
            See docs/sandbox.md for what it emulates, its faults, and how to point a profile at it.

            Examples:
              Serve on a free port with state in memory:
                bcli sandbox serve
              Serve on port 8080 and keep state in a folder across restarts:
                bcli sandbox serve --port 8080 --data /tmp/sbx
              Answer every third request with 429 Too Many Requests:
                bcli sandbox serve --fault throttle:every=3
            """,
        subcommands: [Serve.self]
    )

    /// `bcli sandbox serve`: prints the base URL as the first stdout line, serves until SIGINT/SIGTERM.
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "serve",
            abstract: "Serve the emulator until SIGINT or SIGTERM; the first stdout line is its base URL.",
            discussion: """
                Test credential (built-in 'sandbox' profile): client id \(SandboxDefaults.clientID), \
                secret \(SandboxDefaults.clientSecret). Tenant '\(SandboxDefaults.tenant)', environment \
                '\(SandboxDefaults.environment)', company \(SandboxDefaults.companyID).
                Fault specs: throttle:every=N[,retry-after=S] | unavailable:rate=P,seed=S | drop:nth=N | \
                drop:request-id=X | latency:ms=N | hold:request-id=X | limit:concurrent=5,queue=95 \
                (docs/sandbox.md#faults).

                Examples:
                  Serve on a free port with state in memory:
                    bcli sandbox serve
                  Serve on port 8080 and keep state in a folder across restarts:
                    bcli sandbox serve --port 8080 --data /tmp/sbx
                  Answer every third request with 429 and Retry-After: 2:
                    bcli sandbox serve --fault throttle:every=3,retry-after=2
                  Commit the fifth write, then drop its answer (an unknown outcome):
                    bcli sandbox serve --fault drop:nth=5
                """
        )

        @Option(help: "Address to bind (loopback by default).")
        var host = "127.0.0.1"

        @Option(help: "Port to bind; 0 picks a free one.")
        var port = 0

        @Option(name: .customLong("data"), help: ArgumentHelp("Keep state in this folder (SQLite); in memory when omitted.", valueName: "dir"))
        var dataDirectory: String?

        @Option(help: ArgumentHelp("Delay every API request: MS, MIN-MAX, or MIN-MAX@SEED.", valueName: "ms"))
        var latency: String?

        @Option(name: .customLong("fault"), help: ArgumentHelp("Inject a fault (repeatable), e.g. throttle:every=3.", valueName: "spec"))
        var faults: [String] = []

        @Option(name: .customLong("client"), help: ArgumentHelp("Accept another client credential (repeatable).", valueName: "id:secret"))
        var clients: [String] = []

        @Flag(inversion: .prefixedNo, help: "Seed demo vendors (10000-40000) and items (1896-S, 1900-S, 1906-S), once.")
        var demoData = true

        @Option(help: ArgumentHelp("Items per page of a collection GET without Prefer: odata.maxpagesize (BC: 20000); more come through @odata.nextLink.", valueName: "n"))
        var maxPageSize = SandboxConfiguration.defaultMaxPageSize

        @Option(help: "Log level on stderr: trace, debug, info, notice, warning, error, critical.")
        var logLevel = "info"

        func run() async throws {
            var configuration = SandboxConfiguration(host: host, port: port, dataDirectory: dataDirectory)
            configuration.demoData = demoData
            do {
                if let latency { configuration.latency = try SandboxLatency(parsing: latency) }
                configuration.faults = try faults.map { spec throws(SandboxConfigurationError) in try SandboxFault(parsing: spec) }
                configuration.credentials += try clients.map { text throws(SandboxConfigurationError) in try SandboxCredential(parsing: text) }
            } catch {
                throw ValidationError(error.description)
            }
            guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
            guard maxPageSize >= 1 else { throw ValidationError("--max-page-size must be a positive integer (items per page), got \(maxPageSize)") }
            configuration.maxPageSize = maxPageSize
            let server: SandboxServer
            do {
                server = try SandboxServer(configuration: configuration, logLevel: logLevel)
            } catch let error as SandboxConfigurationError {
                throw ValidationError(error.description)
            }
            try await server.run { baseURL in
                // The first stdout line is the contract: write it unbuffered.
                FileHandle.standardOutput.write(Data((baseURL + "\n").utf8))
            }
        }
    }
}
