/// What sends a `BCRequest` and hands back Business Central's answer: the seam between the
/// transport and whatever records the exchange. `BCClient` is the one real transport (headers,
/// token, retries, AsyncHTTPClient); tests of the runner and rollback use a stub that returns
/// scripted answers and errors.
///
/// The contract is `BCClient.execute`'s: any HTTP status is an answer (`BCResponse`), and a
/// thrown `BCTransportError` means no answer came — with `outcomeUnknown` telling a write that
/// may have landed from one that provably did not.
public protocol BCTransport: Sendable {
    func execute(_ request: BCRequest) async throws(BCTransportError) -> BCResponse
}
