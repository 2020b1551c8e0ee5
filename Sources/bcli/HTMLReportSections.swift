import Batch
import Foundation
import Hashing
import Store

/// The timeline, verify and diff sections of `batch report`'s page (`HTMLReport`).
enum HTMLReportSections {
    // MARK: - Timeline

    /// One bar per step, placed by when its intent was committed (offset from the run's start)
    /// and as wide as it took until its outcome: plain positioned `<div>`s, no canvas, no script.
    /// A step with no outcome (unknown) runs open to the end of the run, hatched.
    static func timeline(_ m: RunReportModel) -> String {
        let start = micros(m.run.startedAt)
        let spans = m.steps.map { span($0.record, runStart: start) }
        var endMicros: Int64 = 1000
        if let start, let finished = m.run.finishedAt.flatMap(micros) { endMicros = max(endMicros, finished - start) }
        for s in spans { if let s { endMicros = max(endMicros, s.offset + (s.length ?? 0)) } }
        let total = Double(endMicros)

        var out = "<section id=\"timeline\"\(HTML.attr("data-total-ms", String(endMicros / 1000)))>\n<h2>Timeline</h2>\n"
        out += "<p class=\"hint\">Each bar starts when the step's intent was recorded and ends at its outcome "
        out += "(offsets from the run's start, \(HTML.escape(m.run.startedAt))); the run spans \(formatMs(Int(endMicros / 1000))).</p>\n"
        out += "<div class=\"axis\"><span>0</span><span>\(formatMs(Int(endMicros / 2000)))</span><span>\(formatMs(Int(endMicros / 1000)))</span></div>\n"
        for (step, span) in zip(m.steps, spans) {
            let s = step.record
            out += "<div class=\"lane\"\(HTML.attr("data-index", String(s.seq)))\(HTML.attr("data-status", s.statusName))>"
            out += "<span class=\"label\"\(HTML.attr("title", s.name))>\(s.seq). \(HTML.escape(s.name))</span><div class=\"track\">"
            if let span {
                let left = Double(span.offset) / total * 100
                let width = span.length.map { Double($0) / total * 100 } ?? (100 - left)
                let ms = span.length.map { Int($0 / 1000) }
                let title = "\(s.name): \(s.statusName), starts at +\(formatMs(Int(span.offset / 1000)))"
                    + (ms.map { ", \(formatMs($0))" } ?? ", no outcome recorded")
                    + (s.durationMs.map { " (HTTP \(formatMs($0)))" } ?? "")
                out += "<div class=\"bar\(span.length == nil ? " open" : "")\"\(HTML.attr("data-status", s.statusName))"
                out += "\(HTML.attr("data-start-ms", String(span.offset / 1000)))\(HTML.attr("data-duration-ms", ms.map(String.init)))"
                out += " style=\"left:\(percent(left));width:\(percent(max(0, min(width, 100 - left))))\"\(HTML.attr("title", title))></div>"
                out += "</div><span class=\"ms\">\(ms.map(formatMs) ?? "open")</span>"
            } else {
                out += "</div><span class=\"ms\">—</span>"
            }
            out += "</div>\n"
        }
        return out + "</section>\n"
    }

    /// Where a step sits: microseconds from the run's start to its intent, and to its outcome
    /// (nil length: no outcome). Falls back to the recorded HTTP duration when times are missing.
    static func span(_ s: StepRecord, runStart: Int64?) -> (offset: Int64, length: Int64?)? {
        guard let runStart, let intent = micros(s.intentAt) else { return nil }
        let offset = max(0, intent - runStart)
        if let outcome = s.outcomeAt.flatMap(micros) { return (offset, max(0, outcome - intent)) }
        if s.status != nil, let ms = s.durationMs { return (offset, Int64(ms) * 1000) }
        return s.status == nil ? (offset, nil) : (offset, 0)
    }

    /// The step's duration for the table: intent to outcome, else the recorded HTTP duration.
    static func durationMs(_ s: StepRecord) -> Int? {
        if let i = micros(s.intentAt), let o = s.outcomeAt.flatMap(micros) { return Int(max(0, o - i) / 1000) }
        return s.durationMs
    }

    /// Microseconds since the epoch of a ledger timestamp (`YYYY-MM-DDTHH:MM:SS.ffffffZ`).
    static func micros(_ text: String) -> Int64? {
        guard let normal = Timestamp.normalise(text) else { return nil }
        let b = Array(normal.utf8)  // fixed width: 2026-01-02T03:04:05.123456Z
        func num(_ r: Range<Int>) -> Int { b[r].reduce(0) { $0 * 10 + Int($1 - 48) } }
        var parts = tm()
        parts.tm_year = Int32(num(0..<4) - 1900); parts.tm_mon = Int32(num(5..<7) - 1); parts.tm_mday = Int32(num(8..<10))
        parts.tm_hour = Int32(num(11..<13)); parts.tm_min = Int32(num(14..<16)); parts.tm_sec = Int32(num(17..<19))
        return Int64(timegm(&parts)) * 1_000_000 + Int64(num(20..<26))
    }

    static func formatMs(_ ms: Int) -> String {
        ms < 1000 ? "\(ms) ms" : String(format: "%.3f s", Double(ms) / 1000)
    }

    static func percent(_ value: Double) -> String {
        String(format: "%.3f%%", value.isFinite ? value : 0)
    }

    // MARK: - Verify

    /// `bcli batch verify RUN`'s result: ok, or every problem with its subject and digest.
    static func verify(_ m: RunReportModel) -> String {
        let v = m.verify
        var out = "<section id=\"verify\" data-ok=\"\(v.isOK)\"\(HTML.attr("data-problems", String(v.problems.count)))"
        out += "\(HTML.attr("data-record-digest", m.run.recordDigest?.description))>\n<h2>Verify</h2>\n"
        out += "<p class=\"hint\">The checks of <code>\(HTML.escape("bcli batch verify \(m.run.id)"))</code>, run when this report was written "
        out += "(\(HTML.escape(m.generatedAt))): every blob the run names re-hashed, its run record compared with its rows, the chain of records walked.</p>\n"
        let chain = v.chain.isEmpty ? "" : ", chain of \(v.chain.count) record(s)"
        let record = m.run.recordDigest.map { "run record <code>\(HTML.escape($0.description))</code>" } ?? "no run record (the run has not finished)"
        if v.isOK {
            out += "<p class=\"verdict ok\">OK — \(v.blobsChecked) blob(s), \(v.bytesChecked) bytes re-hashed\(chain); \(record).</p>\n"
        } else {
            out += "<p class=\"verdict bad\">\(v.problems.count) problem(s) — \(record). See docs/audit.md for what each means.</p>\n"
            out += "<table id=\"verify-problems\">\n<thead><tr><th>kind</th><th>subject</th><th>digest</th><th>detail</th></tr></thead>\n<tbody>\n"
            for p in v.problems {
                out += "<tr class=\"problem\"\(HTML.attr("data-kind", p.kind.rawValue))\(HTML.attr("data-digest", p.digest?.description))>"
                out += "<td>\(HTML.escape(p.kind.rawValue))</td><td>\(HTML.escape(p.subject))</td>"
                out += "<td><code>\(HTML.escape(p.digest?.description ?? "—"))</code></td><td>\(HTML.escape(p.detail))</td></tr>\n"
            }
            out += "</tbody>\n</table>\n"
        }
        if !v.notes.isEmpty || !v.hashOnly.isEmpty {
            out += "<ul class=\"notes\">"
            for n in v.notes { out += "<li class=\"note\">\(HTML.escape(n))</li>" }
            for h in v.hashOnly { out += "<li class=\"hash-only\">\(HTML.escape("\(h.subject): \(h.detail)"))</li>" }
            out += "</ul>\n"
        }
        return out + "</section>\n"
    }

    // MARK: - Diff

    /// `bcli batch diff RUN RUN2`, as `DiffText` writes it (each line marked by its sign), under
    /// a table of every step's change and the counts as attributes.
    static func diff(_ d: RunDiff, runID: String) -> String {
        let c = d.counts
        var out = "<section id=\"diff\"\(HTML.attr("data-a", d.a.runID))\(HTML.attr("data-b", d.b.runID))"
        out += " data-identical=\"\(d.identical)\"\(HTML.attr("data-same", String(c.same)))\(HTML.attr("data-changed", String(c.changed)))"
        out += "\(HTML.attr("data-only-in-a", String(c.onlyInA)))\(HTML.attr("data-only-in-b", String(c.onlyInB)))>\n<h2>Diff</h2>\n"
        out += "<p class=\"hint\">This run (a) against run \(HTML.escape(d.b.runID ?? "-")) (b): the same as "
        out += "<code>\(HTML.escape("bcli batch diff \(runID) \(d.b.runID ?? "-")"))</code>. "
        out += "Volatile fields (ETags, timestamps, server-generated ids, correlation ids) are ignored.</p>\n"
        out += "<p class=\"verdict \(d.identical ? "ok" : "changed")\">\(d.identical ? "Identical" : "Different"): \(HTML.escape(c.line)).</p>\n"
        out += "<table id=\"diff-steps\">\n<thead><tr><th>step</th><th>change</th><th>a</th><th>b</th></tr></thead>\n<tbody>\n"
        for s in d.steps {
            out += "<tr class=\"diff-step\"\(HTML.attr("data-name", s.name))\(HTML.attr("data-change", s.change.rawValue))>"
            out += "<td>\(HTML.escape(s.name))</td><td>\(HTML.escape(s.change.rawValue))</td>"
            out += "<td>\(HTML.escape(side(s.a)))</td><td>\(HTML.escape(side(s.b)))</td></tr>\n"
        }
        out += "</tbody>\n</table>\n<pre class=\"diff-text\">"
        for line in DiffText.render(d) {
            let sign = line.first.map(String.init) ?? " "
            let kind = line.hasPrefix("--- ") || line.hasPrefix("+++ ") ? "head"
                : line.hasPrefix("@@ ") ? "hunk" : ["+": "add", "-": "del", "~": "chg"][sign] ?? "ctx"
            out += "<span class=\"diff-line \(kind)\">\(HTML.escape(line))</span>\n"
        }
        return out + "</pre>\n</section>\n"
    }

    static func side(_ s: DiffStep?) -> String {
        guard let s else { return "—" }
        return "#\(s.seq) \(s.method.rawValue) \(s.statusName ?? "not run")" + (s.httpStatus.map { " \($0)" } ?? "")
    }
}
