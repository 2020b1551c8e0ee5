import BusinessCentral
import Foundation
import Hashing
import Store
import TestSupport

@testable import Batch

/// A transport that answers from a script instead of the network, and keeps every request it
/// was handed (the bytes "on the wire"). `onSend` runs before each answer, so a test can look at
/// the ledger at the moment the request leaves.
final class StubTransport: BCTransport, @unchecked Sendable {
    enum Reply: Sendable {
        case answer(BCResponse)
        case error(BCTransportError)
    }

    private let lock = NSLock()
    private var script: [Reply]
    private var seen: [BCRequest] = []
    private let onSend: @Sendable (BCRequest) -> Void

    init(_ script: [Reply], onSend: @escaping @Sendable (BCRequest) -> Void = { _ in }) {
        self.script = script
        self.onSend = onSend
    }

    /// Every request handed to `execute`, in order.
    var requests: [BCRequest] { lock.withLock { seen } }

    func execute(_ request: BCRequest) async throws(BCTransportError) -> BCResponse {
        onSend(request)
        let reply = lock.withLock { () -> Reply? in
            seen.append(request)
            return script.isEmpty ? nil : script.removeFirst()
        }
        switch reply {
        case .answer(let response)?: return response
        case .error(let error)?: throw error
        case nil: throw .invalidRequest("the stub's script ran out at \(request.method.rawValue) \(request.url)")
        }
    }

    // MARK: - Scripted replies

    /// An answer with a JSON body and the headers BC sends.
    static func json(_ status: Int, _ body: String, etag: String? = nil) -> Reply {
        var headers = [BCHeader(name: "Content-Type", value: "application/json"), BCHeader(name: "request-id", value: "req-\(status)")]
        if let etag { headers.append(BCHeader(name: "ETag", value: etag)) }
        return .answer(BCResponse(status: status, headers: headers, body: Array(body.utf8)))
    }

    /// No answer. `maybeSent`: the request may have left (a timeout after the send).
    static func noAnswer(_ method: HTTPMethodName, url: String = "https://bc.example/x", maybeSent: Bool) -> Reply {
        .error(.transport(TransportFailure(kind: maybeSent ? .timeout : .connectFailed, method: method.rawValue, url: url,
                                           reason: "scripted", requestMaybeSent: maybeSent, attempts: 1)))
    }

    enum HTTPMethodName: String { case GET, POST, PATCH, DELETE }
}

/// A store in a temp folder and a profile that names no real server.
struct StubWorld {
    let dir = TempDir("bcli-stub")
    let store: LedgerStore
    static let profile = Profile(name: "stub", tenantID: "t", environment: "production", companyID: "c-1",
                                 baseURL: "https://bc.example")

    init() throws {
        store = try LedgerStore(root: dir.path + "/store")
    }

    /// The bytes stored under `digest`, after checking the file on disk hashes to its name.
    func blob(_ digest: Digest?) throws -> [UInt8] {
        guard let digest else { throw StubError("no digest") }
        let bytes = try store.objects.get(digest)
        guard SHA256.hash(bytes) == digest else { throw StubError("blob \(digest) does not hash to its name") }
        return bytes
    }
}

struct StubError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
