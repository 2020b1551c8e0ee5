import Hashing
import Yams

/// One key/value pair of a YAML mapping whose key passed our key rules.
struct MappingEntry {
    let key: String
    let keyNode: Node
    let value: Node
}

/// Node → checked keys and JSON values, collecting diagnostics instead of stopping at the first.
extension YAMLDocument {
    /// The entries of `mapping`, in document order. Keys that a YAML 1.1 reader would not read as
    /// the string written (booleans like `no`, null, the merge key `<<`), non-scalar keys and keys
    /// that repeat once quoting is ignored (`a` and `"a"`) are reported and dropped.
    func entries(of mapping: Node.Mapping, sink: inout DiagnosticSink) -> [MappingEntry] {
        var result: [MappingEntry] = []
        var seen: [String: Mark?] = [:]
        for (keyNode, value) in mapping {
            let loc = location(keyNode)
            guard case .scalar(let scalar) = keyNode else {
                sink.error(loc, "a mapping key must be a plain string, not a \(keyNode.mapping != nil ? "mapping" : "list")",
                           fix: "use a string key")
                continue
            }
            let text = scalar.string
            let isPlain = keyNode.tag.rawValue == YAMLDocument.plainTag.rawValue
            if isPlain {
                if CoreSchema.yaml11BooleanWords.contains(text) {
                    sink.error(loc, "key '\(text)' is read as a boolean (YAML 1.1 turns unquoted \(text) into \(["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"].contains(text) ? "true" : "false"))",
                               fix: "quote the key: \"\(text)\":")
                    continue
                }
                if ["", "~", "null", "Null", "NULL"].contains(text) {
                    sink.error(loc, "key '\(text)' is read as null, not as a string",
                               fix: "quote the key: \"\(text)\":")
                    continue
                }
                if text == "<<" {
                    sink.error(loc, "YAML merge keys ('<<') are not supported",
                               fix: "write the merged keys out in full")
                    continue
                }
            }
            if let first = seen[text] {
                let at = first.map { " (first defined at line \($0.line), column \($0.column))" } ?? ""
                sink.error(loc, "duplicate key '\(text)'\(at)", fix: "remove one of the two '\(text)' keys or rename it")
                continue
            }
            seen[text] = keyNode.mark
            result.append(MappingEntry(key: text, keyNode: keyNode, value: value))
        }
        return result
    }

    /// True when `node` is a plain (unquoted, untagged) scalar.
    func isPlainScalar(_ node: Node) -> Bool {
        node.scalar != nil && node.tag.rawValue == YAMLDocument.plainTag.rawValue
    }

    /// A scalar typed by the YAML 1.2 core schema (see `CoreSchema`): quoted and block scalars are
    /// strings; `!!str`, `!!int`, `!!float`, `!!bool`, `!!null` tags are honoured; other tags are errors.
    func scalarValue(_ node: Node, sink: inout DiagnosticSink) -> JSONValue? {
        guard let scalar = node.scalar else { return nil }
        let tag = node.tag.rawValue
        let loc = location(node)
        func typed(_ text: String) -> JSONValue? {
            switch CoreSchema.type(plain: text) {
            case .success(let v): return v
            case .failure(.notRepresentable(let t)):
                sink.error(loc, "'\(t)' is not a JSON number (JSON has no NaN or infinity)",
                           fix: "quote it to send a string, or write a finite number")
                return nil
            case .failure(.integerTooLarge(let t)):
                sink.error(loc, "integer \(t) is too large to be sent exactly as a JSON number (limit 2^53 = 9007199254740992)",
                           fix: "quote it to send it as a string: \"\(t)\"")
                return nil
            }
        }
        switch tag {
        case YAMLDocument.plainTag.rawValue:
            return typed(scalar.string)
        case Tag.Name.str.rawValue, "!":
            return .string(scalar.string)
        case Tag.Name.int.rawValue, Tag.Name.float.rawValue, Tag.Name.bool.rawValue, Tag.Name.null.rawValue:
            guard let value = typed(scalar.string) else { return nil }
            let ok: Bool
            switch (tag, value) {
            case (Tag.Name.int.rawValue, .number(let d)): ok = d == d.rounded()
            case (Tag.Name.float.rawValue, .number): ok = true
            case (Tag.Name.bool.rawValue, .bool): ok = true
            case (Tag.Name.null.rawValue, .null): ok = true
            default: ok = false
            }
            if !ok {
                sink.error(loc, "'\(scalar.string)' is not a valid \(tag.replacingPrefix("tag:yaml.org,2002:", with: "!!"))",
                           fix: "remove the tag or correct the value")
                return nil
            }
            return value
        default:
            sink.error(loc, "unsupported YAML tag '\(tag.replacingPrefix("tag:yaml.org,2002:", with: "!!"))'",
                       fix: "remove the tag; values are typed as JSON (string, number, boolean, null, list, mapping)")
            return nil
        }
    }

    /// Converts a whole subtree to JSON. `budget` bounds the number of values produced, so an
    /// alias "billion laughs" cannot exhaust memory.
    func json(_ node: Node, budget: inout Int, sink: inout DiagnosticSink) -> JSONValue? {
        var unused: [(String, Mark?)]? = nil
        return json(node, budget: &budget, sink: &sink, templates: &unused)
    }

    /// As `json(_:budget:sink:)`; when `templates` is non-nil, also collects every string value
    /// containing `${{` with where it starts, and reports keys containing `${{` (references are
    /// resolved in values only).
    func json(_ node: Node, budget: inout Int, sink: inout DiagnosticSink, templates: inout [(String, Mark?)]?) -> JSONValue? {
        budget -= 1
        if budget == 0 {
            sink.error(location(node), "the document expands to too many values (aliases nested too deeply?)",
                       fix: "write the data out without deeply nested aliases")
        }
        if budget <= 0 { return nil }
        switch node {
        case .scalar(let scalar):
            if templates != nil, TemplateSyntax.containsTemplate(scalar.string) { templates!.append((scalar.string, scalar.mark)) }
            return scalarValue(node, sink: &sink)
        case .sequence(let seq):
            var items: [JSONValue] = []
            var failed = false
            for item in seq {
                if let v = json(item, budget: &budget, sink: &sink, templates: &templates) { items.append(v) } else { failed = true }
            }
            return failed ? nil : .array(items)
        case .mapping(let mapping):
            if node.tag.rawValue != Tag.Name.map.rawValue {
                sink.error(location(node), "unsupported YAML tag '\(node.tag.rawValue)' on a mapping",
                           fix: "remove the tag")
                return nil
            }
            var members: [String: JSONValue] = [:]
            let before = sink.diagnostics.count
            let entries = entries(of: mapping, sink: &sink)
            var failed = sink.diagnostics.count != before
            for entry in entries {
                if templates != nil, TemplateSyntax.containsTemplate(entry.key) {
                    sink.error(location(entry.keyNode), "references are not allowed in keys ('\(entry.key)')",
                               fix: "use a fixed key; only values may contain ${{ }}")
                    failed = true
                }
                if let v = json(entry.value, budget: &budget, sink: &sink, templates: &templates) { members[entry.key] = v } else { failed = true }
            }
            return failed ? nil : .object(members)
        case .alias:
            return nil  // the composer replaces aliases by their nodes
        }
    }
}

extension String {
    func replacingPrefix(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }
}
