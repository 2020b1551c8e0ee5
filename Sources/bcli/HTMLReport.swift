import Batch
import Hashing
import Store

/// Everything `batch report` puts in its page, read from the store by `ReportCommand` and
/// rendered by `HTMLReport.render` — plain values, so the page is a pure function of them.
struct RunReportModel: Sendable {
    var run: RunRecord
    /// The manifest bytes the run ran, and its params (`--set`, `--params`) as recorded.
    var manifest: ReportBody?
    var params: ReportBody?
    var steps: [ReportStep]
    /// Runs that name this one as parent (its resume, reconcile and rollback runs).
    var children: [RunRecord]
    /// What `bcli batch verify RUN` finds for the run, checked when the report was made.
    var verify: VerifyReport
    /// With `--against RUN2`: `bcli batch diff RUN RUN2`.
    var diff: RunDiff?
    /// `bcli <version>`, for `<meta name="generator">`.
    var generator: String
    /// When the report was made (the verify result is as of then).
    var generatedAt: String
}

/// A step row and the stored blobs it names, each read (and re-hashed) once.
struct ReportStep: Sendable {
    var record: StepRecord
    var request: ReportBody?
    var requestHeaders: ReportBody?
    var response: ReportBody?
    var responseHeaders: ReportBody?
    var preImage: ReportBody?
}

/// `bcli batch report`'s page: one self-contained HTML file (inline `<style>`, no script, nothing
/// fetched — a Content-Security-Policy of `default-src 'none'` makes the browser refuse anything
/// that would be), with stable ids, classes and `data-*` attributes so tests and scripts can read
/// it as well as people (docs/report.md lists them).
enum HTMLReport {
    static func render(_ m: RunReportModel) -> String {
        var out = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="generator"\(HTML.attr("content", m.generator))>
            <title>\(HTML.escape("bcli run \(m.run.id) — \(m.run.state.rawValue)"))</title>
            <style>
            \(HTMLReportStyle.css)
            </style>
            </head>

            """
        out += "<body\(HTML.attr("data-run-id", m.run.id))\(HTML.attr("data-generated-at", m.generatedAt))>\n"
        out += "<header><h1>Run <code>\(HTML.escape(m.run.id))</code>"
        out += " <span class=\"state\"\(HTML.attr("data-state", m.run.state.rawValue))>\(HTML.escape(m.run.state.rawValue))</span></h1>\n"
        out += "<p class=\"sub\">\(HTML.escape(m.run.name ?? m.run.manifestPath ?? "unnamed batch")) · \(HTML.escape(m.run.kind.rawValue)) run · "
        out += "verify <a href=\"#verify\">\(m.verify.isOK ? "OK" : "\(m.verify.problems.count) problem(s)")</a>"
        if let diff = m.diff { out += " · <a href=\"#diff\">\(diff.identical ? "identical to" : "differs from") run \(HTML.escape(diff.b.runID ?? "-"))</a>" }
        out += "</p></header>\n<main>\n"
        out += identity(m)
        out += stepsSection(m)
        out += HTMLReportSections.timeline(m)
        out += HTMLReportSections.verify(m)
        if let diff = m.diff { out += HTMLReportSections.diff(diff, runID: m.run.id) }
        out += "</main>\n<footer>\n<p>Written by \(HTML.escape(m.generator)) at \(HTML.escape(m.generatedAt)). "
        out += "The bytes are in the store: <code>\(HTML.escape("bcli batch state \(m.run.id)"))</code>, "
        out += "<code>\(HTML.escape("bcli batch show \(m.run.id) --step N --response"))</code>, "
        out += "<code>\(HTML.escape("bcli batch export \(m.run.id) -o run.bcli.tar"))</code>.</p>\n</footer>\n</body>\n</html>\n"
        return out
    }

    // MARK: - The run

    static func identity(_ m: RunReportModel) -> String {
        let r = m.run
        var rows: [(field: String, label: String, value: String)] = []
        func add(_ field: String, _ label: String, _ text: String?, code: Bool = false) {
            let value = text.map { code ? "<code>\(HTML.escape($0))</code>" : HTML.escape($0) } ?? "<span class=\"none\">—</span>"
            rows.append((field, label, value))
        }
        add("run_id", "Run id", r.id, code: true)
        add("kind", "Kind", r.kind.rawValue)
        var state = r.state.rawValue
        if r.stampedState != r.state { state += " (stamped \(r.stampedState.rawValue))" }
        if r.interrupted && r.state != .interrupted { state += " (interrupted: no process holds its lock)" }
        add("state", "State", state)
        add("name", "Batch", r.name)
        add("manifest_path", "Manifest", r.manifestPath)
        add("manifest_digest", "Manifest digest", r.manifestDigest?.description, code: true)
        add("params_digest", "Params digest", r.paramsDigest?.description, code: true)
        add("profile", "Profile", r.profile)
        add("environment", "Environment", r.environment)
        add("company", "Company", r.company)
        add("base_url", "Base URL", r.baseURL, code: true)
        add("started_at", "Started", r.startedAt)
        add("finished_at", "Finished", r.finishedAt ?? (r.interrupted ? "never (interrupted)" : "not yet (running)"))
        add("record_digest", "Run record digest", r.recordDigest?.description ?? "none (an unfinished run has no record)", code: r.recordDigest != nil)
        add("previous_record_digest", "Previous record", r.previousRecordDigest?.description, code: true)
        add("parent", "Parent run", r.parentRunID, code: true)
        for child in m.children {
            let verb = [RunKind.resume: "resumed by", .reconcile: "reconciled by", .rollback: "rolled back by"][child.kind] ?? child.kind.rawValue
            add("child", "Followed", "\(verb) \(child.id) (\(child.state.rawValue))")
        }
        add("tool_version", "Recorded by", "bcli \(r.toolVersion), durability \(r.durability.rawValue)")
        let c = r.counts
        var counts = "\(r.stepCount.map { "\(c.total) of \($0)" } ?? String(c.total)) recorded — \(c.committed) committed, \(c.failed) failed, \(c.unknown) unknown, \(c.skipped) skipped"
        if c.replayed > 0 { counts += ", \(c.replayed) replayed" }
        if c.rolledBack + c.rollbackSkipped + c.rollbackFailed > 0 {
            counts += ", \(c.rolledBack) rolled back, \(c.rollbackSkipped) rollback skipped, \(c.rollbackFailed) rollback failed"
        }
        if c.reconciledApplied + c.reconciledNotApplied > 0 {
            counts += ", \(c.reconciledApplied) reconciled applied, \(c.reconciledNotApplied) reconciled not applied"
        }
        add("steps", "Steps", counts)

        var out = "<section id=\"run\"\(HTML.attr("data-run-id", r.id))\(HTML.attr("data-kind", r.kind.rawValue))"
        out += "\(HTML.attr("data-state", r.state.rawValue))\(HTML.attr("data-record-digest", r.recordDigest?.description))"
        out += "\(HTML.attr("data-manifest-digest", r.manifestDigest?.description))>\n<h2>Run</h2>\n<table id=\"identity\">\n"
        for row in rows {
            out += "<tr\(HTML.attr("data-field", row.field))><th scope=\"row\">\(HTML.escape(row.label))</th><td>\(row.value)</td></tr>\n"
        }
        out += "</table>\n"
        if let manifest = m.manifest {
            out += details(role: "manifest", label: "Manifest as run", body: manifest, command: "bcli batch show \(r.id)")
        }
        if let params = m.params {
            out += details(role: "params", label: "Params as recorded", body: params, command: "bcli batch cat \(params.digest)")
        }
        return out + "</section>\n"
    }

    // MARK: - Steps

    static let stepColumns = ["#", "Name", "Method", "Endpoint", "Status", "HTTP", "Duration", "Reason"]

    static func stepsSection(_ m: RunReportModel) -> String {
        var out = "<section id=\"steps-section\">\n<h2>Steps</h2>\n"
        if m.steps.isEmpty {
            out += "<p class=\"none\">This run recorded no steps.</p>\n"
        }
        out += "<p class=\"hint\">Open a step's request and response below its row; bodies are the stored bytes "
        out += "(JSON re-indented), headers as stored (the store never holds <code>Authorization</code>).</p>\n"
        out += "<table id=\"steps\">\n<thead><tr>"
        out += stepColumns.map { "<th scope=\"col\">\($0)</th>" }.joined()
        out += "</tr></thead>\n<tbody>\n"
        for step in m.steps {
            out += stepRow(step)
            out += exchangeRow(step, runID: m.run.id)
        }
        return out + "</tbody>\n</table>\n</section>\n"
    }

    static func stepRow(_ step: ReportStep) -> String {
        let s = step.record
        var out = "<tr class=\"step\" id=\"step-\(s.seq)\"\(HTML.attr("data-index", String(s.seq)))\(HTML.attr("data-name", s.name))"
        out += "\(HTML.attr("data-status", s.statusName))\(HTML.attr("data-method", s.method.rawValue))"
        out += "\(HTML.attr("data-http-status", s.httpStatus.map(String.init)))\(HTML.attr("data-duration-ms", HTMLReportSections.durationMs(s).map(String.init)))>"
        out += "<td class=\"seq\">\(s.seq)</td>"
        out += "<td class=\"name\">\(HTML.escape(s.name))</td>"
        out += "<td class=\"method\">\(HTML.escape(s.method.rawValue))</td>"
        out += "<td class=\"endpoint\"\(HTML.attr("title", s.url))><code>\(HTML.escape(DiffText.short(s.url)))</code></td>"
        out += "<td class=\"status\"><span class=\"badge\"\(HTML.attr("data-status", s.statusName))>\(HTML.escape(s.statusName))</span></td>"
        out += "<td class=\"http\">\(s.httpStatus.map(String.init) ?? "—")</td>"
        out += "<td class=\"duration\">\(HTMLReportSections.durationMs(s).map(HTMLReportSections.formatMs) ?? "—")</td>"
        out += "<td class=\"reason\">\(HTML.escape(reason(s) ?? ""))</td>"
        return out + "</tr>\n"
    }

    /// Why a step did not simply commit: BC's error code and message, else the reason the ledger
    /// kept (a skip's reason, an unknown step's transport error, a replay's note).
    static func reason(_ s: StepRecord) -> String? {
        if let code = s.bcErrorCode ?? (s.bcErrorMessage != nil ? "error" : nil) {
            let message = s.bcErrorMessage ?? ""
            let correlation = s.bcCorrelationID.flatMap { message.contains($0) ? nil : " (correlation \($0))" } ?? ""
            return "\(code): \(message)\(correlation)"
        }
        if let message = s.errorMessage { return message }
        if s.status == nil { return "sent, no outcome recorded: it may or may not have reached Business Central (bcli batch reconcile)" }
        return nil
    }

    /// The row under each step: the exchange's facts and a `<details>` per stored blob.
    static func exchangeRow(_ step: ReportStep, runID: String) -> String {
        let s = step.record
        var out = "<tr class=\"exchange\" id=\"exchange-\(s.seq)\"\(HTML.attr("data-index", String(s.seq)))>"
        out += "<td colspan=\"\(stepColumns.count)\">\n"
        var facts: [(String, String?)] = [
            ("request", "\(s.method.rawValue) \(s.url)"),
            ("client-request-id", s.clientRequestID),
            ("If-Match", s.ifMatch),
            ("idempotency key", s.idempotencyKey),
            ("intent", s.intentAt),
            ("outcome", s.outcomeAt),
            ("ETag", s.etag),
            ("record id", s.recordID),
            ("request-id", s.requestID),
            ("ms-correlation-x", s.msCorrelationX),
            ("correlation", s.bcCorrelationID ?? s.correlationRequestID),
            ("target step", s.targetStepID.map(String.init)),
            ("rollback URL", s.rollbackURL),
        ]
        facts = facts.filter { $0.1 != nil }
        out += "<dl class=\"facts\">"
        for (label, value) in facts {
            out += "<dt>\(HTML.escape(label))</dt><dd><code>\(HTML.escape(value ?? ""))</code></dd>"
        }
        out += "</dl>\n"
        let show = "bcli batch show \(runID) --step \(s.seq)"
        let blobs: [(role: String, label: String, body: ReportBody?, flags: String)] = [
            ("request", "Request body", step.request, "--request"),
            ("request-headers", "Request headers", step.requestHeaders, "--headers"),
            ("response", "Response body", step.response, "--response"),
            ("response-headers", "Response headers", step.responseHeaders, "--response --headers"),
            ("pre-image", "Pre-image (the record before the write)", step.preImage, "--pre-image"),
        ]
        var shown = 0
        for blob in blobs {
            guard let body = blob.body else { continue }
            out += details(role: blob.role, label: blob.label, body: body, command: "\(show) \(blob.flags)")
            shown += 1
        }
        if shown == 0 { out += "<p class=\"none\">No stored request or response (nothing was sent, or nothing came back).</p>\n" }
        if !s.pages.isEmpty { out += pages(s, show: show) }
        return out + "</td></tr>\n"
    }

    static func details(role: String, label: String, body: ReportBody, command: String) -> String {
        var kind = "text"
        var content = ""
        var note = ""
        switch body.content {
        case .text(let text, let json):
            kind = json ? "json" : "text"
            content = "<pre>\(HTML.escape(text))</pre>"
            if let shown = body.shownBytes {
                note = "<p class=\"note cut\">Showing the first \(shown) of \(body.size) bytes. The whole body: <code>\(HTML.escape(command))</code></p>"
            }
        case .binary:
            kind = "binary"
            note = "<p class=\"note\">\(body.size) bytes that are not UTF-8 text. The exact bytes: <code>\(HTML.escape(command))</code></p>"
        case .omitted:
            kind = "omitted"
            note = "<p class=\"note\">Not shown: the page already holds \(ReportBody.pageBudget / (1024 * 1024)) MiB of bodies. The exact bytes: <code>\(HTML.escape(command))</code></p>"
        case .unreadable(let message):
            kind = "unreadable"
            note = "<p class=\"note bad\">Cannot be shown: \(HTML.escape(message)). See the verify section.</p>"
        }
        var out = "<details class=\"blob \(role)\"\(HTML.attr("data-role", role))\(HTML.attr("data-digest", body.digest.description))"
        out += "\(HTML.attr("data-content", kind))\(HTML.attr("data-size", String(body.size)))\(body.shownBytes != nil ? " data-truncated=\"true\"" : "")>"
        out += "<summary>\(HTML.escape(label)) <span class=\"meta\">\(kind == "unreadable" ? "unreadable" : "\(body.size) bytes")"
        out += " · <code>\(HTML.escape(body.digest.description))</code></span></summary>\n"
        return out + content + note + "</details>\n"
    }

    static func pages(_ s: StepRecord, show: String) -> String {
        var out = "<details class=\"pages\" data-role=\"pages\"\(HTML.attr("data-count", String(s.pages.count)))>"
        out += "<summary>Pages received (\(s.pages.count)); the response body above is their assembly</summary>\n<table class=\"pages\">"
        out += "<tr><th>page</th><th>URL</th><th>HTTP</th><th>duration</th><th>response</th></tr>"
        for p in s.pages {
            out += "<tr\(HTML.attr("data-page", String(p.page)))><td>\(p.page)</td><td><code>\(HTML.escape(p.url))</code></td>"
            out += "<td>\(p.httpStatus.map(String.init) ?? "—")</td><td>\(p.durationMs.map(HTMLReportSections.formatMs) ?? "—")</td>"
            out += "<td><code>\(HTML.escape(p.responseDigest?.description ?? "—"))</code></td></tr>"
        }
        out += "</table>\n<p class=\"note\">Page K as received: <code>\(HTML.escape("\(show) --response --page K"))</code></p></details>\n"
        return out
    }
}
