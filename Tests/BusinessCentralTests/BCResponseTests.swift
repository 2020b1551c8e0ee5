import Testing
import TestSupport

@testable import BusinessCentral

@Suite struct BCResponseTests {
    @Test func parsesBCErrorBodyAndCorrelationID() throws {
        let body = #"{"error":{"code":"BadRequest_InvalidToken","message":"Could not validate the client concurrency token required by the service.  CorrelationId:  2c074c12-9b9f-4a57-9c4a-4f3d4e0c1a2b."}}"#
        let response = BCResponse(
            status: 400,
            headers: [BCHeader(name: "Content-Type", value: "application/json"), BCHeader(name: "request-id", value: "r-1")],
            body: Array(body.utf8))
        let error = try #require(response.bcError)
        #expect(error.code == "BadRequest_InvalidToken")
        #expect(error.message.hasPrefix("Could not validate"))
        #expect(error.correlationID == "2c074c12-9b9f-4a57-9c4a-4f3d4e0c1a2b")
        #expect(response.correlationID == "2c074c12-9b9f-4a57-9c4a-4f3d4e0c1a2b")
        #expect(response.requestID == "r-1")
        #expect(response.body == Array(body.utf8))  // raw, untouched
    }

    @Test(arguments: [
        ("Another user has already changed the record. CorrelationId: 0a1b2c3d-0000-1111-2222-333344445555", "0a1b2c3d-0000-1111-2222-333344445555"),
        ("x correlationid:abc-123", "abc-123"),
        ("Correlation ID: 9f9f9f9f-aaaa-bbbb-cccc-dddddddddddd.", "9f9f9f9f-aaaa-bbbb-cccc-dddddddddddd"),
        ("no id here", nil),
        ("CorrelationId:   ", nil),
    ] as [(String, String?)])
    func correlationIDExtraction(message: String, expected: String?) {
        #expect(BCErrorBody.correlationID(in: message) == expected)
    }

    @Test func nonBCErrorBodiesAreNotParsed() {
        #expect(BCErrorBody.parse(Array("<html>502</html>".utf8)) == nil)
        #expect(BCErrorBody.parse(Array(#"{"error":"invalid_client"}"#.utf8)) == nil)
        #expect(BCErrorBody.parse([]) == nil)
        #expect(BCResponse(status: 502, headers: [], body: Array("Bad gateway".utf8)).bcError == nil)
    }

    @Test func etagFromHeaderOrBody() {
        let withHeader = BCResponse(
            status: 200, headers: [BCHeader(name: "etag", value: "W/\"JzQ0OzE7MDsn\"")],
            body: Array(#"{"@odata.etag":"W/\"other\""}"#.utf8))
        #expect(withHeader.etag == "W/\"JzQ0OzE7MDsn\"")

        let fromBody = BCResponse(status: 201, headers: [], body: Array(#"  {"@odata.etag":"W/\"JzE7\"","id":"x"}"#.utf8))
        #expect(fromBody.etag == "W/\"JzE7\"")

        let list = BCResponse(status: 200, headers: [], body: Array(#"{"value":[{"@odata.etag":"W/\"a\""}]}"#.utf8))
        #expect(list.etag == nil)
        #expect(BCResponse(status: 204, headers: [], body: []).etag == nil)
    }

    @Test func correlationHeadersAndPreference() {
        let headers = [
            BCHeader(name: "ms-correlation-x", value: "mcx"),
            BCHeader(name: "Request-Id", value: "rid"),
            BCHeader(name: "x-ms-correlation-request-id", value: "xcr"),
        ]
        let r = BCResponse(status: 200, headers: headers, body: [])
        #expect(r.msCorrelationX == "mcx")
        #expect(r.requestID == "rid")
        #expect(r.correlationRequestID == "xcr")
        #expect(r.correlationID == "xcr")
        #expect(r.header("REQUEST-ID") == "rid")
        #expect(r.headers == headers)  // order and case kept
    }

    @Test func recordedRequestHeadersNeverContainAuthorization() {
        let request = BCRequest(
            method: "PATCH", url: "https://x", body: Array("{}".utf8), ifMatch: "W/\"1\"", clientRequestID: "step-1",
            idempotencyKey: "k", extraHeaders: [BCHeader(name: "authorization", value: "Bearer sneaky"), BCHeader(name: "Prefer", value: "return=representation")])
        let sent = request.headerFields(token: "secret-token")
        #expect(sent.map(\.name) == ["Accept", "OData-Version", "Content-Type", "If-Match", "client-request-id", "Idempotency-Key", "Prefer", "Authorization"])
        #expect(sent.last?.value == "Bearer secret-token")
        #expect(!sent.contains { $0.value.contains("sneaky") })
        let recorded = request.recordedHeaders
        #expect(!recorded.contains { $0.name.lowercased() == "authorization" })
        #expect(recorded == sent.withoutAuthorization)
        #expect(BCRequest(method: "GET", url: "u").recordedHeaders.map(\.name) == ["Accept", "OData-Version"])
    }
}
