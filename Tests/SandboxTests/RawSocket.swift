import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plain TCP exchange, so a test can tell "connection closed with zero response bytes" apart
/// from any HTTP answer — something an HTTP client library would hide or retry.
enum RawSocket {
    struct Outcome {
        var bytes: [UInt8]
        /// true when the peer closed (EOF or reset) rather than the read timing out.
        var closedByPeer: Bool
    }

    /// Sends `request` to 127.0.0.1:`port` and reads until the server closes the connection.
    static func exchange(port: Int, request: String, timeoutSeconds: Int = 20) async throws -> Outcome {
        try await withCheckedThrowingContinuation { continuation in
            // A dedicated thread: blocking reads must not occupy the cooperative pool the server uses.
            let thread = Thread {
                continuation.resume(with: Result { try blockingExchange(port: port, request: request, timeoutSeconds: timeoutSeconds) })
            }
            thread.start()
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private static func blockingExchange(port: Int, request: String, timeoutSeconds: Int) throws -> Outcome {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failure(description: "socket() failed: \(errno)") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Failure(description: "connect() failed: \(errno)") }
        let bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw Failure(description: "write() failed: \(errno)") }
            sent += n
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                received += buffer[0..<n]
                continue
            }
            if n == 0 { return Outcome(bytes: received, closedByPeer: true) }
            if errno == ECONNRESET { return Outcome(bytes: received, closedByPeer: true) }
            if errno == EINTR { continue }
            return Outcome(bytes: received, closedByPeer: false)  // timed out
        }
    }
}
