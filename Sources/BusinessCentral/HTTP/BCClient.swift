import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Sends `BCRequest`s to Business Central: adds the standard headers and the bearer token,
/// retries what `RetryPolicy` allows, and returns every response raw (an HTTP error status is a
/// response, not a thrown error).
///
/// Why a class with an injectable `HTTPClient`: one connection pool should serve a whole batch
/// (and the token requests), and tests can run it against a server on 127.0.0.1.
///
/// Every attempt goes through one `RateLimiter` (`limiter`), shared by every task that calls
/// `execute` on this client: a 429 or 503 pauses all of them, and the profile's `RateLimit`
/// (BC's per-user window and concurrency) holds for all of them together. Build one client per
/// profile per process and share it.
public final class BCClient: BCTransport, Sendable {
    /// Methods `execute` accepts.
    public static let supportedMethods: [HTTPMethod] = [.GET, .POST, .PATCH, .PUT, .DELETE, .HEAD]
    /// Responses larger than this are refused (BC's own limit is 350 MB).
    public static let maxResponseBytes = 512 * 1024 * 1024

    public let profile: Profile
    public let tokens: any BearerTokenSource
    public let retry: RetryPolicy
    public let httpClient: HTTPClient
    /// The gate every attempt of every task passes (one per client).
    public let limiter: RateLimiter
    private let ownsHTTPClient: Bool
    private let random: @Sendable () -> Double

    /// - Parameters:
    ///   - httpClient: a shared client (the caller shuts it down), or nil to create one with
    ///     `makeHTTPClient()` that `shutdown()` closes.
    ///   - random: jitter source in 0..<1, injectable for tests.
    ///   - limiter: the rate limiter to share (tests, bench); nil for a new one from
    ///     `profile.rateLimit`.
    public convenience init(
        profile: Profile,
        tokens: any BearerTokenSource,
        httpClient: HTTPClient? = nil,
        retry: RetryPolicy = .default,
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        limiter: RateLimiter? = nil
    ) {
        self.init(
            profile: profile, tokens: tokens, httpClient: httpClient ?? Self.makeHTTPClient(),
            owns: httpClient == nil, retry: retry, random: random, limiter: limiter)
    }

    /// A client with its own HTTP client and a `TokenProvider` reading `environment`
    /// (`BCLI_TOKEN`, secrets) and caching tokens as `tokenCache` says.
    public convenience init(
        profile: Profile,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        tokenCache: TokenCacheLocation = .standard,
        retry: RetryPolicy = .default,
        limiter: RateLimiter? = nil
    ) {
        let http = Self.makeHTTPClient()
        let file: String?
        switch tokenCache {
        case .standard: file = ConfigPaths.tokenCacheFile(environment: environment)
        case .file(let path): file = path
        case .memoryOnly: file = nil
        }
        let tokens = TokenProvider(profile: profile, environment: environment, cacheFile: file, httpClient: http)
        self.init(
            profile: profile, tokens: tokens, httpClient: http, owns: true, retry: retry,
            random: { Double.random(in: 0..<1) }, limiter: limiter)
    }

    private init(
        profile: Profile, tokens: any BearerTokenSource, httpClient: HTTPClient, owns: Bool, retry: RetryPolicy,
        random: @escaping @Sendable () -> Double, limiter: RateLimiter?
    ) {
        self.limiter = limiter ?? RateLimiter(profile.rateLimit)
        self.profile = profile
        self.tokens = tokens
        self.retry = retry
        self.httpClient = httpClient
        self.ownsHTTPClient = owns
        self.random = random
    }

    /// The HTTP client configuration bcli needs: no redirects (a bearer token must not follow a
    /// redirect, and the URL recorded must be the URL used), no decompression (bodies stay raw),
    /// and connection failures reported at once so `RetryPolicy` — not the pool — decides.
    public static func makeHTTPClient(connectTimeout: Duration = .seconds(10)) -> HTTPClient {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(Int64(RetryPolicy.seconds(connectTimeout) * 1000))),
            decompression: .disabled)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// Shuts down the HTTP client if this instance created it.
    public func shutdown() async {
        if ownsHTTPClient {
            try? await httpClient.shutdown()
        }
    }

    /// Sends `request`, retrying as `retry` allows, and returns the final response — whatever its
    /// status. A 401 is retried once with a fresh token (BC did not process the request).
    public func execute(_ request: BCRequest) async throws(BCTransportError) -> BCResponse {
        guard Self.supportedMethods.contains(request.method) else {
            throw .invalidRequest("unsupported HTTP method `\(request.method.rawValue)`; use GET, POST, PATCH or DELETE")
        }
        if let problem = Self.urlProblem(request.url) {
            throw .invalidRequest(problem)
        }
        let clock = ContinuousClock()
        let start = clock.now
        var attempt = 0
        var policyAttempt = 0
        var refreshedAfter401 = false
        // What a cancellation while waiting for the limiter means: nothing of this attempt left.
        var waiting = TransportFailure(
            kind: .cancelled, method: request.method, url: request.url,
            reason: "cancelled before the request was sent", requestMaybeSent: false, attempts: 0)

        while true {
            let permit: RateLimiter.Permit
            do {
                permit = try await limiter.acquire()
            } catch {
                throw .transport(waiting)
            }
            attempt += 1
            policyAttempt += 1
            let token: String
            do {
                token = try await tokens.token()
            } catch {
                await limiter.release(permit, sent: false)
                throw .auth(error)
            }

            let headers = request.headerFields(token: token)
            var httpRequest = HTTPClientRequest(url: request.url)
            httpRequest.method = request.method
            for header in headers {
                httpRequest.headers.add(name: header.name, value: header.value)
            }
            if let body = request.body {
                httpRequest.body = .bytes(ByteBuffer(bytes: body))
            }

            let status: Int
            let responseHeaders: [BCHeader]
            let responseBody: [UInt8]
            do {
                let response = try await httpClient.execute(httpRequest, timeout: timeout)
                status = Int(response.status.code)
                responseHeaders = response.headers.map { BCHeader(name: $0.name, value: $0.value) }
                let buffer = try await response.body.collect(upTo: Self.maxResponseBytes)
                responseBody = Array(buffer.readableBytesView)
                await limiter.release(permit, sent: true)
            } catch {
                var (kind, maybeSent) = TransportFailure.classify(error)
                await limiter.release(permit, sent: maybeSent)
                if Task.isCancelled { kind = .cancelled }
                let decision = retry.decision(
                    afterFailure: kind, requestMaybeSent: maybeSent, write: request.isWrite,
                    attempt: policyAttempt, random: random())
                let failure = TransportFailure(
                    kind: kind, method: request.method, url: request.url,
                    reason: TransportFailure.describe(error), requestMaybeSent: maybeSent, attempts: attempt)
                guard case .retry(let wait) = decision else { throw .transport(failure) }
                try await pause(wait, failure: failure)
                waiting = failure
                waiting.kind = .cancelled
                continue
            }

            if status == 401, !refreshedAfter401, await tokens.invalidate(token) {
                refreshedAfter401 = true
                policyAttempt -= 1  // a token refresh does not use up a retry
                waiting = TransportFailure(
                    kind: .cancelled, method: request.method, url: request.url,
                    reason: "cancelled before re-sending after a token refresh (HTTP 401: nothing was processed)",
                    requestMaybeSent: false, attempts: attempt)
                continue
            }

            let retryAfter = responseHeaders.first(named: "Retry-After")
            let jitter = random()
            let decision = retry.decision(
                afterStatus: status, retryAfter: retryAfter, write: request.isWrite, attempt: policyAttempt, random: jitter)
            // A 429 or 503 holds every worker of this client, not only this request (no storm).
            if let wait = retry.throttlePause(
                afterStatus: status, retryAfter: retryAfter, decision: decision, attempt: policyAttempt, random: jitter)
            {
                await limiter.pause(for: wait)
            }
            if case .retry(let wait) = decision {
                let failure = TransportFailure(
                    kind: .cancelled, method: request.method, url: request.url,
                    reason: "cancelled while waiting to retry after HTTP \(status)", requestMaybeSent: false, attempts: attempt)
                // A throttle status waits in the limiter's pause, at the next `acquire()`.
                if !RetryPolicy.throttleStatuses.contains(status) {
                    try await pause(wait, failure: failure)
                }
                waiting = failure
                continue
            }

            return BCResponse(
                status: status, headers: responseHeaders, body: responseBody, attempts: attempt,
                elapsed: clock.now - start, requestHeaders: headers.withoutAuthorization)
        }
    }

    private var timeout: TimeAmount {
        .milliseconds(Int64((max(profile.timeoutSeconds, 0.001) * 1000).rounded()))
    }

    private func pause(_ wait: Duration, failure: TransportFailure) async throws(BCTransportError) {
        do {
            try await Task.sleep(for: wait)
        } catch {
            var cancelled = failure
            cancelled.kind = .cancelled
            throw .transport(cancelled)
        }
    }

    /// Only absolute http(s) URLs; plain http only to a loopback host, so a bearer token never
    /// crosses a network in clear.
    static func urlProblem(_ url: String) -> String? {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty
        else {
            return "`\(url)` is not an absolute URL; build it with URLBuilder"
        }
        guard scheme == "https" || (scheme == "http" && BaseURL.isLoopback(host)) else {
            return "`\(url)`: only https URLs (or http to 127.0.0.1/localhost) may carry a bearer token"
        }
        return nil
    }
}

/// Where `BCClient`'s own `TokenProvider` keeps tokens.
public enum TokenCacheLocation: Sendable, Equatable {
    /// `$XDG_CACHE_HOME/bcli/tokens.json`, else `~/.cache/bcli/tokens.json`.
    case standard
    case file(String)
    /// Nothing written to disk.
    case memoryOnly
}
