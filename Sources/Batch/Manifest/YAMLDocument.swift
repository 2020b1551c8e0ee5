import Foundation
import Hashing
import Yams

/// A composed YAML document plus what is needed to point at its parts: the path for diagnostics and
/// the source lines (to refine columns and to locate a duplicate key).
///
/// Why compose to `Node`s rather than `load` to `Any`: nodes carry line/column marks, keep the
/// scalar style (quoted or not) so we can apply YAML 1.2 core typing ourselves, and let us reject
/// boolean-looking keys before anything turns them into `true`/`false`.
struct YAMLDocument {
    let path: String
    let lines: [Substring]
    let root: Node?

    /// Plain scalars resolve to this private tag, so "plain" stays distinguishable from `!!str`
    /// and quoted scalars after Yams resolves tags (its duplicate-key check resolves every key).
    static let plainTag = Tag.Name(rawValue: "tag:bcli.local,2025:plain")
    static let resolver: Resolver = Resolver.basic.appending(
        // Matches every string: all untagged plain scalars resolve to `plainTag`.
        try! Resolver.Rule(YAMLDocument.plainTag, "^")
    )

    /// The deepest nesting of lists and mappings a document may have, counted from the top-level
    /// collection (1). The same limit as JSON bodies (`JSONValue.maximumNestingDepth`), so every
    /// value a manifest produces can be parsed back from the ledger. Enforced on the composed
    /// tree; libyaml itself stops at 1000 levels (`MAX_NESTING_LEVEL`) before Yams' recursive
    /// composer could exhaust the stack, and that error is reported with the same message.
    static let maximumNestingDepth = JSONValue.maximumNestingDepth

    static let tooDeepMessage = "lists/mappings nested deeper than \(maximumNestingDepth) levels (bcli's limit for YAML and JSON)"
    static let tooDeepFix = "flatten the data: at most \(maximumNestingDepth) nested levels, counted from the top of the file"

    /// Parses `bytes`; on failure adds one diagnostic (syntax errors, duplicate keys and nesting
    /// deeper than `maximumNestingDepth` stop the parse) and returns nil.
    static func compose(bytes: [UInt8], path: String, sink: inout DiagnosticSink) -> YAMLDocument? {
        var body = bytes[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }  // UTF-8 BOM
        guard let text = String(bytes: body, encoding: .utf8) else {
            let bad = InvalidUTF8.first(in: body)
            let location = bad.map { SourceLocation(path: path, line: $0.line, column: $0.column) } ?? .whole(path)
            sink.error(location, "the file is not valid UTF-8 text" + (bad.map { " (byte 0x\(String($0.byte, radix: 16, uppercase: true)) at offset \($0.offset))" } ?? ""),
                       fix: "save the file as UTF-8 (a Latin-1 or Windows-1252 editor setting writes such bytes for é, ü, ß …)")
            return nil
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        do {
            let root = try Yams.compose(yaml: text, resolver, .default, .utf8)
            let doc = YAMLDocument(path: path, lines: lines, root: root)
            if let root {
                switch checkShape(root) {
                case .ok: break
                case .tooDeep(let node):
                    sink.error(doc.location(node), tooDeepMessage, fix: tooDeepFix)
                    return nil
                case .tooLarge(let node):
                    sink.error(doc.location(node), "the document expands to too many values (aliases nested too deeply?)",
                               fix: "write the data out without deeply nested aliases")
                    return nil
                }
            }
            return doc
        } catch let error as YamlError {
            let partial = YAMLDocument(path: path, lines: lines, root: nil)
            partial.report(error, text: text, sink: &sink)
            return nil
        } catch {
            sink.error(.whole(path), "cannot parse YAML: \(error)", fix: "check the file's YAML syntax")
            return nil
        }
    }

    /// The most nodes `checkShape` visits with aliases expanded (the composer shares an aliased
    /// node, so a small file can expand enormously); above the largest value budget the manifest
    /// parser uses, so a document that passes is one the parser can convert.
    static let maximumExpandedNodes = 2_000_000

    enum Shape {
        case ok
        /// The first collection, in document order, nested deeper than `maximumNestingDepth`.
        case tooDeep(Node)
        /// Where the walk gave up: the document expands to more than `maximumExpandedNodes`.
        case tooLarge(Node)
    }

    /// Checks the composed tree's depth (aliases expanded, as they are when converted) without
    /// recursion, and bounds the walk itself.
    static func checkShape(_ root: Node) -> Shape {
        var stack: [(Node, Int)] = [(root, 1)]
        var visited = 0
        while let (node, depth) = stack.popLast() {
            visited += 1
            if visited > maximumExpandedNodes { return .tooLarge(node) }
            switch node {
            case .scalar, .alias:
                continue
            case .sequence(let seq):
                if depth > maximumNestingDepth { return .tooDeep(node) }
                for child in seq.reversed() { stack.append((child, depth + 1)) }
            case .mapping(let mapping):
                if depth > maximumNestingDepth { return .tooDeep(node) }
                for (k, v) in mapping.reversed() {
                    stack.append((v, depth + 1))
                    stack.append((k, depth + 1))
                }
            }
        }
        return .ok
    }

    func location(_ mark: Mark?) -> SourceLocation {
        guard let mark else { return .whole(path) }
        return SourceLocation(path: path, line: mark.line, column: mark.column)
    }

    func location(_ node: Node) -> SourceLocation { location(node.mark) }

    /// The location of `needle` inside the scalar starting at `mark`, when it sits on the same line
    /// (so a reference in the middle of a string is pointed at exactly); else the scalar's start.
    func location(of needle: String, inScalarAt mark: Mark?) -> SourceLocation {
        guard let mark, mark.line >= 1, mark.line <= lines.count else { return location(mark) }
        let line = lines[mark.line - 1]
        let scalars = Array(line.unicodeScalars)
        let needleScalars = Array(needle.unicodeScalars)
        let start = max(0, mark.column - 1)
        guard !needleScalars.isEmpty, start <= scalars.count else { return location(mark) }
        var i = start
        while i + needleScalars.count <= scalars.count {
            if Array(scalars[i..<(i + needleScalars.count)]) == needleScalars {
                return SourceLocation(path: path, line: mark.line, column: i + 1)
            }
            i += 1
        }
        return location(mark)
    }

    private func report(_ error: YamlError, text: String, sink: inout DiagnosticSink) {
        switch error {
        case let .parser(_, problem, mark, _) where problem.hasPrefix("Maximum nesting level"):
            // libyaml's own cap (1000 levels), met before the tree exists: the same limit error.
            // libyaml reads ahead, so its mark is where it stopped, not the 513th level.
            sink.error(location(mark), YAMLDocument.tooDeepMessage + ", at or after this point", fix: YAMLDocument.tooDeepFix)
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            var message = "YAML syntax error: \(problem)"
            if let context { message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))" }
            sink.error(location(mark), message,
                       fix: "check indentation (spaces, not tabs), colons and quoting on this line")
        case let .duplicatedKeysInMapping(duplicates, context):
            let key = duplicates.first ?? "?"
            let first = context.mark
            if let second = secondOccurrence(of: key, after: first) {
                sink.error(second, "duplicate key '\(key)' (first defined at line \(first.line), column \(first.column))",
                           fix: "remove one of the two '\(key)' keys or rename it")
            } else {
                sink.error(location(first), "duplicate key '\(key)' in this mapping",
                           fix: "remove one of the '\(key)' keys or rename it")
            }
        case let .reader(problem, offset, _, _):
            var loc = SourceLocation.whole(path)
            if let offset {
                let prefix = text.prefix(offset)
                let line = prefix.reduce(1) { $1 == "\n" ? $0 + 1 : $0 }
                let column = prefix.split(separator: "\n", omittingEmptySubsequences: false).last
                    .map { $0.unicodeScalars.count + 1 } ?? 1
                loc = SourceLocation(path: path, line: line, column: column)
            }
            sink.error(loc, "cannot read the YAML text: \(problem)", fix: "remove control characters and save as UTF-8")
        default:
            sink.error(.whole(path), "cannot parse YAML: \(error)", fix: "check the file's YAML syntax")
        }
    }

    /// Yams reports a duplicate at its first occurrence. In a block mapping the repeat sits at the
    /// same column further down, before the mapping ends (a line indented less than that column);
    /// in a flow mapping it is usually on the same line. Returns nil when it cannot be found.
    private func secondOccurrence(of key: String, after first: Mark) -> SourceLocation? {
        guard first.line >= 1, first.line <= lines.count else { return nil }
        let column = first.column
        let spellings = [key, "\"\(key)\"", "'\(key)'"]
        func keyAt(_ scalars: [Unicode.Scalar], _ start: Int) -> Bool {
            for spelling in spellings {
                let s = Array(spelling.unicodeScalars)
                guard start + s.count <= scalars.count, Array(scalars[start..<(start + s.count)]) == s else { continue }
                var j = start + s.count
                while j < scalars.count, scalars[j] == " " { j += 1 }
                if j < scalars.count, scalars[j] == ":" { return true }
            }
            return false
        }
        // Flow mapping: the same line, after the first key.
        let firstLine = Array(lines[first.line - 1].unicodeScalars)
        var i = column  // just past the first key's first character
        while i < firstLine.count {
            if (firstLine[i - 1] == "," || firstLine[i - 1] == " " || firstLine[i - 1] == "{"), keyAt(firstLine, i) {
                return SourceLocation(path: path, line: first.line, column: i + 1)
            }
            i += 1
        }
        // Block mapping: later lines at the same column.
        var lineNo = first.line + 1
        while lineNo <= lines.count {
            let scalars = Array(lines[lineNo - 1].unicodeScalars)
            let indent = scalars.prefix { $0 == " " }.count
            let blank = indent == scalars.count || scalars[indent] == "#"
            if !blank {
                if indent < column - 1 {
                    // A sequence item "- key:" can carry the mapping's next key after the dash only
                    // on the first line; anything else less indented ends the mapping.
                    return nil
                }
                if indent == column - 1, keyAt(scalars, indent) {
                    return SourceLocation(path: path, line: lineNo, column: column)
                }
            }
            lineNo += 1
        }
        return nil
    }
}

/// Where the first byte that is not UTF-8 sits, so the error points at it as every other
/// manifest error points at its place.
enum InvalidUTF8 {
    struct Place: Equatable {
        /// 1-based line and column (columns count Unicode scalars, like libyaml's).
        var line: Int
        var column: Int
        /// The byte's offset in the bytes given.
        var offset: Int
        var byte: UInt8
    }

    /// `offset` counts from the slice's own start index, so a slice that dropped a BOM (index 3)
    /// reports offsets in the file. The decoder reads ahead, so the position is summed from the
    /// widths of the scalars decoded, not from what the iterator handed out.
    static func first(in bytes: ArraySlice<UInt8>) -> Place? {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var line = 1, column = 1
        var index = bytes.startIndex
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                index += UTF8.width(scalar)
                if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
            case .emptyInput:
                return nil
            case .error:
                return Place(line: line, column: column, offset: index, byte: bytes[index])
            }
        }
    }
}
