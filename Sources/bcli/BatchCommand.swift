import ArgumentParser

/// `bcli batch …`: run manifests and read, prove and maintain the ledger.
struct BatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Run YAML batches against Business Central and inspect the ledger.",
        subcommands: [RunCommand.self, StateCommand.self, ListCommand.self, RollbackCommand.self, ReconcileCommand.self, ResumeCommand.self, HashCommand.self, CatCommand.self, FsckCommand.self, DiffCommand.self, VerifyCommand.self, ShowCommand.self, ExportCommand.self, ImportCommand.self, ImportPythonLedgerCommand.self, GCCommand.self]
    )
}
