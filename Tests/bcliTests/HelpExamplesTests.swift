import ArgumentParser
import Testing

@testable import bcli

/// Every command's `--help` shows 2–4 real examples (its `discussion`), groups and the root
/// included. The discussion ends with an "Examples:" block: for each example an explanation line
/// indented 2 spaces, then the invocation indented 4, written `bcli <path of the command> …` with
/// options after the subcommand (the canonical form, no quoted words). Each one must parse, and
/// name a command that runs.
@Suite("Help: every command shows examples that parse")
struct HelpExamplesTests {
    /// The walk reaches the root, the groups and their subcommands.
    @Test func walksTheWholeTree() {
        let paths = HelpCommandTree.paths
        #expect(paths.first == "bcli")
        for path in ["bcli batch", "bcli batch run", "bcli batch list", "bcli sandbox", "bcli sandbox serve", "bcli config", "bcli config check"] {
            #expect(paths.contains(path), "\(path) is not in the command tree")
        }
    }

    @Test(arguments: HelpCommandTree.paths)
    func helpHasExamples(path: String) throws {
        guard let command = HelpCommandTree.command(at: path) else {
            Issue.record("no command at \(path)")
            return
        }
        let lines = command.configuration.discussion.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let start = try #require(lines.firstIndex(of: "Examples:"), "\(path): its discussion has no \"Examples:\" line")
        let block = Array(lines[(start + 1)...])

        // The shape: an explanation (indent 2), then its example (indent 4), to the end.
        #expect(block.count % 2 == 0, "\(path): every example needs an explanation line above it")
        for (i, line) in block.enumerated() {
            let indent = line.prefix(while: { $0 == " " }).count
            let text = line.dropFirst(indent)
            if i % 2 == 0 {
                #expect(indent == 2 && !text.isEmpty && !text.hasPrefix("bcli "),
                        "\(path): expected an explanation indented 2 spaces, got '\(line)'")
            } else {
                #expect(indent == 4 && text.hasPrefix("bcli "),
                        "\(path): expected an example indented 4 spaces starting with 'bcli ', got '\(line)'")
            }
        }

        let examples = block.map { String($0.drop(while: { $0 == " " })) }.filter { $0.hasPrefix("bcli ") }
        #expect((2...4).contains(examples.count), "\(path): \(examples.count) examples, want 2 to 4")

        for example in examples {
            #expect(example == path || example.hasPrefix(path + " "), "\(path): '\(example)' is not an example of \(path)")
            let arguments = example.split(separator: " ").dropFirst().map(String.init)
            let leaf = HelpCommandTree.leaf(of: arguments)
            #expect(leaf.configuration.subcommands.isEmpty, "\(path): '\(example)' names a group, not a command that runs")
            do {
                let parsed = try BCLI.parseAsRoot(arguments)
                #expect(ObjectIdentifier(type(of: parsed)) == ObjectIdentifier(leaf),
                        "\(path): '\(example)' parses as \(type(of: parsed)), not \(leaf)")
            } catch {
                Issue.record("\(path): '\(example)' does not parse: \(BCLI.fullMessage(for: error))")
            }
        }
    }
}

/// bcli's command tree, walked from `BCLI.self` through `configuration.subcommands`.
enum HelpCommandTree {
    /// Every command's path (`bcli`, `bcli batch`, `bcli batch run`, …), root first, depth first.
    static let paths: [String] = all().map { $0.path }

    static func command(at path: String) -> ParsableCommand.Type? {
        all().first { $0.path == path }?.command
    }

    /// The command that `arguments` (without `bcli`) select, as the parser walks subcommand names.
    static func leaf(of arguments: [String]) -> ParsableCommand.Type {
        var command: ParsableCommand.Type = BCLI.self
        for word in arguments {
            guard let next = command.configuration.subcommands.first(where: { $0.configuration.commandName == word }) else { break }
            command = next
        }
        return command
    }

    static func all() -> [(path: String, command: ParsableCommand.Type)] {
        var out: [(path: String, command: ParsableCommand.Type)] = []
        func walk(_ command: ParsableCommand.Type, parent: String?) {
            let name = command.configuration.commandName ?? String(describing: command)
            let path = parent.map { $0 + " " + name } ?? name
            out.append((path: path, command: command))
            for sub in command.configuration.subcommands { walk(sub, parent: path) }
        }
        walk(BCLI.self, parent: nil)
        return out
    }
}
