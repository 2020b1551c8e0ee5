import Foundation
import Hashing
import Store
import Testing
import TestSupport

/// `bcli batch report` as a child process, on runs the real binary recorded against an in-process
/// sandbox. The page is checked as headless chromium parses it (`--dump-dom`): the DOM a browser
/// builds, not the text bcli wrote, so escaping mistakes show up as stray elements.
@Suite struct ReportCommandTests {
    /// A POST whose name is markup, a GET of a record that does not exist (failed, with BC's error),
    /// a PATCH that references it (skipped), and a GET that reads the POST back.
    static let manifest = #"""
        name: report-fixture
        params:
          email: {required: true}
        steps:
          - name: create_alpine
            action: post
            endpoint: customers
            data:
              displayName: "Alpine <b>&amp;</b> \"Ski\" 'House' </pre><script>alert(1)</script>"
              email: "${{ params.email }}"
          - name: read_missing
            action: get
            endpoint: customers
            id: 00000000-0000-0000-0000-000000000000
          - name: update_missing
            action: patch
            endpoint: customers
            id: ${{ steps.read_missing.id }}
            data: {email: x@example.com}
          - name: read_back
            action: get
            endpoint: customers
            id: ${{ steps.create_alpine.id }}
        """#

    /// Runs the fixture manifest with `email`; returns the run id (the run exits 1: a step failed).
    static func recordRun(_ sandbox: LiveSandbox, _ dir: TempDir, email: String) async throws -> String {
        let path = try writeManifest(dir, "report.yaml", manifest)
        let r = try await bcliAsync(["batch", "run", "-p", "sandbox", path, "--set", "email=\(email)"], env: sandbox.env(store: dir.path + "/store"))
        try #require(r.status == 1, "\(r.stderr)")
        return try #require(runID(fromStderr: r.stderr))
    }

    @Test(.enabled(if: Chromium.path != nil || Chromium.required,
                   "chromium is not on PATH (apt-get install chromium); with CI set this test runs and fails instead"))
    func theReportAsChromiumSeesIt() async throws {
        try requireBinary(Paths.bcli)
        let chromium = try #require(Chromium.path, "chromium is not on PATH: install it (`apt-get install chromium`; .ci/run does)")
        let dir = TempDir()
        let env = ["BCLI_STORE": dir.path + "/store"]
        let (a, b) = try await withSandbox { sandbox in
            (try await Self.recordRun(sandbox, dir, email: "a@example.com"), try await Self.recordRun(sandbox, dir, email: "b@example.com"))
        }
        let file = dir.path + "/out/run.html"  // a folder that does not exist yet is created
        let r = try await bcliAsync(["batch", "report", String(a.prefix(20)), "--against", b, "-o", file], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.out == file + "\n")
        #expect(r.stderr.contains("wrote the report of run \(a)"))
        let html = try String(contentsOfFile: file, encoding: .utf8)
        Self.expectSelfContained(html)

        let dom = try await Chromium.dumpDOM(chromium, file: file, profile: dir.path + "/chromium")
        let tags = DOM.tags(dom)
        #expect(tags.contains { $0.name == "meta" && $0["name"] == "generator" && $0["content"]?.hasPrefix("bcli ") == true })
        let run = try #require(tags.first { $0["id"] == "run" })
        #expect(run["data-run-id"] == a)
        #expect(run["data-kind"] == "batch")
        #expect(run["data-record-digest"]?.hasPrefix("sha256:") == true)
        #expect(tags.contains { $0["data-role"] == "manifest" && $0["data-digest"] == run["data-manifest-digest"] && $0["data-content"] == "text" })

        // One row per step, with the ledger's statuses.
        let steps = tags.filter { $0.name == "tr" && $0.classes.contains("step") }
        #expect(steps.map { $0["data-index"] } == ["1", "2", "3", "4"])
        #expect(steps.map { $0["data-status"] } == ["committed", "failed", "skipped", "committed"])
        #expect(steps.map { $0["data-method"] } == ["POST", "GET", "PATCH", "GET"])
        #expect(steps[0]["data-http-status"] == "201")
        #expect(steps[1]["data-http-status"] == "404")
        let failedRow = try DOM.element(dom, id: "step-2", closing: "</tr>")
        #expect(failedRow.contains("Internal_RecordNotFound: The Customer does not exist"), "BC's error code and message: \(failedRow)")
        let skippedRow = try DOM.element(dom, id: "step-3", closing: "</tr>")
        #expect(skippedRow.contains("read_missing"), "the skip reason names the step it needed: \(skippedRow)")

        // The request body, inside a <details>, as parsed: markup in the data stayed text.
        let exchange = try DOM.element(dom, id: "exchange-1", closing: "</tr>")
        let request = try #require(exchange.range(of: #"<details class="blob request""#))
        let requestEnd = try #require(exchange.range(of: "</details>", range: request.upperBound..<exchange.endIndex))
        let requestDetails = String(exchange[request.lowerBound..<requestEnd.upperBound])
        #expect(requestDetails.contains(#""email": "a@example.com""#), "\(requestDetails.prefix(600))")
        #expect(requestDetails.contains(#"Alpine &lt;b&gt;&amp;amp;&lt;/b&gt; \"Ski\" 'House' &lt;/pre&gt;&lt;script&gt;"#), "\(requestDetails.prefix(600))")
        #expect(!tags.contains { $0.name == "script" || $0.name == "b" }, "data became markup")
        #expect(tags.contains { $0.name == "details" && $0["data-role"] == "response" && $0["data-content"] == "json" })
        #expect(tags.contains { $0.name == "details" && $0["data-role"] == "request-headers" })

        // Timeline, verify, diff.
        #expect(tags.contains { $0["id"] == "timeline" })
        let bars = tags.filter { $0.name == "div" && $0.classes.contains("bar") }
        #expect(bars.count == 4)
        #expect(bars.allSatisfy { ($0["style"] ?? "").contains("left:") && ($0["style"] ?? "").contains("width:") })
        let verify = try #require(tags.first { $0["id"] == "verify" })
        #expect(verify["data-ok"] == "true")
        #expect(verify["data-record-digest"] == run["data-record-digest"])
        let diff = try #require(tags.first { $0["id"] == "diff" })
        #expect(diff["data-a"] == a)
        #expect(diff["data-b"] == b)
        #expect(diff["data-identical"] == "false")
        let changes = tags.filter { $0.classes.contains("diff-step") }
        #expect(changes.first { $0["data-name"] == "create_alpine" }?["data-change"] == "changed")
        #expect(dom.contains(#"~ steps.create_alpine.request /email: "a@example.com" → "b@example.com""#))
        Self.expectSelfContained(dom)
    }

    /// Exit codes and outputs that need no browser: an unknown run, a folder as -o, -o -.
    @Test func errorsAndStdout() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let (store, ids) = try await VerifyCommandTests.runs(sandbox, dir, count: 1)
            let env = ["BCLI_STORE": store]

            let unknown = try await bcliAsync(["batch", "report", "ffffffffffff", "-o", dir.path + "/x.html"], env: env)
            #expect(unknown.status == 4, "\(unknown.stderr)")
            #expect(unknown.out.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: dir.path + "/x.html"))
            let against = try await bcliAsync(["batch", "report", ids[0], "--against", "ffffffffffff", "-o", dir.path + "/x.html"], env: env)
            #expect(against.status == 4, "\(against.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir.path + "/x.html"))

            let folder = try await bcliAsync(["batch", "report", ids[0], "-o", dir.path], env: env)
            #expect(folder.status == 2, "\(folder.stderr)")
            #expect(folder.stderr.contains("is a directory"))
            #expect(folder.out.isEmpty)

            let missingOutput = try await bcliAsync(["batch", "report", ids[0]], env: env)
            #expect(missingOutput.status == 2)

            let stdout = try await bcliAsync(["batch", "report", ids[0], "-o", "-"], env: env)
            #expect(stdout.status == 0, "\(stdout.stderr)")
            #expect(stdout.out.hasPrefix("<!DOCTYPE html>"))
            #expect(stdout.out.hasSuffix("</html>\n"))
            #expect(stdout.stderr.contains("to stdout"))
            let tags = DOM.tags(stdout.out)
            #expect(tags.filter { $0.classes.contains("step") }.map { $0["data-status"] } == Array(repeating: "committed", count: 5))
            #expect(!tags.contains { $0["id"] == "diff" }, "no diff without --against")
            #expect(tags.first { $0["id"] == "verify" }?["data-ok"] == "true")
            Self.expectSelfContained(stdout.out)
        }
    }

    /// A blob whose bytes no longer hash to their name: the page is still written, its verify
    /// section says not ok and names the blob, the body shows why it cannot be shown, exit 1.
    @Test func aDamagedBlobMakesVerifyNotOK() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir()
            let (store, ids) = try await VerifyCommandTests.runs(sandbox, dir, count: 1)
            let ledger = try LedgerStore(root: store)
            let response = try #require(try ledger.ledger.steps(runID: ids[0])[3].responseDigest)
            try BlobDamage.change(ledger, response) { $0[$0.count / 2] ^= 0x01 }

            let file = dir.path + "/damaged.html"
            let r = try await bcliAsync(["batch", "report", ids[0], "-o", file], env: ["BCLI_STORE": store])
            #expect(r.status == 1, "\(r.stderr)")
            #expect(r.out == file + "\n", "the report is written and named even so")
            #expect(r.stderr.contains("verify found 1 problem(s)"))
            let tags = DOM.tags(try String(contentsOfFile: file, encoding: .utf8))
            let verify = try #require(tags.first { $0["id"] == "verify" })
            #expect(verify["data-ok"] == "false")
            #expect(verify["data-problems"] == "1")
            let problem = try #require(tags.first { $0.classes.contains("problem") })
            #expect(problem["data-kind"] == "corrupt")
            #expect(problem["data-digest"] == response.description)
            let body = try #require(tags.first { $0["data-role"] == "response" && $0["data-digest"] == response.description })
            #expect(body["data-content"] == "unreadable")
        }
    }

    /// Nothing the page loads or links to is on the network: no http(s) URL in a src or href
    /// attribute, no script, no stylesheet link, no CSS url().
    static func expectSelfContained(_ html: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let lower = html.lowercased()
        #expect(lower.range(of: #"(src|href)\s*=\s*["']?\s*(https?:)?//"#, options: .regularExpression) == nil,
                "a src/href points off the page", sourceLocation: sourceLocation)
        for tag in DOM.tags(html) {
            for name in ["src", "href", "action", "poster", "srcset"] {
                if let value = tag[name] {
                    #expect(value.hasPrefix("#"), "<\(tag.name) \(name)=\"\(value)\"> is not a link within the page", sourceLocation: sourceLocation)
                }
            }
            #expect(!["script", "link", "img", "iframe", "object", "embed"].contains(tag.name), "<\(tag.name)>", sourceLocation: sourceLocation)
        }
        #expect(!lower.contains("url("), "CSS url()", sourceLocation: sourceLocation)
        #expect(!lower.contains("@import"), sourceLocation: sourceLocation)
    }
}

/// Headless chromium, found on PATH. CI must have it: with `CI` set the test that needs it runs
/// (and fails when it is missing) rather than being skipped.
enum Chromium {
    static let path: String? = {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        return dirs.map { "\($0)/chromium" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    static var required: Bool { ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty } ?? false }

    /// The DOM chromium builds from `file` (its serialisation on stdout), on a thread of its own,
    /// killed after two minutes. `profile` is a fresh user-data folder (tests run in parallel).
    static func dumpDOM(_ chromium: String, file: String, profile: String) async throws -> String {
        let r = try await offload {
            try run(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile)",
                               "--dump-dom", URL(fileURLWithPath: file).absoluteString], timeout: 120)
        }
        try #require(r.status == 0, "chromium exited \(r.status): \(r.stderr.suffix(2000))")
        try #require(r.out.contains("</html>"), "chromium printed no DOM: \(r.stderr.suffix(2000))")
        return r.out
    }
}

/// Just enough of an HTML reader for these checks: start tags with their attributes (as a browser
/// serialises them, or as bcli writes them), and the text of an element found by id.
enum DOM {
    struct Tag {
        let name: String
        let attributes: [String: String]
        subscript(_ name: String) -> String? { attributes[name] }
        var classes: [String] { (attributes["class"] ?? "").split(separator: " ").map(String.init) }
    }

    static func tags(_ html: String) -> [Tag] {
        let tag = try! Regex(#"<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?)*)\s*/?>"#)
        let attribute = try! Regex(#"([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?"#)
        return html.matches(of: tag).map { m in
            let name = String(m.output[1].substring ?? "").lowercased()
            var attrs: [String: String] = [:]
            let text = String(m.output[2].substring ?? "")
            for a in text.matches(of: attribute) {
                let key = String(a.output[1].substring ?? "").lowercased()
                let value = a.output[2].substring ?? a.output[3].substring ?? a.output[4].substring ?? ""
                attrs[key] = unescape(String(value))
            }
            return Tag(name: name, attributes: attrs)
        }
    }

    /// From the start tag with `id` to the first `closing` after it.
    static func element(_ html: String, id: String, closing: String) throws -> String {
        let start = try #require(html.range(of: "id=\"\(id)\""), "no element with id \(id)")
        let end = try #require(html.range(of: closing, range: start.upperBound..<html.endIndex), "\(id) is not closed by \(closing)")
        return String(html[start.lowerBound..<end.upperBound])
    }

    static func unescape(_ s: String) -> String {
        s.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}
