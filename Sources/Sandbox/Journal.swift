import GRDB
import Hashing

/// One committed write, as `GET /_sandbox/journal` reports it: the `journal` row as stored, every
/// column under its own name (`seq`, `time`, `method`, `path`, `company_id`, `entity_set`,
/// `entity_id`, `etag_before`, `etag_after`, `status`, `client_request_id`, `request_id`,
/// `body_sha256`, `batch_request_id`, `batch_client_request_id`; see `EntityStore`'s schema) and
/// `format_version`. An operation of a JSON `$batch` is one line of its own, exactly as if it had
/// been sent alone; only its two `batch_*` columns (null otherwise) name the `$batch` that carried
/// it. The `$batch` itself commits nothing and has no line.
///
/// Why: tests compare what the ledger believes it did with what the server really committed —
/// especially after commit-then-drop, where the client never saw a response.
enum JournalLine {
    static let formatVersion = 1

    static func json(_ row: Row) -> JSONValue {
        var line: [String: JSONValue] = ["format_version": .number(Double(formatVersion))]
        for (column, value) in row {
            switch value.storage {
            case .null: line[column] = .null
            case .int64(let n): line[column] = .number(Double(n))
            case .double(let d): line[column] = .number(d)
            case .string(let s): line[column] = .string(s)
            // No journal column is a BLOB (every text is written as a String); as text if one were.
            case .blob(let data): line[column] = .string(String(decoding: data, as: UTF8.self))
            }
        }
        return .object(line)
    }
}
