import Hashing
import Store
import Support

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Test helper: writes blobs and intent/outcome rows in an endless loop, exactly in the order the
/// runner does (blob → intent commit → blob → outcome commit), so the crash test can SIGKILL it at
/// arbitrary instants and check what the store looks like afterwards.
///
/// Usage: crash-writer STORE_DIR SEED [process|full]
/// Prints one line `committed <run> <seq>` after each outcome commit.
@main
struct CrashWriter {
    static func main() throws {
        let args = CommandLine.arguments
        guard args.count >= 3, let seed = UInt64(args[2]) else {
            _ = "usage: crash-writer STORE_DIR SEED [process|full]\n".withCString { write(STDERR_FILENO, $0, strlen($0)) }
            exit(2)
        }
        let durability = args.count > 3 ? Durability(rawValue: args[3]) ?? .process : .process
        let store = try LedgerStore(root: args[1], durability: durability)
        var rng = SeededGenerator(seed: seed)
        while true {
            var run = NewRun(toolVersion: "crash-writer")
            run.manifest = try store.put(randomBytes(&rng, max: 4096), mediaType: "application/yaml")
            try store.ledger.startRun(run)
            let steps = Int(rng.next() % 12) + 1
            for seq in 1...steps {
                var intent = StepIntent(runID: run.id, seq: seq, name: "step_\(seq)", method: "POST", url: "http://127.0.0.1/x")
                intent.request = try store.put(randomBytes(&rng, max: 256 * 1024), mediaType: "application/json")
                intent.requestHeaders = try store.put(Array("{\"seq\":\(seq)}".utf8), mediaType: "application/json")
                let stepID = try store.ledger.writeIntent(intent)
                var outcome = StepOutcome(status: rng.next() % 7 == 0 ? .failed : .committed)
                outcome.httpStatus = outcome.status == .committed ? 201 : 400
                outcome.response = try store.put(randomBytes(&rng, max: 64 * 1024), mediaType: "application/json")
                try store.ledger.writeOutcome(stepID: stepID, outcome)
                let line = "committed \(run.id) \(seq)\n"
                _ = line.withCString { write(STDOUT_FILENO, $0, strlen($0)) }
            }
            try store.finishRun(run.id, state: .completed)
        }
    }

    static func randomBytes(_ rng: inout SeededGenerator, max: Int) -> [UInt8] {
        let count = Int(rng.next() % UInt64(max + 1))
        var out = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            var word = rng.next()
            for _ in 0..<8 where i < count {
                out[i] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                i += 1
            }
        }
        return out
    }
}
