import ArgumentParser
import BusinessCentral
import Foundation
import Hub
import Support

/// `bcli batch remote add|list|remove|init`: the `[remotes.NAME]` tables of config.toml.
struct RemoteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remote",
        abstract: "Manage the shared hubs (PostgreSQL) that push and pull talk to.",
        discussion: """
            Remotes live in config.toml as [remotes.NAME] tables with url and password_env; the password itself \
            is never written anywhere (docs/hub.md).

            Examples:
              Add the team's hub as origin, its password read from BCLI_HUB_PASSWORD:
                bcli batch remote add origin postgresql://ci_pusher@hub.example.com:5432/bcli?sslmode=verify-full --password-env BCLI_HUB_PASSWORD
              List the configured remotes:
                bcli batch remote list
            """,
        subcommands: [RemoteAddCommand.self, RemoteListCommand.self, RemoteRemoveCommand.self, RemoteInitCommand.self]
    )
}

/// The config file `remote add` and `remote remove` edit: the one bcli reads.
enum RemoteConfigFile {
    static var path: String { ConfigPaths.configFile(environment: ProcessInfo.processInfo.environment) }

    static func read() throws -> String {
        guard FileManager.default.fileExists(atPath: path) else { return "" }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw CLIFailure(.invalidInput, "cannot read \(path) as UTF-8 text")
        }
        return text
    }

    /// Writes the file atomically. A symlinked config.toml stays a symlink: its target is
    /// written. An existing file keeps its mode; a new one is 0600 (it may name secrets'
    /// variables and tenants).
    static func write(_ text: String) throws {
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let folder = (target as NSString).deletingLastPathComponent
        var status = stat()
        let mode: mode_t = stat(target, &status) == 0 ? status.st_mode & 0o7777 : 0o600
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try AtomicFile.write(Array(text.utf8), to: target, mode: mode)
            guard chmod(target, mode) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        } catch {
            throw CLIFailure(.failure, "cannot write \(target): \(error)")
        }
    }

    /// A TOML basic string.
    static func quote(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

struct RemoteAddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add a [remotes.NAME] table to config.toml (a duplicate name is refused).",
        discussion: """
            The url is postgresql://USER@HOST:PORT/DB with sslmode=disable (default), prefer, require, verify-ca \
            or verify-full, and optionally sslrootcert=FILE. A url with a password is refused: bcli reads the \
            password from --password-env's variable, else PGPASSWORD, else ~/.pgpass, and never writes it. The \
            table is appended to the end of the file (created with mode 0600 if missing); nothing else in the \
            file changes. Exit: 0 ok, 2 the name exists, 5 a bad name or url, or config.toml does not load.

            Examples:
              Add a hub reached over TLS, its password in BCLI_HUB_PASSWORD:
                bcli batch remote add origin postgresql://ci_pusher@hub.example.com:5432/bcli?sslmode=verify-full --password-env BCLI_HUB_PASSWORD
              Add a local hub whose password is in ~/.pgpass:
                bcli batch remote add local postgresql://me@127.0.0.1:5432/bcli
            """
    )

    @Argument(help: "The remote's name (letters, digits, _ and -).")
    var name: String

    @Argument(help: "postgresql://USER@HOST:PORT/DB?sslmode=…")
    var url: String

    @Option(name: .customLong("password-env"), help: ArgumentHelp("The environment variable that holds the password.", valueName: "variable"))
    var passwordEnv: String?

    func run() throws {
        if let problem = RemoteConfig.nameProblem(name) { throw CLIFailure(.invalidInput, "remote '\(name)': \(problem)") }
        if let problem = RemoteConfig.urlProblem(url) { throw CLIFailure(.invalidInput, "remote '\(name)': \(problem)") }
        do { _ = try HubURL(parsing: url) } catch { throw CLIFailure(.invalidInput, "remote '\(name)': \(error.description)") }
        if let passwordEnv, passwordEnv.isEmpty || passwordEnv.contains(where: { !($0.isLetter || $0.isNumber || $0 == "_") }) || passwordEnv.first?.isNumber == true {
            throw CLIFailure(.invalidInput, "--password-env needs a variable name (letters, digits, _)")
        }
        let config = try HubRemotes.config()
        if config.remotes[name] != nil {
            throw CLIFailure(.usage, "a remote named '\(name)' exists in \(config.path) — remove it first (`bcli batch remote remove \(name)`) or pick another name")
        }
        var text = try RemoteConfigFile.read()
        if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
        if !text.isEmpty { text += "\n" }
        text += "[remotes.\(name)]\nurl = \(RemoteConfigFile.quote(url))\n"
        if let passwordEnv { text += "password_env = \(RemoteConfigFile.quote(passwordEnv))\n" }
        // The result must load, or nothing is written (e.g. the file defines `remotes` another way).
        do { _ = try BCConfig.parse(text, path: RemoteConfigFile.path, environment: [:]) } catch {
            throw CLIFailure(.invalidInput, "config.toml would not load with [remotes.\(name)] appended (\(error)); edit it by hand")
        }
        try RemoteConfigFile.write(text)
        Terminal.note("added remote \(name) (\(HubURL.redact(url))) to \(RemoteConfigFile.path)")
    }
}

struct RemoteListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the remotes of config.toml: name, url, where the password comes from.",
        discussion: """
            One line per remote on stdout: the name, the url and the password's source (password_env=VAR, or \
            PGPASSWORD/~/.pgpass). Nothing is contacted.

            Examples:
              List the remotes:
                bcli batch remote list
              As JSON:
                bcli batch remote list --format json
            """
    )

    @Option(name: [.short, .long], help: "text or json.")
    var format: OutputFormat = .text

    func run() throws {
        let config = try HubRemotes.config()
        let remotes = config.remotes.values.sorted { $0.name < $1.name }
        switch format {
        case .text:
            for r in remotes {
                Terminal.line("\(r.name)\t\(HubURL.redact(r.url))\t\(r.passwordEnv.map { "password_env=\($0)" } ?? "PGPASSWORD/~/.pgpass")")
            }
        case .json:
            let items: [JSONValueRemote] = remotes.map { JSONValueRemote(name: $0.name, url: HubURL.redact($0.url), passwordEnv: $0.passwordEnv) }
            RemoteListReport(formatVersion: 1, remotes: items).printJSON()
        }
    }
}

struct JSONValueRemote: Encodable {
    let name: String
    let url: String
    let passwordEnv: String?
}

struct RemoteListReport: JSONReport {
    let formatVersion: Int
    let remotes: [JSONValueRemote]
}

struct RemoteRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove a [remotes.NAME] table from config.toml.",
        discussion: """
            Removes the lines from [remotes.NAME] to its last key (blank lines and comments after it stay with \
            what follows). A remote written another way (an \
            inline table, dotted keys) is left alone with an error: edit the file by hand. Runs already pushed \
            stay in the hub. Exit: 0 ok, 2 no such remote, 5 config.toml does not load or the table is not \
            written as bcli writes it.

            Examples:
              Remove the remote named ci:
                bcli batch remote remove ci
              Remove origin:
                bcli batch remote remove origin
            """
    )

    @Argument(help: "The remote's name.")
    var name: String

    func run() throws {
        let config = try HubRemotes.config()
        guard config.remotes[name] != nil else {
            throw CLIFailure(.usage, "no remote named '\(name)' in \(config.path) (remotes: \(config.remotes.keys.sorted().joined(separator: ", ").ifEmpty("none")))")
        }
        let text = try RemoteConfigFile.read()
        var lines = text.components(separatedBy: "\n")
        let header = "[remotes.\(name)]"
        guard let start = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == header }) else {
            throw CLIFailure(.invalidInput, "\(config.path) does not define the remote as a \(header) table; edit it by hand")
        }
        var next = start + 1
        while next < lines.count, !lines[next].trimmingCharacters(in: .whitespaces).hasPrefix("[") { next += 1 }
        // The table ends at its last key-value line: blank lines and comments after it belong to
        // what follows (the next table, or the end of the file) and stay.
        var end = start + 1
        for i in (start + 1)..<next {
            let t = lines[i].trimmingCharacters(in: .whitespaces)
            if !t.isEmpty && !t.hasPrefix("#") { end = i + 1 }
        }
        lines.removeSubrange(start..<end)
        // Two blank lines where the table was become one.
        if start > 0, start < lines.count, lines[start - 1].trimmingCharacters(in: .whitespaces).isEmpty,
           lines[start].trimmingCharacters(in: .whitespaces).isEmpty {
            lines.remove(at: start)
        }
        let updated = lines.joined(separator: "\n")
        do {
            let after = try BCConfig.parse(updated, path: config.path, environment: [:])
            guard after.remotes[name] == nil else { throw CLIFailure(.invalidInput, "\(config.path) still defines \(name) after removing \(header); edit it by hand") }
        } catch let error as ConfigError {
            throw CLIFailure(.invalidInput, "config.toml would not load without \(header) (\(error)); edit it by hand")
        }
        try RemoteConfigFile.write(updated)
        Terminal.note("removed remote \(name) from \(config.path)")
    }
}

struct RemoteInitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create or migrate a remote's hub schema and grant roles (as the hub's owner).",
        discussion: """
            Applies the hub migrations the database lacks (schema bcli_hub: blobs, runs, the hub's chain and head, \
            the append-only triggers), each in one transaction, then grants --pusher roles the right to push \
            (insert, never update or delete) and --reader roles the right to pull. Connect as a role that may \
            create a schema in the database (its owner); push and pull never change the schema. A hub newer than \
            this bcli is refused. --print-sql prints the SQL instead and connects to nothing. Exit: 0 ok, 3 login \
            refused, 7 unreachable, 8 not allowed, 9 a newer hub.

            Examples:
              Create the hub and let the role ci_pusher push to it:
                bcli batch remote init origin --pusher ci_pusher
              Print the SQL for a DBA to review instead:
                bcli batch remote init origin --print-sql --pusher ci_pusher --reader auditor
            """
    )

    @Argument(help: "The remote's name.")
    var name: String

    @Option(name: .long, help: ArgumentHelp("A role to grant pushing (repeatable).", valueName: "role"))
    var pusher: [String] = []

    @Option(name: .long, help: ArgumentHelp("A role to grant reading (repeatable).", valueName: "role"))
    var reader: [String] = []

    @Flag(name: .customLong("print-sql"), help: "Print the schema and grants as SQL; connect to nothing.")
    var printSQL = false

    func run() async throws {
        if printSQL {
            do {
                var text = try HubSchema.sql()
                for p in pusher { text += "-- pusher \(p)\n" + (try HubSchema.pusherGrants(p)).map { $0 + ";\n" }.joined() }
                for r in reader { text += "-- reader \(r)\n" + (try HubSchema.readerGrants(r)).map { $0 + ";\n" }.joined() }
                Terminal.writeStdout(Array(text.utf8))
            } catch let error as HubError { throw CLIFailure(ExitStatus(error), error.description) }
            return
        }
        let endpoint = try HubRemotes.endpoint(name)
        let applied = try await HubRemotes.with(endpoint, checkSchema: false) { session in
            try await HubSchema.migrate(session, pushers: pusher, readers: reader)
        }
        Terminal.note("hub \(endpoint.name) (\(endpoint.display)) is at schema version \(HubSchema.currentVersion)"
            + (applied.isEmpty ? "; nothing to migrate" : "; applied \(applied.joined(separator: ", "))")
            + (pusher.isEmpty ? "" : "; pushers: \(pusher.joined(separator: ", "))")
            + (reader.isEmpty ? "" : "; readers: \(reader.joined(separator: ", "))"))
    }
}
