import Foundation
import Hashing
import Testing

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

    /// A fresh directory under the system temp folder, unique per call.
    static func tempDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("bcli-manifest-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func write(_ text: String, to name: String, in dir: URL) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    /// The repository root (…/Tests/BatchTests/ThisFile.swift → …).
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}

extension ManifestDiagnostic {
    /// `line:column message` for compact assertions.
    var brief: String { "\(line):\(column) \(message)" }
}
