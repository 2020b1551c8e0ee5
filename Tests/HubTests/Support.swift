import Foundation
import Hub
import PostgresNIO
import Testing
import TestSupport

/// The throwaway cluster `.ci/run` starts (`scripts/pg-cluster start DIR`): its superuser URL.
enum PG {
    static let variable = "BCLI_TEST_PG_URL"
    static var adminURL: String? {
        ProcessInfo.processInfo.environment[variable].flatMap { $0.isEmpty ? nil : $0 }
    }
    static var available: Bool { adminURL != nil }
    static let skipReason: Comment = "BCLI_TEST_PG_URL is not set: start a cluster with `scripts/pg-cluster start /tmp/pg` and export its URL (CI does; there a missing URL fails HubEnvironmentTests)"

    static func random(_ n: Int = 12) -> String {
        String((0..<n).map { _ in "0123456789abcdef".randomElement()! })
    }
}

/// One fresh hub per test: a database of its own and a pusher role of its own on the cluster,
/// a config.toml with remotes `admin` (the cluster's superuser: owner of the hub) and `origin`
/// (the pusher), passwords in environment variables. Dropped afterwards (best effort).
final class TestHub: @unchecked Sendable {
    let dir: TempDir
    let database: String
    let pusher: String
    let pusherPassword: String
    let admin: HubURL
    let adminPassword: String
    let adminURL: String
    let pusherURL: String

    var env: [String: String] {
        ["XDG_CONFIG_HOME": dir.path + "/config", "BCLI_TEST_ADMIN_PW": adminPassword, "BCLI_TEST_PUSHER_PW": pusherPassword,
         "PGPASSWORD": "", "PGPASSFILE": dir.path + "/no-pgpass"]
    }

    init() async throws {
        let url = try #require(PG.adminURL, "\(PG.variable) is not set")
        let parts = try #require(URLComponents(string: url))
        admin = try HubURL(parsing: url)
        adminPassword = try #require(parts.password)
        dir = TempDir("bcli-hub")
        let id = PG.random()
        database = "bcli_hub_t_\(id)"
        pusher = "bcli_pusher_\(id)"
        pusherPassword = PG.random(24)
        adminURL = "postgresql://\(admin.user)@\(admin.host):\(admin.port)/\(database)"
        pusherURL = "postgresql://\(pusher)@\(admin.host):\(admin.port)/\(database)"
        try await Self.onCluster { s in
            try await s.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(self.database)"))
            try await s.query(PostgresQuery(unsafeSQL: "CREATE ROLE \(self.pusher) LOGIN PASSWORD '\(self.pusherPassword)'"))
        }
        for (name, u, variable) in [("admin", adminURL, "BCLI_TEST_ADMIN_PW"), ("origin", pusherURL, "BCLI_TEST_PUSHER_PW")] {
            let r = try await bcliAsync(["batch", "remote", "add", name, u, "--password-env", variable], env: env)
            #expect(r.status == 0, "remote add: \(r.stderr)")
        }
    }

    /// `remote init admin --pusher <role>`: the hub's schema and the pusher's grants.
    func initialise() async throws {
        let r = try await bcliAsync(["batch", "remote", "init", "admin", "--pusher", pusher], env: env)
        #expect(r.status == 0, "remote init: \(r.stderr)")
    }

    static func onCluster<T: Sendable>(_ body: (HubSession) async throws -> T) async throws -> T {
        let endpoint = try HubEndpoint(name: "cluster", url: try #require(PG.adminURL), passwordEnv: nil, environment: [:])
        return try await HubSession.with(endpoint, checkSchema: false, body)
    }

    /// A session on this test's database as the owner, or as the pusher.
    func session<T: Sendable>(asPusher: Bool = false, checkSchema: Bool = false, _ body: (HubSession) async throws -> T) async throws -> T {
        let endpoint = try HubEndpoint(name: asPusher ? "origin" : "admin", url: asPusher ? pusherURL : adminURL,
                                       passwordEnv: "PW", environment: ["PW": asPusher ? pusherPassword : adminPassword])
        return try await HubSession.with(endpoint, checkSchema: checkSchema, body)
    }

    func count(_ sql: String) async throws -> Int64 {
        try await session { s in try await s.query(PostgresQuery(unsafeSQL: sql)).first!.decode(Int64.self) }
    }

    func drop() async {
        _ = try? await Self.onCluster { s in
            try await s.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(self.database) WITH (FORCE)"))
            try await s.query(PostgresQuery(unsafeSQL: "DROP ROLE IF EXISTS \(self.pusher)"))
        }
    }

    /// Runs `body` with a fresh hub, dropping it on every path.
    static func with(initialised: Bool = true, _ body: (TestHub) async throws -> Void) async throws {
        let hub = try await TestHub()
        do {
            if initialised { try await hub.initialise() }
            try await body(hub)
        } catch {
            await hub.drop()
            throw error
        }
        await hub.drop()
    }

    /// Makes `count` finished runs in the store at `store` (the quickstart against the built-in sandbox).
    func makeRuns(store: String, count: Int) async throws -> [String] {
        var ids: [String] = []
        for _ in 0..<count {
            let r = try await bcliAsync(["batch", "run", "-p", "sandbox", Paths.packageRoot + "/examples/quickstart.yaml", "--store", store], env: env)
            #expect(r.status == 0, "run: \(r.stderr)")
            let id = try #require(r.stderr.range(of: #"run [0-9a-f]{32}"#, options: .regularExpression).map { String(r.stderr[$0].dropFirst(4)) })
            ids.append(id)
        }
        return ids
    }
}
