import Foundation

/// The OData system query options a step may carry, with their integers (`$top`, `$skip`) as
/// `Integer`: `Int` once known (`ODataQuery`), or a manifest's templated form before resolution.
///
/// Why a type: the manifest's `params:` block maps onto it one to one, and encoding lives in one
/// place (a `&` or `#` inside a `$filter` literal must never split or cut the query).
public struct ODataOptions<Integer: Sendable & Hashable>: Sendable, Hashable {
    public var filter: String?
    public var select: String?
    public var top: Integer?
    public var skip: Integer?
    public var orderby: String?
    public var expand: String?

    public init(
        filter: String? = nil, select: String? = nil, top: Integer? = nil, skip: Integer? = nil,
        orderby: String? = nil, expand: String? = nil
    ) {
        self.filter = filter
        self.select = select
        self.top = top
        self.skip = skip
        self.orderby = orderby
        self.expand = expand
    }
}

/// Query options ready for a URL.
public typealias ODataQuery = ODataOptions<Int>

extension ODataOptions where Integer == Int {
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
        value.addingPercentEncoding(withAllowedCharacters: queryValueCharacters) ?? value
    }
}

private let queryValueCharacters = PathComponent.unreserved.union(CharacterSet(charactersIn: "!$'()*,:@/"))
