import Foundation
import HTTPTypes
import Hashing
import Hummingbird
import Logging
import NIOCore

/// The request context: Hummingbird's core storage plus the connection, which `drop` and `lose` close.
struct SandboxRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Turns every request into a response (or a dropped connection).
///
/// Why one responder instead of Hummingbird's router: OData paths (`companies(…)/customers(…)`)
/// do not split into router segments, and every response, error or not, needs the same
/// correlation headers — so the sandbox parses paths itself and decorates answers in one place.
struct SandboxResponder: HTTPResponder {
    typealias Context = SandboxRequestContext

    static let requestIDHeader = HTTPField.Name("request-id")!
    static let correlationHeader = HTTPField.Name("ms-correlation-x")!
    static let clientRequestIDHeader = HTTPField.Name("client-request-id")!
    static let maxBodyBytes = 8 * 1024 * 1024

    let api: APIHandler
    let authenticator: Authenticator
    let faults: FaultController
    let store: EntityStore
    let logger: Logger

    /// Thrown when the connection must be closed without an answer: after a commit (`drop`), or
    /// instead of handling the request (`lose`).
    struct DropConnection: Error {
        /// What the log says happened to the request.
        var what = "commit-then-drop"
    }

    func respond(to request: Request, context: Context) async throws -> Response {
        let requestID = UUID().uuidString.lowercased()
        let clientRequestID = request.headers[Self.clientRequestIDHeader]
        var response: Response
        do {
            response = try await route(request, context: context, requestID: requestID, clientRequestID: clientRequestID)
        } catch let error as SandboxAPIError {
            response = (try? jsonResponse(error.status, error.body(correlationID: requestID), headers: error.headers))
                ?? Response(status: error.status)
        } catch let error as Authenticator.TokenError {
            response = (try? jsonResponse(HTTPResponse.Status(code: error.status), error.body(correlationID: requestID)))
                ?? Response(status: .badRequest)
        } catch let drop as DropConnection {
            logger.info("\(drop.what): closing the connection without a response",
                        metadata: ["path": .string(request.uri.path), "request-id": .string(requestID)])
            try? await context.channel.close()
            // The channel is closed: whatever Hummingbird tries to write now goes nowhere.
            return Response(status: .internalServerError)
        } catch {
            let failure = SandboxAPIError(status: .internalServerError, code: "Internal_ServerError",
                                          message: "The sandbox failed: \(error)")
            logger.error("request failed", metadata: ["error": .string("\(error)"), "path": .string(request.uri.path)])
            response = (try? jsonResponse(failure.status, failure.body(correlationID: requestID)))
                ?? Response(status: .internalServerError)
        }
        response.headers[Self.requestIDHeader] = requestID
        response.headers[Self.correlationHeader] = requestID
        if let clientRequestID { response.headers[Self.clientRequestIDHeader] = clientRequestID }
        logger.info("\(request.method.rawValue) \(request.uri.string) → \(response.status.code)",
                    metadata: clientRequestID.map { ["client-request-id": .string($0)] } ?? [:])
        return response
    }

    private func route(_ request: Request, context: Context, requestID: String,
                       clientRequestID: String?) async throws -> Response
    {
        let route = try SandboxRoute.parse(path: request.uri.path)
        switch route {
        case .notFound(let segment):
            throw SandboxAPIError.segmentNotFound(segment)
        case .health:
            return try jsonResponse(.ok, ["format_version": 1, "status": "ok"])
        case .journal:
            guard request.method == .get else { throw SandboxAPIError.methodNotAllowed(request.method, "the journal") }
            let query = FormDecoding.decode(request.uri.query ?? "")
            let after = query.first { $0.name == "after" }.flatMap { Int($0.value) } ?? 0
            var bytes: [UInt8] = []
            for entry in try await store.journal(after: after) {
                bytes += try entry.canonicalBytes()
                bytes.append(UInt8(ascii: "\n"))
            }
            return Response(status: .ok, headers: [.contentType: "application/x-ndjson"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        case .release:
            guard request.method == .post else { throw SandboxAPIError.methodNotAllowed(request.method, "release") }
            let released = await faults.releaseHeld()
            return try jsonResponse(.ok, ["format_version": 1, "released": .number(Double(released))])
        case .faults:
            return try await adminFaults(request)
        case .token(let tenant):
            guard request.method == .post else { throw SandboxAPIError.methodNotAllowed(request.method, "the token endpoint") }
            guard tenant.lowercased() == api.tenant.lowercased() else {
                throw Authenticator.TokenError(status: 400, error: "invalid_tenant",
                                               description: "Tenant '\(tenant)' not found; the sandbox tenant is '\(api.tenant)'.",
                                               code: 90002)
            }
            var request = request
            let body = try await request.collectBody(upTo: Self.maxBodyBytes)
            let token = try await authenticator.issueToken(formBody: Array(buffer: body))
            return try jsonResponse(.ok, token, headers: [.cacheControl: "no-store"])
        case .deviceCode(let tenant):
            guard request.method == .post else { throw SandboxAPIError.methodNotAllowed(request.method, "the device code endpoint") }
            guard tenant.lowercased() == api.tenant.lowercased() else {
                throw Authenticator.TokenError(status: 400, error: "invalid_tenant",
                                               description: "Tenant '\(tenant)' not found; the sandbox tenant is '\(api.tenant)'.", code: 90002)
            }
            var request = request
            let body = try await request.collectBody(upTo: Self.maxBodyBytes)
            return try jsonResponse(.ok, try await authenticator.issueDeviceCode(formBody: Array(buffer: body)), headers: [.cacheControl: "no-store"])
        case .api(let tenant, let environment, let namespace, let resources):
            let client = try await authenticator.authenticate(authorization: request.headers[.authorization])
            guard await faults.enter(client: client) else {
                throw SandboxAPIError.tooManyRequests(
                    retryAfter: 1, "Too many concurrent requests for client '\(client)': the running and queued limits are full (sandbox limit fault).")
            }
            do {
                let isBatch = resources.count == 1 && resources[0].name == "$batch" && resources[0].key == nil
                let result = isBatch
                    ? try await batchRequest(request, requestID: requestID, clientRequestID: clientRequestID,
                                             tenant: tenant, environment: environment)
                    : try await apiRequest(request, requestID: requestID, clientRequestID: clientRequestID,
                                           tenant: tenant, environment: environment, namespace: namespace,
                                           resources: resources)
                await faults.leave(client: client)
                return result
            } catch {
                await faults.leave(client: client)
                throw error
            }
        }
    }

    private func apiRequest(_ request: Request, requestID: String, clientRequestID: String?, tenant: String?,
                            environment: String, namespace: APINamespace,
                            resources: [ResourceSegment]) async throws -> Response
    {
        let method = request.method
        let decision = await faults.beforeRequest(method: method, clientRequestID: clientRequestID)
        if decision.delayMilliseconds > 0 { try await Task.sleep(for: .milliseconds(decision.delayMilliseconds)) }
        if decision.hold { await faults.waitWhileHeld() }
        if let error = decision.error { throw error }

        var request = request
        let body = try await request.collectBody(upTo: Self.maxBodyBytes)
        // `lose`: the whole request was received (so the client cannot know it was not processed),
        // and it is not performed.
        if decision.lose { throw DropConnection(what: "lose (request not performed)") }
        let host = request.head.authority ?? "127.0.0.1"
        let apiRequest = APIRequest(
            method: request.method, path: request.uri.path, query: FormDecoding.decode(request.uri.query ?? ""),
            headers: request.headers, body: Array(buffer: body), clientRequestID: clientRequestID,
            requestID: requestID, origin: "http://\(host)")
        let result = try await api.handle(apiRequest, tenant: tenant, environment: environment,
                                          namespace: namespace, resources: resources)
        if result.committedWrite, await faults.dropAfterCommit(method: method, clientRequestID: clientRequestID) {
            throw DropConnection()
        }
        return result.response
    }

    /// A JSON `$batch` (`BatchHandler`). Faults act on it as a whole (`SandboxFault`): latency,
    /// hold, 429/503 and `lose` are decided once, before any operation runs (a lost batch performs
    /// nothing), and `drop` after every operation ran (all of them committed, then no answer).
    /// The body is read first, because fault filters match the operations' own
    /// `client-request-id`s and methods; a body that does not parse is a 400 after the faults.
    private func batchRequest(_ request: Request, requestID: String, clientRequestID: String?, tenant: String?,
                              environment: String) async throws -> Response
    {
        var request = request
        let body = try await request.collectBody(upTo: Self.maxBodyBytes)
        let parsed: Result<[BatchOperation], SandboxAPIError>
        if request.method != .post {
            parsed = .failure(.methodNotAllowed(request.method, "$batch (send it with POST)"))
        } else {
            do {
                parsed = .success(try BatchHandler.parse(body: Array(buffer: body), headers: request.headers))
            } catch {
                parsed = .failure(error)
            }
        }
        let operations = (try? parsed.get()) ?? []
        let decision = await faults.beforeBatch(operations: operations.map(\.faultOperation),
                                                batchClientRequestID: clientRequestID)
        if decision.delayMilliseconds > 0 { try await Task.sleep(for: .milliseconds(decision.delayMilliseconds)) }
        if decision.hold { await faults.waitWhileHeld() }
        if let error = decision.error { throw error }
        if decision.lose { throw DropConnection(what: "lose ($batch of \(operations.count) operations not performed)") }
        try api.checkScope(tenant: tenant, environment: environment)
        let outcome = try await BatchHandler(api: api).run(
            try parsed.get(), batchPath: request.uri.path, origin: "http://\(request.head.authority ?? "127.0.0.1")",
            batchRequestID: requestID, batchClientRequestID: clientRequestID)
        if !outcome.committed.isEmpty,
           await faults.dropAfterBatch(committed: outcome.committed, batchClientRequestID: clientRequestID)
        {
            throw DropConnection(what: "commit-then-drop ($batch: \(outcome.committed.count) writes committed)")
        }
        return outcome.response
    }

    /// `GET` shows, `POST`/`PUT` replace (`{"faults":["spec",…],"latency":"50-100"}`), `DELETE` clears.
    private func adminFaults(_ request: Request) async throws -> Response {
        switch request.method {
        case .get:
            break
        case .post, .put:
            var request = request
            let body = try await request.collectBody(upTo: Self.maxBodyBytes)
            let value: JSONValue
            do {
                value = try JSONValue(parsing: Array(buffer: body))
            } catch {
                throw SandboxAPIError.badRequest("Invalid Request Body: \(error.description). Send {\"faults\":[\"throttle:every=3\"],\"latency\":\"50-100\"}.")
            }
            var parsed: [SandboxFault] = []
            var latency: SandboxLatency?
            do {
                for spec in value["faults"]?.arrayValue ?? [] {
                    guard let text = spec.stringValue else { throw SandboxAPIError.badRequest("Each fault must be a spec string.") }
                    parsed.append(try SandboxFault(parsing: text))
                }
                switch value["latency"] {
                case .string(let text)?: latency = try SandboxLatency(parsing: text)
                case .number(let ms)?: latency = .fixed(milliseconds: Int(ms))
                case .null?, nil: latency = nil
                default: throw SandboxAPIError.badRequest("latency must be a string like \"200\" or \"50-100\".")
                }
            } catch let error as SandboxConfigurationError {
                throw SandboxAPIError.badRequest(error.description)
            }
            await faults.replace(faults: parsed, latency: latency)
        case .delete:
            await faults.replace(faults: [], latency: nil)
        default:
            throw SandboxAPIError.methodNotAllowed(request.method, "the faults endpoint")
        }
        return try jsonResponse(.ok, await faults.snapshot())
    }
}
