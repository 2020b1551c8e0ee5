#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// How text for a person is decorated on one stream: colour and symbols.
///
/// Why per stream and decided once: a run's lines go to stdout and its progress to stderr, and
/// either may be a terminal while the other is a pipe (`bcli batch run m.yaml | tee log`). Colour
/// is for a terminal only, never when `NO_COLOR` is set to anything (no-color.org), `--no-color`
/// was given or `TERM=dumb`. ✓ ✗ … → are printed only when the locale's character set is UTF-8
/// (`LC_ALL`, else `LC_CTYPE`, else `LANG`); otherwise ASCII, so a log read on a Latin-1 console
/// or by a script with `grep -a` stays legible.
struct Style: Sendable {
    var colour: Bool
    var unicode: Bool

    static let plain = Style(colour: false, unicode: false)

    /// stdout's and stderr's styles; set once by `BCLI.main` before any command runs.
    nonisolated(unsafe) static var stdout = Style.plain
    nonisolated(unsafe) static var stderr = Style.plain

    /// Decides both streams' styles for this process.
    static func configure(noColourFlag: Bool, environment: [String: String] = ProcessInfo.processInfo.environment) {
        stdout = detect(isTerminal: isatty(STDOUT_FILENO) != 0, noColourFlag: noColourFlag, environment: environment)
        stderr = detect(isTerminal: isatty(STDERR_FILENO) != 0, noColourFlag: noColourFlag, environment: environment)
    }

    static func detect(isTerminal: Bool, noColourFlag: Bool, environment: [String: String]) -> Style {
        let noColour = noColourFlag || !(environment["NO_COLOR"] ?? "").isEmpty || environment["TERM"] == "dumb"
        return Style(colour: isTerminal && !noColour, unicode: localeIsUTF8(environment))
    }

    /// POSIX precedence: the first non-empty of `LC_ALL`, `LC_CTYPE`, `LANG` names the character
    /// set; none at all is the POSIX locale, which is ASCII.
    static func localeIsUTF8(_ environment: [String: String]) -> Bool {
        let name = ["LC_ALL", "LC_CTYPE", "LANG"].lazy.compactMap { environment[$0] }.first { !$0.isEmpty } ?? ""
        let upper = name.uppercased()
        return upper.contains("UTF-8") || upper.contains("UTF8")
    }

    // MARK: Symbols

    var ok: String { unicode ? "✓" : "ok" }
    var failed: String { unicode ? "✗" : "x" }
    var ellipsis: String { unicode ? "…" : "..." }
    var replayed: String { unicode ? "↺" : "~" }
    var arrow: String { unicode ? "→" : "->" }
    var rule: String { unicode ? "──" : "--" }
    var notApplied: String { unicode ? "○" : "o" }

    /// ✓ in green or ✗ in red (`ok` / `x` in ASCII).
    func mark(_ ok: Bool) -> String { ok ? paint(self.ok, .green) : paint(failed, .red) }

    // MARK: Colour

    enum Colour: String {
        case green = "32", red = "31", yellow = "33", dim = "2", bold = "1"
    }

    /// `text` in `colour` when colour is on; unchanged otherwise.
    func paint(_ text: String, _ colour: Colour) -> String {
        self.colour ? "\u{1B}[\(colour.rawValue)m\(text)\u{1B}[0m" : text
    }

    /// The colour a step or run status reads in.
    func paint(status: String) -> String {
        switch status {
        case "committed", "completed", "rolled_back", "replayed", "reconciled_applied": return paint(status, .green)
        case "failed", "rollback_failed": return paint(status, .red)
        case "unknown", "in_doubt", "interrupted", "running", "skipped", "rollback_skipped", "partially_rolled_back", "cancelled":
            return paint(status, .yellow)
        default: return status
        }
    }
}

/// The width tables are fitted to: the terminal's (ioctl on stdout), else `COLUMNS`, else 100.
enum TerminalWidth {
    static let fallback = 100

    static func current(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int {
        var size = winsize()
        if isatty(STDOUT_FILENO) != 0, ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 {
            return Int(size.ws_col)
        }
        if let text = environment["COLUMNS"], let columns = Int(text.trimmingCharacters(in: .whitespaces)), columns > 0 {
            return max(columns, 20)
        }
        return fallback
    }

    /// stderr's width, for the progress line (ioctl on stderr, else as above).
    static func stderr(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int {
        var size = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return current(environment: environment)
    }
}
