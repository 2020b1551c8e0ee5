import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a program with stdout and stderr on a pseudo-terminal, as a person's shell would, and
/// returns everything it wrote there (both streams, in order, as the terminal got them).
///
/// Why a real pty: bcli decides colour, the live progress line and table width from `isatty` and
/// the terminal's size (`TIOCGWINSZ`), and only a terminal answers those as a person's would.
/// stdin stays /dev/null. The environment is built as `ChildProcess` builds it (minus `NO_COLOR`
/// unless `env` sets it).
public func runInPTY(_ executable: String, _ args: [String], env: [String: String] = [:], columns: UInt16 = 100,
                     timeout: Double = defaultProcessTimeout) async throws -> (status: Int32, output: [UInt8]) {
    try await offload {
        // Linux's pty multiplexer: unlock the new pair (TIOCSPTLCK) and ask its number (TIOCGPTN);
        // Glibc's posix_openpt/grantpt/unlockpt/ptsname are not visible to Swift without
        // _XOPEN_SOURCE, and these two ioctls are what they do.
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        var unlock: Int32 = 0, number: UInt32 = 0
        guard master >= 0, ioctl(master, 0x4004_5431 /* TIOCSPTLCK */, &unlock) == 0,
              ioctl(master, 0x8004_5430 /* TIOCGPTN */, &number) == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        var size = winsize(ws_row: 40, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &size)
        let slave = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY)
        guard slave >= 0 else { close(master); throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = args
        var environment = ProcessInfo.processInfo.environment
        for key in ["BCLI_STORE", "BCLI_PROFILE", "NO_COLOR", "LC_ALL", "LC_CTYPE", "COLUMNS"] { environment[key] = nil }
        environment["LANG"] = "C.UTF-8"
        environment["TERM"] = "xterm-256color"
        for (k, v) in env { environment[k] = v }
        process.environment = environment
        let terminal = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
        process.standardOutput = terminal
        process.standardError = terminal
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { close(slave); close(master); throw error }
        close(slave)  // the child holds its copies; reading the master ends (EIO) when it exits

        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var poller = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 200)
            if ready < 0 { if errno == EINTR { continue }; break }
            if ready == 0 { if !process.isRunning { break } else { continue } }
            let n = read(master, &buffer, buffer.count)
            if n <= 0 { break }
            output += buffer[0..<n]
        }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        close(master)
        return (process.terminationStatus, output)
    }
}
