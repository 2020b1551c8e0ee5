import Foundation
import Hashing
import Yams

/// Reads, parses and validates batch manifests.
///
/// Everything is checked before anything runs, and every problem is reported (not just the
/// first): YAML syntax (that one stops the parse), key spelling with "did you mean", value types,
/// which keys fit which method, endpoint shapes, references to unknown or later steps and to
/// undeclared params. `prepare` adds the params layering checks so a CLI gets one complete list.
public enum ManifestLoader {
    /// `description` and `version` are read and kept (the Python tool's packs write them);
    /// `idempotency` is `run` (the default) or `store` (`IdempotencyScope`).
    public static let topLevelKeys = ["name", "description", "version", "idempotency", "params", "steps"]
    public static let stepKeys = ["name", "description", "action", "method", "endpoint", "id", "data", "params", "etag",
                                  "idempotency_key", "pre_image", "all", "reconcile_by", "after"]
    /// Query options: under a GET step's `params:`, or on the step itself (the Python tool's packs
    /// write them there; they mean the same).
    public static let queryKeys = ["filter", "select", "top", "skip", "orderby", "expand"]
    public static let paramDeclarationKeys = ["description", "default", "required"]

    /// Reads the file at `path` and parses it (see `parse`).
    public static func load(path: String) throws(ManifestError) -> Manifest {
        try parse(bytes: try readFile(path), path: path)
    }

    /// Parses and validates manifest bytes. `path` is used in diagnostics and for the default name.
    public static func parse(bytes: [UInt8], path: String) throws(ManifestError) -> Manifest {
        let (manifest, diagnostics) = parseCollecting(bytes: bytes, path: path)
        guard let manifest, diagnostics.isEmpty else { throw ManifestError(diagnostics: diagnostics) }
        return manifest
    }

    /// Parses the manifest and layers its params (declared defaults → `paramsFile` → `sets`),
    /// reporting the problems of both in one error.
    public static func prepare(bytes: [UInt8], path: String, paramsFile: String?, sets: [String])
        throws(ManifestError) -> (manifest: Manifest, params: ParamSet)
    {
        let (manifest, diagnostics) = parseCollecting(bytes: bytes, path: path)
        guard let manifest else { throw ManifestError(diagnostics: diagnostics) }
        let (params, paramDiagnostics) = ParamSet.layerCollecting(manifest: manifest, paramsFile: paramsFile, sets: sets)
        let all = diagnostics + paramDiagnostics
        // On failure the warnings (undeclared `--set` keys) go with the errors: a typo'd key
        // explains a missing param.
        guard all.isEmpty else { throw ManifestError(diagnostics: all + params.warnings) }
        return (manifest, params)
    }

    /// `load` + `prepare` for a file path.
    public static func prepare(path: String, paramsFile: String?, sets: [String])
        throws(ManifestError) -> (manifest: Manifest, params: ParamSet)
    {
        try prepare(bytes: try readFile(path), path: path, paramsFile: paramsFile, sets: sets)
    }

    /// The manifest as far as it could be built (nil only when the YAML itself does not parse or
    /// the top level is not a mapping) and every diagnostic found.
    static func parseCollecting(bytes: [UInt8], path: String) -> (Manifest?, [ManifestDiagnostic]) {
        var sink = DiagnosticSink()
        guard let doc = YAMLDocument.compose(bytes: bytes, path: path, sink: &sink) else {
            return (nil, ManifestError.normalise(sink.diagnostics))
        }
        var parser = ManifestParser(doc: doc, bytes: bytes, sink: sink)
        let manifest = parser.parse()
        return (manifest, ManifestError.normalise(parser.sink.diagnostics))
    }

    static func readFile(_ path: String) throws(ManifestError) -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ManifestError(ManifestDiagnostic(.whole(path), "file not found", fix: "check the path (it is relative to the current directory)"))
        }
        if isDirectory.boolValue {
            throw ManifestError(ManifestDiagnostic(.whole(path), "is a directory, not a file", fix: "give the path of a YAML file"))
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ManifestError(ManifestDiagnostic(.whole(path), "cannot read the file", fix: "check its permissions"))
        }
        return [UInt8](data)
    }

    /// The file name without directory and extension: the default manifest name.
    static func stem(of path: String) -> String {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        if let dot = file.lastIndex(of: "."), dot != file.startIndex { return String(file[..<dot]) }
        return file.isEmpty ? "manifest" : file
    }
}
