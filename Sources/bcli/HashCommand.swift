import ArgumentParser
import Hashing

/// `bcli batch hash FILE…`: the digest a manifest will be recorded under, equal to `sha256sum`.
/// CI pins it and passes it to `batch run --expect-manifest`.
struct HashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash",
        abstract: "Print the sha256 digest of each file (the same bytes sha256sum hashes).",
        discussion: """
            Output: `sha256:<hex>  FILE` per line. `-` reads standard input.

            Examples:
              The digest to pass to `batch run --expect-manifest`:
                bcli batch hash examples/quickstart.yaml
              Several files, one line each:
                bcli batch hash examples/quickstart.yaml examples/params-driven.yaml
            """
    )

    @Argument(help: "Files to hash.", completion: .file())
    var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one FILE to hash") }
    }

    func run() throws {
        var failed = false
        for file in files {
            do {
                let digest = try SHA256.hash(fileAt: file == "-" ? "/dev/stdin" : file).digest
                Terminal.line("\(digest)  \(file)")
            } catch {
                Terminal.error(error.description)
                failed = true
            }
        }
        if failed { throw CLIFailure(.notFound, "some files could not be hashed (see above)") }
    }
}
