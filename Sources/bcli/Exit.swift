#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Batch
import BusinessCentral
import Hub
import Store

/// The exit codes bcli documents (README, "Exit codes"). Scripts and CI branch on these, so they
/// never change. Which error gets which code is decided here and nowhere else: the libraries
/// throw typed errors and know nothing of exit codes (see "The exit table" below).
enum ExitStatus: Int32 {
    case ok = 0
    case failure = 1
    case usage = 2
    case auth = 3
    case notFound = 4
    case invalidInput = 5
    case remote4xx = 6
    case remote5xx = 7
    case refused = 8
    case storeUnusable = 9
    case interrupted = 130
}

/// A failure the user should read: a message that names the fix, and its exit code.
struct CLIFailure: Error {
    let code: ExitStatus
    let message: String
    init(_ code: ExitStatus, _ message: String) {
        self.code = code
        self.message = message
    }
}

/// stdout carries data; everything for humans goes to stderr.
enum Terminal {
    static func error(_ message: String) {
        let text = message.hasSuffix("\n") ? message : message + "\n"
        let prefixed = text.hasPrefix("error:") || text.hasPrefix("Error:") ? text : "error: " + text
        toStderr(Array(prefixed.utf8))
    }

    static func note(_ message: String) {
        toStderr(Array((message.hasSuffix("\n") ? message : message + "\n").utf8))
    }

    /// A message for the person: through the live progress line when one is shown, so the two
    /// never share a screen line.
    private static func toStderr(_ bytes: [UInt8]) {
        if let line = ProgressLine.current() {
            line.interject { writeFD(STDERR_FILENO, bytes) }
        } else {
            writeFD(STDERR_FILENO, bytes)
        }
    }

    /// Writes raw bytes to stdout (no transcoding, no newline added).
    static func writeStdout(_ bytes: [UInt8]) {
        writeFD(STDOUT_FILENO, bytes)
    }

    /// One line of data on stdout.
    static func line(_ text: String) {
        writeFD(STDOUT_FILENO, Array((text + "\n").utf8))
    }

    /// Whether anything was written to stdout yet (a JSON error is not printed after a document).
    nonisolated(unsafe) static var wroteStdout = false

    /// Unbuffered write of all bytes (stdout and stderr never interleave out of order).
    static func writeFD(_ fd: Int32, _ bytes: [UInt8]) {
        if fd == STDOUT_FILENO, !bytes.isEmpty { wroteStdout = true }
        bytes.withUnsafeBytes { buf in
            guard var p = buf.baseAddress else { return }
            var left = buf.count
            while left > 0 {
                let n = write(fd, p, left)
                if n < 0 { if errno == EINTR { continue }; return }
                p += n
                left -= n
            }
        }
    }

    /// Overwrites the progress line on stderr (only called when stderr is a terminal).
    static func progress(_ text: String) {
        writeFD(STDERR_FILENO, Array("\r\u{1B}[K\(text)".utf8))
    }

    static var stderrIsTTY: Bool { isatty(STDERR_FILENO) != 0 }
    static var stdinIsTTY: Bool { isatty(STDIN_FILENO) != 0 }
    static var stdoutIsTTY: Bool { isatty(STDOUT_FILENO) != 0 }
}

// MARK: - The exit table

/// Every error that can end a command, mapped onto the documented exit codes (README, "Exit
/// codes"): the one place this is decided, for every command.
extension ExitStatus {
    /// The exit status for `error`, or nil for an error this table does not know (ArgumentParser's
    /// own errors — help, version, usage — which ArgumentParser reports and exits for itself).
    init?(for error: any Error) {
        switch error {
        case let failure as CLIFailure: self = failure.code
        case let error as StoreError: self.init(error)
        case let error as ConfigError: self.init(error)
        case let error as AuthError: self.init(error)
        case let error as URLBuildError: self.init(error)
        case let error as BCTransportError: self.init(error)
        case let error as BundleError: self = error.exitStatus
        case let error as DiffError: self = error.exitStatus
        case let error as RollbackRefusal: self.init(error)
        case is ResumeRefusal: self = .refused
        case let error as PythonLedgerError: self.init(error)
        case let error as CompanyResolutionError: self.init(error)
        case let error as HubError: self.init(error)
        default: return nil
        }
    }

    /// A store error: an unusable store (damaged, not a database, corrupt, read-only, full, newer
    /// schema, any other ledger error) → 9; a malformed digest or run id → 5; an unknown prefix,
    /// a missing blob or run (or `latest~N` past the oldest) → 4; an ambiguous prefix → 2; a run still executing → 8; else 1.
    init(_ error: StoreError) {
        if error.unusableCause != nil { self = .storeUnusable; return }
        switch error {
        case .invalidDigest, .invalidRunID: self = .invalidInput
        case .unknownPrefix, .blobMissing, .runNotFound, .latestOutOfRange: self = .notFound
        case .ambiguousPrefix, .ambiguousRunID: self = .usage
        case .runLocked: self = .refused
        case .database, .newerSchema: self = .storeUnusable
        default: self = .failure
        }
    }

    /// A config error: an unknown profile (with or without a config file) is a usage error (2,
    /// pick another with -p, or write one with `config init`); anything
    /// else wrong with config.toml or the environment is invalid input (5).
    init(_ error: ConfigError) {
        switch error {
        case .unknownProfile, .noConfigFile: self = .usage
        default: self = .invalidInput
        }
    }

    /// No token could be had: 3.
    init(_ error: AuthError) {
        self = .auth
    }

    /// A URL that cannot be built from the profile or the step: invalid input (5).
    init(_ error: URLBuildError) {
        self = .invalidInput
    }

    /// A request that got no HTTP response: no token → 3; a malformed request (never sent) → 5;
    /// no response from Business Central → 7 (a remote failure).
    init(_ error: BCTransportError) {
        switch error {
        case .auth: self = .auth
        case .invalidRequest: self = .invalidInput
        case .transport: self = .remote5xx
        }
    }

    /// A rollback refused before anything was sent: 8.
    init(_ refusal: RollbackRefusal) {
        self = .refused
    }

    /// A Python ledger that could not be imported: a missing folder → 4; a file that is not a
    /// ledger of the Python tool → 5; the store's own errors as for every command; any other
    /// refusal (a run id of another kind here, rows that break a rule) → 1.
    init(_ error: PythonLedgerError) {
        switch error {
        case .folderMissing: self = .notFound
        case .notAPythonLedger: self = .invalidInput
        case .unimportable, .collision: self = .failure
        case .store(_, let e): self.init(e)
        }
    }

    /// `batch import-python-ledger` over a folder: 0 when every file was imported or was already;
    /// else the worst refusal — a file that is not a Python ledger (5) over a store that cannot be
    /// used (9) over any other refusal (1). The other files are imported either way.
    init(pythonImport results: [PythonImportResult]) {
        let codes = results.compactMap { r -> ExitStatus? in
            if case .refused(let e) = r.outcome { return ExitStatus(e) }
            return nil
        }
        if codes.isEmpty { self = .ok }
        else if codes.contains(.invalidInput) { self = .invalidInput }
        else if codes.contains(.storeUnusable) { self = .storeUnusable }
        else { self = .failure }
    }

    /// How a finished run (batch or rollback) ended: ok → 0; a step failed, skipped or unknown
    /// (in doubt) → 1; interrupted (SIGINT, stamped cancelled) → 130.
    init(_ verdict: RunVerdict) {
        switch verdict {
        case .ok: self = .ok
        case .stepsFailed, .inDoubt: self = .failure
        case .interrupted: self = .interrupted
        }
    }

    /// A company name that could not be turned into an id: no such company, or several match → 2
    /// (pick another with -c, as an unknown alias is a usage error); the companies endpoint
    /// answered an error → by its HTTP status; an answer that is not a companies list → 7.
    init(_ error: CompanyResolutionError) {
        switch error {
        case .notFound, .ambiguous: self = .usage
        case .http(_, let status, _): self.init(httpStatus: status)
        case .invalidResponse: self = .remote5xx
        }
    }

    /// A final HTTP status, for single-request commands: 2xx/3xx → 0; 401/403 → 3; 404 → 4;
    /// other 4xx → 6; 5xx → 7. (A batch records each step's status and exits 1 when one failed.)
    init(httpStatus status: Int) {
        switch status {
        case 200..<400: self = .ok
        case 401, 403: self = .auth
        case 404: self = .notFound
        case 400..<500: self = .remote4xx
        default: self = .remote5xx
        }
    }
}

extension StoreError {
    /// This error's exit status, from the exit table.
    var exitStatus: ExitStatus { ExitStatus(self) }
}

extension CLIFailure {
    /// A store error as a failure with its documented exit code and its message.
    init(_ error: StoreError) {
        self.init(ExitStatus(error), error.description)
    }

    /// A config error as a failure with its documented exit code and its message.
    init(_ error: ConfigError) {
        self.init(ExitStatus(error), error.description)
    }
}

/// Ends the process with `status` (the C library's `exit`, so buffered output is flushed).
func exitProcess(_ status: ExitStatus) -> Never {
    #if canImport(Glibc)
    Glibc.exit(status.rawValue)
    #elseif canImport(Musl)
    Musl.exit(status.rawValue)
    #elseif canImport(Darwin)
    Darwin.exit(status.rawValue)
    #endif
}
