import AsyncHTTPClient
import Foundation
import Testing
import TestSupport
@testable import Sandbox

/// `withSandbox` (TestSupport) stops the sandbox before it returns, also when the body throws.
@Suite struct WithSandboxTests {
    struct Boom: Error {}

    /// After `withSandbox` returns, nothing listens on the sandbox's port any more: a new TCP
    /// connection is refused.
    static func expectStopped(_ url: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let port = try #require(UInt16(url.split(separator: ":").last ?? ""), sourceLocation: sourceLocation)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0, sourceLocation: sourceLocation)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let error = errno
        #expect(result == -1 && error == ECONNREFUSED, "the sandbox at \(url) still accepts connections", sourceLocation: sourceLocation)
    }

    @Test func returningStopsTheSandbox() async throws {
        let url = try await withSandbox { (sandbox: LiveSandbox) async throws -> String in
            #expect(try await sandbox.held() == 0)
            return sandbox.url
        }
        try Self.expectStopped(url)
    }

    @Test func throwingStopsTheSandboxAndRethrows() async throws {
        let seen = Box()
        await #expect(throws: Boom.self) {
            try await withSandbox(faults: ["throttle:nth=1"]) { sandbox in
                seen.url = sandbox.url
                throw Boom()
            }
        }
        try Self.expectStopped(try #require(seen.url))
    }

    final class Box: @unchecked Sendable { var url: String? }
}
