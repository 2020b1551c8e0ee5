import ArgumentParser
import Hashing
import Hub
import Store

/// `bcli batch show RUN`: the exact stored bytes of a run's manifest or of one step's request,
/// response, headers or pre-image — verified against their digest before they are printed.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print the exact stored bytes of a run's manifest or a step's bodies and headers.",
        discussion: """
            Without --step: the manifest bytes. With --step N|NAME and no other flag: the step's row as JSON \
            (digests, status, client_request_id and correlation ids). --request / --response / --pre-image: that \
            body. --headers: the request headers (with --response, the response headers). --pretty re-indents JSON; \
            without it the bytes are exactly what was sent or received. A get with all: true that read several \
            pages records the assembled body as its response; --response --page K prints page K exactly as \
            received (with --headers, its headers).

            Examples:
              The manifest bytes the run ran:
                bcli batch show 01a2b3c4
              Step 3's row as JSON (digests, status, correlation ids):
                bcli batch show 01a2b3c4 --step 3
              The response a step got, re-indented:
                bcli batch show 01a2b3c4 --step create_alpine --response --pretty
              The request body step 3 sent, read from the hub behind the remote origin:
                bcli batch show 01a2b3c4 --step 3 --request --remote origin
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @OptionGroup var remoteOption: RemoteReadOption

    @Argument(help: ArgumentHelp("Run id or unique prefix.", valueName: "run"))
    var runID: String

    @Option(help: ArgumentHelp("Step number (seq) or name.", valueName: "N|NAME"))
    var step: String?

    @Flag(help: "The request body.")
    var request = false

    @Flag(help: "The response body.")
    var response = false

    @Flag(name: .customLong("pre-image"), help: "The record as it was before a PATCH or DELETE.")
    var preImage = false

    @Flag(help: "Headers instead of the body (request headers unless --response).")
    var headers = false

    @Option(help: ArgumentHelp("With --response: page K of a get that followed @odata.nextLink, as received.", valueName: "K"))
    var page: Int?

    @Flag(help: "Pretty-print JSON (not the stored bytes).")
    var pretty = false

    func validate() throws {
        try remoteOption.validate(with: storeOptions)
        if [request, response, preImage].filter({ $0 }).count > 1 {
            throw ValidationError("choose one of --request, --response, --pre-image")
        }
        if step == nil && (request || response || preImage || headers) {
            throw ValidationError("--request, --response, --pre-image and --headers need --step N|NAME")
        }
        if preImage && headers { throw ValidationError("a pre-image has no stored headers; drop --headers") }
        if let page {
            guard response else { throw ValidationError("--page K needs --response (pages are responses)") }
            guard page >= 1 else { throw ValidationError("--page must be 1 or more, got \(page)") }
        }
    }

    func run() async throws {
        guard let remote = remoteOption.remote else { return try show(runID, in: try storeOptions.openExisting()) }
        let (view, ids) = try await HubRemotes.view(remote, runs: [runID], followers: .reconciles)
        defer { view.close() }
        try show(ids[0], in: view.store)
    }

    func show(_ runID: String, in store: LedgerStore) throws {
        do {
            let run = try store.run(runID)
            guard let step else {
                guard let manifest = run.manifestDigest else {
                    throw CLIFailure(.notFound, "run \(run.id) recorded no manifest")
                }
                try emit(store.objects.get(manifest))
                return
            }
            let steps = try store.ledger.steps(runID: run.id)
            let found = Int(step).flatMap { n in steps.first { $0.seq == n } } ?? steps.first { $0.name == step }
            guard let s = found else {
                throw CLIFailure(.notFound, "run \(run.id) has no step '\(step)'; it has steps 1–\(steps.count): \(steps.prefix(8).map(\.name).joined(separator: ", "))\(steps.count > 8 ? ", …" : "")")
            }
            let label = "step \(s.seq) (\(s.name), \(s.method))"
            let choice: (Digest?, String)
            if let page {
                guard !s.pages.isEmpty else {
                    throw CLIFailure(.notFound, "\(label) recorded no pages (it read one page: drop --page; only a get with all: true that followed @odata.nextLink has pages)")
                }
                guard let p = s.pages.first(where: { $0.page == page }) else {
                    throw CLIFailure(.notFound, "\(label) has pages 1–\(s.pages.count), not \(page)")
                }
                let (digest, what) = headers ? (p.responseHeadersDigest, "headers") : (p.responseDigest, "body")
                guard let digest else { throw CLIFailure(.notFound, "page \(page) of \(label) has no \(what) (HTTP \(p.httpStatus.map(String.init) ?? "none"))") }
                try emit(store.objects.get(digest))
                return
            }
            switch (request, response, preImage, headers) {
            case (_, true, _, true): choice = (s.responseHeadersDigest, "no response headers (no response was recorded)")
            case (_, _, _, true): choice = (s.requestHeadersDigest, "no request headers (no request was sent)")
            case (true, _, _, _): choice = (s.requestDigest, s.method == .get || s.method == .delete ? "no request body (a \(s.method) sends none); try --response or --headers" : "no request body (none was sent)")
            case (_, true, _, _): choice = (s.responseDigest, "no response body (status \(s.statusName)\(s.httpStatus.map { ", HTTP \($0)" } ?? ""))")
            case (_, _, true, _): choice = (s.preImageDigest, "no pre-image (only a PATCH or DELETE keeps one)")
            default:
                StepRowReport(runID: run.id, row: RunRecordDocument.stepJSON(s)).printJSON()
                return
            }
            guard let digest = choice.0 else { throw CLIFailure(.notFound, "\(label) has \(choice.1)") }
            try emit(store.objects.get(digest))
        } catch let failure as CLIFailure {
            throw failure
        } catch let error as StoreError {
            throw CLIFailure(error.exitStatus, error.description)
        }
    }

    func emit(_ bytes: [UInt8]) throws {
        guard pretty else { Terminal.writeStdout(bytes); return }
        do {
            Terminal.line(try JSONValue(parsing: bytes).prettyPrinted())
        } catch {
            throw CLIFailure(.invalidInput, "the stored bytes are not JSON (\(error)); drop --pretty to print them as they are")
        }
    }
}
