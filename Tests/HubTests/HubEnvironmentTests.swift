import BusinessCentral
import Foundation
import Testing
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
