import ArgumentParser
import BusinessCentral
import Foundation
import Hashing

/// `-f/--format table|json|csv|ndjson` of `batch run`, `batch state` and `batch list`
/// (docs/envelope.md, "Output formats"). `table` is the human text (`text` is accepted for it);
/// `csv` and `ndjson` give one row per run (`list`) or per step (`state`), and for `run` the
/// step data after each step's line.
///
/// Without `-f`: `BCLI_FORMAT`, then config.toml's `[defaults] format`, then `table`. Those two
/// take the Python tool's format names: `json`, `csv` and `ndjson` mean themselves; every other
/// name (`table`, `markdown`, `records`, `raw`, …) means `table`, as the Python tool falls back
/// to its table for a name it does not know.
enum RecordFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, csv, ndjson

    init?(argument: String) {
        let name = argument.lowercased()
        self.init(rawValue: name == "text" ? "table" : name)
    }

    /// `explicit`, else the default's Python format name mapped as above, else `table`.
    static func resolve(_ explicit: RecordFormat?, defaultName: String?) -> RecordFormat {
        if let explicit { return explicit }
        guard let name = defaultName?.lowercased() else { return .table }
        return RecordFormat(rawValue: name) ?? .table
    }

    /// The default's name for commands that need no profile (`state`, `list`): `BCLI_FORMAT`, else
    /// `[defaults] format`; a config that does not load gives none (those commands do not need it).
    static func configured(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let name = environment[BCConfig.formatVariable], !name.isEmpty { return name }
        return (try? BCConfig.load(environment: environment))?.defaults.format
    }

    static let help = ArgumentHelp(
        "table, json, csv or ndjson (default: $BCLI_FORMAT, then config.toml [defaults] format, then table).",
        valueName: "format")
}

/// Rows as CSV (RFC 4180) or NDJSON, for `-f csv|ndjson`.
enum RecordRows {
    /// Columns are the first row's keys in sorted order, without the `@odata.*` annotations
    /// (as the Python tool drops them); a missing value is an empty cell, a nested value its JSON.
    static func csv(_ rows: [JSONValue]) -> [String] {
        guard let first = rows.first?.objectValue else { return [] }
        let columns = first.keys.filter { !$0.hasPrefix("@odata") }.sorted()
        var lines = [columns.map(cell).joined(separator: ",")]
        for row in rows {
            let object = row.objectValue ?? [:]
            lines.append(columns.map { cell(object[$0].map(text) ?? "") }.joined(separator: ","))
        }
        return lines
    }

    /// One compact JSON object per line (keys sorted, `@odata.etag` kept).
    static func ndjson(_ rows: [JSONValue]) -> [String] {
        rows.map(compact)
    }

    /// `value` on one line: the canonical (JCS) form.
    static func compact(_ value: JSONValue) -> String {
        (try? value.canonicalString()) ?? "null"
    }

    /// An ordered JSON object on one line (for events, whose key order is the Python tool's).
    static func compact(_ pairs: [(String, JSONValue)]) -> String {
        "{" + pairs.map { compact(.string($0.0)) + ":" + compact($0.1) }.joined(separator: ",") + "}"
    }

    private static func text(_ value: JSONValue) -> String {
        switch value {
        case .null: return ""
        case .string(let s): return s
        default: return compact(value)
        }
    }

    private static func cell(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
