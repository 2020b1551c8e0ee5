import Hashing

/// Escaping for `batch report`'s HTML. Every piece of data the report shows (URLs, names, bodies,
/// error messages, digests) goes through `HTML.text` or `HTML.attribute`: the ledger holds what a
/// server or a manifest author wrote, and none of it may become markup in an auditor's browser.
enum HTML {
    /// `&`, `<`, `>`, `"` and `'` as character references; C0 controls other than tab, newline
    /// and carriage return (and DEL) as U+FFFD, because HTML has no way to show them (a NUL or a
    /// reference to one is a parse error). Safe in text and in quoted attribute values alike.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F { out += "\u{FFFD}" } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }

    /// ` name="value"` with the value escaped (nothing for nil, so optional facts simply vanish).
    static func attr(_ name: String, _ value: String?) -> String {
        guard let value else { return "" }
        return " \(name)=\"\(escape(value))\""
    }
}

/// One stored blob as the report shows it: the exact bytes as text (JSON re-indented when it
/// parses), cut at a cap so a 100 MB GET does not make a 100 MB page, or why it cannot be shown.
/// Built from bytes by `make`, a pure function, so the rules are unit-tested without a store.
struct ReportBody: Equatable, Sendable {
    enum Content: Equatable, Sendable {
        /// The text to show; `json` when it was parsed and re-indented.
        case text(String, json: Bool)
        /// Not UTF-8: the page shows the size and how to get the bytes.
        case binary
        /// Left out because the page already holds `ReportBody.pageBudget` bytes of bodies.
        case omitted
        /// The blob could not be read or did not hash to its name (the message says which);
        /// verify lists it too.
        case unreadable(String)
    }

    let digest: Digest
    let size: Int
    let content: Content
    /// Set when the text shown stops short of the whole body: how many bytes of text were shown.
    let shownBytes: Int?

    /// The most text one body puts in the page (256 KiB). Larger bodies are cut at a character
    /// boundary and the page says how to print them whole with `bcli batch show`.
    static let defaultCap = 256 * 1024

    /// The most body text one page holds (32 MiB): past it, bodies show only their size, digest
    /// and the `bcli batch show` command, so a run of thousands of large steps still makes a page
    /// a browser opens.
    static let pageBudget = 32 * 1024 * 1024

    static func omitted(_ digest: Digest, size: Int) -> ReportBody {
        ReportBody(digest: digest, size: size, content: .omitted, shownBytes: nil)
    }

    /// `bytes` may be only the start of a larger body (`totalSize`): a body over the cap is read
    /// no further than the cap, so a 500 MB response is never loaded to make its page.
    static func make(_ bytes: [UInt8], digest: Digest, cap: Int = defaultCap, totalSize: Int? = nil) -> ReportBody {
        let size = totalSize ?? bytes.count
        guard size <= bytes.count || bytes.count > cap else {
            // A prefix that is not past the cap cannot be shown as the whole body.
            return ReportBody(digest: digest, size: size, content: .unreadable("only \(bytes.count) of \(size) bytes could be read"), shownBytes: nil)
        }
        var text: String
        var json = false
        var cut = false
        if bytes.count <= cap {
            if let value = try? JSONValue(parsing: bytes) {
                text = value.prettyPrinted()
                json = true
            } else if let decoded = String(validating: bytes, as: UTF8.self) {
                text = decoded
            } else {
                return ReportBody(digest: digest, size: size, content: .binary, shownBytes: nil)
            }
        } else {
            // Too large to show whole: the stored text as it is, up to the cap (re-indenting
            // half a JSON document is not possible).
            guard let decoded = Self.decodeCut(bytes, cap: cap) else {
                return ReportBody(digest: digest, size: size, content: .binary, shownBytes: nil)
            }
            text = decoded
            cut = true
        }
        if text.utf8.count > cap {
            // Re-indenting can make a body under the cap longer than it.
            text = Self.prefix(text, utf8Count: cap)
            cut = true
        }
        return ReportBody(digest: digest, size: size, content: .text(text, json: json), shownBytes: cut ? text.utf8.count : nil)
    }

    static func unreadable(_ digest: Digest, _ message: String) -> ReportBody {
        ReportBody(digest: digest, size: 0, content: .unreadable(message), shownBytes: nil)
    }

    /// A body longer than the cap may end its first `cap` bytes inside a UTF-8 sequence: drop up
    /// to three trailing bytes until the rest validates (nil: not UTF-8 text at all).
    private static func decodeCut(_ bytes: [UInt8], cap: Int) -> String? {
        guard bytes.count > cap else { return nil }
        for drop in 0...3 where cap - drop > 0 {
            if let text = String(validating: bytes.prefix(cap - drop), as: UTF8.self) { return text }
        }
        return nil
    }

    /// The longest prefix of `text` of at most `utf8Count` bytes that ends on a Unicode scalar.
    static func prefix(_ text: String, utf8Count: Int) -> String {
        let utf8 = Array(text.utf8)
        guard utf8.count > utf8Count else { return text }
        var end = utf8Count
        while end > 0, utf8[end] & 0xC0 == 0x80 { end -= 1 }  // utf8[end] would start the next scalar
        return String(decoding: utf8[..<end], as: UTF8.self)
    }
}
