import Support

/// Every key of a loaded config, and what bcli does with it: the data of `bcli config check`.
///
/// Why: the Python tool's files carry keys for features bcli does not have. bcli loads them
/// without failing, and this inventory lists them as "not used by bcli", so they are never
/// silently ignored. A key neither tool knows is a typo.
public struct ConfigInventory: Sendable {
    public enum Status: String, Sendable {
        /// bcli reads it and acts on it.
        case used
        /// Accepted (the Python tool reads it), but bcli does nothing with it.
        case notUsed = "not-used"
        /// Known to neither tool: a typo (inside a table bcli does not read, so loading did not fail).
        case unknown
    }

    public struct Entry: Sendable, Equatable {
        /// Dotted path, e.g. `profiles.prod.company_name`.
        public let key: String
        public let status: Status
        /// What bcli does with it, why it is not used, or the suggestion for a typo.
        public let note: String
    }

    public let entries: [Entry]

    public var problems: [Entry] { entries.filter { $0.status == .unknown } }

    /// What each key of bcli's tables means to bcli.
    static let defaultsNotes: [String: (Status, String)] = [
        "profile": (.used, "profile used when -p and BCLI_PROFILE are not given"),
        "format": (.used, "default output format (BCLI_FORMAT overrides it)"),
        "page_size": (.used, "records per page (Prefer: odata.maxpagesize) for a get step with all: true"),
        "timeout": (.used, "request timeout in seconds (BCLI_TIMEOUT overrides it)"),
        "rate_limit_requests": (.used, "requests per sliding window for profiles without their own (bcli only)"),
        "rate_limit_window_seconds": (.used, "the rate limit's window in seconds (bcli only)"),
        "rate_limit_concurrent": (.used, "requests on the wire at once per profile (bcli only)"),
    ]

    static let profileNotes: [String: (Status, String)] = [
        "tenant_id": (.used, "tenant in the token URL"),
        "environment": (.used, "environment in every API URL (-e overrides it)"),
        "company_id": (.used, "company in every API URL (-c overrides it)"),
        "company_name": (.used, "looked up through the companies endpoint when company_id is absent"),
        "companies": (.used, "aliases for -c"),
        "auth_method": (.used, "how the token is obtained"),
        "client_id": (.used, "app registration"),
        "client_secret_env": (.used, "variable holding the client secret"),
        "disable_writes": (.used, "write gate"),
        "disable_standard_api": (.used, "endpoint policy: refuse steps on the standard API"),
        "allowed_categories": (.used, "endpoint policy: allowed categories of the standard catalogue"),
        "allowed_endpoints": (.used, "endpoint policy: allowed entity sets"),
        "api_publisher": (.used, "custom API route"),
        "api_group": (.used, "custom API route"),
        "api_version": (.used, "custom API route"),
        "base_url": (.used, "API host (bcli only)"),
        "token_url": (.used, "token endpoint (bcli only)"),
        "timeout": (.used, "request timeout for this profile (bcli only)"),
        "rate_limit_requests": (.used, "requests per sliding window, shared by every worker (bcli only)"),
        "rate_limit_window_seconds": (.used, "the rate limit's window in seconds (bcli only)"),
        "rate_limit_concurrent": (.used, "requests on the wire at once (bcli only)"),
    ]

    /// The keys of the Python tool's (bc-cli 0.8.2) tables bcli does not read.
    static let notUsedTableKeys: [String: [String]] = [
        "telemetry": ["enabled", "backend", "connection_string", "capture_filter_text", "capture_user_upn", "sample_rate"],
        "audit": ["enabled", "backend", "path", "max_size_mb", "include_reads", "redact_keys"],
        "extract": ["backend", "model", "api_key_env", "schemas_dir", "max_pdf_bytes", "max_pdf_pages", "max_output_tokens",
                    "openai_base_url", "openai_organization"],
        "ask": ["backend", "model", "api_key_env", "max_tokens", "include_describe", "include_http_tail", "context_providers",
                "base_url", "organization"],
        "context": ["tail", "redact_company_ids", "attachment_max_bytes"],
        "etl": ["stampers"],
    ]

    static let notUsedTableFeature: [String: String] = [
        "telemetry": "telemetry", "audit": "audit log", "extract": "document extraction", "ask": "`ask` command",
        "context": "agent context", "etl": "ETL stampers", "agent": "agent settings",
    ]

    /// The inventory of `config` (which loaded, so bcli's own tables hold no unknown key).
    public init(_ config: BCConfig) {
        var entries: [Entry] = []
        let root = config.root
        for top in root.keys {
            guard case .table(let table)? = root[top] else { continue }
            switch top {
            case "defaults":
                for key in table.keys {
                    let (status, note) = Self.defaultsNotes[key] ?? (.unknown, "")
                    entries.append(Entry(key: "defaults.\(key)", status: status, note: note))
                }
            case "profiles":
                for name in table.keys {
                    guard case .table(let profile)? = table[name] else { continue }
                    for key in profile.keys {
                        var (status, note) = Self.profileNotes[key] ?? (.unknown, "")
                        if key == "auth_method", config.fileProfiles[name]?.authMethod == .browser {
                            note = "browser sign-in is not supported by bcli (a token request fails, exit 3): use device_code"
                        }
                        entries.append(Entry(key: "profiles.\(name).\(key)", status: status, note: note))
                    }
                    for category in config.fileProfiles[name]?.allowedCategories ?? []
                    where EntityCategory(rawValue: category.lowercased()) == nil {
                        let hint = Suggestion.closest(to: category.lowercased(), in: EntityCategory.allCases.map(\.rawValue))
                            .map { " Did you mean `\($0)`?" } ?? ""
                        entries.append(Entry(key: "profiles.\(name).allowed_categories", status: .unknown,
                                             note: "`\(category)` is not a category of the standard catalogue.\(hint) Categories: \(EntityCategory.allCases.map(\.rawValue).joined(separator: ", "))"))
                    }
                }
            case "remotes":
                for name in table.keys {
                    guard case .table(let remote)? = table[name] else { continue }
                    for key in remote.keys {
                        let note = key == "url" ? "the hub's PostgreSQL URL (batch push/pull)" : "variable holding the hub password"
                        entries.append(Entry(key: "remotes.\(name).\(key)", status: .used, note: note))
                    }
                }
            default:
                let feature = Self.notUsedTableFeature[top] ?? top
                let known = Self.notUsedTableKeys[top]
                if table.keys.isEmpty {
                    entries.append(Entry(key: top, status: .notUsed, note: "bcli has no \(feature)"))
                }
                for key in table.keys {
                    if let known, !known.contains(key) {
                        let hint = Suggestion.closest(to: key, in: known).map { " Did you mean `\($0)`?" } ?? ""
                        entries.append(Entry(key: "\(top).\(key)", status: .unknown,
                                             note: "unknown key in [\(top)] (the Python tool ignores it too).\(hint) Valid keys: \(known.joined(separator: ", "))"))
                    } else {
                        entries.append(Entry(key: "\(top).\(key)", status: .notUsed, note: "bcli has no \(feature)"))
                    }
                }
            }
        }
        self.entries = entries
    }
}
