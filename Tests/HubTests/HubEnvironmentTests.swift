import BusinessCentral
import Foundation
import Testing
import TestSupport
@testable import Hub

/// In CI (`CI` set) the hub's tests must run: a missing cluster is a failure, not a skip.
@Suite("Hub: environment, URLs and config")
struct HubEnvironmentTests {
    @Test func ciHasAPostgreSQLCluster() {
        if ProcessInfo.processInfo.environment["CI"] != nil {
            #expect(PG.available, "CI is set but \(PG.variable) is not: .ci/run starts a cluster (scripts/pg-cluster) and exports it")
        } else if !PG.available {
            print("note: hub tests against PostgreSQL are disabled: \(PG.skipReason)")
        }
    }

    @Test func parsesURLsAndTLSModes() throws {
        let u = try HubURL(parsing: "postgresql://ci@hub.example.com:6543/bcli?sslmode=verify-full")
        #expect(u.user == "ci" && u.host == "hub.example.com" && u.port == 6543 && u.database == "bcli" && u.sslMode == .verifyFull)
        #expect(try HubURL(parsing: "postgres://me@localhost/db").sslMode == .disable)
        #expect(try HubURL(parsing: "postgres://me@localhost").database == "me")
        #expect(throws: HubError.self) { try HubURL(parsing: "postgresql://me@h/db?sslmode=sometimes") }
        #expect(throws: HubError.self) { try HubURL(parsing: "postgresql://me@h/db?foo=1") }
        #expect(throws: HubError.self) { try HubURL(parsing: "mysql://me@h/db") }
        #expect(try HubURL(parsing: "postgresql://me@h/db?sslmode=require").configuration(password: nil).tls.isEnforced)
        #expect(try !HubURL(parsing: "postgresql://me@h/db").configuration(password: nil).tls.isAllowed)
    }

    @Test func redactsPasswords() {
        #expect(HubURL.redact("postgresql://u:s3cret@h:5432/db") == "postgresql://u:***@h:5432/db")
        #expect(HubURL.redact("postgresql://u@h/db") == "postgresql://u@h/db")
    }

    @Test func passwordOrder() throws {
        let u = try HubURL(parsing: "postgresql://u@h:5432/db")
        #expect(u.password(passwordEnv: "X", environment: ["X": "a", "PGPASSWORD": "b"]) == "a")
        #expect(u.password(passwordEnv: "X", environment: ["PGPASSWORD": "b", "PGPASSFILE": "/nonexistent"]) == "b")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pgpass-\(PG.random())").path
        try "other:*:*:*:no\nh:5432:db:u:p\\:w\n".write(toFile: dir, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: dir)
        #expect(u.password(passwordEnv: nil, environment: ["PGPASSFILE": dir]) == "p:w")
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: dir)
        #expect(u.password(passwordEnv: nil, environment: ["PGPASSFILE": dir]) == nil, "a pgpass file others can read is ignored, as libpq does")
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func remotesInConfig() throws {
        let config = try BCConfig.parse("""
            [remotes.origin]
            url = "postgresql://ci@hub:5432/bcli?sslmode=require"
            password_env = "HUB_PW"
            """, path: "config.toml", environment: [:])
        #expect(config.remotes["origin"] == RemoteConfig(name: "origin", url: "postgresql://ci@hub:5432/bcli?sslmode=require", passwordEnv: "HUB_PW"))
        // Unknown keys are errors, as everywhere in config.toml; a password in the url is refused.
        #expect(throws: ConfigError.self) { try BCConfig.parse("[remotes.o]\nurl = \"postgresql://a@h/d\"\npasword_env = \"X\"\n", path: "c", environment: [:]) }
        #expect(throws: ConfigError.self) { try BCConfig.parse("[remotes.o]\nurl = \"postgresql://a:pw@h/d\"\n", path: "c", environment: [:]) }
        #expect(throws: ConfigError.self) { try BCConfig.parse("[remotes.o]\npassword_env = \"X\"\n", path: "c", environment: [:]) }
        #expect(throws: ConfigError.self) { try BCConfig.parse("[remotes.o]\nurl = \"https://h/d\"\n", path: "c", environment: [:]) }
    }
}

/// `remote add|list|remove` edit config.toml (no server needed).
@Suite("Hub: remote add, list, remove")
struct RemoteCommandTests {
    @Test func addListRemove() async throws {
        let dir = TempDir("bcli-remote")
        let env = ["XDG_CONFIG_HOME": dir.path + "/config"]
        let config = dir.path + "/config/bcli/config.toml"
        _ = try dir.write("config/bcli/config.toml", "[defaults]\nformat = \"json\"\n\n[remotes.keep]\nurl = \"postgresql://k@h/d\"\n")
        let add = try await bcliAsync(["batch", "remote", "add", "ci", "postgresql://ci@hub:5432/bcli?sslmode=require", "--password-env", "HUB_PW"], env: env)
        #expect(add.status == 0, "\(add.stderr)")
        let dup = try await bcliAsync(["batch", "remote", "add", "ci", "postgresql://other@hub/bcli"], env: env)
        #expect(dup.status == 2 && dup.stderr.contains("exists"), "\(dup.stderr)")
        let secret = try await bcliAsync(["batch", "remote", "add", "x", "postgresql://u:hunter2@hub/bcli"], env: env)
        #expect(secret.status == 5 && !secret.stderr.contains("hunter2"), "\(secret.stderr)")
        #expect(!(try String(contentsOfFile: config, encoding: .utf8)).contains("hunter2"))
        let list = try await bcliAsync(["batch", "remote", "list"], env: env)
        #expect(list.out == "ci\tpostgresql://ci@hub:5432/bcli?sslmode=require\tpassword_env=HUB_PW\nkeep\tpostgresql://k@h/d\tPGPASSWORD/~/.pgpass\n")
        let check = try await bcliAsync(["config", "check"], env: env)
        #expect(check.status == 0, "\(check.out) \(check.stderr)")
        let remove = try await bcliAsync(["batch", "remote", "remove", "keep"], env: env)
        #expect(remove.status == 0, "\(remove.stderr)")
        let after = try String(contentsOfFile: config, encoding: .utf8)
        #expect(!after.contains("keep") && after.contains("[remotes.ci]") && after.contains("format = \"json\""), "\(after)")
        let missing = try await bcliAsync(["batch", "remote", "remove", "keep"], env: env)
        #expect(missing.status == 2)
        let noRemote = try await bcliAsync(["batch", "push", "nope", "--store", dir.path + "/s"], env: env)
        #expect(noRemote.status == 2 && noRemote.stderr.contains("no remote named 'nope'"), "\(noRemote.stderr)")
    }

    /// A repository's .bcli.toml may not define remotes (it would decide where a password goes).
    @Test func projectFileMayNotDefineRemotes() throws {
        let dir = TempDir("bcli-remote-project")
        let project = try dir.write(".bcli.toml", "[remotes.evil]\nurl = \"postgresql://me@attacker.example/db\"\n")
        #expect(throws: ConfigError.self) { try BCConfig.load(path: dir.path + "/none.toml", environment: [:], projectPath: project) }
    }
}
