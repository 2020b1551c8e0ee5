import Foundation
import Testing
import TestSupport

/// Progress and colour appear only on a terminal: the real binary under a real pseudo-terminal,
/// against a pipe, with `NO_COLOR` and `--no-color`, and in an ASCII locale.
@Suite struct TerminalStyleTests {
    static let quickstart = Paths.packageRoot + "/examples/quickstart.yaml"
    static let escape = "\u{1B}["
    static let colour = "\u{1B}[32m"
    static let eraseLine = "\r\u{1B}[K"

    @Test func progressAndColourOnlyOnATerminal() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let env = sandbox.env(store: dir.path + "/store")
            let args = ["batch", "run", "-p", "sandbox", Self.quickstart]

            // A terminal: the live line (rewritten in place, with count and rate) and colour.
            let tty = try await runInPTY(Paths.bcli, args, env: env)
            let screen = String(decoding: tty.output, as: UTF8.self)
            #expect(tty.status == 0, "\(screen)")
            #expect(screen.contains(Self.eraseLine), "the progress line is rewritten in place")
            #expect(screen.contains("[0/5]") || screen.contains("[1/5]"), "it counts steps: \(screen.debugDescription)")
            #expect(screen.contains("steps/s"), "it shows a rate")
            #expect(screen.contains(Self.colour + "✓"), "a committed step is green: \(screen.debugDescription)")
            #expect(screen.contains("✓ Batch completed") || screen.contains("✓\u{1B}[0m Batch completed"))

            // NO_COLOR (any value) and --no-color: no colour; the progress line stays (it is not colour).
            for (extraEnv, extraArgs) in [(["NO_COLOR": "1"], [String]()), ([:], ["--no-color"]), (["TERM": "dumb"], [])] {
                let plain = try await runInPTY(Paths.bcli, args + extraArgs, env: env.merging(extraEnv) { $1 })
                let text = String(decoding: plain.output, as: UTF8.self)
                #expect(plain.status == 0, "\(text)")
                #expect(!text.contains("\u{1B}[3"), "no colour with \(extraEnv) \(extraArgs): \(text.debugDescription)")
                #expect(!text.contains("\u{1B}[2m"), "no dim progress with \(extraEnv) \(extraArgs)")
                #expect(text.contains(Self.eraseLine))
                #expect(text.contains("✓ created"))
            }

            // A pipe (CI, a log file): plain lines only — no carriage returns, no escapes at all.
            let piped = try await bcliAsync(args, env: env.merging(["NO_COLOR": ""]) { $1 })
            #expect(piped.status == 0, "\(piped.stderr)")
            #expect(!piped.out.contains(Self.escape) && !piped.stderr.contains(Self.escape))
            #expect(!piped.out.contains("\r") && !piped.stderr.contains("\r"))
            #expect(piped.out.contains("Step 5/5 GET customers … ✓ "))

            // An ASCII locale: no ✓ ✗ …, on a terminal or not.
            let ascii = try await runInPTY(Paths.bcli, args, env: env.merging(["LANG": "C", "NO_COLOR": "1"]) { $1 })
            let asciiText = String(decoding: ascii.output, as: UTF8.self)
            #expect(ascii.status == 0)
            #expect(asciiText.contains("Step 1/5 POST customers ... ok created"), "\(asciiText.debugDescription)")
            #expect(!asciiText.unicodeScalars.contains { $0 == "✓" || $0 == "…" || $0 == "·" })
            let asciiPipe = try await bcliAsync(args, env: env.merging(["LC_ALL": "POSIX"]) { $1 })
            #expect(asciiPipe.out.contains("... ok ") && !asciiPipe.out.contains("✓"))

            // Tables fit the terminal's own width (TIOCGWINSZ), which beats COLUMNS.
            let state = try await runInPTY(Paths.bcli, ["batch", "state", "latest", "--wide"], env: env, columns: 60)
            let narrow = try await runInPTY(Paths.bcli, ["batch", "state", "latest"], env: env.merging(["COLUMNS": "200"]) { $1 }, columns: 72)
            let rows = String(decoding: narrow.output, as: UTF8.self).replacingOccurrences(of: "\r", with: "")
                .split(separator: "\n").drop { !$0.hasPrefix("seq") }
            #expect(!rows.isEmpty)
            for row in rows {
                let visible = row.replacingOccurrences(of: #"\u{1B}\[[0-9;]*m"#, with: "", options: .regularExpression)
                #expect(visible.count <= 72, "\(visible)")
            }
            #expect(String(decoding: state.output, as: UTF8.self).contains(sandbox.url), "--wide is not cut")
        }
    }
}
