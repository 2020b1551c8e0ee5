import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// A Business Central API v2.0 emulator listening on loopback.
///
/// Why it exists: every test of the batch runner, rollback, diff and crash recovery needs a server
/// that behaves like BC where the ledger cares (ETags, If-Match, keys, errors, throttling, and a
/// write that commits but never answers) — without a tenant, a network or credentials.
///
/// ```swift
/// let server = try SandboxServer(configuration: SandboxConfiguration())
/// let baseURL = try await server.start()   // "http://127.0.0.1:41733"
/// defer { Task { await server.stop() } }
/// ```
public final class SandboxServer: Sendable {
    public let configuration: SandboxConfiguration
    let store: EntityStore
    let faults: FaultController
    let responder: SandboxResponder
    let logger: Logger
    private let lifecycle = Lifecycle()

    /// Opens (or creates) the data directory and prepares the server; nothing listens yet.
    public init(configuration: SandboxConfiguration, logger: Logger? = nil) throws {
        self.configuration = configuration
        self.logger = logger ?? Logger(label: "bcli.sandbox", factory: { _ in SwiftLogNoOpLogHandler() })
        store = try EntityStore(dataDirectory: configuration.dataDirectory)
        var credentials = configuration.credentials
        if let directory = configuration.dataDirectory {
            credentials += try Authenticator.credentials(fromSettingsIn: directory)
        }
        faults = FaultController(faults: configuration.faults, latency: configuration.latency)
        responder = SandboxResponder(
            api: APIHandler(store: store, tenant: configuration.tenant, environment: configuration.environment,
                            companies: SandboxCompany.seeded, maxPageSize: configuration.maxPageSize),
            authenticator: Authenticator(credentials: credentials, store: store,
                                         lifetimeSeconds: configuration.tokenLifetimeSeconds),
            faults: faults, store: store, logger: self.logger)
    }

    /// Starts listening and returns the base URL (with the real port when `port` was 0).
    /// Throws when the address cannot be bound or the server is already running.
    public func start() async throws -> String {
        try await seedIfAsked()
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = makeApplication { port in continuation.yield(port) }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        guard await lifecycle.begin(group: group, task: task) else {
            task.cancel()
            throw SandboxServerError.alreadyRunning
        }
        var iterator = ports.makeAsyncIterator()
        if let port = await iterator.next() {
            return baseURL(port: port)
        }
        await lifecycle.end()
        try await task.value
        throw SandboxServerError.notListening(host: configuration.host, port: configuration.port)
    }

    /// Stops accepting connections, lets requests in flight finish, and returns once closed.
    public func stop() async {
        guard let (group, task) = await lifecycle.current() else { return }
        _ = await faults.releaseHeld()
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        await lifecycle.end()
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully and returns.
    /// `onListening` receives the base URL once the port is bound (print it, flush it).
    public func run(onListening: @escaping @Sendable (String) -> Void) async throws {
        try await seedIfAsked()
        let app = makeApplication { port in onListening(self.baseURL(port: port)) }
        let group = ServiceGroup(configuration: .init(
            services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("sandbox stopped")
    }

    private func seedIfAsked() async throws {
        guard configuration.demoData else { return }
        for company in SandboxCompany.seeded { try await DemoData.seed(store, company: company.id) }
    }

    private func baseURL(port: Int) -> String {
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        return "http://\(host):\(port)"
    }

    private func makeApplication(onPort: @escaping @Sendable (Int) -> Void) -> some Service {
        let logger = self.logger
        return Application(
            responder: responder,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("sandbox listening", metadata: ["port": .stringConvertible(port)])
                onPort(port)
            },
            logger: logger)
    }
}

/// Why a server could not start.
public enum SandboxServerError: Error, CustomStringConvertible, Sendable {
    case alreadyRunning
    case notListening(host: String, port: Int)

    public var description: String {
        switch self {
        case .alreadyRunning:
            return "the sandbox server is already running; call stop() before start()"
        case .notListening(let host, let port):
            return "the sandbox could not listen on \(host):\(port); choose another --port (0 picks a free one)"
        }
    }
}

/// The running service group of a started server.
private actor Lifecycle {
    private var running: (ServiceGroup, Task<Void, any Error>)?

    func begin(group: ServiceGroup, task: Task<Void, any Error>) -> Bool {
        guard running == nil else { return false }
        running = (group, task)
        return true
    }

    func current() -> (ServiceGroup, Task<Void, any Error>)? { running }

    func end() { running = nil }
}

extension SandboxServer {
    /// A server that logs to standard error at `logLevel` (`trace`…`critical`), as `bcli sandbox serve` does.
    public convenience init(configuration: SandboxConfiguration, logLevel: String) throws {
        guard let level = Logger.Level(rawValue: logLevel.lowercased()) else {
            throw SandboxConfigurationError.invalidLogLevel(logLevel)
        }
        var logger = Logger(label: "bcli.sandbox", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = level
        try self.init(configuration: configuration, logger: logger)
    }
}
