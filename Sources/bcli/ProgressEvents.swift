#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Batch
import Foundation
import Hashing
import Store

/// File descriptors given on the command line (`--result-fd`, `--progress-fd`).
enum FileDescriptor {
    /// Whether `fd` is open in this process.
    static func isOpen(_ fd: Int32) -> Bool { fd >= 0 && fcntl(fd, F_GETFD) != -1 }

    /// Writes all of `bytes` to `fd`; the errno of the first failed write, or nil.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32? {
        bytes.withUnsafeBytes { buf -> Int32? in
            guard var p = buf.baseAddress else { return nil }
            var left = buf.count
            while left > 0 {
                let n = write(fd, p, left)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                p += n
                left -= n
            }
            return nil
        }
    }

    /// A reader that went away must not kill the run: writes to a closed pipe fail with EPIPE
    /// instead of raising SIGPIPE.
    static func ignoreBrokenPipes() { signal(SIGPIPE, SIG_IGN) }

    static func close(_ fd: Int32) {
        #if canImport(Glibc)
        _ = Glibc.close(fd)
        #elseif canImport(Musl)
        _ = Musl.close(fd)
        #elseif canImport(Darwin)
        _ = Darwin.close(fd)
        #endif
    }
}

/// `--progress-fd N`: one JSON object per line per event (docs/envelope.md, "Progress events").
/// A failed write (the reader is gone) stops the events, says so once on stderr, and leaves the
/// run alone. The fd is closed when the command ends, so the reader sees EOF.
final class ProgressStream: @unchecked Sendable {
    static let formatVersion = 1

    let fd: Int32
    private let lock = NSLock()
    private var broken = false
    private var closed = false
    private var started: Set<Int> = []

    init(fd: Int32) { self.fd = fd }

    /// Writes one event: `ts` first, then `pairs` in order, then `format_version`.
    func emit(_ pairs: [(String, JSONValue)]) {
        let line = RecordRows.compact([("ts", .string(Timestamp.now()))] + pairs + [("format_version", .number(Double(Self.formatVersion)))]) + "\n"
        lock.withLock {
            guard !broken, !closed else { return }
            if let error = FileDescriptor.writeAll(fd, Array(line.utf8)) {
                broken = true
                Terminal.note("warning: --progress-fd \(fd): \(String(cString: strerror(error))); no more progress events are written (the run goes on)")
            }
        }
    }

    /// Marks `seq` started; false when it already was.
    func markStarted(_ seq: Int) -> Bool { lock.withLock { started.insert(seq).inserted } }

    func close() {
        lock.withLock {
            guard !closed else { return }
            closed = true
            FileDescriptor.close(fd)
        }
    }
}

/// Emits `step_started` and `step_completed` for each step: the Python tool's keys (`seq`,
/// `name`, `method`, `endpoint`, `status`, `error`, `duration_ms`; for a replay `replayed`,
/// `idempotency_key`, `prior_seq`), then bcli's own (`run_id`, `step_id`, `url`, `http_status`,
/// `record_id`, `client_request_id`, `correlation_id`, `bc_error_code`).
///
/// `step_started` is written when the runner reports the step's intent row committed, before its
/// request is sent (a replayed step: once its row is written), with the row's `intent_at` in
/// `intent_ts`. A step never sent (skipped, or stopped by its pre-image GET) gets its
/// `step_started` just before its `step_completed`.
struct ProgressObserver: RunObserver {
    let stream: ProgressStream
    let store: LedgerStore
    private let runID = Box()

    init(stream: ProgressStream, store: LedgerStore) {
        self.stream = stream
        self.store = store
    }

    func runStarted(runID: String, steps: Int) { self.runID.value = runID }

    func stepStarted(_ s: StepStart) {
        guard stream.markStarted(s.seq) else { return }
        stream.emit([("event", .string("step_started")), ("seq", .number(Double(s.seq))), ("name", .string(s.name)),
                     ("method", .string(s.method.rawValue)), ("endpoint", .string(s.endpoint))]
                    + (s.replayed ? [("replayed", .bool(true))] : [])
                    + [("run_id", .string(runID.value ?? "")), ("step_id", .number(Double(s.stepID))), ("url", .string(s.url)),
                       ("client_request_id", .string(s.clientRequestID)), ("intent_ts", s.intentAt.map(JSONValue.string) ?? .null)])
    }

    func stepFinished(_ r: StepReport) {
        let row = r.stepID.flatMap { try? store.ledger.step(id: $0) }
        let original = r.status == .replayed ? row?.targetStepID.flatMap { try? store.ledger.step(id: $0) } : nil
        let head: [(String, JSONValue)] = [("seq", .number(Double(r.seq))), ("name", .string(r.name)),
                                           ("method", .string(r.method.rawValue)), ("endpoint", .string(r.endpoint))]
        let ours: [(String, JSONValue)] = [
            ("run_id", .string(runID.value ?? "")), ("step_id", r.stepID.map { .number(Double($0)) } ?? .null),
            ("url", .string(r.url)), ("client_request_id", (r.clientRequestID ?? row?.clientRequestID).map(JSONValue.string) ?? .null),
        ]
        if stream.markStarted(r.seq) {
            stream.emit([("event", .string("step_started"))] + head + (r.status == .replayed ? [("replayed", .bool(true))] : [])
                        + ours + [("intent_ts", row.map { .string($0.intentAt) } ?? .null)])
        }
        var tail: [(String, JSONValue)] = [("status", .string(r.statusName))]
        if r.status == .replayed {
            tail += [("idempotency_key", row?.idempotencyKey.map(JSONValue.string) ?? .null),
                     ("prior_seq", original.map { .number(Double($0.seq)) } ?? .null),
                     ("prior_step_id", row?.targetStepID.map { .number(Double($0)) } ?? .null)]
        } else {
            tail.append(("error", r.status == .committed ? .null : r.message.map(JSONValue.string) ?? .null))
        }
        tail.append(("duration_ms", .number(Double(r.durationMs))))
        func opt(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
        stream.emit([("event", .string("step_completed"))] + head + tail + ours + [
            ("http_status", r.httpStatus.map { .number(Double($0)) } ?? .null), ("record_id", opt(r.recordID)),
            ("correlation_id", opt(r.correlationID)), ("bc_error_code", opt(r.bcErrorCode)),
        ])
    }

    private final class Box: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: String?
        var value: String? {
            get { lock.withLock { stored } }
            set { lock.withLock { stored = newValue } }
        }
    }
}

/// Several observers, called in order.
struct RunObservers: RunObserver {
    let all: [any RunObserver]

    func runStarted(runID: String, steps: Int) { for o in all { o.runStarted(runID: runID, steps: steps) } }
    func stepStarted(_ start: StepStart) { for o in all { o.stepStarted(start) } }
    func stepFinished(_ report: StepReport) { for o in all { o.stepFinished(report) } }
}

/// The data a step's response carries, as the `-o` bundle and `-f csv|ndjson` show it.
enum StepData {
    /// A collection's `value` records, or the one record; nil without a stored JSON body.
    static func records(_ row: StepRecord?, store: LedgerStore) -> [JSONValue]? {
        guard let digest = row?.responseDigest, let bytes = try? store.objects.get(digest), !bytes.isEmpty,
              let body = try? JSONValue(parsing: bytes) else { return nil }
        if let value = body["value"]?.arrayValue { return value }
        return [body]
    }
}
