import Hashing

/// The one rule that turns the pages of a GET that followed `@odata.nextLink` into the body its
/// step records: the first page's object, with `value` holding every page's `value` in order and
/// no `@odata.nextLink`, as RFC 8785 JSON.
///
/// Why a rule, not just a convenience: the step's `response_digest` names this assembled body
/// (what references, `diff` and `show --response` read), while `step_page` keeps the exact bytes
/// of each page received. The runner assembles with it and `verify` re-assembles from the page
/// blobs to prove the recorded body was made from what the server sent.
public enum PageAssembly {
    /// The OData annotation naming the next page.
    public static let nextLinkKey = "@odata.nextLink"

    /// Why pages could not be assembled.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case notJSON(page: Int)
        case noValueArray(page: Int)
        case notEncodable(String)

        public var description: String {
            switch self {
            case .notJSON(let page): return "page \(page) is not a JSON object"
            case .noValueArray(let page): return "page \(page) has no 'value' array (not a collection page)"
            case .notEncodable(let why): return "the assembled body cannot be encoded: \(why)"
            }
        }
    }

    /// The `@odata.nextLink` of a page, if it has one.
    public static func nextLink(in page: JSONValue) -> String? {
        page[nextLinkKey]?.stringValue
    }

    /// The assembled body of `pages` (parsed page bodies, first page first).
    public static func assemble(_ pages: [JSONValue]) throws(Failure) -> JSONValue {
        guard var first = pages.first?.objectValue else { throw .notJSON(page: 1) }
        var items: [JSONValue] = []
        for (index, page) in pages.enumerated() {
            guard let object = page.objectValue else { throw .notJSON(page: index + 1) }
            guard let value = object["value"]?.arrayValue else { throw .noValueArray(page: index + 1) }
            items.append(contentsOf: value)
        }
        first["value"] = .array(items)
        first[nextLinkKey] = nil
        return .object(first)
    }

    /// The assembled body's bytes from the pages' raw bytes (what `verify` recomputes).
    public static func assemble(bytes pages: [[UInt8]]) throws(Failure) -> [UInt8] {
        var parsed: [JSONValue] = []
        for (index, bytes) in pages.enumerated() {
            guard let value = try? JSONValue(parsing: bytes) else { throw .notJSON(page: index + 1) }
            parsed.append(value)
        }
        return try encode(try assemble(parsed))
    }

    /// RFC 8785 bytes of an assembled body.
    public static func encode(_ body: JSONValue) throws(Failure) -> [UInt8] {
        do { return try body.canonicalBytes() } catch { throw .notEncodable("\(error)") }
    }
}
