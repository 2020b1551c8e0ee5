import Foundation

/// The OData system query options a step may carry.
///
/// Why a type: the manifest's `params:` block maps onto it one to one, and encoding lives in one
/// place (a `&` or `#` inside a `$filter` literal must never split or cut the query).
public struct ODataQuery: Sendable, Equatable {
    public var filter: String?
    public var select: String?
    public var top: Int?
    public var skip: Int?
    public var orderby: String?
    public var expand: String?

    public init(
        filter: String? = nil, select: String? = nil, top: Int? = nil, skip: Int? = nil,
        orderby: String? = nil, expand: String? = nil
    ) {
        self.filter = filter
        self.select = select
        self.top = top
        self.skip = skip
        self.orderby = orderby
        self.expand = expand
    }

    public var isEmpty: Bool { queryItems.isEmpty }

    /// `(name, raw value)` pairs in the fixed order, empty options dropped.
    public var queryItems: [(name: String, value: String)] {
        var items: [(name: String, value: String)] = []
        if let filter, !filter.isEmpty { items.append(("$filter", filter)) }
        if let select, !select.isEmpty { items.append(("$select", select)) }
        if let top { items.append(("$top", String(top))) }
        if let skip { items.append(("$skip", String(skip))) }
        if let orderby, !orderby.isEmpty { items.append(("$orderby", orderby)) }
        if let expand, !expand.isEmpty { items.append(("$expand", expand)) }
        return items
    }

    /// `""` or `?$filter=…&$top=…`.
    public var queryString: String {
        let items = queryItems
        if items.isEmpty { return "" }
        return "?" + items.map { "\($0.name)=\(Self.encodeValue($0.value))" }.joined(separator: "&")
    }

    /// Percent-encodes a query value: everything except RFC 3986 unreserved characters and
    /// `! $ ' ( ) * , : @ /` — so spaces become `%20` (never `+`), and `& = + # ? ; %` are escaped.
    public static func encodeValue(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    static let allowed: CharacterSet = {
        var set = CharacterSet()
        set.insert(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        set.insert(charactersIn: "!$'()*,:@/")
        return set
    }()
}
