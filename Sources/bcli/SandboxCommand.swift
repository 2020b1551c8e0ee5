import ArgumentParser
import Foundation
import Sandbox
import Store

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
              Start the built-in `-p sandbox` profile's data afresh:
                bcli sandbox reset
            """,
        subcommands: [Serve.self, Reset.self]
    )

    /// `bcli sandbox reset`: forgets the built-in profile's records, kept in `<store>/sandbox/`
    /// so that a later command (a rollback, a diff) finds what a run made.
    struct Reset: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset",
            abstract: "Delete the built-in sandbox profile's data (<store>/sandbox/); the ledger is not touched.",
            discussion: """
                The built-in `-p sandbox` profile starts an emulator inside bcli for each command and \
                keeps its records in <store>/sandbox/, so a rollback or a second run sees what an \
                earlier run created. Reset deletes that folder: the next run starts from the demo data \
                again. Recorded runs stay in the ledger; rolling one back afterwards finds its records \
                gone. Refused (exit 8) while a run in that store is going on.

                Examples:
                  Reset the default store's sandbox:
                    bcli sandbox reset
                  Reset the sandbox of another store:
                    bcli sandbox reset --store /tmp/demo-store
                """
        )

        @OptionGroup var storeOptions: StoreOptions

        func run() throws {
            let root = storeOptions.storePath
            let folder = root + "/" + BuiltinSandbox.folderName
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
                Terminal.note("nothing to reset: no built-in sandbox data at \(folder)")
                return
            }
            let locks = (try? FileManager.default.contentsOfDirectory(atPath: root + "/locks")) ?? []
            if let busy = locks.first(where: { RunLock.isHeld(store: root, runID: $0) }) {
                throw CLIFailure(.refused, "refusing to reset: run \(busy) is going on in this store and may be using the sandbox — wait for it to finish")
            }
            do {
                try FileManager.default.removeItem(atPath: folder)
            } catch {
                throw CLIFailure(.failure, "cannot remove \(folder): \(error.localizedDescription) — check its permissions")
            }
            Terminal.note("removed the built-in sandbox's data at \(folder); the next `-p sandbox` run starts from the demo data")
        }
    }

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

        @Option(help: "Address to bind (loopback by default; any other needs --allow-remote).")
        var host = "127.0.0.1"

        @Flag(help: "Allow --host to be an address other machines can reach. The sandbox accepts fixed, published test credentials, so anyone who can reach it can use it.")
        var allowRemote = false

        @Option(help: "Port to bind; 0 picks a free one.")
        var port = 0

        @Option(name: .customLong("data"), help: ArgumentHelp("Keep state in this folder (SQLite); in memory when omitted.", valueName: "dir"), completion: .directory)
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

        func validate() throws {
            if !allowRemote && !Self.isLoopback(host) {
                throw ValidationError("refusing to serve on \(host): the sandbox accepts fixed test credentials (client id \(SandboxDefaults.clientID)), so anyone who can reach that address could use it — bind 127.0.0.1 (the default), or pass --allow-remote if that is what you want")
            }
        }

        /// 127.0.0.0/8, ::1 and localhost: addresses only this machine can reach.
        static func isLoopback(_ host: String) -> Bool {
            let h = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            if h == "localhost" || h == "::1" || h == "0:0:0:0:0:0:0:1" { return true }
            let parts = h.split(separator: ".", omittingEmptySubsequences: false)
            return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
        }

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
