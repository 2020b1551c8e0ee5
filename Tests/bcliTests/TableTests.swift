import Hashing
import Testing
@testable import bcli

/// Fitting tables to a width, cutting cells, and deciding colour and symbols.
@Suite struct TableTests {
    static let plain = Style(colour: false, unicode: true)

    @Test func flexibleColumnsGiveWayWidestFirst() {
        let table = Table(columns: [.init(title: "seq"), .init(title: "name", flexible: true, minimum: 4),
                                    .init(title: "url", flexible: true, minimum: 6)],
                          rows: [["1", "a-rather-long-step-name", String(repeating: "x", count: 80)]])
        let lines = table.lines(width: 40, style: Self.plain)
        #expect(lines.allSatisfy { $0.count <= 40 }, "\(lines)")
        #expect(lines[1].hasPrefix("1    "))
        #expect(lines[1].hasSuffix("…"))
        #expect(table.lines(width: nil, style: Self.plain)[1].count == 3 + 2 + 23 + 2 + 80, "no width: whole cells")
        // Wide enough: natural widths, nothing cut.
        #expect(!table.lines(width: 200, style: Self.plain).joined().contains("…"))
    }

    @Test func rowsOfAnotherLengthDoNotTrap() {
        let table = Table(columns: [.init(title: "a"), .init(title: "b")], rows: [["1", "2", "3"], ["x"]])
        #expect(table.lines(width: 80, style: Self.plain) == ["a  b", "1  2", "x"])
    }

    @Test func fixedColumnsAreNeverCutAndMinimumsHold() {
        let table = Table(columns: [.init(title: "id"), .init(title: "note", flexible: true, minimum: 10)],
                          rows: [[String(repeating: "i", count: 30), String(repeating: "n", count: 50)]])
        let widths = table.fittedWidths(width: 20, style: Self.plain)
        #expect(widths == [30, 10], "a fixed column keeps its width; a flexible one stops at its minimum")
    }

    @Test func cuttingKeepsTheEndOfPathsAndUsesASCIIWhenAsked() {
        #expect(Table.cut("/work/main/examples/quickstart.yaml", to: 16, ellipsis: "…", keepEnd: true) == "…quickstart.yaml")
        #expect(Table.cut("abcdefghij", to: 6, ellipsis: "...") == "abc...")
        #expect(Table.cut("abc", to: 6, ellipsis: "…") == "abc")
        let ascii = Table(columns: [.init(title: "x", flexible: true, minimum: 3)], rows: [["abcdefghijkl"]])
        #expect(ascii.lines(width: 8, style: Style(colour: false, unicode: false))[1] == "abcde...")
    }

    @Test func colourIsPaintedAfterPaddingAndTrailingSpaceIsTrimmed() {
        let style = Style(colour: true, unicode: true)
        let table = Table(columns: [.init(title: "status", paint: { style.paint(status: $0) }), .init(title: "note")],
                          rows: [["failed", ""], ["committed", "ok"]])
        let lines = table.lines(width: 100, style: style)
        #expect(lines[1] == "\u{1B}[31mfailed\u{1B}[0m", "\(lines[1].debugDescription)")
        #expect(lines[2] == "\u{1B}[32mcommitted\u{1B}[0m  ok")
    }

    @Test func styleFollowsTheTerminalTheLocaleAndNoColor() {
        let utf8 = ["LANG": "en_US.UTF-8"]
        #expect(Style.detect(isTerminal: true, noColourFlag: false, environment: utf8).colour)
        #expect(!Style.detect(isTerminal: false, noColourFlag: false, environment: utf8).colour)
        #expect(!Style.detect(isTerminal: true, noColourFlag: true, environment: utf8).colour)
        #expect(!Style.detect(isTerminal: true, noColourFlag: false, environment: utf8.merging(["NO_COLOR": "1"]) { $1 }).colour)
        #expect(Style.detect(isTerminal: true, noColourFlag: false, environment: utf8.merging(["NO_COLOR": ""]) { $1 }).colour,
                "an empty NO_COLOR is unset (no-color.org)")
        #expect(!Style.detect(isTerminal: true, noColourFlag: false, environment: utf8.merging(["TERM": "dumb"]) { $1 }).colour)
        #expect(Style.localeIsUTF8(["LANG": "C.utf8"]))
        #expect(!Style.localeIsUTF8([:]), "no locale is POSIX: ASCII")
        #expect(!Style.localeIsUTF8(["LC_ALL": "C", "LANG": "en_US.UTF-8"]), "LC_ALL wins")
        #expect(Style.localeIsUTF8(["LC_ALL": "", "LC_CTYPE": "de_DE.UTF-8", "LANG": "C"]), "an empty LC_ALL is skipped")
        #expect(Style(colour: false, unicode: false).ok == "ok")
    }

    @Test func endpointsAreRelativeToTheCompany() {
        let base = "http://127.0.0.1:1/v2.0/t/production/api/v2.0/companies(4d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f601)/"
        #expect(StepTable.endpoint(base + "customers(ba80f1c2-0000-4000-8000-000000000001)", ellipsis: "…") == "customers(ba80f1c2…)")
        #expect(StepTable.endpoint(base + "customers?$filter=displayName%20eq%20'A'", ellipsis: "…") == "customers?$filter=displayName eq 'A'")
        #expect(StepTable.endpoint(base + "salesOrders(1)/salesOrderLines", ellipsis: "...") == "salesOrders(1)/salesOrderLines")
        #expect(StepTable.endpoint("http://h/v2.0/other", ellipsis: "…") == "v2.0/other")
    }

    @Test func progressText() {
        let style = Style(colour: false, unicode: false)
        #expect(ProgressLine.text(done: 0, total: 10, elapsed: 0, current: "1 first", style: style) == "[0/10] 0% | starting | step 1 first")
        #expect(ProgressLine.text(done: 5, total: 10, elapsed: 2, current: "6 next", style: style) == "[5/10] 50% | 2.5 steps/s | ETA 2s | step 6 next")
        #expect(ProgressLine.text(done: 10, total: 10, elapsed: 1, current: "10 last", style: style) == "[10/10] 100% | 10 steps/s")
        #expect(ProgressLine.describe([:]) == nil)
        #expect(ProgressLine.describe([7: "seven", 5: "five", 9: "nine"]) == "5 five +2 more", "the lowest in flight, and how many more")
        #expect(ProgressLine.duration(61) == "1m01s")
        #expect(ProgressLine.duration(3700) == "1h01m")
    }
}

/// When a failure is also printed as JSON on stdout.
@Suite struct ErrorOutputTests {
    func asks(_ args: [String], _ env: [String: String] = ["XDG_CONFIG_HOME": "/nonexistent"]) -> Bool {
        ErrorOutput.asksForJSON(arguments: args, root: BCLI.self, environment: env)
    }

    @Test func explicitFormatOptions() {
        #expect(asks(["batch", "state", "x", "-f", "json"]))
        #expect(asks(["batch", "state", "x", "-fjson"]))
        #expect(asks(["batch", "diff", "a", "b", "--format=JSON"]))
        #expect(asks(["batch", "verify", "x", "--format", "json"]))
        #expect(!asks(["batch", "state", "x", "-f", "csv"]))
        #expect(!asks(["batch", "state", "x"]))
        #expect(!asks(["batch", "run", "m.yaml", "--", "-f", "json"]), "after -- it is an argument")
        #expect(!asks(["batch", "state", "x", "-f", "json", "-f", "table"]), "the last one wins")
    }

    @Test func configuredDefaultOnlyForCommandsWithAFormat() {
        #expect(asks(["batch", "state", "x"], ["BCLI_FORMAT": "json", "XDG_CONFIG_HOME": "/nonexistent"]))
        #expect(!asks(["batch", "cat", "x"], ["BCLI_FORMAT": "json", "XDG_CONFIG_HOME": "/nonexistent"]))
        #expect(!asks(["batch", "verify", "x"], ["BCLI_FORMAT": "json", "XDG_CONFIG_HOME": "/nonexistent"]),
                "verify prints text unless -f json, so its errors do too")
        #expect(asks(["batch", "list"], ["BCLI_FORMAT": "json", "XDG_CONFIG_HOME": "/nonexistent"]))
    }

    @Test func documentShape() {
        let doc = ErrorOutput.document(message: "error: no run 'x' in this store\n", status: .notFound)
        #expect(doc == ["format_version": 1, "error": ["code": "not_found", "message": "no run 'x' in this store", "exit_code": 4]])
        #expect(ExitStatus.storeUnusable.name == "store_unusable")
        #expect(ErrorOutput.document(message: "Error: Unknown option '-q'", status: .usage)["error"]?["message"] == "Unknown option '-q'")
    }

    @Test func noColorIsTakenFromAnywhereBeforeTheTerminator() {
        var args = ["batch", "--no-color", "list", "--", "--no-color"]
        #expect(ErrorOutput.takeFlag("--no-color", from: &args))
        #expect(args == ["batch", "list", "--", "--no-color"])
        var none = ["batch", "list"]
        #expect(!ErrorOutput.takeFlag("--no-color", from: &none))
    }
}
