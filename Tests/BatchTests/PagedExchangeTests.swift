import BusinessCentral
import Foundation
import Hashing
import Store
import Testing
import TestSupport

@testable import Batch

/// A GET with `all: true` through `RecordedExchange` against a stub transport and a real store:
/// each page's exact bytes are blobs named by `step_page` rows, the step names the assembled
/// body, and a page that fails or cannot be followed ends the step `failed` with the pages it got.
@Suite struct PagedExchangeTests {
    static let base = "https://bc.example/v2.0/t/production/api/v2.0/companies(c-1)/customers"
    static let page2 = base + "?$skiptoken=2"
    static let page3 = base + "?$skiptoken=4"

    static func page(_ ids: [Int], next: String?) -> String {
        let items = ids.map { #"{"id":"\#($0)","number":"C\#($0)"}"# }.joined(separator: ",")
        let link = next.map { #","@odata.nextLink":"\#($0)""# } ?? ""
        return #"{"@odata.context":"ctx","value":[\#(items)]\#(link)}"#
    }

    static func start(_ world: StubWorld) throws -> (StepIntent, BCRequest) {
        let row = NewRun(toolVersion: "t")
        try world.store.ledger.startRun(row)
        let intent = StepIntent(runID: row.id, seq: 1, name: "list", method: .http(.get), url: base)
        let request = BCRequest(method: .get, url: base, clientRequestID: intent.clientRequestID,
                                extraHeaders: [StepRequest.maxPageSize(2)])
        return (intent, request)
    }

    @Test func everyPageIsABlobAndTheStepNamesTheAssembledBody() async throws {
        let world = try StubWorld()
        let (intent, request) = try Self.start(world)
        let bodies = [Self.page([1, 2], next: Self.page2), Self.page([3, 4], next: Self.page3), Self.page([5], next: nil)]
        let stub = StubTransport(bodies.map { StubTransport.json(200, $0) })
        let ending = try await RecordedExchange(store: world.store, transport: stub).send(intent, request, followPages: true)
        guard case .answered(let stepID, let response, let outcome) = ending else { Issue.record("\(ending)"); return }
        #expect(outcome.status == .committed)
        // The transport saw the three URLs, each with the page-size preference.
        #expect(stub.requests.map(\.url) == [Self.base, Self.page2, Self.page3])
        #expect(stub.requests.allSatisfy { $0.recordedHeaders.first(named: "Prefer") == "odata.maxpagesize=2" })
        let step = try #require(try world.store.ledger.step(id: stepID))
        #expect(step.pages.map(\.page) == [1, 2, 3])
        #expect(step.pages.map(\.url) == [Self.base, Self.page2, Self.page3])
        #expect(step.pages.map(\.httpStatus) == [200, 200, 200])
        for (page, body) in zip(step.pages, bodies) {
            #expect(try world.blob(page.responseDigest) == Array(body.utf8))
            #expect(page.responseHeadersDigest != nil)
        }
        let assembled = try JSONValue(parsing: try world.blob(step.responseDigest))
        #expect(assembled["value"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["1", "2", "3", "4", "5"])
        #expect(assembled["@odata.nextLink"] == nil)
        #expect(assembled["@odata.context"]?.stringValue == "ctx")
        #expect(try world.blob(step.responseDigest) == (try PageAssembly.assemble(bytes: bodies.map { Array($0.utf8) })))
        #expect(response.body == (try world.blob(step.responseDigest)))
        // The page blobs are named by the step, so verify and gc see them.
        #expect(step.digests.map(\.role).contains("page_3_response"))
    }

    @Test func aFailedPageFailsTheStepWithThatPagesAnswer() async throws {
        let world = try StubWorld()
        let (intent, request) = try Self.start(world)
        let error = #"{"error":{"code":"Internal_ServerError","message":"boom"}}"#
        let stub = StubTransport([StubTransport.json(200, Self.page([1, 2], next: Self.page2)), StubTransport.json(500, error)])
        let ending = try await RecordedExchange(store: world.store, transport: stub).send(intent, request, followPages: true)
        guard case .answered(let stepID, let response, let outcome) = ending else { Issue.record("\(ending)"); return }
        #expect(response.status == 500)
        #expect(outcome.status == .failed)
        let step = try #require(try world.store.ledger.step(id: stepID))
        #expect(step.status == .failed)
        #expect(step.httpStatus == 500)
        #expect(step.bcErrorCode == "Internal_ServerError")
        #expect(step.errorMessage?.hasPrefix("page 2 of 2 answered 500") == true)
        #expect(step.pages.map(\.httpStatus) == [200, 500])
        #expect(try world.blob(step.responseDigest) == Array(error.utf8))
    }

    @Test func aPageWithNoAnswerFailsTheStepAndKeepsThePagesBefore() async throws {
        let world = try StubWorld()
        let (intent, request) = try Self.start(world)
        let stub = StubTransport([StubTransport.json(200, Self.page([1, 2], next: Self.page2)),
                                  StubTransport.noAnswer(.GET, url: Self.page2, maybeSent: true)])
        let ending = try await RecordedExchange(store: world.store, transport: stub).send(intent, request, followPages: true)
        // A read that got no answer changed nothing: failed, never unknown.
        guard case .failed(let stepID, let reason) = ending else { Issue.record("\(ending)"); return }
        #expect(reason.hasPrefix("page 2 ("))
        let step = try #require(try world.store.ledger.step(id: stepID))
        #expect(step.status == .failed)
        #expect(step.errorMessage == reason)
        #expect(step.pages.map(\.page) == [1])
        #expect(step.responseDigest == nil)
    }

    @Test(arguments: [
        ("https://evil.example/v2.0/customers?$skiptoken=2", "points at another host"),
        ("http://bc.example/v2.0/customers?$skiptoken=2", "points at another host"),
        ("/v2.0/customers?$skiptoken=2", "is not an absolute http(s) URL"),
        (PagedExchangeTests.base, "repeats an earlier page's URL"),
    ])
    func aNextLinkThatMayNotBeFollowedIsNot(next: String, why: String) async throws {
        let world = try StubWorld()
        let (intent, request) = try Self.start(world)
        let stub = StubTransport([StubTransport.json(200, Self.page([1, 2], next: next))])
        let ending = try await RecordedExchange(store: world.store, transport: stub).send(intent, request, followPages: true)
        guard case .failed(let stepID, let reason) = ending else { Issue.record("\(ending)"); return }
        #expect(reason.contains(why), "\(reason)")
        #expect(stub.requests.count == 1)
        let step = try #require(try world.store.ledger.step(id: stepID))
        #expect(step.status == .failed)
        #expect(step.pages.count == 1)
    }

    @Test func aPageThatIsNotACollectionPageFailsTheStep() async throws {
        let world = try StubWorld()
        let (intent, request) = try Self.start(world)
        let stub = StubTransport([StubTransport.json(200, Self.page([1], next: Self.page2)), StubTransport.json(200, #"{"id":"x"}"#)])
        let ending = try await RecordedExchange(store: world.store, transport: stub).send(intent, request, followPages: true)
        guard case .failed(_, let reason) = ending else { Issue.record("\(ending)"); return }
        #expect(reason.contains("page 2 has no 'value' array"), "\(reason)")
    }

    @Test func withoutFollowPagesTheFirstPageIsTheAnswer() async throws {
        let world = try StubWorld()
        let (intent, request) = try Self.start(world)
        let first = Self.page([1, 2], next: Self.page2)
        let stub = StubTransport([StubTransport.json(200, first)])
        let ending = try await RecordedExchange(store: world.store, transport: stub).send(intent, request)
        guard case .answered(let stepID, _, let outcome) = ending else { Issue.record("\(ending)"); return }
        #expect(outcome.status == .committed)
        #expect(stub.requests.count == 1)
        let step = try #require(try world.store.ledger.step(id: stepID))
        #expect(step.pages.isEmpty)
        #expect(try world.blob(step.responseDigest) == Array(first.utf8))
    }
}
