import Foundation
import Support

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A cached access token and when it expires.
public struct CachedToken: Sendable, Equatable {
    public var accessToken: String
    public var expiresAt: Date

    /// Usable when more than `margin` seconds remain.
    public func isUsable(at now: Date, margin: TimeInterval) -> Bool {
        expiresAt.timeIntervalSince(now) > margin
    }
}

/// The on-disk token cache: one JSON file, mode 0600, in a 0700 folder, replaced atomically.
///
/// Why a file: each `bcli` command is a new process, and fetching a token per command would cost a
/// round trip (and count against rate limits). Entries are keyed by token URL + client id — never
/// by the secret — and hold only the access token and its expiry.
///
/// Format: `{"format_version":1,"tokens":{"<token_url> <client_id>":{"access_token":"…","expires_at":"…Z"}}}`.
public struct TokenCache: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    public static func key(tokenURL: String, clientID: String) -> String {
        "\(tokenURL) \(clientID)"
    }

    /// The entry for `key`, or nil if absent or the file is missing/unreadable/corrupt (a cache
    /// miss is never an error).
    public func read(key: String) -> CachedToken? {
        readAll()[key]
    }

    /// Stores (or, with `nil`, removes) an entry, dropping entries that expired; best effort.
    /// Throws only so tests can see failures; callers may ignore them.
    public func write(key: String, token: CachedToken?, now: Date = Date()) throws {
        var all = readAll().filter { $0.value.expiresAt > now }
        all[key] = token
        try writeAll(all)
    }

    func readAll() -> [String: CachedToken] {
        guard let data = FileManager.default.contents(atPath: path),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let tokens = object["tokens"] as? [String: Any]
        else { return [:] }
        let formatter = ISO8601DateFormatter()
        var result: [String: CachedToken] = [:]
        for (key, value) in tokens {
            guard let entry = value as? [String: Any],
                let token = entry["access_token"] as? String,
                let expiresText = entry["expires_at"] as? String,
                let expires = formatter.date(from: expiresText)
            else { continue }
            result[key] = CachedToken(accessToken: token, expiresAt: expires)
        }
        return result
    }

    func writeAll(_ tokens: [String: CachedToken]) throws {
        let formatter = ISO8601DateFormatter()
        var entries: [String: Any] = [:]
        for (key, token) in tokens {
            entries[key] = ["access_token": token.accessToken, "expires_at": formatter.string(from: token.expiresAt)]
        }
        let object: [String: Any] = ["format_version": 1, "tokens": entries]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])

        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        _ = chmod(directory, 0o700)

        try AtomicFile.write(Array(data), to: path, mode: 0o600)
    }
}
