import Foundation
import Testing
import TestSupport

/// Help and mistyped commands, through the real binary: a typo names the nearest subcommand, and
/// `help` of a command that does not exist is a usage error (exit 2), not the root help and 0.
@Suite struct HelpCommandTests {
    @Test func aMistypedSubcommandNamesTheNearestOne() async throws {
        try requireBinary(Paths.bcli)
        let cases: [([String], String)] = [
            (["batch", "runn", "x.yaml"], "'runn' is not a bcli batch command (did you mean 'bcli batch run'?)"),
            (["bach", "list"], "'bach' is not a bcli command (did you mean 'bcli batch'?)"),
            (["batch", "reconcil", "01a2b3c4"], "did you mean 'bcli batch reconcile'?"),
            (["sandbox", "srve"], "did you mean 'bcli sandbox serve'?"),
        ]
        for (arguments, expected) in cases {
            let r = try await bcliAsync(arguments)
            #expect(r.status == 2, "\(arguments)")
            #expect(r.stderr.contains(expected), "\(arguments): \(r.stderr)")
            #expect(r.out.isEmpty)
        }
        // Nothing near: no guess, still the command to read.
        let far = try await bcliAsync(["batch", "zzzzzz"])
        #expect(far.status == 2)
        #expect(far.stderr.contains("'zzzzzz' is not a bcli batch command; see 'bcli batch --help'"), "\(far.stderr)")
    }

    @Test func helpOfAnUnknownCommandIsAUsageError() async throws {
        try requireBinary(Paths.bcli)
        let none = try await bcliAsync(["help", "nosuch"])
        #expect(none.status == 2)
        #expect(none.stderr.contains("'nosuch' is not a bcli command"), "\(none.stderr)")
        #expect(none.out.isEmpty)
        let typo = try await bcliAsync(["help", "batch", "lsit"])
        #expect(typo.status == 2)
        #expect(typo.stderr.contains("did you mean 'bcli batch list'?"), "\(typo.stderr)")

        let known = try await bcliAsync(["help", "batch", "run"])
        #expect(known.status == 0, "\(known.stderr)")
        #expect(known.out.contains("Examples:"))
        #expect(known.out.contains("bcli batch run -p sandbox examples/quickstart.yaml"))
        let flag = try await bcliAsync(["batch", "list", "--help"])
        #expect(flag.status == 0)
        #expect(flag.out.contains("Examples:"))
    }
}
