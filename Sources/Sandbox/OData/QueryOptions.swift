import Hashing

/// The OData system query options of one request, parsed and validated.
///
/// Why strict: an option the emulator silently ignored (`$expand`, a typo like `$fitler`) would
/// make a manifest pass here and behave differently on a real tenant, so anything unsupported is a 400.
struct QueryOptions: Sendable {
    struct OrderKey: Sendable, Equatable {
        var property: String
        var descending: Bool
    }

    var filter: FilterExpression?
    var select: [String]?
    var top: Int?
    var skip: Int?
    var orderBy: [OrderKey] = []
    var count = false
    /// Where a page starts in the filtered, ordered collection (`$skiptoken`, issued in a nextLink).
    var skipToken: Int?

    static let collectionOptions: Set<String> = ["$filter", "$select", "$top", "$skip", "$orderby", "$count", "$skiptoken"]
    static let entityOptions: Set<String> = ["$select"]

    /// Parses the `$…` parameters; non-`$` parameters (e.g. `company`) are the caller's business.
    static func parse(_ parameters: [(name: String, value: String)], collection: Bool,
                      set: EntitySetDefinition?) throws(SandboxAPIError) -> QueryOptions
    {
        var options = QueryOptions()
        var seen: Set<String> = []
        let allowed = collection ? collectionOptions : entityOptions
        for (rawName, value) in parameters where rawName.hasPrefix("$") {
            let name = rawName.lowercased()
            guard allowed.contains(name) else {
                if collectionOptions.contains(name) {
                    throw .badRequest("The query option '\(rawName)' is not allowed on a single entity.")
                }
                throw .badRequest("The query option '\(rawName)' is not supported by the bcli sandbox (supported: \(collectionOptions.sorted().joined(separator: ", "))).")
            }
            guard seen.insert(name).inserted else {
                throw .badRequest("The query option '\(rawName)' was specified more than once.")
            }
            switch name {
            case "$filter":
                let expression = try FilterParser.parse(value)
                if let set { try validate(expression, set: set) }
                options.filter = expression
            case "$select":
                let fields = value.split(separator: ",").map { $0.trimmingWhitespace }
                guard !fields.isEmpty, !fields.contains("") else { throw .badRequest("Syntax error in $select '\(value)'.") }
                if let set {
                    for field in fields where field != "*" && !set.knows(field) {
                        throw propertyNotFound(field, set: set)
                    }
                }
                options.select = fields.contains("*") ? nil : fields
            case "$top", "$skip":
                guard let n = Int(value.trimmingWhitespace), n >= 0 else {
                    throw .badRequest("Invalid value '\(value)' for \(rawName): a non-negative integer is required.")
                }
                if name == "$top" { options.top = n } else { options.skip = n }
            case "$orderby":
                for item in value.split(separator: ",") {
                    let words = item.split(separator: " ", omittingEmptySubsequences: true)
                    guard words.count == 1 || words.count == 2 else { throw .badRequest("Syntax error in $orderby '\(value)'.") }
                    let property = String(words[0])
                    var descending = false
                    if words.count == 2 {
                        switch words[1].lowercased() {
                        case "asc": descending = false
                        case "desc": descending = true
                        default: throw .badRequest("Syntax error in $orderby '\(value)': use asc or desc after a property.")
                        }
                    }
                    if let set, !set.knows(property) { throw propertyNotFound(property, set: set) }
                    options.orderBy.append(OrderKey(property: property, descending: descending))
                }
                if options.orderBy.isEmpty { throw .badRequest("Syntax error in $orderby '\(value)'.") }
            case "$skiptoken":
                guard let offset = SkipToken.offset(value) else {
                    throw .badRequest("The skip token '\(value)' is not valid: use the @odata.nextLink the sandbox returned, as it is.")
                }
                options.skipToken = offset
            case "$count":
                switch value.lowercased() {
                case "true": options.count = true
                case "false": options.count = false
                default: throw .badRequest("Invalid value '\(value)' for $count: use true or false.")
                }
            default:
                break
            }
        }
        return options
    }

    static func propertyNotFound(_ property: String, set: EntitySetDefinition) -> SandboxAPIError {
        .badRequest("Could not find a property named '\(property)' on type 'Microsoft.NAV.\(set.typeName)'.")
    }

    /// Rejects unknown properties and literals of the wrong type, as BC does.
    static func validate(_ expression: FilterExpression, set: EntitySetDefinition) throws(SandboxAPIError) {
        switch expression {
        case .and(let a, let b), .or(let a, let b):
            try validate(a, set: set)
            try validate(b, set: set)
        case .not(let a):
            try validate(a, set: set)
        case .function(let f, let property, _):
            guard set.knows(property) else { throw propertyNotFound(property, set: set) }
            if let type = set.type(of: property), type != .string {
                throw .badRequest("The function '\(f.rawValue)' needs a string property; '\(property)' is \(type.edmName).")
            }
        case .compare(let property, _, let literal):
            guard set.knows(property) else { throw propertyNotFound(property, set: set) }
            guard let type = set.type(of: property) else { return }
            let literalType = literal.fieldType
            guard literalType == nil || literalType == type || (type == .dateTime && literalType == .date) else {
                throw .badRequest("A binary operator with incompatible types was detected. Found operand types '\(type.edmName)' and '\(literal.edmName)' for property '\(property)'.")
            }
        }
    }

    /// One page of a collection and where the next one starts.
    struct Page {
        /// The page's items (before `$select`).
        var items: [[String: JSONValue]]
        /// The count after `$filter`, before paging (`@odata.count`, the same on every page).
        var count: Int
        /// Where the next page starts, when items remain.
        var next: NextPage?
    }

    /// What a nextLink carries: the offset for `$skiptoken`, and the `$top` still owed if one was given.
    struct NextPage: Equatable {
        var offset: Int
        var top: Int?
    }

    /// Filters, orders and counts a collection, then answers at most `pageSize` items from where
    /// `$skiptoken` (then `$skip`) puts the start, within `$top`.
    ///
    /// Why offsets: the token is an absolute position in the filtered, ordered collection, so a
    /// nextLink carries no `$skip` (it would skip twice) and `$top` only as what is still owed.
    func page(_ entities: [[String: JSONValue]], pageSize: Int) -> Page {
        var items = entities
        if let filter { items = items.filter { FilterEvaluator.matches(filter, $0) } }
        let total = items.count
        if !orderBy.isEmpty {
            let keys = orderBy
            items = items.enumerated().sorted { lhs, rhs in
                for key in keys {
                    let order = FilterEvaluator.order(lhs.element[key.property] ?? .null, rhs.element[key.property] ?? .null)
                    if order != 0 { return key.descending ? order > 0 : order < 0 }
                }
                return lhs.offset < rhs.offset
            }.map(\.element)
        }
        let (start, overflow) = (skipToken ?? 0).addingReportingOverflow(skip ?? 0)
        let remaining = overflow ? [] : Array(items.dropFirst(start))
        let owed = top.map { min($0, remaining.count) } ?? remaining.count
        let size = max(1, pageSize)
        guard owed > size else { return Page(items: Array(remaining.prefix(owed)), count: total, next: nil) }
        return Page(items: Array(remaining.prefix(size)), count: total,
                    next: NextPage(offset: start + size, top: top.map { $0 - size }))
    }

    /// Keeps only the `$select`ed properties (plus `@odata.etag`, which BC always returns); without
    /// `$select`, every property but the select-only ones (`EntitySetDefinition.selectOnly`).
    func project(_ entity: [String: JSONValue]) -> [String: JSONValue] {
        guard let select else { return entity.filter { !EntitySetDefinition.selectOnly.contains($0.key) } }
        var result: [String: JSONValue] = [:]
        if let etag = entity["@odata.etag"] { result["@odata.etag"] = etag }
        for field in select { result[field] = entity[field] ?? .null }
        return result
    }
}

/// The sandbox's `$skiptoken`: `offset-N`, the position of the next page's first item in the
/// filtered, ordered collection. Anything else is a token the sandbox did not issue.
enum SkipToken {
    static let prefix = "offset-"

    static func token(offset: Int) -> String { prefix + String(offset) }

    static func offset(_ token: String) -> Int? {
        guard token.hasPrefix(prefix) else { return nil }
        let digits = token.dropFirst(prefix.count)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }
}

/// The `Prefer` request header (RFC 7240): comma-separated preferences, each `name[=value]` with
/// optional `;` parameters; only a preference's first instance counts.
enum PreferHeader {
    /// `odata.maxpagesize=N` among the preferences of every `Prefer` line; nil when absent or when
    /// its first instance is not a positive integer (an invalid preference is ignored, as BC does).
    static func maxPageSize(_ lines: [String]) -> Int? {
        for line in lines {
            for preference in line.split(separator: ",") {
                let main = preference.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                let parts = main.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts[0].trimmingWhitespace.lowercased() == "odata.maxpagesize" else { continue }
                guard parts.count == 2 else { return nil }
                var value = parts[1].trimmingWhitespace
                if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
                guard value.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(value), n > 0 else { return nil }
                return n
            }
        }
        return nil
    }
}

extension ODataLiteral {
    /// The field type a literal of this kind compares with (a date also compares with a
    /// dateTime field); nil for `null`, which compares with any.
    var fieldType: FieldType? {
        switch self {
        case .null: nil
        case .string: .string
        case .number: .number
        case .bool: .bool
        case .guid: .guid
        case .date: .date
        case .dateTime: .dateTime
        }
    }

    /// The EDM type name BC's messages use: the field type's, or `null`.
    var edmName: String { fieldType?.edmName ?? "null" }
}

/// Evaluates filters and orders values the way the sandbox documents.
enum FilterEvaluator {
    static func matches(_ expression: FilterExpression, _ entity: [String: JSONValue]) -> Bool {
        switch expression {
        case .and(let a, let b): return matches(a, entity) && matches(b, entity)
        case .or(let a, let b): return matches(a, entity) || matches(b, entity)
        case .not(let a): return !matches(a, entity)
        case .function(let f, let property, let argument):
            guard case .string(let s)? = entity[property] else { return false }
            switch f {
            case .contains: return s.contains(argument)
            case .startswith: return s.hasPrefix(argument)
            case .endswith: return s.hasSuffix(argument)
            }
        case .compare(let property, let op, let literal):
            let value = entity[property] ?? .null
            guard let order = compare(value, literal) else {
                // incomparable (null against a value, or mismatched types): only `ne` holds
                return op == .ne
            }
            switch op {
            case .eq: return order == 0
            case .ne: return order != 0
            case .gt: return order > 0
            case .ge: return order >= 0
            case .lt: return order < 0
            case .le: return order <= 0
            }
        }
    }

    /// -1/0/1 comparing a stored value with a literal; nil when they cannot be compared.
    static func compare(_ value: JSONValue, _ literal: ODataLiteral) -> Int? {
        switch (value, literal) {
        case (.null, .null): return 0
        case (_, .null), (.null, _): return nil
        case (.string(let s), .string(let l)): return sign(s, l)
        case (.number(let n), .number(let l)): return n < l ? -1 : (n > l ? 1 : 0)
        case (.bool(let b), .bool(let l)): return b == l ? 0 : (b ? 1 : -1)
        case (.string(let s), .guid(let g)): return sign(s.lowercased(), g)
        case (.string(let s), .date(let d)):
            if let seconds = ODataLiteral.parseDateTime(s), let day = ODataLiteral.parseDateTime(d + "T00:00:00Z") {
                return seconds < day ? -1 : (seconds >= day + 86400 ? 1 : 0)
            }
            return sign(String(s.prefix(10)), d)
        case (.string(let s), .dateTime(let t)):
            guard let seconds = ODataLiteral.parseDateTime(s) else { return nil }
            return seconds < t ? -1 : (seconds > t ? 1 : 0)
        default: return nil
        }
    }

    private static func sign<T: Comparable>(_ a: T, _ b: T) -> Int { a < b ? -1 : (a > b ? 1 : 0) }

    /// Total order for `$orderby`: null < false < true < numbers < strings (case-insensitive first).
    static func order(_ a: JSONValue, _ b: JSONValue) -> Int {
        func rank(_ v: JSONValue) -> Int {
            switch v {
            case .null: return 0
            case .bool: return 1
            case .number: return 2
            case .string: return 3
            case .array: return 4
            case .object: return 5
            }
        }
        switch (a, b) {
        case (.bool(let x), .bool(let y)): return x == y ? 0 : (x ? 1 : -1)
        case (.number(let x), .number(let y)): return sign(x, y)
        case (.string(let x), .string(let y)):
            let folded = sign(x.lowercased(), y.lowercased())
            return folded != 0 ? folded : sign(x, y)
        default: return sign(rank(a), rank(b))
        }
    }
}
