import AsyncHTTPClient
import Foundation
import Hashing
import Testing
import TestSupport
@testable import Sandbox

private func port(of baseURL: String) -> Int { Int(baseURL.split(separator: ":").last!)! }

private func rawPost(_ h: Harness, path: String, body: String, clientRequestID: String) -> String {
    """
    POST \(path) HTTP/1.1\r
    Host: 127.0.0.1\r
    Authorization: Bearer \(h.token)\r
    Content-Type: application/json\r
    client-request-id: \(clientRequestID)\r
    Content-Length: \(body.utf8.count)\r
    \r
    \(body)
    """
}

@Suite("Faults: throttling, unavailability, commit-then-drop, hold, latency, concurrency limit")
struct FaultTests {
    @Test("throttle:every=3 answers every third API request with 429 and Retry-After")
    func throttleEveryN() async throws {
        let configuration = SandboxConfiguration(faults: [try SandboxFault(parsing: "throttle:every=3,retry-after=7")])
        try await Harness.with(configuration) { h in
            var statuses: [Int] = []
            var retryAfter: String?
            for _ in 0..<6 {
                let response = try await h.get("customers")
                statuses.append(response.status)
                if response.status == 429 {
                    retryAfter = response.header("Retry-After")
                    #expect(response.errorCode == "Application_TooManyRequests")
                }
            }
            #expect(statuses == [200, 200, 429, 200, 200, 429])
            #expect(retryAfter == "7")
            // admin endpoints and the token endpoint are never throttled
            #expect(try await h.fetchToken().isEmpty == false)
        }
    }

    @Test("unavailable: every=N, a seeded rate repeats exactly, request-id and times filters")
    func unavailable() async throws {
        try await Harness.with { h in
            _ = try await h.setFaults(["unavailable:request-id=flaky,times=2,retry-after=1"])
            #expect(try await h.get("customers").status == 200)
            let first = try await h.get("customers", headers: ["client-request-id": "flaky"])
            #expect(first.status == 503)
            #expect(first.header("Retry-After") == "1")
            #expect(try await h.get("customers", headers: ["client-request-id": "flaky"]).status == 503)
            #expect(try await h.get("customers", headers: ["client-request-id": "flaky"]).status == 200)  // times=2 spent

            func run() async throws -> [Int] {
                _ = try await h.setFaults(["unavailable:rate=0.5,seed=42"])
                var statuses: [Int] = []
                for _ in 0..<16 { statuses.append(try await h.get("customers").status) }
                return statuses
            }
            let a = try await run(), b = try await run()
            #expect(a == b)
            #expect(a.contains(503) && a.contains(200))
        }
    }

    @Test("drop commits and journals the write, then closes the connection with zero response bytes")
    func commitThenDropRawSocket() async throws {
        try await Harness.with { h in
            _ = try await h.setFaults(["drop:request-id=crash-me"])
            let path = "/v2.0/sandbox/production/api/v2.0/companies(\(SandboxDefaults.companyID))/customers"
            let outcome = try await RawSocket.exchange(
                port: port(of: h.baseURL),
                request: rawPost(h, path: path, body: #"{"displayName":"Ghost"}"#, clientRequestID: "crash-me"))
            #expect(outcome.closedByPeer)
            #expect(outcome.bytes.isEmpty, "got: \(String(decoding: outcome.bytes, as: UTF8.self))")
            let journal = try await h.journal()
            #expect(journal.count == 1)
            #expect(journal.first?["client_request_id"] == "crash-me")
            let id = try #require(journal.first?["entity_id"]?.stringValue)
            let fetched = try await h.get("customers(\(id))")
            #expect(fetched.json["displayName"] == "Ghost")
            #expect(fetched.json.etag == journal.first?["etag_after"]?.stringValue)
            // the next write with another id is answered normally
            #expect(try await h.send(.POST, h.url("customers"), json: ["displayName": "ok"]).status == 201)
        }
    }

    @Test("drop:nth=2 drops the second committed write only; the HTTP client sees an error, the journal the write")
    func commitThenDropNthWithHTTPClient() async throws {
        let configuration = SandboxConfiguration(faults: [try SandboxFault(parsing: "drop:nth=2")])
        try await Harness.with(configuration) { h in
            let first = try await h.create("customers", ["displayName": "one"])
            _ = try await h.get("customers")  // reads do not count
            do {
                let response = try await h.send(.PATCH, h.url("customers(\(first.id!))"), json: ["displayName": "two"],
                                                headers: ["If-Match": first.etag!])
                Issue.record("expected the connection to drop, got HTTP \(response.status)")
            } catch {
                #expect(error is HTTPClientError, "\(error)")
            }
            let journal = try await h.journal()
            #expect(journal.map { $0["method"] } == ["POST", "PATCH"])
            #expect(try await h.get("customers(\(first.id!))").json["displayName"] == "two")
            // third write: answered
            #expect(try await h.send(.POST, h.url("customers"), json: ["displayName": "three"]).status == 201)
            let state = try await h.faultState()
            #expect(state["faults"]?.arrayValue?.first?["fired"] == 1)
        }
    }

    @Test("a failed write (409) is not committed, so drop does not fire and the client gets its answer")
    func dropOnlyAfterCommit() async throws {
        try await Harness.with { h in
            let created = try await h.create("customers", ["displayName": "x"])
            _ = try await h.setFaults(["drop:method=PATCH"])
            let stale = try await h.send(.PATCH, h.url("customers(\(created.id!))"), json: ["displayName": "y"],
                                         headers: ["If-Match": "W/\"JzE7MTswMDsn\""])
            #expect(stale.status == 409)
            #expect(try await h.journal().count == 1)
        }
    }

    @Test("hold keeps a request in flight until released; limit:concurrent=1,queue=0 then answers 429")
    func holdAndConcurrencyLimit() async throws {
        try await Harness.with { h in
            _ = try await h.setFaults(["limit:concurrent=1,queue=0", "hold:request-id=slow"])
            let slow = Task { try await h.get("customers", headers: ["client-request-id": "slow"]) }
            // wait (no timing) until the held request occupies the client's only slot
            while try await h.faultState()["held"] != 1 { await Task.yield() }
            #expect(try await h.faultState()["in_flight"]?[SandboxDefaults.clientID] == 1)
            let rejected = try await h.get("customers")
            #expect(rejected.status == 429)
            #expect(rejected.header("Retry-After") != nil)
            #expect(rejected.errorCode == "Application_TooManyRequests")
            let released = try await h.send(.POST, "\(h.baseURL)/_sandbox/release", auth: false)
            #expect(released.json["released"] == 1)
            #expect(try await slow.value.status == 200)
            #expect(try await h.get("customers").status == 200)
        }
    }

    @Test("a queued request waits for the running one and then succeeds")
    func queueing() async throws {
        try await Harness.with { h in
            _ = try await h.setFaults(["limit:concurrent=1,queue=1", "hold:request-id=first"])
            let first = Task { try await h.get("customers", headers: ["client-request-id": "first"]) }
            while try await h.faultState()["held"] != 1 { await Task.yield() }
            let second = Task { try await h.get("customers", headers: ["client-request-id": "second"]) }
            while try await h.faultState()["queued"]?[SandboxDefaults.clientID] != 1 { await Task.yield() }
            #expect(try await h.get("customers").status == 429)  // running 1 + queued 1: full
            _ = try await h.send(.POST, "\(h.baseURL)/_sandbox/release", auth: false)
            #expect(try await first.value.status == 200)
            #expect(try await second.value.status == 200)
        }
    }

    @Test("latency faults and --latency delay requests without changing answers")
    func latency() async throws {
        var configuration = SandboxConfiguration(faults: [try SandboxFault(parsing: "latency:ms=5,method=POST")])
        configuration.latency = try SandboxLatency(parsing: "1-3@9")
        try await Harness.with(configuration) { h in
            #expect(try await h.get("customers").status == 200)
            #expect(try await h.send(.POST, h.url("customers"), json: [:]).status == 201)
            let state = try await h.faultState()
            #expect(state["latency"] == "1-3@9")
            #expect(state["faults"]?.arrayValue?.first?["fired"] == 1)
        }
    }

    @Test("the admin endpoint shows, replaces and clears faults; bad specs are 400")
    func adminEndpoint() async throws {
        try await Harness.with { h in
            let set = try await h.setFaults(["throttle:every=2", "unavailable:nth=5"], latency: "10")
            #expect(set.status == 200)
            #expect(set.json["faults"]?.arrayValue?.compactMap { $0["spec"]?.stringValue } == ["throttle:every=2", "unavailable:nth=5"])
            #expect(set.json["format_version"] == 1)
            let put = try await h.send(.PUT, "\(h.baseURL)/_sandbox/faults", json: ["faults": ["drop:nth=1"]], auth: false)
            #expect(put.json["faults"]?.arrayValue?.count == 1)
            #expect(put.json["latency"] == .null)
            let cleared = try await h.send(.DELETE, "\(h.baseURL)/_sandbox/faults", auth: false)
            #expect(cleared.json["faults"] == [])
            for bad in ["explode", "throttle:every=0", "throttle:sometimes", "unavailable:rate=2", "drop:every=2,nth=3", "latency"] {
                let response = try await h.setFaults([bad])
                #expect(response.status == 400, "\(bad)")
                #expect(response.errorCode == "BadRequest")
            }
            #expect(try await h.send(.POST, "\(h.baseURL)/_sandbox/faults", rawBody: Array("nope".utf8), auth: false).status == 400)
        }
    }

    @Test("fault specs parse and print canonically")
    func specParsing() throws {
        for spec in ["throttle:every=3,retry-after=2", "unavailable:rate=0.25,seed=7", "drop:nth=4,method=write",
                     "drop:request-id=step-9", "hold:request-id=x", "limit:concurrent=5,queue=95", "latency:min=1,max=9"]
        {
            let fault = try SandboxFault(parsing: spec)
            #expect(try SandboxFault(parsing: fault.description) == fault, "\(spec)")
        }
        #expect(try SandboxFault(parsing: "limit").concurrent == 5)
        #expect(try SandboxLatency(parsing: "200") == .fixed(milliseconds: 200))
        #expect(try SandboxLatency(parsing: "5-10") == .random(min: 5, max: 10, seed: 0))
        #expect(throws: SandboxConfigurationError.invalidLatency("10-5")) { try SandboxLatency(parsing: "10-5") }
    }
}
