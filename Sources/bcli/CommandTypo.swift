import ArgumentParser
import Support

/// What the argument parser does not say on its own: which subcommand a mistyped word was meant to
/// be (`bcli batch runn` → `run`), and that `bcli help WORD` names no command (the parser prints
/// the root help and exits 0, which a script reads as success).
enum CommandTypo {
    /// A word written where a subcommand of `path` was expected that names none of them.
    struct Unknown: Equatable {
        /// The command path up to the group, e.g. `bcli batch`.
        let path: String
        let word: String
        /// The group's subcommand nearest the word, when it is a plausible typo.
        let suggestion: String?

        var message: String {
            var text = "'\(word)' is not a \(path) command"
            if let suggestion { text += " (did you mean '\(path) \(suggestion)'?)" }
            return text + "; see '\(path) --help'"
        }
    }

    /// The first word of `arguments` (without the program name) that stands where a subcommand is
    /// expected and names none; nil when the words select a command (or an option comes first,
    /// which the parser reports itself).
    static func unknownSubcommand(in arguments: [String], root: ParsableCommand.Type) -> Unknown? {
        var command = root
        var path = root.configuration.commandName ?? "bcli"
        for word in arguments {
            let subcommands = command.configuration.subcommands
            if subcommands.isEmpty || word.hasPrefix("-") { return nil }
            let names = subcommands.flatMap { [$0.configuration.commandName ?? ""] + $0.configuration.aliases }
            guard let next = subcommands.first(where: { ($0.configuration.commandName == word) || $0.configuration.aliases.contains(word) }) else {
                if ObjectIdentifier(command) == ObjectIdentifier(root), word == "help" { return nil }
                return Unknown(path: path, word: word, suggestion: Suggestion.closest(to: word, in: names))
            }
            command = next
            path += " " + word
        }
        return nil
    }

    /// For `help WORDS…`: the first word that names no command, as `unknownSubcommand` reports it.
    static func unknownHelpTopic(in arguments: [String], root: ParsableCommand.Type) -> Unknown? {
        guard arguments.first == "help" else { return nil }
        let topic = arguments.dropFirst().filter { !$0.hasPrefix("-") }
        var command = root
        var path = root.configuration.commandName ?? "bcli"
        for word in topic {
            let subcommands = command.configuration.subcommands
            let names = subcommands.flatMap { [$0.configuration.commandName ?? ""] + $0.configuration.aliases }
            guard let next = subcommands.first(where: { ($0.configuration.commandName == word) || $0.configuration.aliases.contains(word) }) else {
                return Unknown(path: path, word: word, suggestion: Suggestion.closest(to: word, in: names))
            }
            command = next
            path += " " + word
        }
        return nil
    }
}
