import ArgumentParser
import Batch
import BusinessCentral
import Hashing
import Store
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@testable import bcli

/// bcli's, not swift-testing's `ExitStatus` (exit tests).
private typealias ExitStatus = bcli.ExitStatus

/// The exit table (Sources/bcli/Exit.swift) is the one place errors become exit codes. These
/// pin it: every case of every library error a command can meet, walked through the table, must
/// land on the code README "Exit codes" documents.
@Suite("Exit table: library errors → documented exit codes")
struct ExitTableTests {
    /// The codes themselves are the contract (scripts and CI branch on them).
    @Test func documentedCodes() {
        let codes: [(ExitStatus, Int32)] = [
            (.ok, 0), (.failure, 1), (.usage, 2), (.auth, 3), (.notFound, 4), (.invalidInput, 5),
            (.remote4xx, 6), (.remote5xx, 7), (.refused, 8), (.storeUnusable, 9), (.interrupted, 130),
        ]
        for (status, code) in codes { #expect(status.rawValue == code, "\(status)") }
    }

    @Test func configErrors() {
        let invalid: [ConfigError] = [
            .unreadable(path: "c.toml", reason: "permission denied"),
            .syntax(path: "c.toml", TOMLError(line: 3, message: "expected `=`")),
            .unknownKey(path: "c.toml", line: 2, table: "profiles.p", key: "tennant", valid: ["tenant_id"], suggestion: "tenant_id"),
            .invalidValue(path: "c.toml", line: 4, table: "profiles.p", key: "timeout", message: "must be a number"),
            .missingKey(path: "c.toml", profile: "p", key: "tenant_id"),
            .sandboxNotStarted,
            .invalidEnvironment(variable: "BCLI_PROFILE", message: "empty"),
        ]
        for error in invalid {
            #expect(ExitStatus(for: error) == .invalidInput, "\(error)")
            #expect(CLIFailure(error).code == .invalidInput)
            #expect(CLIFailure(error).message == error.description)
        }
        let unknown = ConfigError.unknownProfile(name: "prod", known: ["sandbox"], suggestion: nil, path: "c.toml")
        #expect(ExitStatus(for: unknown) == .usage)
        #expect(CLIFailure(unknown).code == .usage)
    }

    @Test func authErrors() {
        let errors: [AuthError] = [
            .missingStaticToken(profile: "p"),
            .missingClientID(profile: "p"),
            .missingSecret(profile: "p", variables: ["BCLI_CLIENT_SECRET"]),
            .rejected(tokenURL: "https://login/t", status: 401, error: "invalid_client", errorDescription: nil, hint: "check the secret"),
            .unreachable(tokenURL: "https://login/t", reason: "timed out"),
            .invalidResponse(tokenURL: "https://login/t", reason: "no access_token"),
            .config(.sandboxNotStarted),
        ]
        for error in errors { #expect(ExitStatus(for: error) == .auth, "\(error)") }
    }

    @Test func urlBuildErrors() {
        let errors: [URLBuildError] = [
            .invalidPathComponent(what: "record id", value: "a/b", reason: "contains `/`"),
            .invalidEntitySet("cust omers"),
            .invalidAction(target: "x", reason: "no namespace"),
            .missingCompanyID(profile: "p"),
            .missingBaseURL(profile: "sandbox"),
        ]
        for error in errors { #expect(ExitStatus(for: error) == .invalidInput, "\(error)") }
    }

    @Test func transportErrors() {
        let failure = TransportFailure(kind: .connectionClosed, method: "POST", url: "u", reason: "r", requestMaybeSent: true, attempts: 1)
        #expect(ExitStatus(for: BCTransportError.transport(failure)) == .remote5xx)
        #expect(ExitStatus(for: BCTransportError.auth(.missingClientID(profile: "p"))) == .auth)
        #expect(ExitStatus(for: BCTransportError.invalidRequest("unsupported method")) == .invalidInput)
    }

    @Test func httpStatuses() {
        let expected: [(Int, ExitStatus)] = [
            (200, .ok), (201, .ok), (204, .ok), (304, .ok),
            (401, .auth), (403, .auth), (404, .notFound),
            (400, .remote4xx), (409, .remote4xx), (412, .remote4xx), (429, .remote4xx),
            (500, .remote5xx), (503, .remote5xx),
        ]
        for (status, exit) in expected { #expect(ExitStatus(httpStatus: status) == exit, "\(status)") }
    }

    @Test func storeErrors() throws {
        let digest = try Digest(parsing: "sha256:" + String(repeating: "ab", count: 32))
        let expected: [(StoreError, ExitStatus)] = [
            (.unusable(.damaged, path: "/s", detail: "ledger missing"), .storeUnusable),
            (.unusable(.readOnly, path: "/s", detail: "read-only"), .storeUnusable),
            (.io(operation: "write", path: "/s/x", errno: ENOSPC), .storeUnusable),
            (.shortWrite(path: "/s/x", expected: 10, written: 3), .storeUnusable),
            (.database("SQLITE_ERROR"), .storeUnusable),
            (.newerSchema(applied: ["9-future"]), .storeUnusable),
            (.invalidDigest(.uppercase("ABC")), .invalidInput),
            (.invalidRunID("xyz"), .invalidInput),
            (.unknownPrefix("abcdef0"), .notFound),
            (.blobMissing(digest), .notFound),
            (.runNotFound("0123456789"), .notFound),
            (.ambiguousPrefix("ab", candidates: [digest]), .usage),
            (.ambiguousRunID("0123", candidates: ["01234567", "01239999"]), .usage),
            (.runLocked("0123456789"), .refused),
            (.invalidState("bad"), .failure),
        ]
        for (error, exit) in expected {
            #expect(ExitStatus(for: error) == exit, "\(error)")
            #expect(error.exitStatus == exit)
            #expect(CLIFailure(error).code == exit)
        }
    }

    @Test func bundleAndDiffErrors() {
        #expect(ExitStatus(for: BundleError.unreadable(path: "b.tar", errno: ENOENT)) == .notFound)
        #expect(ExitStatus(for: BundleError.notABundle("no manifest member")) == .invalidInput)
        #expect(ExitStatus(for: BundleError.conflict(runID: "r", detail: "d")) == .refused)
        #expect(ExitStatus(for: BundleError.unfinished(runID: "r")) == .failure)
        #expect(ExitStatus(for: BundleError.store(.runLocked("r"))) == .refused)
        #expect(ExitStatus(for: DiffError.store(.runNotFound("r"))) == .notFound)
    }

    /// Every rollback refusal is exit 8.
    @Test func rollbackRefusals() {
        let refusals: [RollbackRefusal] = [
            .rollbackOfRollback(runID: "r", parentRunID: "p"),
            .runLocked(runID: "r"),
            .importedRun(runID: "r"),
            .recordedProfileMissing(name: "p"),
            .recordedProfileDisablesWrites(name: "p"),
            .profileDisablesWrites(name: "p"),
            .companyMismatch(runCompany: "a", profile: "p", profileCompany: "b"),
            .alreadyRolledBack(runID: "r"),
        ]
        for refusal in refusals { #expect(ExitStatus(for: refusal) == .refused, "\(refusal)") }
    }

    @Test func companyResolutionErrors() {
        #expect(ExitStatus(for: CompanyResolutionError.notFound(value: "x", profile: "p", environment: "e", companies: [], aliases: [])) == .usage)
        #expect(ExitStatus(for: CompanyResolutionError.ambiguous(value: "x", matches: ["a", "b"])) == .usage)
        #expect(ExitStatus(for: CompanyResolutionError.http(url: "u", status: 401, message: nil)) == .auth)
        #expect(ExitStatus(for: CompanyResolutionError.http(url: "u", status: 404, message: nil)) == .notFound)
        #expect(ExitStatus(for: CompanyResolutionError.http(url: "u", status: 500, message: nil)) == .remote5xx)
        #expect(ExitStatus(for: CompanyResolutionError.invalidResponse(url: "u")) == .remote5xx)
    }

    /// A finished run's verdict: ok 0, a step failed, skipped or unknown 1, interrupted 130.
    @Test func runVerdicts() {
        let expected: [RunVerdict: ExitStatus] = [.ok: .ok, .stepsFailed: .failure, .inDoubt: .failure, .interrupted: .interrupted]
        for verdict in RunVerdict.allCases { #expect(ExitStatus(verdict) == expected[verdict], "\(verdict)") }
    }

    /// A failure a command built keeps its own code; ArgumentParser's errors are not the table's.
    @Test func failuresAndForeignErrors() {
        #expect(ExitStatus(for: CLIFailure(.refused, "write gate")) == .refused)
        #expect(ExitStatus(for: ValidationError("--port must be between 0 and 65535")) == nil)
        #expect(ExitStatus(for: CleanExit.helpRequest()) == nil)
    }
}
