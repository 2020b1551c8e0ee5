import Foundation
import TestSupport

/// Writes a manifest into `dir` and returns its path.
func writeManifest(_ dir: TempDir, _ name: String, _ text: String) throws -> String {
    try dir.write(name, text)
}

/// Run ids are printed on stderr as `run <32 hex>  store …`.
func runID(fromStderr text: String) -> String? {
    guard let range = text.range(of: #"run [0-9a-f]{32}"#, options: .regularExpression) else { return nil }
    return String(text[range].dropFirst(4))
}
