import BusinessCentral
import Testing

@testable import Batch
@testable import Store

/// `RollbackPreflight`: every refusal `batch rollback` makes before it plans or sends anything,
/// in the order it checks them, and the rebasing of recorded URLs.
@Suite("Rollback preflight: refusals and URL rebasing")
struct RollbackPreflightTests {
    static let company = "11111111-2222-3333-4444-555555555555"
    static let config = """
        [profiles.prod]
        tenant_id = "t"
        environment = "production"
        company_id = "\(company)"
        base_url = "https://bc.example"

        [profiles.locked]
        tenant_id = "t"
        environment = "production"
        company_id = "\(company)"
        disable_writes = true

        [profiles.other]
        tenant_id = "t"
        environment = "production"
        company_id = "99999999-2222-3333-4444-555555555555"
        """

    static func run(kind: RunKind = .batch, profile: String? = "prod", company: String? = company,
                    baseURL: String? = "https://old.example", state: RunState = .completed) -> RunRecord {
        RunRecord(id: "0123456789abcdef0123456789abcdef", kind: kind, parentRunID: kind == .rollback ? "fedcba9876543210fedcba9876543210" : nil,
                  profile: profile, company: company, baseURL: baseURL, stampedState: state, state: state, interrupted: false,
                  startedAt: "2026-12-01T10:00:00Z", toolVersion: "test", durability: .process, counts: StepCounts())
    }

    static func loadConfig() throws(ConfigError) -> BCConfig {
        try BCConfig.parse(config, path: "config.toml", environment: [:])
    }

    /// The refusal `preflight` throws, or nil.
    static func refusal(_ run: RunRecord, lockHeld: Bool = false, requested: String? = nil) -> RollbackRefusal? {
        do {
            _ = try RollbackPreflight(original: run, lockHeld: lockHeld, requestedProfile: requested, loadConfig: loadConfig)
            return nil
        } catch let refusal as RollbackRefusal {
            return refusal
        } catch {
            Issue.record("not a refusal: \(error)")
            return nil
        }
    }

    @Test func passesAndPicksTheRecordedProfile() throws {
        let preflight = try RollbackPreflight(original: Self.run(), lockHeld: false, requestedProfile: nil, loadConfig: Self.loadConfig)
        #expect(preflight.profile.name == "prod")
        #expect(preflight.original.id == Self.run().id)
    }

    @Test func refusesARollbackRun() {
        let refusal = Self.refusal(Self.run(kind: .rollback))
        #expect(refusal == .rollbackOfRollback(runID: Self.run().id, parentRunID: "fedcba9876543210fedcba9876543210"))
        #expect(refusal?.description == "run 0123456789abcdef0123456789abcdef is a rollback or reconcile run, which has no writes of its own to undo; roll back its parent fedcba9876543210fedcba9876543210 instead")
    }

    /// A run imported from the Python tool's ledger has no pre-images or ETags: refused with the
    /// way to undo it, not mistaken for a rollback run.
    @Test func refusesAnImportedRun() {
        let refusal = Self.refusal(Self.run(kind: .imported))
        #expect(refusal == .importedRun(runID: Self.run().id))
        #expect(refusal?.description.contains("imported from the Python tool's ledger") == true)
        #expect(refusal?.description.contains("itself a rollback") == false)
    }

    /// The run's own refusals come before config.toml is read: a broken config does not hide them.
    @Test func refusesBeforeReadingConfig() {
        var read = false
        do {
            _ = try RollbackPreflight(original: Self.run(), lockHeld: true, requestedProfile: nil, loadConfig: { () throws(ConfigError) in
                read = true
                throw .sandboxNotStarted
            })
            Issue.record("not refused")
        } catch {
            #expect(error as? RollbackRefusal == .runLocked(runID: Self.run().id))
        }
        #expect(!read)
    }

    @Test func refusesALockedRun() {
        let refusal = Self.refusal(Self.run(), lockHeld: true)
        #expect(refusal == .runLocked(runID: Self.run().id))
        #expect(refusal?.description == StoreError.runLocked(Self.run().id).description)
    }

    @Test func refusesWhenTheRecordedProfileIsGone() {
        let refusal = Self.refusal(Self.run(profile: "retired"), requested: "prod")
        #expect(refusal == .recordedProfileMissing(name: "retired"))
        #expect(refusal?.description.contains("restore [profiles.retired] in config.toml") == true)
    }

    /// No recorded profile reads as `default`, which this config does not have.
    @Test func noRecordedProfileIsDefault() {
        #expect(Self.refusal(Self.run(profile: nil), requested: "prod") == .recordedProfileMissing(name: "default"))
    }

    /// An unknown `-p` is the config's own error (exit 2), not a refusal.
    @Test func unknownRequestedProfileIsAConfigError() {
        do {
            _ = try RollbackPreflight(original: Self.run(), lockHeld: false, requestedProfile: "nope", loadConfig: Self.loadConfig)
            Issue.record("no error")
        } catch let error as ConfigError {
            guard case .unknownProfile(let name, _, _, _) = error else { Issue.record("\(error)"); return }
            #expect(name == "nope")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func refusesWhenTheRecordedProfileDisablesWrites() {
        let refusal = Self.refusal(Self.run(profile: "locked"), requested: "prod")
        #expect(refusal == .recordedProfileDisablesWrites(name: "locked"))
        #expect(refusal?.description == "refusing to roll back: the run's profile 'locked' has disable_writes = true (no flag bypasses this)")
    }

    @Test func refusesWhenTheChosenProfileDisablesWrites() {
        let refusal = Self.refusal(Self.run(), requested: "locked")
        #expect(refusal == .profileDisablesWrites(name: "locked"))
        #expect(refusal?.description == "refusing to roll back: profile 'locked' has disable_writes = true (no flag bypasses this)")
    }

    @Test func refusesAnotherCompany() {
        let refusal = Self.refusal(Self.run(), requested: "other")
        #expect(refusal == .companyMismatch(runCompany: Self.company, profile: "other", profileCompany: "99999999-2222-3333-4444-555555555555"))
        #expect(refusal?.description.hasSuffix("pass the run's profile with -p") == true)
        // A run that recorded no company is not compared.
        #expect(Self.refusal(Self.run(company: nil), requested: "other") == nil)
    }

    @Test func refusesAFullyRolledBackRunWithNothingLeft() throws {
        let preflight = try RollbackPreflight(original: Self.run(state: .rolledBack), lockHeld: false, requestedProfile: nil,
                                              loadConfig: Self.loadConfig)
        #expect(throws: RollbackRefusal.alreadyRolledBack(runID: Self.run().id)) {
            try preflight.work(in: RollbackPlan(runID: Self.run().id, items: [], alreadyUndone: []))
        }
        #expect(RollbackRefusal.alreadyRolledBack(runID: "r").description == "run r is already fully rolled back; nothing to do")
    }

    @Test func workLeftInAPlan() throws {
        let preflight = try RollbackPreflight(original: Self.run(), lockHeld: false, requestedProfile: nil, loadConfig: Self.loadConfig)
        let step = StepRecord(id: 1, runID: Self.run().id, seq: 1, name: "create", method: .post, url: "https://old.example/c",
                              clientRequestID: "x", intentAt: "2026-12-01T10:00:00Z", status: .committed)
        func item(_ action: RollbackAction) -> RollbackItem {
            RollbackItem(step: step, action: action, unresolvedAttempt: nil, recordKey: nil)
        }
        func plan(_ items: [RollbackItem], undone: [StepRecord] = []) -> RollbackPlan {
            RollbackPlan(runID: Self.run().id, items: items, alreadyUndone: undone)
        }
        #expect(try preflight.work(in: plan([])) == .nothingToRollBack)
        #expect(try preflight.work(in: plan([item(.irreversible(reason: "r"))])) == .needsAPerson)
        #expect(try preflight.work(in: plan([item(.delete(url: "u"))])) == .apply)
        #expect(try preflight.work(in: plan([item(.irreversible(reason: "r"))], undone: [step])) == .apply)
    }

    @Test func rebasesRecordedURLs() throws {
        let preflight = try RollbackPreflight(original: Self.run(), lockHeld: false, requestedProfile: nil, loadConfig: Self.loadConfig)
        let rebase = preflight.rebase(to: "http://127.0.0.1:4321")
        #expect(rebase("https://old.example/v2.0/companies(1)/customers(2)") == "http://127.0.0.1:4321/v2.0/companies(1)/customers(2)")
        #expect(rebase("https://elsewhere.example/x") == "https://elsewhere.example/x")
        #expect(preflight.rebase(to: nil)("https://old.example/x") == "https://old.example/x")
        #expect(preflight.rebase(to: "https://old.example")("https://old.example/x") == "https://old.example/x")
        #expect(URLRebase(from: nil, to: "http://new")("https://old.example/x") == "https://old.example/x")
    }
}
