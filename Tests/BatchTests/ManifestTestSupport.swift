import Foundation
import Hashing
import Testing
import TestSupport

@testable import Batch

/// Shared helpers for the manifest tests: parse from a string, collect diagnostics, temp files.
enum ManifestFixture {
    /// Diagnostics for `yaml` (empty when it parses).
    static func diagnostics(_ yaml: String, path: String = "m.yaml") -> [ManifestDiagnostic] {
        do {
            _ = try ManifestLoader.parse(bytes: Array(yaml.utf8), path: path)
            return []
        } catch {
            return error.diagnostics
        }
    }

    static func parse(_ yaml: String, path: String = "m.yaml") throws -> Manifest {
        try ManifestLoader.parse(bytes: Array(yaml.utf8), path: path)
    }

    /// Diagnostics of `prepare` (parse + params layering).
    static func prepareDiagnostics(_ yaml: String, path: String = "m.yaml", paramsFile: String? = nil, sets: [String] = []) -> [ManifestDiagnostic] {
        do {
            _ = try ManifestLoader.prepare(bytes: Array(yaml.utf8), path: path, paramsFile: paramsFile, sets: sets)
            return []
        } catch {
            return error.diagnostics
        }
    }

    static func write(_ text: String, to name: String, in dir: TempDir) throws -> String {
        try dir.write(name, text)
    }

    /// The repository root.
    static var repositoryRoot: URL { URL(fileURLWithPath: Paths.packageRoot) }
}

extension ManifestDiagnostic {
    /// `line:column message` for compact assertions.
    var brief: String { "\(line):\(column) \(message)" }
}
