import BusinessCentral
import Hashing
import Store

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Micro-benchmarks of the store for `scripts/bench` (release build only; never used by tests).
///
///   bcli-bench ingest STORE_DIR process|full [BATCH] < paths   put every listed file as a blob
///                                                          (BATCH > 1: putAll in batches of BATCH)
///   bcli-bench ledger STORE_DIR process|full PAIRS         intent+outcome row pairs
///   bcli-bench steps STORE_DIR process|full STEPS inline|files|none
///                                                          a step's whole ledger work, as the runner
///                                                          does it: four distinct blobs (request body
///                                                          and headers, response body and headers),
///                                                          the intent commit, the outcome commit; no
///                                                          HTTP. `inline` is LedgerStore.put (small
///                                                          blobs in the ledger); `files` writes every
///                                                          blob as a file first (the layout before);
///                                                          `none` builds the same bytes and rows and
///                                                          stores nothing (the loop's own cost)
///   bcli-bench populate STORE_DIR process RUNS STEPS [VARIANT]
///                                                          RUNS finished runs of STEPS POST steps each,
///                                                          with distinct request/response blobs (VARIANT
///                                                          changes one field of every 1000th step)
///   bcli-bench requests STORE_DIR process COUNT            COUNT POSTs to $BCLI_SANDBOX_URL with the
///                                                          runner's client and bodies, but no ledger
///
/// Each prints one line: `<operations> <seconds>`.
@main
struct Bench {
    static func main() async throws {
        let args = CommandLine.arguments
        guard args.count >= 4, let durability = Durability(rawValue: args[3]) else {
            fail("usage: bcli-bench ingest|ledger STORE_DIR process|full [PAIRS]")
        }
        let store = try LedgerStore(root: args[2], durability: durability)
        switch args[1] {
        case "ingest":
            var paths: [String] = []
            while let line = readLine() { if !line.isEmpty { paths.append(line) } }
            let batch = args.count > 4 ? Int(args[4]) ?? 1 : 1
            let start = now()
            if batch <= 1 {
                for path in paths { _ = try store.objects.put(try readAll(path)) }
            } else {
                var i = 0
                while i < paths.count {
                    let chunk = try paths[i..<min(i + batch, paths.count)].map(readAll)
                    _ = try store.objects.putAll(chunk)
                    i += batch
                }
            }
            report(paths.count, now() - start)
        case "ledger":
            let pairs = args.count > 4 ? Int(args[4]) ?? 10_000 : 10_000
            var run = NewRun(toolVersion: "bench")
            run.manifest = try store.put(Array("bench".utf8), mediaType: nil)
            try store.ledger.startRun(run)
            let request = try store.put(Array("{\"displayName\":\"bench\"}".utf8), mediaType: "application/json")
            let response = try store.put(Array("{\"id\":\"x\"}".utf8), mediaType: "application/json")
            let start = now()
            for seq in 1...pairs {
                var intent = StepIntent(runID: run.id, seq: seq, name: "s\(seq)", method: "POST", url: "http://127.0.0.1/customers")
                intent.request = request
                let id = try store.ledger.writeIntent(intent)
                var outcome = StepOutcome(status: .committed)
                outcome.httpStatus = 201
                outcome.response = response
                outcome.etag = "W/\"\(seq)\""
                try store.ledger.writeOutcome(stepID: id, outcome)
            }
            report(pairs, now() - start)
        case "steps":
            let steps = args.count > 4 ? Int(args[4]) ?? 2000 : 2000
            let layout = args.count > 5 ? args[5] : "inline"
            let store: LedgerStore? = layout == "none" ? nil : store
            func put(_ bytes: [UInt8], _ mediaType: String) throws -> BlobRef {
                switch (layout, store) {
                case ("files", let store?): return BlobRef(try store.objects.put(bytes), mediaType: mediaType)
                case (_, let store?): return try store.put(bytes, mediaType: mediaType)
                default: return BlobRef(inline: bytes, mediaType: mediaType)
                }
            }
            var run = NewRun(toolVersion: "bench")
            run.manifest = try put(Array("name: bench\nsteps: \(steps)\n".utf8), "application/yaml")
            try store?.ledger.startRun(run)
            let start = now()
            for seq in 1...steps {
                let body = try JSONValue.object(["displayName": .string("Customer \(seq)"), "email": .string("c\(seq)@x.example")]).canonicalBytes()
                let crid = UUIDString.generate()
                let sent = Array("[[\"Accept\",\"application/json\"],[\"Content-Type\",\"application/json\"],[\"client-request-id\",\"\(crid)\"]]".utf8)
                var intent = StepIntent(runID: run.id, seq: seq, name: "c\(seq)", method: "POST",
                                        url: "http://127.0.0.1:1/v2.0/sandbox/production/api/v2.0/companies(x)/customers")
                intent.clientRequestID = crid
                intent.request = try put(body, "application/json")
                intent.requestHeaders = try put(sent, "application/vnd.bcli.headers+json")
                let stepID = try store?.ledger.writeIntent(intent) ?? Int64(seq)
                let id = UUIDString.generate()
                let response = try JSONValue.object([
                    "id": .string(id), "number": .string("C\(seq)"), "displayName": .string("Customer \(seq)"),
                    "email": .string("c\(seq)@x.example"), "@odata.etag": .string("W/\"\(seq)\""),
                ]).canonicalBytes()
                let received = Array("[[\"Content-Type\",\"application/json\"],[\"ETag\",\"W/\\\"\(seq)\\\"\"],[\"request-id\",\"\(id)\"]]".utf8)
                var outcome = StepOutcome(status: .committed)
                outcome.httpStatus = 201
                outcome.response = try put(response, "application/json")
                outcome.responseHeaders = try put(received, "application/vnd.bcli.headers+json")
                outcome.recordID = id
                outcome.etag = "W/\"\(seq)\""
                try store?.ledger.writeOutcome(stepID: stepID, outcome)
            }
            report(steps, now() - start)
        case "populate":
            let runs = args.count > 4 ? Int(args[4]) ?? 1 : 1
            let steps = args.count > 5 ? Int(args[5]) ?? 1000 : 1000
            let variant = args.count > 6 ? args[6] : "a"
            let start = now()
            for r in 0..<runs {
                var run = NewRun(toolVersion: "bench")
                run.name = "bench"
                run.manifest = try store.put(Array("name: bench\nsteps: \(steps)\n".utf8), mediaType: "application/yaml")
                run.params = try store.put(Array("{}".utf8), mediaType: "application/json")
                run.profile = "sandbox"
                try store.ledger.startRun(run)
                for seq in 1...steps {
                    let email = seq % 1000 == 0 && variant != "a" ? "changed-\(seq)@x.example" : "c\(seq)@x.example"
                    let body = try JSONValue.object(["displayName": .string("Customer \(seq)"), "email": .string(email)]).canonicalBytes()
                    let id = "\(r)-\(seq)-\(variant)"
                    let response = try JSONValue.object([
                        "id": .string(id), "number": .string("C\(seq)"), "displayName": .string("Customer \(seq)"),
                        "email": .string(email), "@odata.etag": .string("W/\"\(id)\""),
                    ]).canonicalBytes()
                    let blobs = try store.putAll([(body, "application/json"), (Array("[[\"Accept\",\"application/json\"]]".utf8), "application/json")])
                    var intent = StepIntent(runID: run.id, seq: seq, name: "c\(seq)", method: "POST",
                                            url: "http://127.0.0.1:1/v2.0/sandbox/production/api/v2.0/companies(x)/customers")
                    intent.request = blobs[0]
                    intent.requestHeaders = blobs[1]
                    let stepID = try store.ledger.writeIntent(intent)
                    var outcome = StepOutcome(status: .committed)
                    outcome.httpStatus = 201
                    outcome.response = try store.put(response, mediaType: "application/json")
                    outcome.recordID = id
                    outcome.etag = "W/\"\(id)\""
                    try store.ledger.writeOutcome(stepID: stepID, outcome)
                }
                try store.finishRun(run.id, state: .completed)
                _ = "\(run.id)\n".withCString { write(STDERR_FILENO, $0, strlen($0)) }
            }
            report(runs * steps, now() - start)
        case "requests":
            let count = args.count > 4 ? Int(args[4]) ?? 2000 : 2000
            var environment: [String: String] = [:]
            for (k, v) in ProcessInfoLite.environment() { environment[k] = v }
            let profile = BuiltinProfiles.sandbox(environment: environment)
            let client = BCClient(profile: profile, environment: environment, tokenCache: .memoryOnly)
            let url = try URLBuilder.entityURL(profile: profile, entitySet: "customers")
            let start = now()
            for i in 1...count {
                let body = try JSONValue.object(["displayName": .string("Bench \(i)")]).canonicalBytes()
                let request = BCRequest(method: "POST", url: url, body: body, clientRequestID: UUIDString.generate())
                let response = try await client.execute(request)
                if !response.isSuccess { fail("POST \(i) returned \(response.status)") }
            }
            report(count, now() - start)
            await client.shutdown()
        default:
            fail("unknown benchmark \(args[1])")
        }
    }

    /// Reads a whole file into an array of exactly its size.
    static func readAll(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { fail("cannot open \(path)") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { fail("cannot stat \(path)") }
        let size = Int(st.st_size)
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            var total = 0
            while total < size {
                let n = read(fd, buffer.baseAddress! + total, size - total)
                if n <= 0 { break }
                total += n
            }
            count = total
        }
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func report(_ ops: Int, _ seconds: Double) {
        let line = "\(ops) \(seconds)\n"
        _ = line.withCString { write(STDOUT_FILENO, $0, strlen($0)) }
    }

    static func fail(_ message: String) -> Never {
        _ = (message + "\n").withCString { write(STDERR_FILENO, $0, strlen($0)) }
        exit(2)
    }
}

/// The process environment without Foundation.
enum ProcessInfoLite {
    static func environment() -> [(String, String)] {
        var out: [(String, String)] = []
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { out.append((String(s[..<eq]), String(s[s.index(after: eq)...]))) }
            p += 1
        }
        return out
    }
}
