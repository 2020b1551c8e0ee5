import AsyncHTTPClient
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A request that got no HTTP response.
///
/// Why `outcomeUnknown` matters: a POST that timed out or whose connection closed before the
/// answer may still have been committed by BC. The ledger must record such a step as "unknown",
/// never as failed, and it must never be re-sent blindly.
public struct TransportFailure: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// No connection could be made (refused, DNS, unreachable, connect timeout).
        case connectFailed
        /// The deadline (profile `timeout`) or a read/write timeout passed.
        case timeout
        /// The connection closed or reset before a complete response.
        case connectionClosed
        /// The caller's task was cancelled.
        case cancelled
        /// The request could not be formed (bad URL or method).
        case invalidRequest
        case other
    }

    public var kind: Kind
    public var method: HTTPMethod
    public var url: String
    /// A human-readable cause (the underlying error).
    public var reason: String
    /// False only when the request provably never left this machine.
    public var requestMaybeSent: Bool
    /// How many times the request was sent or tried.
    public var attempts: Int

    public init(kind: Kind, method: HTTPMethod, url: String, reason: String, requestMaybeSent: Bool, attempts: Int) {
        self.kind = kind
        self.method = method
        self.url = url
        self.reason = reason
        self.requestMaybeSent = requestMaybeSent
        self.attempts = attempts
    }

    /// For callers that hold the method's spelling (`POST`, …).
    public init(kind: Kind, method: String, url: String, reason: String, requestMaybeSent: Bool, attempts: Int) {
        self.init(kind: kind, method: HTTPMethod(rawValue: method.uppercased()), url: url, reason: reason,
                  requestMaybeSent: requestMaybeSent, attempts: attempts)
    }

    /// True when a write may have reached BC and been committed: the caller must treat the
    /// step's outcome as unknown (and never retry it blindly).
    public var outcomeUnknown: Bool {
        requestMaybeSent && method.isWrite
    }

    public var description: String {
        var text = "\(method.rawValue) \(url): \(kindText) (\(reason))"
        if attempts > 1 { text += " after \(attempts) attempts" }
        if outcomeUnknown {
            text += ". OUTCOME UNKNOWN: the request may have been committed by Business Central; check the record before sending it again."
        } else {
            switch kind {
            case .connectFailed: text += ". Check base_url and that the service is reachable."
            case .timeout: text += ". Raise `timeout` in the profile, or retry later."
            case .invalidRequest: text += ". Check the URL."
            default: text += "."
            }
        }
        return text
    }

    private var kindText: String {
        switch kind {
        case .connectFailed: return "could not connect"
        case .timeout: return "timed out"
        case .connectionClosed: return "connection closed before a response"
        case .cancelled: return "cancelled"
        case .invalidRequest: return "invalid request"
        case .other: return "transport error"
        }
    }

    /// Classifies an error thrown by AsyncHTTPClient: its kind, and whether the request may
    /// have been sent. Unknown errors count as "may have been sent" (the safe side).
    static func classify(_ error: any Error) -> (kind: Kind, maybeSent: Bool) {
        if error is CancellationError { return (.cancelled, true) }
        if let e = error as? HTTPClientError {
            switch e {
            case .connectTimeout, .getConnectionFromPoolTimeout, .tlsHandshakeTimeout, .socksHandshakeTimeout,
                .httpProxyHandshakeTimeout:
                return (.connectFailed, false)
            case .invalidURL, .emptyHost, .emptyScheme, .missingSocketPath, .alreadyShutdown:
                return (.invalidRequest, false)
            case .readTimeout, .writeTimeout, .deadlineExceeded:
                return (.timeout, true)
            case .remoteConnectionClosed:
                return (.connectionClosed, true)
            case .cancelled:
                return (.cancelled, true)
            default:
                if String(describing: e).contains("unsupportedScheme") { return (.invalidRequest, false) }
                return (.other, true)
            }
        }
        if let e = error as? ChannelError {
            switch e {
            case .connectTimeout, .connectPending: return (.connectFailed, false)
            case .ioOnClosedChannel, .outputClosed, .inputClosed, .eof, .alreadyClosed: return (.connectionClosed, true)
            default: return (.other, true)
            }
        }
        if let e = error as? IOError {
            switch e.errnoCode {
            case ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL: return (.connectFailed, false)
            case ECONNRESET, EPIPE: return (.connectionClosed, true)
            case ETIMEDOUT: return (.timeout, true)
            default: return (.other, true)
            }
        }
        if error is SocketAddressError { return (.connectFailed, false) }
        // NIOPosix's NIOConnectionError (all connect attempts failed) and DNS errors; matched by
        // name because this module does not import NIOPosix.
        let typeName = String(reflecting: type(of: error))
        if typeName.hasSuffix("NIOConnectionError") || typeName.contains("DNS") || typeName.contains("Resolver") {
            return (.connectFailed, false)
        }
        return (.other, true)
    }

    /// A short, secret-free description of a transport error.
    static func describe(_ error: any Error) -> String {
        if let e = error as? IOError { return e.description }
        return String(describing: error)
    }
}

/// Why `BCClient.execute` produced no response. An HTTP error status is NOT one of these: it
/// comes back as a `BCResponse` so the caller can record it.
public enum BCTransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No HTTP response (see `TransportFailure.outcomeUnknown`).
    case transport(TransportFailure)
    /// No token could be obtained; nothing was sent.
    case auth(AuthError)
    /// The request was not sent because it is malformed (e.g. an unsupported method).
    case invalidRequest(String)

    public var description: String {
        switch self {
        case .transport(let f): return f.description
        case .auth(let e): return e.description
        case .invalidRequest(let m): return m
        }
    }

    /// True when a write may have been committed although no response came back.
    public var outcomeUnknown: Bool {
        if case .transport(let f) = self { return f.outcomeUnknown }
        return false
    }
}
