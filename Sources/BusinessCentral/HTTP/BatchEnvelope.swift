import Hashing
import NIOHTTP1

/// Why a set of requests cannot be sent as one `$batch`. Nothing was sent.
public enum BatchEncodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No operations: there is nothing to send.
    case empty
    /// More operations than Business Central takes in one `$batch`.
    case tooManyOperations(count: Int, limit: Int)
    /// An operation's URL is not below the API root the batch is sent to.
    case outsideAPIRoot(index: Int, url: String, apiRoot: String)
    /// No API root (`…/api/v2.0` or `…/api/{publisher}/{group}/{version}`) could be found in the URL.
    case noAPIRoot(url: String)
    /// An operation's body is not JSON, so it cannot be embedded in a JSON `$batch`.
    case bodyNotJSON(index: Int, reason: String)
    /// An operation's method is one a `$batch` cannot carry.
    case unsupportedMethod(index: Int, method: String)

    public var description: String {
        switch self {
        case .empty:
            return "a $batch needs at least one operation; send nothing instead"
        case .tooManyOperations(let count, let limit):
            return "a $batch takes at most \(limit) operations, got \(count); split them into batches of \(limit) or fewer"
        case .outsideAPIRoot(let index, let url, let apiRoot):
            return "operation \(index + 1) (`\(url)`) is not below the batch's API root `\(apiRoot)`; send operations for another API or environment in a batch of their own"
        case .noAPIRoot(let url):
            return "`\(url)` has no API root (…/api/v2.0 or …/api/{publisher}/{group}/{version}); build operation URLs with URLBuilder"
        case .bodyNotJSON(let index, let reason):
            return "operation \(index + 1)'s body is not JSON (\(reason)); a JSON $batch can only carry JSON bodies, send it alone"
        case .unsupportedMethod(let index, let method):
            return "operation \(index + 1) uses \(method); a $batch carries GET, POST, PATCH, PUT and DELETE only"
        }
    }
}

/// Why a `$batch` answer could not be read as one answer per operation.
public enum BatchDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The `$batch` itself was answered with a status other than 200.
    case status(Int)
    /// The 200 body is not a JSON `{"responses":[…]}`.
    case malformed(String)
    /// Two answers carry the same operation id, so neither can be trusted to be that operation's.
    case duplicateID(String)

    public var description: String {
        switch self {
        case .status(let status):
            return "the $batch was answered HTTP \(status), not 200 with one answer per operation"
        case .malformed(let reason):
            return "the $batch answer is not {\"responses\":[…]}: \(reason); the operations' outcomes are unknown, check the records before sending them again"
        case .duplicateID(let id):
            return "the $batch answer holds two responses with id \(id); the operations' outcomes are unknown, check the records before sending them again"
        }
    }
}

/// The OData JSON `$batch` envelope Business Central accepts: the outer request carrying several
/// operations, and the answer split back into one `BCResponse` per operation.
///
/// Why embed, not forward, the operations' bytes: a JSON `$batch` carries each body as a JSON value
/// (`"body":{…}`), so the wire bytes of an operation are the envelope's, not its own. The ledger
/// keeps each operation's own canonical body bytes (RFC 8785) and the envelope embeds them parsed;
/// since the envelope is canonical too, each embedded body serialises back to exactly those bytes,
/// and the sandbox's journal digest of an operation (`body_sha256`) equals the ledger's.
///
/// Shapes (docs/sandbox.md#batch, BC's `use-odata-batch`):
/// - request: `POST {apiRoot}/$batch`, `Content-Type: application/json`, body
///   `{"requests":[{"id":"1","method":"POST","url":"companies(…)/customers","headers":{…},"body":{…}},…]}`
///   with `url` relative to the API root, as BC's examples write it, and ids `"1"`, `"2"`, … in order;
/// - answer: 200 `{"responses":[{"id":"1","status":201,"headers":{…},"body":{…}},…]}`, matched by id.
public enum BatchEnvelope {
    /// Business Central's limit on operations per `$batch`.
    public static let maxOperations = 100

    /// The outer `POST {apiRoot}/$batch` carrying `operations` in order (ids `"1"`…`"n"`).
    ///
    /// Each operation keeps every header it would send alone (`BCRequest.recordedHeaders`:
    /// `Accept`, `OData-Version`, `Content-Type` with a body, `If-Match`, `client-request-id`,
    /// `Idempotency-Key`, its extra headers such as `Prefer`), so what the ledger records for an
    /// operation is what the envelope carries for it. `Authorization` travels on the outer request only.
    /// - Parameters:
    ///   - apiRoot: `URLBuilder.apiRoot(profile:route:)`; nil finds it in the first operation's URL.
    ///   - clientRequestID: the outer request's `client-request-id` (each operation keeps its own).
    public static func encode(
        _ operations: [BCRequest], apiRoot: String? = nil, clientRequestID: String? = nil
    ) throws(BatchEncodeError) -> BCRequest {
        guard let first = operations.first else { throw .empty }
        guard operations.count <= maxOperations else {
            throw .tooManyOperations(count: operations.count, limit: maxOperations)
        }
        let root: String
        if let apiRoot { root = apiRoot } else { root = try Self.apiRoot(of: first.url) }
        var requests: [JSONValue] = []
        for (index, operation) in operations.enumerated() {
            guard BCClient.supportedMethods.contains(operation.method), operation.method != .HEAD else {
                throw .unsupportedMethod(index: index, method: operation.method.rawValue)
            }
            guard operation.url.hasPrefix(root + "/"), operation.url.count > root.count + 1 else {
                throw .outsideAPIRoot(index: index, url: operation.url, apiRoot: root)
            }
            var headers: [String: JSONValue] = [:]
            for header in operation.recordedHeaders {
                if case .string(let earlier)? = headers[header.name] {
                    headers[header.name] = .string(earlier + ", " + header.value)
                } else {
                    headers[header.name] = .string(header.value)
                }
            }
            var entry: [String: JSONValue] = [
                "id": .string(id(index)),
                "method": .string(operation.method.rawValue),
                "url": .string(String(operation.url.dropFirst(root.count + 1))),
                "headers": .object(headers),
            ]
            if let body = operation.body {
                do {
                    entry["body"] = try JSONValue(parsing: body)
                } catch {
                    throw .bodyNotJSON(index: index, reason: error.description)
                }
            }
            requests.append(.object(entry))
        }
        let body: [UInt8]
        do {
            body = try JSONValue.object(["requests": .array(requests)]).canonicalBytes()
        } catch {
            // Only a non-finite number fails to encode, and parsed JSON holds none.
            throw .bodyNotJSON(index: 0, reason: error.description)
        }
        return BCRequest(method: "POST", url: root + "/$batch", body: body, clientRequestID: clientRequestID)
    }

    /// The id of the operation at `index` (0-based) in the envelope: `"1"`, `"2"`, ….
    public static func id(_ index: Int) -> String { String(index + 1) }

    /// The API root of a Business Central URL: everything up to `/api/v2.0` or
    /// `/api/{publisher}/{group}/{version}`, the first `api` segment after a `v2.0` one.
    public static func apiRoot(of url: String) throws(BatchEncodeError) -> String {
        guard let scheme = url.range(of: "://") else { throw .noAPIRoot(url: url) }
        let afterScheme = url[scheme.upperBound...]
        guard let pathStart = afterScheme.firstIndex(of: "/") else { throw .noAPIRoot(url: url) }
        let pathEnd = url[pathStart...].firstIndex { $0 == "?" || $0 == "#" } ?? url.endIndex
        let segments = url[pathStart..<pathEnd].split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        var seenVersion = false
        var index = segments.startIndex
        while index < segments.endIndex {
            let segment = segments[index]
            if segment == "v2.0" { seenVersion = true }
            if seenVersion, segment == "api" {
                let routeLength = index + 1 < segments.endIndex && segments[index + 1] == "v2.0" ? 1 : 3
                guard index + routeLength < segments.endIndex else { throw .noAPIRoot(url: url) }
                let rootSegments = segments[segments.startIndex...(index + routeLength)]
                return String(url[..<pathStart]) + "/" + rootSegments.joined(separator: "/")
            }
            index += 1
        }
        throw .noAPIRoot(url: url)
    }

    /// One `BCResponse` per operation, in operation order, matched by id; nil for an operation the
    /// answer does not mention (its outcome is unknown).
    ///
    /// Each operation's response has its status, its headers (sorted by name, as the JSON object
    /// gives no order) and its body as the RFC 8785 bytes of the embedded JSON (empty when there is
    /// none), so the same answer always yields the same bytes. Numbers pass through IEEE doubles,
    /// as everywhere bcli parses JSON; the outer response keeps BC's exact bytes. `attempts` and
    /// `elapsed` are the outer request's; `requestHeaders` are the operation's recorded headers.
    public static func decode(_ response: BCResponse, for operations: [BCRequest]) -> Result<[BCResponse?], BatchDecodeError> {
        guard response.status == 200 else { return .failure(.status(response.status)) }
        let value: JSONValue
        do {
            value = try JSONValue(parsing: response.body)
        } catch {
            return .failure(.malformed(error.description))
        }
        guard case .array(let entries)? = value["responses"] else {
            return .failure(.malformed("no responses array"))
        }
        var byID: [String: BCResponse] = [:]
        for (position, entry) in entries.enumerated() {
            guard case .object(let fields) = entry else {
                return .failure(.malformed("responses[\(position)] is \(entry.typeName), not an object"))
            }
            guard let number = fields["status"]?.doubleValue, number == number.rounded(), (100...599).contains(number) else {
                return .failure(.malformed("responses[\(position)] has no HTTP status"))
            }
            var headers: [BCHeader] = []
            switch fields["headers"] {
            case nil, .null?: break
            case .object(let given)?:
                for name in given.keys.sorted() {
                    guard let text = given[name]?.stringValue else {
                        return .failure(.malformed("responses[\(position)].headers.\(name) is not a string"))
                    }
                    headers.append(BCHeader(name: name, value: text))
                }
            default:
                return .failure(.malformed("responses[\(position)].headers is not an object"))
            }
            var body: [UInt8] = []
            if let embedded = fields["body"], !embedded.isNull {
                guard let bytes = try? embedded.canonicalBytes() else {
                    return .failure(.malformed("responses[\(position)].body cannot be encoded"))
                }
                body = bytes
            }
            let operationIndex: Int?
            switch fields["id"] {
            case .string(let id)?: operationIndex = Int(id).map { $0 - 1 }
            default: operationIndex = nil
            }
            let requestHeaders = operationIndex.flatMap { operations.indices.contains($0) ? operations[$0].recordedHeaders : nil } ?? []
            let answer = BCResponse(
                status: Int(number), headers: headers, body: body, attempts: response.attempts,
                elapsed: response.elapsed, requestHeaders: requestHeaders)
            if case .string(let id)? = fields["id"] {
                guard byID.updateValue(answer, forKey: id) == nil else { return .failure(.duplicateID(id)) }
            }
        }
        // Every operation bcli sends carries an id, and OData does not promise answers in
        // request order: an answer that names no operation is matched to none (those operations
        // read unknown), never taken by position.
        return .success(operations.indices.map { byID[id($0)] })
    }

    /// Whether an outer status other than 200 proves that no operation ran: BC refuses a whole
    /// `$batch` it cannot take (a 4xx other than 408: malformed, too many operations, auth,
    /// throttled) before running any operation, and 503 is "not processed" as for any write
    /// (`RetryPolicy.retryableWriteStatuses`). A 408, 500, 502, 504 or anything else may come after
    /// some operations ran.
    public static func provesNothingProcessed(status: Int) -> Bool {
        (400..<500).contains(status) && status != 408 || status == 503
    }

    /// The outcome of every operation, in operation order (see `BatchOperationResult`).
    public static func results(_ response: BCResponse, for operations: [BCRequest]) -> [BatchOperationResult] {
        switch decode(response, for: operations) {
        case .success(let answers):
            return answers.map { answer in
                answer.map(BatchOperationResult.answered)
                    ?? .unknown(reason: "the $batch answer has no response for this operation")
            }
        case .failure(.status(let status)) where provesNothingProcessed(status: status):
            return operations.map { _ in .notProcessed(response) }
        case .failure(let error):
            return operations.map { _ in .unknown(reason: error.description) }
        }
    }
}

/// What became of one operation of a `$batch` that got an HTTP answer.
public enum BatchOperationResult: Sendable, Equatable {
    /// The operation's own answer, whatever its status.
    case answered(BCResponse)
    /// The whole `$batch` was refused (the outer response, a 4xx other than 408, or 503) before
    /// any operation ran: this one was not processed, so it may be sent again.
    case notProcessed(BCResponse)
    /// No answer names this operation (a 200 missing it, a malformed answer, or an outer 408/5xx):
    /// it may or may not have been processed — a write's outcome is unknown.
    case unknown(reason: String)

    /// The operation's own response, when it has one.
    public var response: BCResponse? {
        if case .answered(let response) = self { return response }
        return nil
    }
}

/// A `$batch` that got an HTTP answer: the envelope as sent, the outer response (BC's exact bytes)
/// and one result per operation, in operation order.
public struct BatchAnswer: Sendable, Equatable {
    /// The outer `POST …/$batch` as sent (its body is the canonical envelope).
    public var envelope: BCRequest
    /// The outer response, raw.
    public var response: BCResponse
    /// One per operation, in the order given.
    public var results: [BatchOperationResult]

    public init(envelope: BCRequest, response: BCResponse, results: [BatchOperationResult]) {
        self.envelope = envelope
        self.response = response
        self.results = results
    }
}

extension BCTransport {
    /// Sends `operations` as one OData JSON `$batch` through `execute`, so the transport's token,
    /// rate limiting and retries apply to the batch as to any write: a 429 or 503 to the whole
    /// `$batch` means nothing was processed and it is sent again; a lost answer is never re-sent.
    ///
    /// - Returns: the answer split per operation (`BatchAnswer.results`).
    /// - Throws: `BCTransportError.invalidRequest` when the operations cannot form a batch (nothing
    ///   was sent), or `execute`'s error when no answer came: then every operation shares its fate —
    ///   `outcomeUnknown` means each write of the batch is unknown.
    public func executeBatch(
        _ operations: [BCRequest], apiRoot: String? = nil, clientRequestID: String? = nil
    ) async throws(BCTransportError) -> BatchAnswer {
        let envelope: BCRequest
        do {
            envelope = try BatchEnvelope.encode(operations, apiRoot: apiRoot, clientRequestID: clientRequestID)
        } catch {
            throw .invalidRequest(error.description)
        }
        let response = try await execute(envelope)
        return BatchAnswer(envelope: envelope, response: response,
                           results: BatchEnvelope.results(response, for: operations))
    }
}
