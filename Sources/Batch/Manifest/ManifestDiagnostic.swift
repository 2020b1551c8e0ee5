/// Where something sits in a manifest (or params file): the path as the user gave it, and a 1-based
/// line and column (columns count Unicode scalars, like libyaml). Line 0 means "no position"
/// (a missing file, a `--set` option on the command line).
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var path: String
    public var line: Int
    public var column: Int

    /// A location with no line/column (whole file, or the command line).
    public static func whole(_ path: String) -> SourceLocation {
        SourceLocation(path: path, line: 0, column: 0)
    }

    /// `path:line:column`, or just `path` when there is no position.
    public var description: String {
        line > 0 ? "\(path):\(line):\(column)" : path
    }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.path, a.line, a.column) < (b.path, b.line, b.column)
    }
}

/// One problem found in a manifest, a params file or a `--set` option, presented like a compiler
/// diagnostic so editors and CI logs can jump to it:
///
///     examples/x.yaml:12:5: error: unknown step key 'dta' (did you mean 'data'?)
///       fix: rename 'dta' to 'data'
public struct ManifestDiagnostic: Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation
    /// What is wrong, in one line.
    public var message: String
    /// What to do about it, in one line.
    public var fix: String
    /// A warning reports something accepted that may be a mistake (an undeclared `--set` key);
    /// it never stops a run. Errors are everything else.
    public var isWarning = false

    public init(_ location: SourceLocation, _ message: String, fix: String, isWarning: Bool = false) {
        self.location = location
        self.message = message
        self.fix = fix
        self.isWarning = isWarning
    }

    public var path: String { location.path }
    public var line: Int { location.line }
    public var column: Int { location.column }

    public var description: String {
        "\(location): \(isWarning ? "warning" : "error"): \(message)\n  fix: \(fix)"
    }
}

/// Every problem found while loading a manifest and layering its params, all at once, so an author
/// fixes them in one round trip. The CLI prints `description` to stderr and exits 5 (invalid input);
/// nothing has been sent or recorded when this is thrown.
public struct ManifestError: Error, Sendable, CustomStringConvertible {
    /// Sorted by path, line, column; never empty.
    public var diagnostics: [ManifestDiagnostic]

    public init(diagnostics: [ManifestDiagnostic]) {
        self.diagnostics = ManifestError.normalise(diagnostics)
    }

    public init(_ diagnostic: ManifestDiagnostic) {
        self.diagnostics = [diagnostic]
    }

    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }

    /// Sorted by location (stable), exact repeats (an alias expands the same node twice) removed.
    static func normalise(_ diagnostics: [ManifestDiagnostic]) -> [ManifestDiagnostic] {
        var seen = Set<ManifestDiagnostic>()
        let unique = diagnostics.filter { seen.insert($0).inserted }
        return unique.enumerated()
            .sorted { ($0.element.location, $0.offset) < ($1.element.location, $1.offset) }
            .map(\.element)
    }
}

/// Collects diagnostics while a pass walks the whole document.
struct DiagnosticSink {
    var diagnostics: [ManifestDiagnostic] = []

    mutating func error(_ location: SourceLocation, _ message: String, fix: String) {
        diagnostics.append(ManifestDiagnostic(location, message, fix: fix))
    }

    var isEmpty: Bool { diagnostics.isEmpty }
}
