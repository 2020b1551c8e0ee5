#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Store

/// The exit codes bcli documents (DESIGN §4). Scripts and CI branch on these, so they never change.
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
        writeFD(STDERR_FILENO, Array(prefixed.utf8))
    }

    static func note(_ message: String) {
        writeFD(STDERR_FILENO, Array((message.hasSuffix("\n") ? message : message + "\n").utf8))
    }

    /// Writes raw bytes to stdout (no transcoding, no newline added).
    static func writeStdout(_ bytes: [UInt8]) {
        writeFD(STDOUT_FILENO, bytes)
    }

    /// One line of data on stdout.
    static func line(_ text: String) {
        writeFD(STDOUT_FILENO, Array((text + "\n").utf8))
    }

    /// Unbuffered write of all bytes (stdout and stderr never interleave out of order).
    static func writeFD(_ fd: Int32, _ bytes: [UInt8]) {
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

extension StoreError {
    /// How a store error maps onto the documented exit codes — the one place it is decided, for
    /// every command (README, "Exit codes").
    var exitStatus: ExitStatus {
        if unusableCause != nil { return .storeUnusable }
        switch self {
        case .invalidDigest, .invalidRunID: return .invalidInput
        case .unknownPrefix, .blobMissing, .runNotFound: return .notFound
        case .ambiguousPrefix, .ambiguousRunID: return .usage
        case .runLocked: return .refused
        case .database, .newerSchema: return .storeUnusable
        default: return .failure
        }
    }
}

extension CLIFailure {
    /// A store error as a failure with its documented exit code and its message.
    init(_ error: StoreError) {
        self.init(error.exitStatus, error.description)
    }
}
