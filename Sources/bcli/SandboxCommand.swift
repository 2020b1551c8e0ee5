import ArgumentParser
import Sandbox

/// `bcli sandbox …`: the Business Central emulator (placeholder while the module is written).
struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Run a local Business Central API v2.0 emulator."
    )
}
