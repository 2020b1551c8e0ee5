import Foundation
import Support

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a company name could not be turned into an id.
public enum CompanyResolutionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No company of that name or id in the environment.
    case notFound(value: String, profile: String, environment: String, companies: [String], aliases: [String])
    /// Several companies answer to the name (ignoring case) and none matches it exactly.
    case ambiguous(value: String, matches: [String])
    /// The companies endpoint answered with an error.
    case http(url: String, status: Int, message: String?)
    /// The answer was not a companies list.
    case invalidResponse(url: String)

    public var description: String {
        switch self {
        case .notFound(let value, let profile, let environment, let companies, let aliases):
            let known = companies.isEmpty ? "none" : companies.joined(separator: ", ")
            let alias = aliases.isEmpty ? "" : " Aliases of profile `\(profile)`: \(aliases.sorted().joined(separator: ", "))."
            return "no company `\(value)` in environment `\(environment)`. Companies: \(known).\(alias) Use -c with an alias, a company name or id, or set company_id under [profiles.\(profile)]."
        case .ambiguous(let value, let matches):
            return "company `\(value)` matches several companies (\(matches.joined(separator: ", "))): write the name exactly as shown, or give the company id."
        case .http(let url, let status, let message):
            return "cannot list companies at \(url) (HTTP \(status))\(message.map { ": \($0)" } ?? ""). Check the environment name and the app's permissions."
        case .invalidResponse(let url):
            return "cannot list companies at \(url): the answer is not an OData list of companies."
        }
    }
}

/// Turns a company *name* (`company_name` without `company_id`, or `-c NAME`) into its id through
/// the companies endpoint (`GET …/api/v2.0/companies`), matching by name, then by name ignoring
/// case, then by display name, then by id. The list is cached per profile and environment in
/// `companies.json` next to the token cache (file 0600, folder 0700), so only the first command
/// (or one naming a company the cache does not know) asks the server.
///
/// Cache format: `{"format_version":1,"companies":{"<profile> <environment>":{"fetched_at":"…Z","companies":[{"id":"…","name":"…","displayName":"…"}]}}}`.
public struct CompanyResolver: Sendable {
    public struct Company: Sendable, Equatable {
        public var id: String
        public var name: String
        public var displayName: String
    }

    /// Lists the companies of the profile's environment: given the URL, returns (status, body).
    public typealias Fetch = @Sendable (String) async throws -> (status: Int, body: [UInt8])

    public let cacheFile: String?
    let fetch: Fetch

    /// - Parameters:
    ///   - cacheFile: usually `CompanyResolver.cacheFile(environment:)`; nil keeps nothing.
    ///   - fetch: a GET with the profile's token (e.g. through `BCClient.execute`).
    public init(cacheFile: String?, fetch: @escaping Fetch) {
        self.cacheFile = cacheFile
        self.fetch = fetch
    }

    /// `$XDG_CACHE_HOME/bcli/companies.json`, else `~/.cache/bcli/companies.json`.
    public static func cacheFile(environment: [String: String]) -> String {
        (ConfigPaths.tokenCacheFile(environment: environment) as NSString).deletingLastPathComponent + "/companies.json"
    }

    /// The companies list URL of `profile`'s environment (always the standard API).
    public static func listURL(profile: Profile) throws(URLBuildError) -> String {
        try URLBuilder.apiRoot(profile: profile, route: .standard) + "/companies"
    }

    /// `profile` with `companyID` set, when it names its company only by name; else `profile`.
    public func resolve(_ profile: Profile) async throws -> Profile {
        guard profile.needsCompanyResolution, let value = profile.companyName else { return profile }
        let key = "\(profile.name) \(profile.environment)"
        if let cached = readCache()[key], let match = try Self.match(value, in: cached) {
            return Self.apply(match, to: profile)
        }
        let url = try Self.listURL(profile: profile)
        let (status, body) = try await fetch(url)
        guard (200..<300).contains(status) else {
            let message = (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
                .flatMap { ($0["error"] as? [String: Any])?["message"] as? String }
            throw CompanyResolutionError.http(url: url, status: status, message: message)
        }
        guard let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let rows = json["value"] as? [[String: Any]] else {
            throw CompanyResolutionError.invalidResponse(url: url)
        }
        let companies = rows.compactMap { row -> Company? in
            guard let id = row["id"] as? String else { return nil }
            return Company(id: id, name: row["name"] as? String ?? "", displayName: row["displayName"] as? String ?? "")
        }
        writeCache(key: key, companies)
        guard let match = try Self.match(value, in: companies) else {
            throw CompanyResolutionError.notFound(value: value, profile: profile.name, environment: profile.environment,
                                                  companies: companies.map(\.name), aliases: Array(profile.companies.keys))
        }
        return Self.apply(match, to: profile)
    }

    static func apply(_ company: Company, to profile: Profile) -> Profile {
        var copy = profile
        copy.companyID = company.id
        copy.companyName = company.name.isEmpty ? profile.companyName : company.name
        return copy
    }

    /// Name exactly, then name ignoring case (one match only), then display name, then id.
    static func match(_ value: String, in companies: [Company]) throws -> Company? {
        if let exact = companies.first(where: { $0.name == value }) { return exact }
        let folded = companies.filter { $0.name.lowercased() == value.lowercased() }
        if folded.count == 1 { return folded[0] }
        if folded.count > 1 { throw CompanyResolutionError.ambiguous(value: value, matches: folded.map(\.name)) }
        if let display = companies.first(where: { $0.displayName == value }) { return display }
        return companies.first { $0.id.lowercased() == value.lowercased() }
    }

    // MARK: Cache

    func readCache() -> [String: [Company]] {
        guard let cacheFile, let data = FileManager.default.contents(atPath: cacheFile),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let entries = object["companies"] as? [String: Any] else { return [:] }
        var result: [String: [Company]] = [:]
        for (key, value) in entries {
            guard let entry = value as? [String: Any], let rows = entry["companies"] as? [[String: Any]] else { continue }
            result[key] = rows.compactMap { row in
                guard let id = row["id"] as? String else { return nil }
                return Company(id: id, name: row["name"] as? String ?? "", displayName: row["displayName"] as? String ?? "")
            }
        }
        return result
    }

    /// Best effort: a cache that cannot be written only costs a request next time.
    func writeCache(key: String, _ companies: [Company]) {
        guard let cacheFile else { return }
        var entries: [String: Any] = [:]
        if let data = FileManager.default.contents(atPath: cacheFile),
           let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let existing = object["companies"] as? [String: Any] {
            entries = existing
        }
        entries[key] = [
            "fetched_at": ISO8601DateFormatter().string(from: Date()),
            "companies": companies.map { ["id": $0.id, "name": $0.name, "displayName": $0.displayName] },
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: ["format_version": 1, "companies": entries], options: [.sortedKeys])
        else { return }
        let directory = (cacheFile as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                 attributes: [.posixPermissions: 0o700])
        _ = chmod(directory, 0o700)
        try? AtomicFile.write(Array(data), to: cacheFile, mode: 0o600)
    }
}

extension CompanyResolver {
    /// A resolver that lists companies through `client` (its token, retries and timeouts).
    public init(client: BCClient, cacheFile: String?) {
        self.init(cacheFile: cacheFile) { url in
            let response = try await client.execute(BCRequest(method: "GET", url: url))
            return (response.status, response.body)
        }
    }
}
