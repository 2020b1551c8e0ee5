import HTTPTypes
import Hashing

/// An error the emulator answers in Business Central's shape:
/// `{"error":{"code":"…","message":"… CorrelationId: <uuid>."}}`.
///
/// Why one type: every handler throws it, and the responder alone turns it into bytes, so the
/// shape, the correlation id and the headers can never differ between routes.
struct SandboxAPIError: Error, CustomStringConvertible {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    /// Extra headers, e.g. `Retry-After` or `WWW-Authenticate`.
    var headers: HTTPFields = [:]

    var description: String { "\(status.code) \(code): \(message)" }

    /// The JSON body for this error, with the correlation id appended to the message as BC does.
    func body(correlationID: String) -> JSONValue {
        var text = message
        if !text.hasSuffix(".") { text += "." }
        return ["error": ["code": .string(code), "message": .string("\(text) CorrelationId: \(correlationID).")]]
    }

    // MARK: The errors BC documents (and a few the emulator needs)

    static func badRequest(_ message: String) -> SandboxAPIError {
        SandboxAPIError(status: .badRequest, code: "BadRequest", message: message)
    }

    static func segmentNotFound(_ segment: String) -> SandboxAPIError {
        SandboxAPIError(status: .notFound, code: "BadRequest_NotFound",
                        message: "Resource not found for the segment '\(segment)'.")
    }

    static func recordNotFound(_ typeDisplayName: String, id: String) -> SandboxAPIError {
        SandboxAPIError(status: .notFound, code: "Internal_RecordNotFound",
                        message: "The \(typeDisplayName) does not exist. Identification fields and values: Id='\(id)'")
    }

    static let missingIfMatch = SandboxAPIError(
        status: .badRequest, code: "BadRequest_InvalidToken",
        message: "Could not validate the client concurrency token required by the service. Please provide a valid token in the client request.")

    static let entityChanged = SandboxAPIError(
        status: .conflict, code: "Request_EntityChanged",
        message: "Another user has already changed the record.")

    static func duplicateKey(_ typeDisplayName: String, field: String, value: String) -> SandboxAPIError {
        SandboxAPIError(status: .badRequest, code: "Internal_EntityWithSameKeyExists",
                        message: "The record already exists. \(typeDisplayName) with \(field) '\(value)' already exists.")
    }

    static let unauthorized = SandboxAPIError(
        status: .unauthorized, code: "Authentication_InvalidCredentials",
        message: "The server has rejected the client credentials.",
        headers: [.wwwAuthenticate: "Bearer realm=\"bcli-sandbox\", error=\"invalid_token\""])

    static func methodNotAllowed(_ method: HTTPRequest.Method, _ what: String) -> SandboxAPIError {
        SandboxAPIError(status: .methodNotAllowed, code: "BadRequest_MethodNotAllowed",
                        message: "The request method '\(method.rawValue)' is not allowed on \(what).")
    }

    static func tooManyRequests(retryAfter: Int, _ message: String) -> SandboxAPIError {
        SandboxAPIError(status: .tooManyRequests, code: "Application_TooManyRequests", message: message,
                        headers: [.retryAfter: String(retryAfter)])
    }

    static func serviceUnavailable(retryAfter: Int?) -> SandboxAPIError {
        var headers: HTTPFields = [:]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return SandboxAPIError(status: .serviceUnavailable, code: "Application_ServiceUnavailable",
                               message: "The service is temporarily unavailable (sandbox fault).", headers: headers)
    }
}
