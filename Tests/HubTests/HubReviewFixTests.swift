import BusinessCentral
import Foundation
import Hashing
import PostgresNIO
import Store
import Testing
import TestSupport
@testable import Hub

/// What the review of the hub slice found, each pinned by a test (no server needed here).
@Suite("Hub: review fixes (no server)")
struct HubReviewUnitTests {
    @Test func grantRefusesNamesThatAreNotRoles() async throws {
        for name in ["public", "PUBLIC", "None", "current_user", "SESSION_USER", "current_role", "pg_read_all_data", "PG_monitor"] {
            #expect(throws: HubError.self, "\(name)") { try HubSession.quoteIdentifier(name) }
            #expect(throws: HubError.self, "\(name)") { try HubSchema.pusherGrants(name) }
        }
        #expect(try HubSession.quoteIdentifier("ci_pusher") == "\"ci_pusher\"")
        #expect(try HubSession.quoteIdentifier("publication") == "\"publication\"")
        let r = try await bcliAsync(["batch", "remote", "init", "x", "--print-sql", "--pusher", "Public"], env: ["XDG_CONFIG_HOME": TempDir("bcli-role").path])
        #expect(r.status == 5 && r.stderr.contains("every role") && r.out.isEmpty, "\(r.status) \(r.stderr)")
    }

    @Test func portsMustBeInRange() throws {
        for url in ["postgresql://u@h:0/d", "postgresql://u@h:65536/d", "postgresql://u@h:99999/d", "postgresql://u@h:70000000000000000000/d"] {
            #expect(throws: HubError.self, "\(url)") { try HubURL(parsing: url) }
            #expect(RemoteConfig.urlProblem(url)?.contains("1 to 65535") == true, "\(url)")
        }
        #expect(try HubURL(parsing: "postgresql://u@h:65535/d").port == 65535)
        #expect(try HubURL(parsing: "postgresql://u@h:1/d").port == 1)
        #expect(try HubURL(parsing: "postgresql://u@h/d").port == 5432)
        #expect(RemoteConfig.urlProblem("postgresql://u@h:65535/d") == nil)
    }

    /// verify-full: no SNI set by bcli (an IP in SNI makes NIOSSL fail every handshake);
    /// postgres-nio sends a host name itself.
    @Test func verifyFullSetsNoSNIForIPLiterals() throws {
        for (url, host) in [("postgresql://u@127.0.0.1:5432/d?sslmode=verify-full", "127.0.0.1"),
                            ("postgresql://u@[::1]:5432/d?sslmode=verify-full", "::1"),
                            ("postgresql://u@hub.example.com/d?sslmode=verify-full", "hub.example.com")] {
            let u = try HubURL(parsing: url)
            #expect(u.host == host)
            let c = try u.configuration(password: nil)
            #expect(c.options.tlsServerName == nil, "\(url)")
            #expect(c.tls.isEnforced)
            #expect(c.host == host)
        }
    }

    @Test func passwordParameterIsRefusedAndRedacted() throws {
        let url = "postgresql://u@h/d?sslmode=require&password=hunter2"
        #expect(RemoteConfig.urlProblem(url)?.contains("password_env") == true)
        #expect(RemoteConfig.urlProblem("postgresql://u@h/d?PassWord=x")?.contains("password_env") == true)
        #expect(RemoteConfig.urlProblem("postgresql://u@h/d?connect_timeout=3")?.contains("unknown url parameter connect_timeout") == true)
        #expect(RemoteConfig.urlProblem("postgresql://u@h/d?sslmode=require&sslrootcert=/ca.pem&application_name=x") == nil)
        #expect(HubURL.redact(url) == "postgresql://u@h/d?sslmode=require&password=***")
        #expect(HubURL.redact("postgresql://u:pw@h/d?Password=x&sslmode=disable") == "postgresql://u:***@h/d?Password=***&sslmode=disable")
        do {
            _ = try BCConfig.parse("[remotes.o]\nurl = \"\(url)\"\n", path: "c", environment: [:])
            Issue.record("a password parameter was accepted")
        } catch {
            #expect("\(error)".contains("password_env") && !"\(error)".contains("hunter2"), "\(error)")
        }
        #expect(throws: ConfigError.self) { try BCConfig.parse("[remotes.o]\nurl = \"postgresql://u@h/d?foo=1\"\n", path: "c", environment: [:]) }
        do { _ = try HubURL(parsing: url); Issue.record("accepted") } catch { #expect(!error.description.contains("hunter2")) }
    }

    @Test func remoteAddRefusesPasswordParameter() async throws {
        let dir = TempDir("bcli-remote-pw")
        let env = ["XDG_CONFIG_HOME": dir.path + "/config"]
        let r = try await bcliAsync(["batch", "remote", "add", "x", "postgresql://u@hub/bcli?password=hunter2"], env: env)
        #expect(r.status == 5 && !r.stderr.contains("hunter2") && r.stderr.contains("password_env"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/config/bcli/config.toml"))
    }

    @Test func stepCountIsCheckedNotTrapped() throws {
        #expect(try HubPush.stepCount(["step_count": .number(5)], runID: "r") == 5)
        #expect(try HubPush.stepCount([:], runID: "r") == nil)
        #expect(try HubPush.stepCount(["step_count": .null], runID: "r") == nil)
        #expect(try HubPush.stepCount(["step_count": .number(3_000_000_000)], runID: "r") == 3_000_000_000)
        for bad: JSONValue in [.number(1e300), .number(2.5), .string("7")] {
            #expect(throws: HubError.self) { try HubPush.stepCount(["step_count": bad], runID: "r") }
        }
    }

    @Test func parentsFirstKeepsOrderOtherwise() {
        let parent: [String: String] = ["c": "a", "b": "c"]
        #expect(parentsFirst(["b", "x", "c", "a"], id: { $0 }, parent: { parent[$0] }) == ["a", "c", "b", "x"])
        #expect(parentsFirst(["a", "c", "b"], id: { $0 }, parent: { parent[$0] }) == ["a", "c", "b"])
        #expect(parentsFirst(["b"], id: { $0 }, parent: { parent[$0] }) == ["b"])
    }
}

/// `remote add|remove` edit the file config.toml is, where it is, as it is.
@Suite("Hub: RemoteCommandTests (file handling)")
struct RemoteCommandFileTests {
    @Test func symlinkedConfigStaysASymlinkAndKeepsItsMode() async throws {
        let dir = TempDir("bcli-remote-link")
        let real = try dir.write("dotfiles/bcli.toml", "[defaults]\nformat = \"json\"\n")
        chmod(real, 0o640)
        try FileManager.default.createDirectory(atPath: dir.path + "/config/bcli", withIntermediateDirectories: true)
        let link = dir.path + "/config/bcli/config.toml"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: real)
        let env = ["XDG_CONFIG_HOME": dir.path + "/config"]
        for args in [["batch", "remote", "add", "ci", "postgresql://ci@hub/bcli"], ["batch", "remote", "add", "two", "postgresql://t@hub/bcli"],
                     ["batch", "remote", "remove", "ci"]] {
            let r = try await bcliAsync(args, env: env)
            #expect(r.status == 0, "\(args): \(r.stderr)")
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == real, "\(args) replaced the symlink")
            let mode = (try FileManager.default.attributesOfItem(atPath: real)[.posixPermissions] as? NSNumber)?.intValue
            #expect(mode == 0o640, "\(args): mode \(String(mode ?? 0, radix: 8))")
        }
        let text = try String(contentsOfFile: real, encoding: .utf8)
        #expect(text.contains("[remotes.two]") && !text.contains("[remotes.ci]"), "\(text)")
        // A new file is 0600.
        let fresh = TempDir("bcli-remote-new")
        let r = try await bcliAsync(["batch", "remote", "add", "ci", "postgresql://ci@hub/bcli"], env: ["XDG_CONFIG_HOME": fresh.path])
        #expect(r.status == 0, "\(r.stderr)")
        let mode = (try FileManager.default.attributesOfItem(atPath: fresh.path + "/bcli/config.toml")[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
    }

    @Test func removeKeepsCommentsOfWhatFollows() async throws {
        let dir = TempDir("bcli-remote-comments")
        let original = """
            # my bcli config

            [remotes.gone]
            # the old hub
            url = "postgresql://g@h/d"
            password_env = "GONE_PW"

            # --- production profile: do not touch ---
            # (owned by the platform team)

            [defaults]
            format = "json"

            [remotes.last]
            url = "postgresql://l@h/d"

            # trailing note

            """
        _ = try dir.write("config/bcli/config.toml", original)
        let env = ["XDG_CONFIG_HOME": dir.path + "/config"]
        let r = try await bcliAsync(["batch", "remote", "remove", "gone"], env: env)
        #expect(r.status == 0, "\(r.stderr)")
        let after = try String(contentsOfFile: dir.path + "/config/bcli/config.toml", encoding: .utf8)
        #expect(after == """
            # my bcli config

            # --- production profile: do not touch ---
            # (owned by the platform team)

            [defaults]
            format = "json"

            [remotes.last]
            url = "postgresql://l@h/d"

            # trailing note

            """, "\(after)")
        let r2 = try await bcliAsync(["batch", "remote", "remove", "last"], env: env)
        #expect(r2.status == 0, "\(r2.stderr)")
        let end = try String(contentsOfFile: dir.path + "/config/bcli/config.toml", encoding: .utf8)
        #expect(end.hasSuffix("format = \"json\"\n\n# trailing note\n"), "\(end)")
    }
}
