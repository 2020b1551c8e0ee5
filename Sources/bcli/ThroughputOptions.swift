import ArgumentParser
import Batch

/// `--concurrency` and `--batch-size`, shared by `batch run` and `batch resume`: how many
/// requests may be in flight at once, within Business Central's limit of 5 per user.
struct ThroughputOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Requests in flight at once, 1–\(BatchRunner.maxConcurrency) (BC allows \(BatchRunner.maxConcurrency) per user). A step still waits for the steps it references, earlier writes to the same record and its after: steps.",
        valueName: "n"))
    var concurrency: Int = 1

    @Option(help: ArgumentHelp(
        "Send up to n consecutive ready write steps as one OData $batch request, 1–100 (default 1: no $batch). Each step keeps its own intent and outcome; a $batch that gets no answer leaves all of its writes unknown.",
        valueName: "n"))
    var batchSize: Int = 1

    /// What the first SIGINT prints.
    static let interruptNote = "interrupt: starting no new step; the steps in flight finish, then the run stops (press Ctrl-C again to abort at once: those steps stay unknown)"

    func validate() throws {
        guard (1...100).contains(batchSize) else {
            throw ValidationError("--batch-size \(batchSize) is out of range: give 1 to 100 (Business Central takes at most 100 operations in one $batch)")
        }
        guard (1...BatchRunner.maxConcurrency).contains(concurrency) else {
            throw ValidationError("--concurrency \(concurrency) is out of range: give 1 to \(BatchRunner.maxConcurrency) (Business Central runs at most \(BatchRunner.maxConcurrency) requests per user at once and queues the rest)")
        }
    }
}
