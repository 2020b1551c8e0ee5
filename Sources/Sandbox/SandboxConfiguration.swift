/// How a `SandboxServer` listens, where it keeps its data, and which faults it injects.
///
/// Why a plain value: the CLI builds one from flags and tests build one in code; both then hand it
/// to `SandboxServer` unchanged, so what a test exercises is what `bcli sandbox serve` runs.
public struct SandboxConfiguration: Sendable {
    /// The address to bind. Loopback by default: the sandbox has no real security.
    public var host: String = "127.0.0.1"
    /// The port to bind; 0 picks a free one (read it from `start()`'s URL).
    public var port: Int = 0
    /// Folder holding `sandbox.sqlite3` (and optionally `settings.json`); `nil` keeps state in memory.
    public var dataDirectory: String?
    /// Delay added to every API request.
    public var latency: SandboxLatency?
    /// Faults injected from start-up (replaceable at run time through `/_sandbox/faults`).
    public var faults: [SandboxFault]
    /// Client credentials the token endpoint accepts (besides those in `<data>/settings.json`).
    public var credentials: [SandboxCredential]
    /// Lifetime of issued bearer tokens, in seconds (`expires_in`).
    public var tokenLifetimeSeconds: Int = 3599
    /// Seed a few CRONUS-style vendors and items (`DemoData`) so example manifests that look up
    /// vendor 20000 or item 1896-S work. Off by default so tests start from an empty company.
    public var demoData: Bool = false
    /// The tenant segment accepted in URLs.
    public var tenant: String = SandboxDefaults.tenant
    /// The environment segment accepted in URLs.
    public var environment: String = SandboxDefaults.environment
    /// Items per page of a collection GET when the client sends no `Prefer: odata.maxpagesize=N`
    /// (BC's default: 20,000); more items are reached through `@odata.nextLink`. At least 1.
    public var maxPageSize: Int = SandboxConfiguration.defaultMaxPageSize

    /// Business Central's default page size.
    public static let defaultMaxPageSize = 20_000

    public init(
        host: String = "127.0.0.1",
        port: Int = 0,
        dataDirectory: String? = nil,
        latency: SandboxLatency? = nil,
        faults: [SandboxFault] = [],
        credentials: [SandboxCredential] = [.builtIn],
        tokenLifetimeSeconds: Int = 3599
    ) {
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
        self.latency = latency
        self.faults = faults
        self.credentials = credentials
        self.tokenLifetimeSeconds = tokenLifetimeSeconds
    }
}

/// A client id and secret the sandbox's token endpoint accepts.
public struct SandboxCredential: Sendable, Hashable {
    public var clientID: String
    public var clientSecret: String

    public init(clientID: String, clientSecret: String) {
        self.clientID = clientID
        self.clientSecret = clientSecret
    }

    /// The documented fixed test credential of the built-in `sandbox` profile.
    public static let builtIn = SandboxCredential(
        clientID: SandboxDefaults.clientID, clientSecret: SandboxDefaults.clientSecret)

    /// Parses `ID:SECRET` (the secret may itself contain colons).
    public init(parsing text: String) throws(SandboxConfigurationError) {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex,
              text.index(after: colon) != text.endIndex
        else {
            throw .invalidCredential(text)
        }
        self.init(clientID: String(text[..<colon]), clientSecret: String(text[text.index(after: colon)...]))
    }
}

/// Delay added before answering an API request.
public enum SandboxLatency: Sendable, Equatable, CustomStringConvertible {
    case fixed(milliseconds: Int)
    /// Uniformly random in `min...max`, from a generator seeded with `seed` (deterministic order).
    case random(min: Int, max: Int, seed: UInt64)

    /// Parses `MS`, `MIN-MAX` or `MIN-MAX@SEED` (milliseconds).
    public init(parsing text: String) throws(SandboxConfigurationError) {
        let trimmed = text.trimmingWhitespace
        var rangePart = Substring(trimmed)
        var seed: UInt64 = 0
        if let at = trimmed.firstIndex(of: "@") {
            guard let s = UInt64(trimmed[trimmed.index(after: at)...]) else { throw .invalidLatency(text) }
            seed = s
            rangePart = trimmed[..<at]
        }
        if let dash = rangePart.firstIndex(of: "-") {
            guard let lo = Int(rangePart[..<dash]), let hi = Int(rangePart[rangePart.index(after: dash)...]),
                  lo >= 0, hi >= lo
            else { throw .invalidLatency(text) }
            self = .random(min: lo, max: hi, seed: seed)
        } else {
            guard let ms = Int(rangePart), ms >= 0 else { throw .invalidLatency(text) }
            self = .fixed(milliseconds: ms)
        }
    }

    public var description: String {
        switch self {
        case .fixed(let ms): return "\(ms)"
        case .random(let lo, let hi, let seed): return "\(lo)-\(hi)@\(seed)"
        }
    }
}

/// A configuration value the sandbox cannot use; the message names the accepted form.
public enum SandboxConfigurationError: Error, CustomStringConvertible, Equatable, Sendable {
    case invalidCredential(String)
    case invalidLatency(String)
    case invalidFault(spec: String, reason: String)
    case invalidSettings(path: String, reason: String)
    case dataDirectory(path: String, reason: String)
    case invalidLogLevel(String)

    public var description: String {
        switch self {
        case .invalidCredential(let text):
            return "invalid client credential '\(text)': use ID:SECRET, e.g. --client my-app:my-secret"
        case .invalidLatency(let text):
            return "invalid latency '\(text)': use milliseconds (200), a range (50-200) or a seeded range (50-200@7)"
        case .invalidFault(let spec, let reason):
            return "invalid fault '\(spec)': \(reason). See docs/sandbox.md#faults for the accepted forms"
        case .invalidSettings(let path, let reason):
            return "cannot read sandbox settings \(path): \(reason). Expected {\"clients\":[{\"client_id\":\"…\",\"client_secret\":\"…\"}]}"
        case .dataDirectory(let path, let reason):
            return "cannot use sandbox data directory \(path): \(reason). Pass a writable folder with --data"
        case .invalidLogLevel(let text):
            return "invalid log level '\(text)': use trace, debug, info, notice, warning, error or critical"
        }
    }
}

extension StringProtocol {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\n" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}
