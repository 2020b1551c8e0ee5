import ArgumentParser
import BusinessCentral

/// The Python tool's global options, written before the subcommand: `bcli -p prod batch run m.yaml`.
///
/// Why a rewrite of argv: swift-argument-parser gives a root command's options to the root only,
/// never to the subcommand that runs. So `BCLI.main` takes the leading `-p/--profile`,
/// `-e/--env`, `-c/--company`, `-f/--format` and `--dry-run` off the front and:
/// - moves each one the leaf subcommand declares to just after the leaf's name (so the leaf's own
///   copy, written later, still wins: `bcli -p a batch run m.yaml -p b` uses `b`);
/// - passes the others through the environment the config loader reads: `-p` → `BCLI_PROFILE`,
///   `-f` → `BCLI_FORMAT`, `-e` → `BCLI_ENVIRONMENT`, `-c` → `BCLI_COMPANY` (each beats a value
///   already exported). A leading `--dry-run` the leaf does not take stays for the leaf to refuse.
/// Only options before the first subcommand name are touched.
struct GlobalOptions: Equatable {
    var arguments: [String]
    var environment: [String: String] = [:]

    /// A global option: its spellings, the leaf property it maps onto, and its variable.
    struct Spec {
        let short: String?
        let long: String
        let property: String
        let variable: String?
        let takesValue: Bool
    }

    static let specs = [
        Spec(short: "-p", long: "--profile", property: "profile", variable: BCConfig.profileVariable, takesValue: true),
        Spec(short: "-e", long: "--env", property: "env", variable: BCConfig.environmentVariable, takesValue: true),
        Spec(short: "-c", long: "--company", property: "company", variable: BCConfig.companyVariable, takesValue: true),
        Spec(short: "-f", long: "--format", property: "format", variable: BCConfig.formatVariable, takesValue: true),
        Spec(short: nil, long: "--dry-run", property: "dryRun", variable: nil, takesValue: false),
    ]

    /// Rewrites `arguments` (without the program name) for `root`.
    static func rewrite(_ arguments: [String], root: ParsableCommand.Type) -> GlobalOptions {
        var taken: [(Spec, String?)] = []
        var i = 0
        scan: while i < arguments.count {
            let arg = arguments[i]
            for spec in specs {
                if arg == spec.long || (spec.short != nil && arg == spec.short) {
                    if spec.takesValue {
                        guard i + 1 < arguments.count else { break scan }
                        taken.append((spec, arguments[i + 1]))
                        i += 2
                    } else {
                        taken.append((spec, nil))
                        i += 1
                    }
                    continue scan
                }
                if spec.takesValue, arg.hasPrefix(spec.long + "=") {
                    taken.append((spec, String(arg.dropFirst(spec.long.count + 1))))
                    i += 1
                    continue scan
                }
                if spec.takesValue, let short = spec.short, arg.hasPrefix(short), arg.count > 2, !arg.hasPrefix("--") {
                    taken.append((spec, String(arg.dropFirst(2))))
                    i += 1
                    continue scan
                }
            }
            break
        }
        guard !taken.isEmpty else { return GlobalOptions(arguments: arguments) }

        var rest = Array(arguments[i...])
        // The subcommand path: names of nested subcommands, from the root down.
        var leaf = root
        var path: [String] = []
        while let name = rest.first,
              let next = leaf.configuration.subcommands.first(where: { $0.configuration.commandName == name }) {
            path.append(name)
            rest.removeFirst()
            leaf = next
        }
        let declared = declaredProperties(of: leaf)
        var moved: [String] = []
        var environment: [String: String] = [:]
        for (spec, value) in taken {
            if declared.contains(spec.property) || spec.variable == nil {
                moved.append(spec.long)
                if let value { moved.append(value) }
            } else if let variable = spec.variable, let value {
                environment[variable] = value
            }
        }
        return GlobalOptions(arguments: path + moved + rest, environment: environment)
    }

    /// The names of a command's option and flag properties (`profile`, `format`, `dryRun`, …).
    static func declaredProperties(of command: ParsableCommand.Type) -> Set<String> {
        let instance = command.init()
        return Set(Mirror(reflecting: instance).children.compactMap { child in
            child.label.map { $0.hasPrefix("_") ? String($0.dropFirst()) : $0 }
        })
    }
}
