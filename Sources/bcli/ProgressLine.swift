import Batch
import Foundation

/// The live line on stderr while a run goes on, when stderr is a terminal: how many steps are
/// done of how many, the rate, the time left, and the step in flight, rewritten in place
/// (`\r` and erase-line) at most ten times a second.
///
/// Why only on a terminal: a log file or CI console would fill with carriage returns, so there
/// the step lines on stdout are all there is. Step lines printed while the line is shown clear it
/// first and redraw it after, so the two never mix on one screen.
final class ProgressLine: @unchecked Sendable {
    private let lock = NSLock()
    private let style: Style
    private let width: Int
    private var total = 0
    private var done = 0
    /// The steps sent and not yet answered (several with --concurrency), by seq.
    private var inFlight: [Int: String] = [:]
    private var startedAt = DispatchTime.now().uptimeNanoseconds
    private var lastDrawn: UInt64 = 0
    private var shown = false
    private var ended = false

    init(style: Style, width: Int) {
        self.style = style
        self.width = width
    }

    /// A progress line when stderr is a terminal; nil otherwise.
    static func forTerminal() -> ProgressLine? {
        Terminal.stderrIsTTY ? ProgressLine(style: Style.stderr, width: TerminalWidth.stderr()) : nil
    }

    /// The line on screen now, if any: `Terminal.note` and `Terminal.error` write through it so a
    /// message never lands on the progress line.
    nonisolated(unsafe) private(set) static weak var active: ProgressLine?
    private static let activeLock = NSLock()

    static func current() -> ProgressLine? { activeLock.withLock { active } }

    func start(total: Int) {
        Self.activeLock.withLock { Self.active = self }
        lock.withLock {
            self.total = total
            startedAt = DispatchTime.now().uptimeNanoseconds
            draw(force: true)
        }
    }

    func started(name: String, seq: Int) {
        lock.withLock {
            inFlight[seq] = name
            draw(force: false)
        }
    }

    /// Writes a message for the person (stderr) with the line cleared first and drawn again after.
    func interject(_ write: () -> Void) {
        lock.withLock {
            let wasShown = shown
            clear()
            write()
            if wasShown { draw(force: true) }
        }
    }

    /// One step done; `lines` (its lines for stdout) are printed with the progress line cleared.
    func finished(_ report: StepReport, printing lines: [String] = []) {
        lock.withLock {
            done += 1
            inFlight[report.seq] = nil
            if !lines.isEmpty {
                clear()
                lines.forEach(Terminal.line)
            }
            draw(force: !lines.isEmpty || done == total)
        }
    }

    /// Clears the line for good (the run is over; the summary follows).
    func end() {
        lock.withLock {
            clear()
            ended = true
        }
        Self.activeLock.withLock { if Self.active === self { Self.active = nil } }
    }

    /// The text of the line, for `done` of `total` steps after `elapsed` seconds.
    /// What is in flight, as the line shows it: the lowest step and how many more.
    static func describe(_ inFlight: [Int: String]) -> String? {
        guard let first = inFlight.keys.min(), let name = inFlight[first] else { return nil }
        return "\(first) \(name)" + (inFlight.count > 1 ? " +\(inFlight.count - 1) more" : "")
    }

    static func text(done: Int, total: Int, elapsed: Double, current: String?, style: Style) -> String {
        let dot = style.unicode ? " · " : " | "
        var parts = ["[\(done)/\(total)]"]
        if total > 0 { parts[0] += " \(done * 100 / total)%" }
        if done > 0, elapsed > 0 {
            let rate = Double(done) / elapsed
            parts.append(rate >= 10 ? "\(Int(rate.rounded())) steps/s" : String(format: "%.1f steps/s", rate))
            if total > done { parts.append("ETA " + duration(Double(total - done) / rate)) }
        } else {
            parts.append("starting")
        }
        if let current, done < total { parts.append("step " + current) }
        return parts.joined(separator: dot)
    }

    /// `42s`, `3m07s`, `1h02m`.
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded(.up))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
    }

    private func draw(force: Bool) {
        guard !ended else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        guard force || now - lastDrawn >= 100_000_000 else { return }
        lastDrawn = now
        let elapsed = Double(now - startedAt) / 1e9
        let text = Table.cut(Self.text(done: done, total: total, elapsed: elapsed, current: Self.describe(inFlight), style: style),
                             to: max(10, width - 1), ellipsis: style.ellipsis)
        Terminal.progress(style.paint(text, .dim))
        shown = true
    }

    private func clear() {
        guard shown else { return }
        Terminal.progress("")
        shown = false
    }
}
