import Foundation
import HTTPTypes
import Hashing
import Hummingbird
import NIOCore

/// One operation of a JSON `$batch`, as the sandbox received it.
struct BatchOperation: Sendable {
    /// The operation's `id` as sent (a string, or null when it had none), echoed in its answer.
    var id: JSONValue
    var method: HTTPRequest.Method
    /// The `url` as sent: relative to the `$batch`'s API root, an absolute path, or an absolute URL.
    var url: String
    /// The operation's own headers (`Content-Type`, `If-Match`, `Prefer`, `client-request-id`, …).
    var headers: HTTPFields
    /// The RFC 8785 (JCS) bytes of the `body` value, empty without one. Why JCS: bcli stores each
    /// operation's body as its canonical bytes and embeds it parsed, so the journal's
    /// `body_sha256` equals the digest of the bytes the ledger holds, as for a request sent alone.
    var body: [UInt8]

    var clientRequestID: String? { headers[SandboxResponder.clientRequestIDHeader] }

    /// What fault filters look at.
    var faultOperation: FaultOperation { FaultOperation(method: method, clientRequestID: clientRequestID) }
}

/// OData JSON `$batch` as Business Central serves it (`POST …/api/v2.0/$batch`,
/// `{"requests":[{"id","method","url","headers","body"}]}` → 200 `{"responses":[{"id","status","headers","body"}]}`).
///
/// Why every operation goes through `APIHandler.handle`: an operation must behave exactly as the
/// same request sent alone — status, headers, body, ETag checks, and its own journal line with its
/// own `client-request-id` — so that a ledger written through `$batch` checks against the journal
/// the same way. Operations are independent and run in order: one failing does not stop the others
/// (there is no `Isolation: snapshot` transaction here, and it is refused rather than ignored).
struct BatchHandler: Sendable {
    /// BC's limit on operations per `$batch`.
    static let maxOperations = 100
    static let isolationHeader = HTTPField.Name("Isolation")!
    static let allowedOperationKeys: Set<String> = ["id", "method", "url", "headers", "body"]

    let api: APIHandler

    /// What a `$batch` did: the answer, and the operations whose writes committed (for `drop`).
    struct Outcome {
        var response: Response
        var committed: [FaultOperation]
    }

    // MARK: Parsing the envelope (any problem is a 400 for the whole batch, before anything runs)

    static func parse(body: [UInt8], headers: HTTPFields) throws(SandboxAPIError) -> [BatchOperation] {
        let contentType = headers[.contentType]?.lowercased() ?? ""
        guard contentType.hasPrefix("application/json") else {
            throw .badRequest("The sandbox serves JSON $batch only: send Content-Type: application/json with {\"requests\":[…]} (multipart/mixed batches are not emulated)")
        }
        if headers[isolationHeader] != nil {
            throw .badRequest("The sandbox does not emulate transactional $batch (the Isolation header): send the batch without it; its operations then run independently, as BC runs them without it")
        }
        let value: JSONValue
        do {
            value = try JSONValue(parsing: body)
        } catch {
            throw .badRequest("Invalid Request Body: \(error.description)")
        }
        guard case .object(let top) = value, case .array(let requests)? = top["requests"] else {
            throw .badRequest("Invalid Request Body: a JSON $batch is an object {\"requests\":[…]}, got \(value.typeName)")
        }
        if let other = top.keys.sorted().first(where: { $0 != "requests" }) {
            throw .badRequest("Invalid Request Body: unexpected property '\(other)' in a $batch; only 'requests' is read")
        }
        guard requests.count <= maxOperations else {
            // BC's own words for this (status 400, code "Unknown").
            throw SandboxAPIError(status: .badRequest, code: "Unknown",
                                  message: "The current batch message contains too many parts. A maximum number of '\(maxOperations)' query operations and change sets are allowed in a batch message. This one has \(requests.count): split it into batches of at most \(maxOperations)")
        }
        var operations: [BatchOperation] = []
        var seenIDs: Set<String> = []
        for (index, entry) in requests.enumerated() {
            let operation = try parseOperation(entry, index: index)
            if case .string(let id) = operation.id, !seenIDs.insert(id).inserted {
                throw .badRequest("Invalid Request Body: requests[\(index)] repeats the id '\(id)'; each operation needs its own id")
            }
            operations.append(operation)
        }
        return operations
    }

    private static func parseOperation(_ entry: JSONValue, index: Int) throws(SandboxAPIError) -> BatchOperation {
        let at = "requests[\(index)]"
        guard case .object(let fields) = entry else {
            throw .badRequest("Invalid Request Body: \(at) must be an object with method and url, got \(entry.typeName)")
        }
        if let other = fields.keys.sorted().first(where: { !allowedOperationKeys.contains($0) }) {
            throw .badRequest("Invalid Request Body: \(at) has '\(other)', which the sandbox does not emulate (dependsOn, atomicityGroup and if are not supported); use only id, method, url, headers and body")
        }
        let id: JSONValue
        switch fields["id"] {
        case .string(let text)?: id = .string(text)
        case nil, .null?: id = .null
        case let other?: throw .badRequest("Invalid Request Body: \(at).id must be a string, got \(other.typeName)")
        }
        guard let methodText = fields["method"]?.stringValue else {
            throw .badRequest("Invalid Request Body: \(at) needs a method (GET, POST, PATCH or DELETE)")
        }
        let method: HTTPRequest.Method
        switch methodText.uppercased() {
        case "GET": method = .get
        case "POST": method = .post
        case "PATCH": method = .patch
        case "DELETE": method = .delete
        case "PUT": method = .put
        default: throw .badRequest("Invalid Request Body: \(at).method '\(methodText)' is not GET, POST, PATCH, PUT or DELETE")
        }
        guard let url = fields["url"]?.stringValue, !url.isEmpty else {
            throw .badRequest("Invalid Request Body: \(at) needs a url, e.g. companies({id})/customers")
        }
        var headers: HTTPFields = [:]
        switch fields["headers"] {
        case nil, .null?: break
        case .object(let given)?:
            for name in given.keys.sorted() {
                guard let value = given[name]?.stringValue else {
                    throw .badRequest("Invalid Request Body: \(at).headers.\(name) must be a string")
                }
                guard let fieldName = HTTPField.Name(name) else {
                    throw .badRequest("Invalid Request Body: \(at).headers has '\(name)', which is not a header name")
                }
                // Authorization is the outer request's; an operation never authenticates alone.
                if fieldName == .authorization { continue }
                headers.append(HTTPField(name: fieldName, value: value))
            }
        case let other?:
            throw .badRequest("Invalid Request Body: \(at).headers must be an object of strings, got \(other.typeName)")
        }
        var body: [UInt8] = []
        if let value = fields["body"], !value.isNull {
            do {
                body = try value.canonicalBytes()
            } catch {
                throw .badRequest("Invalid Request Body: \(at).body: \(error.description)")
            }
        }
        return BatchOperation(id: id, method: method, url: url, headers: headers, body: body)
    }

    // MARK: Running the operations

    /// Runs every operation in order, each through `APIHandler.handle` with its own request id,
    /// and answers 200 with one response per operation, in the order received.
    /// - Parameters:
    ///   - batchPath: the raw path of the `$batch` request; relative operation URLs resolve
    ///     against its folder (the API root).
    ///   - origin: `http://host:port`, for `@odata.context`, `Location` and nextLinks.
    func run(_ operations: [BatchOperation], batchPath: String, origin: String, batchRequestID: String,
             batchClientRequestID: String?) async throws -> Outcome
    {
        let root = batchPath.lastIndex(of: "/").map { String(batchPath[..<$0]) } ?? ""
        var responses: [JSONValue] = []
        var committed: [FaultOperation] = []
        for operation in operations {
            let requestID = UUID().uuidString.lowercased()
            var response: Response
            do {
                let result = try await perform(operation, root: root, origin: origin, requestID: requestID,
                                               batchRequestID: batchRequestID, batchClientRequestID: batchClientRequestID)
                response = result.response
                if result.committedWrite { committed.append(operation.faultOperation) }
            } catch let error as SandboxAPIError {
                response = try jsonResponse(error.status, error.body(correlationID: requestID), headers: error.headers)
            } catch {
                let failure = SandboxAPIError(status: .internalServerError, code: "Internal_ServerError",
                                              message: "The sandbox failed: \(error)")
                response = try jsonResponse(failure.status, failure.body(correlationID: requestID))
            }
            responses.append(try await Self.entry(operation, response, requestID: requestID))
        }
        return Outcome(response: try jsonResponse(.ok, ["responses": .array(responses)]), committed: committed)
    }

    private func perform(_ operation: BatchOperation, root: String, origin: String, requestID: String,
                         batchRequestID: String, batchClientRequestID: String?) async throws -> APIResult
    {
        let (path, query) = Self.resolve(operation.url, root: root)
        guard case .api(let tenant, let environment, let namespace, let resources) = try SandboxRoute.parse(path: path) else {
            throw SandboxAPIError.badRequest("The operation's url '\(operation.url)' does not address the API: give it relative to the $batch's API root, e.g. companies({id})/customers")
        }
        if resources.count == 1, resources[0].name == "$batch" {
            throw SandboxAPIError.badRequest("A $batch operation cannot be a $batch")
        }
        let request = APIRequest(
            method: operation.method, path: path, query: FormDecoding.decode(query), headers: operation.headers,
            body: operation.body, clientRequestID: operation.clientRequestID, requestID: requestID, origin: origin,
            batchRequestID: batchRequestID, batchClientRequestID: batchClientRequestID)
        return try await api.handle(request, tenant: tenant, environment: environment, namespace: namespace,
                                    resources: resources)
    }

    /// An operation's URL as a raw path and query: an absolute `http(s)://host/…` URL keeps its
    /// path, `/…` is a path already, anything else is relative to `root` (the `$batch`'s folder,
    /// `…/api/v2.0`), as BC's examples write them (`companies({id})/customers`).
    static func resolve(_ url: String, root: String) -> (path: String, query: String) {
        var target = Substring(url)
        if let fragment = target.firstIndex(of: "#") { target = target[..<fragment] }
        if let scheme = target.range(of: "://"), target[..<scheme.lowerBound].allSatisfy(\.isLetter) {
            let afterAuthority = target[scheme.upperBound...]
            target = afterAuthority.firstIndex(of: "/").map { afterAuthority[$0...] } ?? "/"
        }
        let pathPart: Substring
        var query: Substring = ""
        if let mark = target.firstIndex(of: "?") {
            pathPart = target[..<mark]
            query = target[target.index(after: mark)...]
        } else {
            pathPart = target
        }
        let path = pathPart.hasPrefix("/") ? String(pathPart) : root + "/" + pathPart
        return (path, String(query))
    }

    /// `{"id","status","headers","body"}` for one operation: the response's headers (names in
    /// lowercase, as BC writes them) plus its own `request-id` and the echoed `client-request-id`,
    /// and the body parsed back to JSON (left out when empty, as for a 204).
    private static func entry(_ operation: BatchOperation, _ response: Response, requestID: String) async throws -> JSONValue {
        var headers: [String: JSONValue] = [:]
        for field in response.headers {
            let name = field.name.canonicalName.lowercased()
            if case .string(let earlier)? = headers[name] {
                headers[name] = .string(earlier + ", " + field.value)
            } else {
                headers[name] = .string(field.value)
            }
        }
        headers["request-id"] = .string(requestID)
        if let clientRequestID = operation.clientRequestID { headers["client-request-id"] = .string(clientRequestID) }
        var entry: [String: JSONValue] = [
            "id": operation.id,
            "status": .number(Double(response.status.code)),
            "headers": .object(headers),
        ]
        let collector = BodyCollector()
        try await response.body.write(collector)
        if !collector.bytes.isEmpty {
            entry["body"] = (try? JSONValue(parsing: collector.bytes)) ?? .string(String(decoding: collector.bytes, as: UTF8.self))
        }
        return .object(entry)
    }
}

/// Gathers a response body's bytes, so an operation's answer can be embedded in the `$batch`'s.
private final class BodyCollector: ResponseBodyWriter {
    var bytes: [UInt8] = []

    func write(_ buffer: ByteBuffer) async throws {
        bytes += buffer.readableBytesView
    }

    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
