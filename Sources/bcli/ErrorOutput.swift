import ArgumentParser
import Foundation
import Hashing

/// How a failure is reported: always a line on stderr for the person; and when the command was
/// asked for JSON (`-f json`, `--format json`, or `BCLI_FORMAT` / `[defaults] format` for a
/// command that has a format option), a JSON document on stdout too, so a CI script that parses
/// stdout gets the error instead of nothing:
///
///     {"error": {"code": "not_found", "exit_code": 4, "message": "…"}, "format_version": 1}
///
/// A command that already wrote its document to stdout (a `batch run -f json` whose steps
/// failed) is not given a second one: that document holds the outcome.
struct ErrorOutput {
    static let formatVersion = 1
    let json: Bool

    init(arguments: [String], root: ParsableCommand.Type, environment: [String: String] = ProcessInfo.processInfo.environment) {
        json = Self.asksForJSON(arguments: arguments, root: root, environment: environment)
    }

    /// Reports `message` and ends the process with `status`. `short`: the message for JSON when
    /// the one for the person carries more (the parser's usage lines).
    func fail(_ message: String, _ status: ExitStatus, short: String? = nil) -> Never {
        Terminal.error(message)
        if json && !Terminal.wroteStdout {
            Terminal.line(Self.document(message: short ?? message, status: status).prettyPrinted())
        }
        exitProcess(status)
    }

    static func document(message: String, status: ExitStatus) -> JSONValue {
        let text = message.lowercased().hasPrefix("error: ") ? String(message.dropFirst(7)) : message
        return .object([
            "format_version": .number(Double(formatVersion)),
            "error": .object([
                "code": .string(status.name),
                "message": .string(text.trimmingCharacters(in: .whitespacesAndNewlines)),
                "exit_code": .number(Double(status.rawValue)),
            ]),
        ])
    }

    /// `-f json`, `-fjson`, `--format json` or `--format=json` before any `--`; else, for a
    /// command with a `format` option, the configured default (`BCLI_FORMAT`, config.toml).
    static func asksForJSON(arguments: [String], root: ParsableCommand.Type, environment: [String: String]) -> Bool {
        var i = 0
        var explicit: String?
        while i < arguments.count, arguments[i] != "--" {
            let arg = arguments[i]
            if arg == "-f" || arg == "--format" {
                if i + 1 < arguments.count { explicit = arguments[i + 1] }
                i += 2
                continue
            }
            if arg.hasPrefix("--format=") { explicit = String(arg.dropFirst(9)) }
            else if arg.hasPrefix("-f"), !arg.hasPrefix("--"), arg.count > 2 { explicit = String(arg.dropFirst(2)) }
            i += 1
        }
        if let explicit { return explicit.lowercased() == "json" }
        // Only the commands whose `-f` defaults to the configured format (`RecordFormat`); the
        // others print text unless told, so their errors stay text too.
        let leaf = leaf(of: arguments, root: root)
        guard configuredFormatCommands.contains(where: { $0 == leaf }) else { return false }
        return RecordFormat.configured(environment: environment)?.lowercased() == "json"
    }

    /// The commands that read `BCLI_FORMAT` / `[defaults] format`.
    static let configuredFormatCommands: [ParsableCommand.Type] = [RunCommand.self, ResumeCommand.self, StateCommand.self, ListCommand.self]

    /// The deepest subcommand `arguments` names.
    static func leaf(of arguments: [String], root: ParsableCommand.Type) -> ParsableCommand.Type {
        var leaf = root
        for name in arguments {
            guard let next = leaf.configuration.subcommands.first(where: { $0.configuration.commandName == name }) else { break }
            leaf = next
        }
        return leaf
    }

    /// Removes every `flag` before a `--`; true when there was one.
    static func takeFlag(_ flag: String, from arguments: inout [String]) -> Bool {
        let end = arguments.firstIndex(of: "--") ?? arguments.endIndex
        let found = arguments[..<end].contains(flag)
        if found {
            arguments = arguments[..<end].filter { $0 != flag } + arguments[end...]
        }
        return found
    }
}

extension ExitStatus {
    /// The stable name of this exit code in JSON errors.
    var name: String {
        switch self {
        case .ok: return "ok"
        case .failure: return "failure"
        case .usage: return "usage"
        case .auth: return "auth"
        case .notFound: return "not_found"
        case .invalidInput: return "invalid_input"
        case .remote4xx: return "remote_4xx"
        case .remote5xx: return "remote_5xx"
        case .refused: return "refused"
        case .storeUnusable: return "store_unusable"
        case .interrupted: return "interrupted"
        }
    }
}
