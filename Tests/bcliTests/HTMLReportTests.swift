import Hashing
import Testing

@testable import bcli

/// The pure parts of `batch report`'s page: escaping, how a stored body is shown, time offsets.
/// (The page as a whole is checked in a browser by Tests/EndToEndTests/ReportCommandTests.swift.)
@Suite struct HTMLReportTests {
    @Test func escapesMarkupQuotesAndControls() {
        #expect(HTML.escape(#"<a href="x">&'</a>"#) == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;")
        #expect(HTML.escape("tab\tnew\nline\r") == "tab\tnew\nline\r")
        #expect(HTML.escape("nul\u{0}bell\u{7}del\u{7F}") == "nul\u{FFFD}bell\u{FFFD}del\u{FFFD}")
        #expect(HTML.escape("é 😀 ü") == "é 😀 ü")
        #expect(HTML.attr("data-x", nil) == "")
        #expect(HTML.attr("title", "a\"b") == " title=\"a&quot;b\"")
    }

    @Test func jsonIsReindentedAndOtherTextKept() {
        let d = SHA256.hash([UInt8]())
        let json = ReportBody.make(Array(#"{"b":1,"a":[true,null]}"#.utf8), digest: d)
        #expect(json.content == .text("{\n  \"a\": [\n    true,\n    null\n  ],\n  \"b\": 1\n}", json: true))
        #expect(json.size == 23)
        #expect(json.shownBytes == nil)
        let text = ReportBody.make(Array("not json <x>".utf8), digest: d)
        #expect(text.content == .text("not json <x>", json: false))
        let binary = ReportBody.make([0xFF, 0xFE, 0x00, 0x80], digest: d)
        #expect(binary.content == .binary)
        #expect(binary.size == 4)
    }

    @Test func largeBodiesAreCutAtTheCapOnACharacterBoundary() throws {
        let d = SHA256.hash([UInt8]())
        // 3-byte characters, so a cap of 10 bytes falls inside the fourth one.
        let bytes = Array(String(repeating: "€", count: 100).utf8)
        let body = ReportBody.make(bytes, digest: d, cap: 10)
        #expect(body.content == .text("€€€", json: false))
        #expect(body.shownBytes == 9)
        #expect(body.size == 300)

        // JSON under the cap that grows past it when re-indented is cut too (and says so).
        let array = Array(("[" + Array(repeating: "1", count: 40).joined(separator: ",") + "]").utf8)
        let grown = ReportBody.make(array, digest: d, cap: array.count)
        guard case .text(let shown, json: true) = grown.content else { Issue.record("\(grown.content)"); return }
        #expect(shown.utf8.count <= array.count)
        #expect(grown.shownBytes == shown.utf8.count)

        // The default cap is 256 KiB.
        let big = [UInt8](repeating: UInt8(ascii: "a"), count: ReportBody.defaultCap + 1)
        #expect(ReportBody.make(big, digest: d).shownBytes == 256 * 1024)
    }

    @Test func aBodyReadOnlyAsFarAsTheCapKeepsItsWholeSize() {
        let d = SHA256.hash([UInt8]())
        // The first cap+4 bytes of a 500 MB body: shown as its start, sized as the whole.
        let start = Array(String(repeating: "a", count: 14).utf8)
        let body = ReportBody.make(start, digest: d, cap: 10, totalSize: 500_000_000)
        #expect(body.content == .text("aaaaaaaaaa", json: false))
        #expect(body.size == 500_000_000 && body.shownBytes == 10)
        // A short read below the cap cannot pass for the whole body.
        if case .unreadable = ReportBody.make(Array("abc".utf8), digest: d, cap: 10, totalSize: 50).content {} else {
            Issue.record("a prefix shorter than the cap is not the body")
        }
        // Past the page budget a body shows its size, digest and the command only.
        let omitted = HTMLReport.details(role: "response", label: "Response body", body: .omitted(d, size: 42), command: "bcli batch show x --step 1 --response")
        #expect(omitted.contains("data-content=\"omitted\"") && omitted.contains("bcli batch show x --step 1 --response") && !omitted.contains("<pre>"))
    }

    @Test func ledgerTimestampsBecomeMicroseconds() {
        #expect(HTMLReportSections.micros("1970-01-01T00:00:01.000002Z") == 1_000_002)
        #expect(HTMLReportSections.micros("2026-01-02T03:04:05.123456Z") == 1_767_323_045_123_456)
        #expect(HTMLReportSections.micros("not a time") == nil)
        #expect(HTMLReportSections.formatMs(999) == "999 ms")
        #expect(HTMLReportSections.formatMs(1500) == "1.500 s")
        #expect(HTMLReportSections.percent(12.3456) == "12.346%")
    }
}
