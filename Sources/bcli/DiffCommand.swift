import ArgumentParser
import Batch
import Foundation
import Hashing
import Hub
import Store

/// `bcli batch diff A B`: what changed between two runs, or between a run and a manifest file
/// as it would run now. Exit 0 identical, 1 different, other codes as for every command — so CI
/// can gate on it.
struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two runs, or a run and a manifest file (what would change if it ran now).",
        discussion: """
            A is a run: its id, the unique prefix `bcli batch list` shows, `latest` or `latest~N`. B is a run, \
            or a manifest FILE: its steps are resolved with A's params and A's recorded responses and \
            compared with what A sent (nothing is sent).
            Volatile fields (@odata.etag, lastModifiedDateTime, systemCreatedAt, id/systemId, ids the server generated in \
            the run, correlation ids in error messages) are ignored unless --include-volatile.
            Exit: 0 identical, 1 different, 2 usage or ambiguous run prefix, 4 unknown run, missing file or \
            no store, 5 invalid manifest, 9 store unusable. See docs/diff.md.

            Examples:
              Compare two runs:
                bcli batch diff 01a2b3c4 01a2f7e9
              What would change if the manifest ran now, compared with a run:
                bcli batch diff 01a2b3c4 examples/quickstart.yaml
              Counts only, volatile fields included:
                bcli batch diff 01a2b3c4 01a2f7e9 --stat --include-volatile
              The hub's two newest runs, as JSON (RFC 6902), without pulling them:
                bcli batch diff latest~1 latest --remote origin --format json
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @OptionGroup var remoteOption: RemoteReadOption

    @Argument(help: ArgumentHelp("The first run (id or unique prefix).", valueName: "a"))
    var a: String

    @Argument(help: ArgumentHelp("The second run, or a manifest file.", valueName: "b"), completion: .file(extensions: ["yaml", "yml"]))
    var b: String

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    @Flag(help: "Print counts only: N same, M changed, K only in A, J only in B.")
    var stat = false

    @Flag(help: "Also compare volatile fields (ETags, timestamps, server-generated ids, correlation ids).")
    var includeVolatile = false

    func validate() throws { try remoteOption.validate(with: storeOptions) }

    func run() async throws {
        let bIsManifest = Self.isManifestArgument(b)
        if !bIsManifest && Self.isManifestArgument(a) {
            throw CLIFailure(.usage, "A must be a run, not a file: write `bcli batch diff RUN \(a)` to compare a run with a manifest")
        }
        guard let remote = remoteOption.remote else { return try compare(a, b, in: try storeOptions.openExisting()) }
        // Both runs (or the run A) from the hub, pulled into a throwaway store; a manifest B stays a local file.
        let (view, ids) = try await HubRemotes.view(remote, runs: bIsManifest ? [a] : [a, b], followers: .reconciles)
        defer { view.close() }
        try compare(ids[0], bIsManifest ? b : ids[1], in: view.store)
    }

    func compare(_ a: String, _ b: String, in store: LedgerStore) throws {
        let diff: RunDiff
        do {
            let options = RunDiffer.Options(includeVolatile: includeVolatile)
            if Self.isManifestArgument(b) {
                diff = try RunDiffer.compare(store: store, a: a, manifestPath: b, options: options)
            } else {
                diff = try RunDiffer.compare(store: store, a: a, b: b, options: options)
            }
        } catch {
            throw CLIFailure(error.exitStatus, error.description)
        }

        switch format {
        case .json:
            Terminal.line(diff.json(stat: stat).prettyPrinted())
        case .text:
            if stat {
                Terminal.line(diff.counts.line)
            } else {
                for line in DiffText.render(diff) { Terminal.line(line) }
            }
        }
        if !diff.identical { throw ExitCode(ExitStatus.failure.rawValue) }
    }

    /// B names a manifest when a file exists there or it looks like a path or YAML file name
    /// (run ids are bare hex).
    static func isManifestArgument(_ text: String) -> Bool {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: text, isDirectory: &isDirectory) { return true }
        let lower = text.lowercased()
        return text.contains("/") || lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") || lower.hasSuffix(".json")
    }
}

/// The human rendering of a `RunDiff`, in the style of `diff -u`: a `---`/`+++` header, then only
/// what differs, one line per change with its path, then the counts.
enum DiffText {
    static let valueLimit = 200

    static func render(_ d: RunDiff) -> [String] {
        var out: [String] = []
        out.append("--- a: " + describe(d.a))
        out.append("+++ b: " + describe(d.b))
        if d.manifestSame {
            out.append("  manifest: same (\(d.a.manifestDigest?.description ?? "-"))")
        } else {
            out.append("~ manifest: \(d.a.manifestDigest?.description ?? "-") \(Style.stdout.arrow) \(d.b.manifestDigest?.description ?? "-")")
            out.append(contentsOf: d.manifestDiff)
            if let note = d.manifestNote { out.append("  (\(note))") }
        }
        if d.paramsSame {
            out.append("  params: same (\(d.a.paramsDigest?.description ?? "-"))")
        } else {
            out.append("~ params: \(d.a.paramsDigest?.description ?? "-") \(Style.stdout.arrow) \(d.b.paramsDigest?.description ?? "-")")
            for op in d.paramsPatch { out.append(opLine(op, subject: "params")) }
        }
        for c in d.context {
            out.append("  context \(c.field) (not counted): \(value(c.a)) \(Style.stdout.arrow) \(value(c.b))")
        }
        for s in d.steps { out.append(contentsOf: stepLines(s)) }
        out.append(d.counts.line)
        return out
    }

    static func describe(_ s: DiffSideInfo) -> String {
        switch s.kind {
        case .run:
            return "run \(s.runID ?? "-")" + (s.name.map { " \($0)" } ?? "") + (s.manifestPath.map { " (\($0))" } ?? "")
                + (s.startedAt.map { " started \($0)" } ?? "") + (s.state.map { ", \($0)" } ?? "")
        case .manifest:
            return "manifest \(s.manifestPath ?? "-")" + (s.paramsFromRun.map { " (params and step outputs from run \($0))" } ?? "")
        }
    }

    static func stepLines(_ s: StepComparison) -> [String] {
        let subject = "steps." + s.name
        switch s.change {
        case .same:
            return []
        case .added:
            guard let b = s.b else { return [] }
            return ["+ \(subject) (#\(b.seq) \(b.method) \(short(b.url)))" + (b.unresolved.map { " — would be skipped: \($0)" } ?? "")]
        case .removed:
            guard let a = s.a else { return [] }
            return ["- \(subject) (#\(a.seq) \(a.method) \(short(a.url))" + (a.statusName.map { ", \($0)" } ?? "") + ")"]
        case .changed:
            var out: [String] = []
            var digests: [String] = []
            if let a = s.a, let b = s.b {
                digests.append("request " + digestChange(a.requestDigest, b.requestDigest))
                if b.ran { digests.append("response " + digestChange(a.responseDigest, b.responseDigest)) }
                out.append("~ \(subject) (#\(a.seq) \(Style.stdout.arrow) #\(b.seq); " + digests.joined(separator: ", ") + ")")
            }
            for f in s.fieldChanges {
                var line = "~ \(subject).\(f.field): \(fieldValue(f.field, f.a)) \(Style.stdout.arrow) \(fieldValue(f.field, f.b))"
                if f.field == "resolved" {
                    if let reason = s.b?.unresolved { line += " — B would be skipped: \(reason)" }
                    else if s.a?.status == .skipped { line += " — A was skipped" }
                }
                out.append(line)
            }
            for op in s.requestPatch { out.append(opLine(op, subject: subject + ".request")) }
            for op in s.responsePatch { out.append(opLine(op, subject: subject + ".response")) }
            return out
        }
    }

    static func opLine(_ op: JSONPatchOperation, subject: String) -> String {
        let path = op.path.isEmpty ? "(whole body)" : op.path
        switch op.op {
        case .add: return "+ \(subject) \(path): \(value(op.value ?? .null))"
        case .remove: return "- \(subject) \(path): \(value(op.oldValue ?? .null))"
        case .replace: return "~ \(subject) \(path): \(value(op.oldValue ?? .null)) \(Style.stdout.arrow) \(value(op.value ?? .null))"
        case .move: return "~ \(subject) \(path): moved from \(op.from ?? "?")"
        }
    }

    static func fieldValue(_ field: String, _ v: JSONValue) -> String {
        if field == "url", case .string(let s) = v { return short(s) }
        if case .string(let s) = v, field != "url" { return s }
        return value(v)
    }

    /// A URL below its company segment (the context is shown once in the header).
    static func short(_ url: String) -> String {
        guard let r = url.firstRange(of: "/companies("), let close = url[r.upperBound...].firstIndex(of: ")") else { return url }
        let rest = url[url.index(after: close)...]
        return rest.hasPrefix("/") ? String(rest.dropFirst()) : String(rest)
    }

    static func digestChange(_ a: Digest?, _ b: Digest?) -> String {
        if a == b { return "same" }
        return "\(a.map { "sha256:" + $0.short } ?? "none") \(Style.stdout.arrow) \(b.map { "sha256:" + $0.short } ?? "none")"
    }

    /// Compact canonical JSON, cut at `valueLimit` characters.
    static func value(_ v: JSONValue) -> String {
        let text = (try? v.canonicalString()) ?? v.prettyPrinted()
        return text.count > valueLimit ? String(text.prefix(valueLimit)) + Style.stdout.ellipsis : text
    }
}

extension DiffError {
    var exitStatus: ExitStatus {
        switch self {
        case .store(let e): return e.exitStatus
        case .unreadableManifest: return .notFound
        case .invalidManifest: return .invalidInput
        }
    }
}
