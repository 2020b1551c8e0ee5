import BusinessCentral
import Support
import Hashing
import Yams

/// The params a run uses, after layering: declared defaults, then `--params FILE`, then each
/// `--set key=value` in order (later wins).
///
/// Undeclared keys, when the manifest has a `params:` block: a `--set` key it does not declare is
/// accepted, as the Python tool accepts it, with a warning and a "did you mean" (`warnings`; a typo
/// would otherwise go unnoticed while the default is used); a `--params` file key it does not
/// declare is an error. A manifest without a `params:` block accepts any key silently.
public struct ParamSet: Sendable, Hashable {
    /// Where a value came from, for echoing and for `batch diff`.
    public enum Source: String, Sendable, Hashable {
        case manifestDefault = "default", paramsFile = "params_file", commandLine = "set"
    }

    public let values: [String: JSONValue]
    public let sources: [String: Source]
    /// What was accepted but may be a mistake (an undeclared `--set` key), for the caller to print
    /// on stderr before the run. Never stops a run.
    public let warnings: [ManifestDiagnostic]

    public init(values: [String: JSONValue], sources: [String: Source] = [:], warnings: [ManifestDiagnostic] = []) {
        self.values = values
        self.sources = sources
        self.warnings = warnings
    }

    /// The params as one JSON object.
    public var json: JSONValue { .object(values) }

    /// RFC 8785 canonical JSON of `json`: the bytes the ledger hashes as the run's params digest.
    public func canonicalBytes() -> [UInt8] {
        // Values come from YAML through CoreSchema, which rejects NaN/Infinity, so this cannot fail.
        (try? json.canonicalBytes()) ?? Array("{}".utf8)
    }

    /// Layers the manifest's declared defaults, the params file and the `--set` options, and checks
    /// that every required param and every param a step references has a value.
    public static func layer(manifest: Manifest, paramsFile: String?, sets: [String]) throws(ManifestError) -> ParamSet {
        let (set, diagnostics) = layerCollecting(manifest: manifest, paramsFile: paramsFile, sets: sets)
        // On failure the warnings go with the errors: a typo'd `--set` key explains a missing param.
        guard diagnostics.isEmpty else { throw ManifestError(diagnostics: diagnostics + set.warnings) }
        return set
    }

    /// The path used in diagnostics about `--set` options.
    public static let commandLinePath = "--set"

    static func layerCollecting(manifest: Manifest, paramsFile: String?, sets: [String]) -> (ParamSet, [ManifestDiagnostic]) {
        var sink = DiagnosticSink()
        var warnings: [ManifestDiagnostic] = []
        var values: [String: JSONValue] = [:]
        var sources: [String: Source] = [:]
        let declared = manifest.params.map(\.name)
        for p in manifest.params {
            if let d = p.defaultValue { values[p.name] = d; sources[p.name] = .manifestDefault }
        }

        if let paramsFile {
            for (key, value, loc) in readParamsFile(paramsFile, sink: &sink) {
                if manifest.declaresParams, !declared.contains(key) {
                    undeclared(key, at: loc, declared: declared, manifest: manifest, sink: &sink)
                    continue
                }
                values[key] = value
                sources[key] = .paramsFile
            }
        }

        for item in sets {
            let loc = SourceLocation.whole(commandLinePath)
            guard let eq = item.firstIndex(of: "=") else {
                sink.error(loc, "'\(item)' is not key=value", fix: "write --set \(item.isEmpty ? "name" : item)=<value>")
                continue
            }
            let key = String(item[..<eq]).trimmed(" \t")
            let raw = String(item[item.index(after: eq)...]).trimmed(" \t")
            guard TemplateSyntax.isSegment(key) else {
                sink.error(loc, "'\(item)': '\(key)' is not a valid param name",
                           fix: "param names use letters, digits, '_' and '-'")
                continue
            }
            if manifest.declaresParams, !declared.contains(key) {
                let guess = Suggestion.closest(to: key, in: declared)
                warnings.append(ManifestDiagnostic(
                    loc, "param '\(key)' is not declared by \(manifest.path)" + (guess.map { " (did you mean '\($0)'?)" } ?? "")
                        + "; it is accepted, but no step can use it",
                    fix: guess.map { "write \($0) instead of \(key)" } ?? "declare it under params: in the manifest, or drop --set \(key)",
                    isWarning: true))
            }
            switch parseSetValue(raw) {
            case .success(let v):
                values[key] = v
                sources[key] = .commandLine
            case .failure(let error):
                sink.error(loc, "'\(item)': \(error.message)", fix: "quote the value to pass it as a string: --set '\(key)=\"\(raw)\"'")
            }
        }

        for p in manifest.params where p.required && values[p.name] == nil {
            sink.error(p.location, "required param '\(p.name)' has no value",
                       fix: "pass --set \(p.name)=<value>, or put \(p.name) in the --params file")
        }
        let requiredMissing = Set(manifest.params.filter { $0.required && values[$0.name] == nil }.map(\.name))
        for step in manifest.steps {
            for ref in step.references where ref.namespace == .params && values[ref.name] == nil && !requiredMissing.contains(ref.name) {
                if manifest.declaresParams && !declared.contains(ref.name) { continue }  // reported by the parser
                sink.error(ref.location, "\(ref.text) has no value: param '\(ref.name)' is not given and has no default",
                           fix: manifest.declaresParams
                               ? "pass --set \(ref.name)=<value>, or give it a default under params:"
                               : "pass --set \(ref.name)=<value>, or declare it under params: with a default")
            }
        }
        return (ParamSet(values: values, sources: sources, warnings: ManifestError.normalise(warnings)), sink.diagnostics)
    }

    private static func undeclared(_ key: String, at loc: SourceLocation, declared: [String], manifest: Manifest, sink: inout DiagnosticSink) {
        let guess = Suggestion.closest(to: key, in: declared)
        sink.error(loc, "param '\(key)' is not declared by \(manifest.path)" + (guess.map { " (did you mean '\($0)'?)" } ?? ""),
                   fix: guess.map { "write \($0) instead of \(key)" }
                       ?? "declare it under params: in the manifest, or drop it (declared: \(Suggestion.list(declared)))")
    }

    /// Types a `--set` value: `'…'` and `"…"` are strings (quotes removed), `[…]` and `{…}` are
    /// YAML flow collections, anything else is a YAML 1.2 core scalar (int, float, `true`/`false`,
    /// `null`, else string — dates and codes with leading zeros stay strings). An empty value is
    /// the empty string. `#` and `: ` are not special (no comments, no mappings).
    public static func parseSetValue(_ raw: String) -> Result<JSONValue, ParamValueError> {
        if raw.count >= 2, let f = raw.first, f == raw.last, f == "\"" || f == "'" {
            return .success(.string(String(raw.dropFirst().dropLast())))
        }
        if raw.isEmpty { return .success(.string("")) }
        if raw.hasPrefix("[") || raw.hasPrefix("{") {
            var sink = DiagnosticSink()
            guard let doc = YAMLDocument.compose(bytes: Array(raw.utf8), path: commandLinePath, sink: &sink), let root = doc.root else {
                return .failure(ParamValueError(message: sink.diagnostics.first?.message ?? "not a valid YAML flow collection"))
            }
            var budget = 100_000
            guard let v = doc.json(root, budget: &budget, sink: &sink) else {
                return .failure(ParamValueError(message: sink.diagnostics.first?.message ?? "not a valid value"))
            }
            return .success(v)
        }
        switch CoreSchema.type(plain: raw) {
        case .success(let v): return .success(v)
        case .failure(.notRepresentable(let t)): return .failure(ParamValueError(message: "'\(t)' is not a JSON number (JSON has no NaN or infinity)"))
        case .failure(.integerTooLarge(let t)): return .failure(ParamValueError(message: "integer \(t) is too large to be exact as a JSON number (limit 2^53)"))
        }
    }

    /// The params file's top-level entries, with locations; diagnostics for a missing file, bad
    /// YAML, a non-mapping top level and bad keys/values.
    static func readParamsFile(_ path: String, sink: inout DiagnosticSink) -> [(String, JSONValue, SourceLocation)] {
        let bytes: [UInt8]
        do {
            bytes = try ManifestLoader.readFile(path)
        } catch {
            for d in error.diagnostics {
                sink.error(d.location, "params file: \(d.message)", fix: d.fix)
            }
            return []
        }
        guard let doc = YAMLDocument.compose(bytes: bytes, path: path, sink: &sink) else { return [] }
        guard let root = doc.root, case .mapping(let mapping) = root else {
            sink.error(doc.root.map { doc.location($0) } ?? SourceLocation(path: path, line: 1, column: 1),
                       "the params file must be a YAML mapping (key: value)",
                       fix: "write one 'name: value' line per param")
            return []
        }
        var budget = 1_000_000
        var out: [(String, JSONValue, SourceLocation)] = []
        for entry in doc.entries(of: mapping, sink: &sink) {
            let loc = doc.location(entry.keyNode)
            guard TemplateSyntax.isSegment(entry.key) else {
                sink.error(loc, "'\(entry.key)' is not a valid param name", fix: "param names use letters, digits, '_' and '-'")
                continue
            }
            if let v = doc.json(entry.value, budget: &budget, sink: &sink) { out.append((entry.key, v, loc)) }
        }
        return out
    }
}

extension String {
    func trimmed(_ set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

/// Why a `--set` value cannot be used.
public struct ParamValueError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
