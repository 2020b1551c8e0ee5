import ArgumentParser
import Hashing
import Store

/// `bcli batch cat DIGEST`: the exact stored bytes of a blob, verified before they are printed.
struct CatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cat",
        abstract: "Write a stored blob's exact bytes to stdout.",
        discussion: """
            DIGEST is sha256:<64 hex>, the bare hex, or a unique prefix of at least 7 hex characters.

            Examples:
              A blob by a unique prefix of its digest:
                bcli batch cat 3f2a9c1e
              The same blob from another store:
                bcli batch cat 3f2a9c1e --store /srv/bcli
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: "The blob's digest or a unique prefix of it.")
    var digest: String

    func run() throws {
        let store = try storeOptions.openExisting()
        do {
            let resolved = try store.objects.resolve(prefix: digest)
            Terminal.writeStdout(try store.objects.get(resolved))
        } catch {
            throw CLIFailure(error.exitStatus, error.description)
        }
    }
}
