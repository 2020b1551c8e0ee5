import Foundation
import Hashing
import Sandbox
import Store
import Testing
import TestSupport

/// Manifests in the shapes of the Python tool's built-in packs, run through the real `bcli`
/// binary against the sandbox (our own manifests, in those shapes), and idempotency replay: two
/// steps sharing a key make one server record.
@Suite struct PythonManifestRunTests {
    /// `batch run -p sandbox <manifest> --format json` and its parsed stdout.
    static func run(_ sandbox: LiveSandbox, _ dir: TempDir, _ name: String, _ yaml: String, _ extra: [String] = [])
        async throws -> (status: Int32, out: JSONValue, stderr: String)
    {
        let env = sandbox.env(store: dir.path + "/store")
        let r = try await bcliAsync(["batch", "run", "-p", "sandbox", try writeManifest(dir, name, yaml), "--format", "json"] + extra, env: env)
        let out = try JSONValue(parsing: [UInt8](r.stdout))
        return (r.status, out, r.stderr)
    }

    static func steps(_ out: JSONValue) -> [JSONValue] { out["steps"]?.arrayValue ?? [] }

    /// The starter pack's shape: required params, query options on the steps, descriptions, a
    /// version, a quoted `top`, an undeclared `--set` key, and `endpoint: vendors(<id>)`.
    @Test func theStarterPacksShapeRunsAndItsQueryOptionsAreSent() async throws {
        try requireBinary(Paths.bcli)
        var configuration = SandboxConfiguration()
        configuration.demoData = true  // vendors 10000 … 40000
        try await withSandbox(configuration) { sandbox in
            let dir = TempDir("bcli-py-pack-shape")
            let manifest = """
                name: "Vendor snapshot (read-only)"
                description: >-
                  Query options on the steps, as the Python tool's starter pack writes them.
                version: 0.1.0
                params:
                  first_number:
                    description: "lowest vendor number"
                    required: true
                  cutoff:
                    description: "ISO date"
                    required: true

                steps:
                  - name: top_vendors
                    description: "two vendors from first_number, highest number first"
                    action: get
                    endpoint: vendors
                    filter: "number ge '${{ params.first_number }}'"
                    select: "id,number,displayName"
                    orderby: "number desc"
                    top: "2"

                  - name: one_vendor
                    action: get
                    endpoint: "vendors(${{ steps.top_vendors.0.id }})"

                  - name: recent_invoices
                    action: get
                    endpoint: salesInvoices
                    filter: "postingDate ge ${{ params.cutoff }}"
                    orderby: "postingDate desc"
                    top: 100
                """
            let r = try await Self.run(sandbox, dir, "snapshot.yaml", manifest,
                                       ["--set", "first_number=20000", "--set", "cutoff=2026-01-01", "--set", "not_declared=1"])
            #expect(r.status == 0, "\(r.stderr)")
            let steps = Self.steps(r.out)
            #expect(steps.map { $0["status"] } == ["committed", "committed", "committed"], "\(r.out)")
            // filter, orderby, top and select were sent: two vendors, 40000 then 30000, three fields.
            let vendors = steps.first?["data"]?.arrayValue ?? []
            #expect(vendors.map { $0["number"] } == ["40000", "30000"])
            #expect(vendors.first?.objectValue.map { Set($0.keys.filter { !$0.hasPrefix("@") }) } == ["id", "number", "displayName"])
            let url = steps.first?["url"]?.stringValue ?? ""
            #expect(url.hasSuffix("/vendors?$filter=number%20ge%20'20000'&$select=id,number,displayName&$top=2&$orderby=number%20desc"), "\(url)")
            // `vendors(<id>)` read the one record, as `id:` would.
            let id = try #require(vendors.first?["id"]?.stringValue)
            #expect(steps[1]["url"]?.stringValue?.hasSuffix("/vendors(\(id))") == true)
            #expect(steps[1]["record_id"]?.stringValue == id)
            #expect(steps[1]["data"]?.arrayValue?.first?["number"] == "40000")
        }
    }

    /// An undeclared `--set` key is accepted, as the Python tool accepts it, and said on stderr
    /// (with a "did you mean"), for a run and for a dry run alike.
    @Test func anUndeclaredSetKeyRunsWithAWarningOnStderr() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir("bcli-py-set-warning")
            let manifest = """
                name: set warning
                params:
                  top:
                    default: 1
                steps:
                  - name: customers
                    action: get
                    endpoint: customers
                """
            for extra in [[], ["--dry-run"]] {
                let r = try await Self.run(sandbox, dir, "warn.yaml", manifest, ["--set", "undeclared=1", "--set", "tpo=2"] + extra)
                #expect(r.status == 0, "\(extra): \(r.stderr)")
                let warnings = r.stderr.split(separator: "\n").filter { $0.contains(": warning: ") }
                #expect(warnings.count == 2, "\(extra): \(r.stderr)")
                #expect(warnings.contains { $0.contains("param 'undeclared' is not declared") }, "\(extra): \(r.stderr)")
                #expect(warnings.contains { $0.contains("param 'tpo' is not declared") && $0.contains("did you mean 'top'?") },
                        "\(extra): \(r.stderr)")
                #expect(r.stderr.contains("fix: declare it under params: in the manifest, or drop --set undeclared"), "\(r.stderr)")
            }
        }
    }

    /// The CRONUS pack's shape: options under `params:` chained from an earlier step's list result,
    /// plus writes written the Python tool's way (`method: PATCH`, `endpoint: customers(<id>)`).
    @Test func theCronusPacksShapeChainsStepsAndWritesByKeyedEndpoint() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir("bcli-py-cronus-shape")
            let manifest = """
                name: "Customer review"
                params:
                  customer_name:
                    description: "Display-name fragment"
                    required: true
                steps:
                  - name: create
                    action: post
                    endpoint: customers
                    data: {displayName: "${{ params.customer_name }} Review Co"}
                  - name: find_customer
                    action: get
                    endpoint: customers
                    params:
                      filter: "contains(displayName, '${{ params.customer_name }}')"
                      select: "id,number,displayName"
                      top: 1
                  - name: touch
                    method: PATCH
                    endpoint: "customers(${{ steps.find_customer.0.id }})"
                    data: {phoneNumber: "555-0100"}
                  - name: read_back
                    endpoint: customers
                    id: "${{ steps.find_customer.0.id }}"
                    params: {select: "id,phoneNumber"}
                """
            let r = try await Self.run(sandbox, dir, "review.yaml", manifest, ["--set", "customer_name=Adatum"])
            #expect(r.status == 0, "\(r.stderr)")
            let steps = Self.steps(r.out)
            #expect(steps.map { $0["status"] } == ["committed", "committed", "committed", "committed"], "\(r.out)")
            #expect(steps[2]["method"] == "PATCH")
            #expect(steps[2]["record_id"] == steps[0]["record_id"])
            #expect(steps[3]["data"]?.arrayValue?.first?["phoneNumber"] == "555-0100")
        }
    }

    /// Two POSTs sharing an idempotency key: one server record. The second reads `replayed`, names
    /// the first in the ledger, and its `${{ steps.X.id }}` is the first's record.
    @Test func twoStepsSharingAKeyMakeOneServerRecord() async throws {
        try requireBinary(Paths.bcli)
        try await withSandbox { sandbox in
            let dir = TempDir("bcli-py-replay")
            let manifest = """
                name: "writes and idempotency replay"
                steps:
                  - name: c1
                    action: post
                    endpoint: customers
                    data: { displayName: "Replay Co" }
                    idempotency_key: "k-1"
                  - name: c1_again
                    action: post
                    endpoint: customers
                    data: { displayName: "Replay Co" }
                    idempotency_key: "k-1"
                  - name: read_replayed
                    endpoint: customers
                    id: "${{ steps.c1_again.id }}"
                  - name: count
                    endpoint: customers
                    filter: "displayName eq 'Replay Co'"
                """
            let r = try await Self.run(sandbox, dir, "replay.yaml", manifest)
            #expect(r.status == 0, "\(r.stderr)")
            let steps = Self.steps(r.out)
            #expect(steps.map { $0["status"] } == ["committed", "replayed", "committed", "committed"], "\(r.out)")

            // One POST reached the server, and one record has the name.
            let journal = try await sandbox.journal()
            #expect(journal.filter { $0["method"] == "POST" }.count == 1, "\(journal)")
            #expect(steps[3]["record_count"] == 1)
            let id = try #require(steps[0]["record_id"]?.stringValue)
            #expect(steps[1]["record_id"]?.stringValue == id)
            #expect(steps[2]["record_id"]?.stringValue == id)

            // The ledger row of the replayed step names the original and sent nothing.
            let runID = try #require(r.out["run_id"]?.stringValue)
            let store = try LedgerStore(root: dir.path + "/store")
            let rows = try store.ledger.steps(runID: runID)
            #expect(rows.map(\.statusName) == ["committed", "replayed", "committed", "committed"])
            #expect(rows[1].targetStepID == rows[0].id)
            #expect(rows[1].requestDigest == nil && rows[1].httpStatus == nil)
            #expect(rows[1].responseDigest == rows[0].responseDigest)
            #expect(try store.run(runID).state == .completed)

            // The run verifies, and its bundle imports into another store with the replayed row
            // still naming its original (a target in its own run is not a missing parent).
            let verify = try await bcliAsync(["batch", "verify", runID], env: sandbox.env(store: dir.path + "/store"))
            #expect(verify.status == 0, "\(verify.stderr)")
            let bundle = dir.path + "/replay.tar"
            let export = try await bcliAsync(["batch", "export", runID, "-o", bundle], env: sandbox.env(store: dir.path + "/store"))
            #expect(export.status == 0, "\(export.stderr)")
            let imported = try await bcliAsync(["batch", "import", bundle], env: sandbox.env(store: dir.path + "/store2"))
            #expect(imported.status == 0, "\(imported.stderr)")
            let copy = try LedgerStore(root: dir.path + "/store2").ledger.steps(runID: runID)
            #expect(copy.map(\.statusName) == ["committed", "replayed", "committed", "committed"])
            #expect(copy.count == 4 && copy[1].targetStepID == copy[0].id)
        }
    }
}
