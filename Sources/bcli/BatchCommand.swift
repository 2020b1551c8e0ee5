import ArgumentParser

/// `bcli batch …`: run manifests and read, prove and maintain the ledger.
struct BatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Run YAML batches against Business Central and inspect the ledger.",
        discussion: """
            Examples:
              Run a manifest against the built-in sandbox (no tenant needed):
                bcli batch run -p sandbox examples/quickstart.yaml
              List the runs in the store, newest first:
                bcli batch list
              Show a run and its steps:
                bcli batch state 01a2b3c4
              Plan the undo of a run's writes, changing nothing:
                bcli batch rollback 01a2b3c4 --dry-run
            """,
        subcommands: [RunCommand.self, StateCommand.self, ListCommand.self, RollbackCommand.self, ReconcileCommand.self, ResumeCommand.self, HashCommand.self, CatCommand.self, FsckCommand.self, DiffCommand.self, VerifyCommand.self, ShowCommand.self, ExportCommand.self, ReportCommand.self, ImportCommand.self, ImportPythonLedgerCommand.self, GCCommand.self, PushCommand.self, PullCommand.self, RemoteCommand.self]
    )
}
