import BusinessCentral
import Hashing
import Store

/// Follows a collection GET's `@odata.nextLink` to the last page, storing each page's exact body
/// and headers as blobs as it comes (`step_page` rows name them when the step's outcome is
/// committed), and assembles the step's body with `PageAssembly`.
///
/// Every page is a GET, so nothing here can change data: a page that fails ends the step
/// `failed`, never `unknown`. A nextLink is followed only to the host the step was sent to (the
/// bearer token never goes anywhere else), and a link seen before ends the step rather than loop.
struct PageFollower {
    let store: LedgerStore
    let fetch: (BCRequest) async -> Result<BCResponse, BCTransportError>

    /// How following ended.
    enum Ending {
        /// Every page came back 2xx: `response` carries the first page's status and headers and
        /// the assembled body.
        case complete(response: BCResponse, pages: [NewStepPage])
        /// A page came back non-2xx: `response` is that page (its error body).
        case pageFailed(page: Int, response: BCResponse, pages: [NewStepPage])
        /// A page got no answer, or a page could not be followed or assembled: `reason` says why.
        case stopped(reason: String, pages: [NewStepPage])
    }

    /// Follows from `first` (the answer to `request`, already known to be 2xx with a nextLink).
    func follow(_ request: BCRequest, first: BCResponse) async throws(StoreError) -> Ending {
        var pages: [NewStepPage] = []
        var parsed: [JSONValue] = []
        var seen: Set<String> = [request.url]
        var response = first
        var url = request.url
        while true {
            var page = NewStepPage(page: pages.count + 1, url: url)
            page.httpStatus = response.status
            page.requestID = response.requestID
            page.durationMs = response.elapsed.wholeMilliseconds
            let headers = (StepRequest.headersBlob(response.headers), Optional(StepRequest.headersMediaType))
            if response.body.isEmpty {
                page.responseHeaders = try store.put(headers.0, mediaType: headers.1)
            } else {
                let blobs = try store.putAll([(response.body, "application/json"), headers])
                (page.response, page.responseHeaders) = (blobs[0], blobs[1])
            }
            pages.append(page)
            guard response.isSuccess else { return .pageFailed(page: page.page, response: response, pages: pages) }
            guard let body = try? JSONValue(parsing: response.body) else {
                return .stopped(reason: "page \(page.page) is not JSON; the pages cannot be assembled", pages: pages)
            }
            parsed.append(body)
            guard let next = PageAssembly.nextLink(in: body) else { break }
            if let problem = Self.refusal(next: next, from: request.url) {
                return .stopped(reason: "page \(page.page)'s @odata.nextLink \(problem); not followed", pages: pages)
            }
            guard seen.insert(next).inserted else {
                return .stopped(reason: "page \(page.page)'s @odata.nextLink repeats an earlier page's URL (\(next)); not followed, to avoid a loop", pages: pages)
            }
            url = next
            var nextRequest = request
            nextRequest.url = next
            switch await fetch(nextRequest) {
            case .success(let answer): response = answer
            case .failure(let error):
                return .stopped(reason: "page \(page.page + 1) (\(next)) got no answer: \(error)", pages: pages)
            }
        }
        do {
            let assembled = try PageAssembly.encode(try PageAssembly.assemble(parsed))
            let response = BCResponse(status: first.status, headers: first.headers, body: assembled,
                                      attempts: first.attempts, elapsed: first.elapsed, requestHeaders: first.requestHeaders)
            return .complete(response: response, pages: pages)
        } catch {
            return .stopped(reason: "the \(pages.count) pages cannot be assembled: \(error)", pages: pages)
        }
    }

    /// Why `next` may not be followed from a step sent to `origin`, if it may not: it must be an
    /// absolute http(s) URL on the same scheme, host and port.
    static func refusal(next: String, from origin: String) -> String? {
        guard let target = Self.authority(next) else { return "is not an absolute http(s) URL (\(next))" }
        guard let source = Self.authority(origin), source == target else {
            return "points at another host (\(target.scheme)://\(target.host)) than the step was sent to"
        }
        return nil
    }

    /// The scheme and `host[:port]` of an absolute http(s) URL, lowercased.
    static func authority(_ url: String) -> (scheme: String, host: String)? {
        guard let schemeEnd = url.range(of: "://") else { return nil }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        let rest = url[schemeEnd.upperBound...]
        let host = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }.lowercased()
        guard !host.isEmpty, !host.contains("@") else { return nil }
        return (scheme, host)
    }
}
