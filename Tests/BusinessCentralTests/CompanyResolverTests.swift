import Foundation
import Sandbox
import Testing
import TestSupport

@testable import BusinessCentral

/// `company_name` and `-c NAME`: resolved through the companies endpoint, cached.
@Suite struct CompanyResolverTests {
    static func profile(_ base: String, company: String) throws -> Profile {
        var p = Profile(name: "py", tenantID: SandboxDefaults.tenant, environment: "production", clientID: SandboxDefaults.clientID,
                        clientSecretEnv: "PY_SECRET", baseURL: base, tokenURL: "\(base)/\(SandboxDefaults.tenant)/oauth2/v2.0/token")
        p.companies["US"] = CompanyAlias(id: "11111111-0000-0000-0000-000000000000", name: "elsewhere")
        return try p.selectingCompany(company)
    }

    @Test func resolvesANameAgainstTheSandboxAndCachesIt() async throws {
        try await withSandbox { sandbox in
            let dir = TempDir("bcli-companies")
            let cache = CompanyResolver.cacheFile(environment: ["XDG_CACHE_HOME": dir.path])
            #expect(cache == "\(dir.path)/bcli/companies.json")
            let env = ["PY_SECRET": SandboxDefaults.clientSecret]
            let fetches = Locked(0)
            try await TestHTTP.withClient(profile: try Self.profile(sandbox.url, company: "x"), environment: env, retry: .default) { client in
                let resolver = CompanyResolver(cacheFile: cache) { url in
                    fetches.withLock { $0 += 1 }
                    let r = try await client.execute(BCRequest(method: "GET", url: url))
                    return (r.status, r.body)
                }
                // A GUID is taken as the id; no request.
                #expect(try await resolver.resolve(try Self.profile(sandbox.url, company: SandboxDefaults.companyID)).companyID == SandboxDefaults.companyID)
                #expect(fetches.current == 0)
                for name in [SandboxDefaults.companyName, SandboxDefaults.companyName.lowercased()] {
                    let resolved = try await resolver.resolve(try Self.profile(sandbox.url, company: name))
                    #expect(resolved.companyID == SandboxDefaults.companyID)
                    #expect(resolved.companyName == SandboxDefaults.companyName)
                }
                #expect(fetches.current == 1)  // the rest came from the cache
                let attributes = try FileManager.default.attributesOfItem(atPath: cache)
                #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)

                // An alias never asks the server.
                let alias = try await resolver.resolve(try Self.profile(sandbox.url, company: "us"))
                #expect(alias.companyID == "11111111-0000-0000-0000-000000000000")
                #expect(fetches.current == 1)

                // A name the cache does not know asks again, then fails naming what exists.
                do {
                    _ = try await resolver.resolve(try Self.profile(sandbox.url, company: "Fabrikam"))
                    Issue.record("expected notFound")
                } catch let error as CompanyResolutionError {
                    guard case .notFound(_, _, _, let companies, let aliases) = error else { Issue.record("\(error)"); return }
                    #expect(companies == [SandboxDefaults.companyName])
                    #expect(aliases == ["US"])
                    #expect(error.description.contains("no company `Fabrikam` in environment `production`"))
                }
                #expect(fetches.current == 2)
            }
        }
    }

    @Test func matchingRules() throws {
        let companies = [
            CompanyResolver.Company(id: "a", name: "Contoso", displayName: "Contoso Ltd"),
            CompanyResolver.Company(id: "b", name: "contoso", displayName: ""),
            CompanyResolver.Company(id: "c", name: "Fabrikam", displayName: "Fabrikam Inc"),
        ]
        #expect(try CompanyResolver.match("contoso", in: companies)?.id == "b")
        #expect(try CompanyResolver.match("FABRIKAM", in: companies)?.id == "c")
        #expect(try CompanyResolver.match("Fabrikam Inc", in: companies)?.id == "c")
        #expect(try CompanyResolver.match("C", in: companies)?.id == "c")
        #expect(throws: CompanyResolutionError.ambiguous(value: "CONTOSO", matches: ["Contoso", "contoso"])) {
            try CompanyResolver.match("CONTOSO", in: companies)
        }
        #expect(try CompanyResolver.match("nope", in: companies) == nil)
    }

    @Test func aProfileWithAnIdIsLeftAlone() async throws {
        let resolver = CompanyResolver(cacheFile: nil) { _ in
            Issue.record("no request expected")
            return (500, [])
        }
        let p = Profile(name: "p", tenantID: "t", environment: "e", companyID: "x")
        #expect(try await resolver.resolve(p) == p)
    }
}
