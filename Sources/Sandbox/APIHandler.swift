import Foundation
import HTTPTypes
import Hashing
import Hummingbird

/// What an API handler produced, and whether it committed a write (for commit-then-drop).
struct APIResult {
    var response: Response
    var committedWrite: Bool
}

/// One seeded company.
struct SandboxCompany: Sendable {
    var id: String
    var name: String

    var json: JSONValue {
        [
            "id": .string(id),
            "systemVersion": "24.0.16410.0",
            "timestamp": 1,
            "name": .string(name),
            "displayName": .string(name),
            "businessProfileId": "",
            "systemCreatedAt": "2024-01-01T00:00:00Z",
            "systemCreatedBy": .string(EntitySetDefinition.emptyGUID),
            "systemModifiedAt": "2024-01-01T00:00:00Z",
            "systemModifiedBy": .string(EntitySetDefinition.emptyGUID),
        ]
    }

    static let seeded = [SandboxCompany(id: SandboxDefaults.companyID, name: SandboxDefaults.companyName)]
}

/// The parsed parts of an API request the CRUD handlers need.
struct APIRequest {
    var method: HTTPRequest.Method
    var path: String
    var query: [(name: String, value: String)]
    var headers: HTTPFields
    var body: [UInt8]
    var clientRequestID: String?
    var requestID: String
    /// `http://host:port` as the client addressed us, for `@odata.context` and `Location`.
    var origin: String
    /// Set for an operation of a JSON `$batch`: the outer request's `request-id` and
    /// `client-request-id`, which the journal line of a write records (`WriteContext`).
    var batchRequestID: String? = nil
    var batchClientRequestID: String? = nil
}

/// Companies and entity-set CRUD with BC's semantics (ETags, If-Match, keys, series, errors).
struct APIHandler: Sendable {
    let store: EntityStore
    let tenant: String
    let environment: String
    let companies: [SandboxCompany]
    /// Items per page of a collection GET when the client sends no `Prefer: odata.maxpagesize`.
    var maxPageSize: Int = SandboxConfiguration.defaultMaxPageSize

    func handle(_ request: APIRequest, tenant requestTenant: String?, environment requestEnvironment: String,
                namespace: APINamespace, resources: [ResourceSegment]) async throws -> APIResult
    {
        try checkScope(tenant: requestTenant, environment: requestEnvironment)
        let apiRoot = request.origin + apiRootPath(request.path)
        var rest = resources[...]
        let company: SandboxCompany
        if let first = rest.first, first.name == "companies" {
            guard let key = first.key else {
                guard rest.count == 1 else { throw SandboxAPIError.segmentNotFound(rest[rest.startIndex + 1].name) }
                guard request.method == .get else { throw SandboxAPIError.methodNotAllowed(request.method, "companies") }
                _ = try QueryOptions.parse(request.query, collection: true, set: nil)
                return APIResult(response: try jsonResponse(.ok, [
                    "@odata.context": .string(apiRoot + "/$metadata#companies"),
                    "value": .array(companies.map(\.json)),
                ]), committedWrite: false)
            }
            company = try findCompany(key)
            rest = rest.dropFirst()
            if rest.isEmpty {
                guard request.method == .get else { throw SandboxAPIError.methodNotAllowed(request.method, "a company") }
                var json = company.json.objectValue ?? [:]
                json["@odata.context"] = .string(apiRoot + "/$metadata#companies/$entity")
                return APIResult(response: try jsonResponse(.ok, .object(json)), committedWrite: false)
            }
        } else if let companyParameter = request.query.first(where: { $0.name == "company" })?.value {
            company = try findCompany(companyParameter)
        } else if rest.isEmpty {
            throw SandboxAPIError.segmentNotFound("api")
        } else {
            throw SandboxAPIError.badRequest("No company specified: address companies({id})/\(rest.first!.name) or add ?company=<id>.")
        }

        // Entity set, possibly below a parent: set | set(id) | parent(id)/child | parent(id)/child(id)
        let definition: EntitySetDefinition
        var parentID: String?
        var entityKey: String?
        var setSegment: ResourceSegment
        switch rest.count {
        case 1:
            setSegment = rest[rest.startIndex]
            definition = try lookup(setSegment.name, namespace: namespace)
        case 2:
            let parentSegment = rest[rest.startIndex]
            setSegment = rest[rest.startIndex + 1]
            let parentDefinition = try lookup(parentSegment.name, namespace: namespace)
            guard let parentKey = parentSegment.key,
                  namespace == .standard, let child = EntityCatalog.child(setSegment.name, of: parentDefinition.name)
            else { throw SandboxAPIError.segmentNotFound(setSegment.name) }
            let pid = try guid(parentKey)
            guard try await store.get(company: company.id, set: parentDefinition.name, id: pid) != nil else {
                throw SandboxAPIError.recordNotFound(parentDefinition.displayName, id: pid)
            }
            parentID = pid
            definition = child
        default:
            throw SandboxAPIError.segmentNotFound(rest.last!.name)
        }
        if let key = setSegment.key { entityKey = try guid(key) }
        let setKey = namespace.storagePrefix + definition.name
        let context = WriteContext(method: request.method.rawValue, path: request.path,
                                   clientRequestID: request.clientRequestID, requestID: request.requestID,
                                   bodySHA256: request.body.isEmpty ? nil : SHA256.hash(request.body).hex,
                                   batchRequestID: request.batchRequestID,
                                   batchClientRequestID: request.batchClientRequestID)
        let contextBase = apiRoot + "/$metadata#companies(\(company.id))/\(definition.name)"

        guard let id = entityKey else {
            switch request.method {
            case .get:
                let options = try QueryOptions.parse(request.query, collection: true, set: definition)
                let all = try await store.list(company: company.id, set: setKey, parentID: parentID).map(\.json)
                return APIResult(response: try collectionResponse(all, options: options, request: request, context: contextBase),
                                 committedWrite: false)
            case .post:
                _ = try QueryOptions.parse(request.query, collection: false, set: definition)
                var fields = try bodyFields(request.body, definition: definition)
                var parent: (field: String, id: String)?
                if let link = definition.parent {
                    if let parentID {
                        parent = (link.field, parentID)
                    } else {
                        guard let given = fields[link.field]?.stringValue, ODataLiteral.isGUID(given) else {
                            throw SandboxAPIError.badRequest("'\(link.field)' is required: the \(definition.displayName) must belong to a \(link.set) record (or POST to \(link.set)({id})/\(definition.name)).")
                        }
                        let pid = given.lowercased()
                        guard try await store.get(company: company.id, set: link.set, id: pid) != nil else {
                            throw SandboxAPIError.recordNotFound(EntityCatalog.standard[link.set]?.displayName ?? link.set, id: pid)
                        }
                        parent = (link.field, pid)
                    }
                }
                if definition.fields != nil {
                    var full = definition.initialFields
                    for (name, value) in fields { full[name] = value }
                    fields = full
                }
                let entity = try await store.create(company: company.id, setKey: setKey, definition: definition,
                                                    fields: fields, parent: parent, context: context)
                var headers: HTTPFields = [.eTag: entity.etag]
                headers[.location] = apiRoot + "/companies(\(company.id))/\(definition.name)(\(entity.id))"
                return APIResult(response: try entityResponse(.created, entity, context: contextBase, request: request,
                                                              options: nil, extraHeaders: headers), committedWrite: true)
            default:
                throw SandboxAPIError.methodNotAllowed(request.method, "the \(definition.name) collection")
            }
        }

        switch request.method {
        case .get:
            let options = try QueryOptions.parse(request.query, collection: false, set: definition)
            guard let entity = try await store.get(company: company.id, set: setKey, id: id),
                  parentID == nil || entity.fields[definition.parent?.field ?? ""]?.stringValue == parentID
            else { throw SandboxAPIError.recordNotFound(definition.displayName, id: id) }
            return APIResult(response: try entityResponse(.ok, entity, context: contextBase, request: request,
                                                          options: options, extraHeaders: [:]), committedWrite: false)
        case .patch:
            _ = try QueryOptions.parse(request.query, collection: false, set: definition)
            guard let ifMatch = IfMatch(header: request.headers[.ifMatch]) else { throw SandboxAPIError.missingIfMatch }
            let changes = try bodyFields(request.body, definition: definition)
            let entity = try await store.update(company: company.id, setKey: setKey, definition: definition, id: id,
                                                ifMatch: ifMatch, changes: changes, context: context)
            return APIResult(response: try entityResponse(.ok, entity, context: contextBase, request: request,
                                                          options: nil, extraHeaders: [.eTag: entity.etag]),
                             committedWrite: true)
        case .delete:
            _ = try QueryOptions.parse(request.query, collection: false, set: definition)
            guard let ifMatch = IfMatch(header: request.headers[.ifMatch]) else { throw SandboxAPIError.missingIfMatch }
            try await store.delete(company: company.id, setKey: setKey, definition: definition, id: id,
                                   ifMatch: ifMatch, context: context)
            return APIResult(response: Response(status: .noContent), committedWrite: true)
        default:
            throw SandboxAPIError.methodNotAllowed(request.method, "a \(definition.displayName) record")
        }
    }

    /// 404 unless the URL's tenant (when given) and environment are the ones this sandbox serves.
    /// A `$batch` checks its own URL with it before running any operation.
    func checkScope(tenant requestTenant: String?, environment requestEnvironment: String) throws(SandboxAPIError) {
        if let requestTenant, requestTenant.lowercased() != tenant.lowercased() {
            throw SandboxAPIError(status: .notFound, code: "BadRequest_NotFound",
                                  message: "Tenant '\(requestTenant)' is not served here; the sandbox tenant is '\(tenant)'.")
        }
        guard requestEnvironment.lowercased() == environment.lowercased() else {
            throw SandboxAPIError(status: .notFound, code: "BadRequest_NotFound",
                                  message: "Environment '\(requestEnvironment)' does not exist; the sandbox environment is '\(environment)'.")
        }
    }

    // MARK: Helpers

    /// The path up to and including `/api/v2.0` (or `/api/{publisher}/{group}/{version}`).
    private func apiRootPath(_ path: String) -> String {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        guard let apiIndex = segments.firstIndex(of: "api") else { return path }
        let count = segments.count > apiIndex + 1 && segments[apiIndex + 1] == "v2.0" ? apiIndex + 2 : apiIndex + 4
        return "/" + segments.prefix(min(count, segments.count)).joined(separator: "/")
    }

    private func findCompany(_ key: String) throws -> SandboxCompany {
        let trimmed = key.hasPrefix("'") && key.hasSuffix("'") && key.count >= 2 ? String(key.dropFirst().dropLast()) : key
        if let match = companies.first(where: { $0.id == trimmed.lowercased() || $0.name == trimmed }) { return match }
        if ODataLiteral.isGUID(trimmed) { throw SandboxAPIError.recordNotFound("Company", id: trimmed.lowercased()) }
        throw SandboxAPIError.badRequest("Bad Request - Error in query syntax: '\(key)' is not a company id.")
    }

    private func guid(_ key: String) throws -> String {
        guard ODataLiteral.isGUID(key) else {
            throw SandboxAPIError.badRequest("Bad Request - Error in query syntax: the key '\(key)' is not a GUID.")
        }
        return key.lowercased()
    }

    private func lookup(_ name: String, namespace: APINamespace) throws -> EntitySetDefinition {
        switch namespace {
        case .standard:
            guard let definition = EntityCatalog.standard[name] else { throw SandboxAPIError.segmentNotFound(name) }
            return definition
        case .custom:
            guard !name.isEmpty, !name.hasPrefix("$"), !name.contains(".") else { throw SandboxAPIError.segmentNotFound(name) }
            return EntitySetDefinition(customName: name)
        }
    }

    /// The client-settable fields of a request body; server-owned ones are dropped, unknown or
    /// mistyped ones are a 400 as in BC.
    private func bodyFields(_ body: [UInt8], definition: EntitySetDefinition) throws -> [String: JSONValue] {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: body)
        } catch {
            throw SandboxAPIError.badRequest("Invalid Request Body: \(error.description)")
        }
        guard case .object(var fields) = value else {
            throw SandboxAPIError.badRequest("Invalid Request Body: a JSON object is required, got \(value.typeName).")
        }
        for name in fields.keys where EntitySetDefinition.serverOwned.contains(name) || name.hasPrefix("@odata.") {
            fields[name] = nil
        }
        if let schema = definition.fields {
            for (name, value) in fields {
                guard let type = schema[name] else {
                    throw SandboxAPIError.badRequest("The property '\(name)' does not exist on type 'Microsoft.NAV.\(definition.typeName)'. Make sure to only use property names that are defined by the type.")
                }
                guard type.accepts(value) else {
                    throw SandboxAPIError.badRequest("Cannot convert the value of property '\(name)' (\(value.typeName)) to the expected type '\(type.edmName)'.")
                }
            }
        }
        return fields
    }

    /// One page of a collection, BC's way: at most `Prefer: odata.maxpagesize=N` items, capped at
    /// the server's `maxPageSize` (the size applied is echoed in `Preference-Applied`), else
    /// `maxPageSize`; when more remain, `@odata.nextLink` is this URL
    /// with the same options, `$skip` dropped, `$top` reduced to what is still owed, and `$skiptoken`.
    private func collectionResponse(_ all: [[String: JSONValue]], options: QueryOptions, request: APIRequest,
                                    context: String) throws -> Response
    {
        let preferred = PreferHeader.maxPageSize(request.headers[values: Self.preferHeader]).map { min($0, maxPageSize) }
        let page = options.page(all, pageSize: preferred ?? maxPageSize)
        var body: [String: JSONValue] = [
            "@odata.context": .string(context),
            "value": .array(page.items.map { .object(options.project($0)) }),
        ]
        if options.count { body["@odata.count"] = .number(Double(page.count)) }
        if let next = page.next { body["@odata.nextLink"] = .string(nextLink(request, next)) }
        var headers: HTTPFields = [:]
        if let preferred { headers[Self.preferenceAppliedHeader] = "odata.maxpagesize=\(preferred)" }
        return try jsonResponse(.ok, .object(body), headers: headers)
    }

    /// The request's own URL with its parameters in their order, minus `$skip`, `$top` and
    /// `$skiptoken`, then `$top` (what is still owed, if one was given) and the new `$skiptoken`.
    private func nextLink(_ request: APIRequest, _ next: QueryOptions.NextPage) -> String {
        var parameters = request.query.filter { !["$skip", "$top", "$skiptoken"].contains($0.name.lowercased()) }
        if let top = next.top { parameters.append(("$top", String(top))) }
        parameters.append(("$skiptoken", SkipToken.token(offset: next.offset)))
        let query = parameters.map { Self.queryEncode($0.name) + "=" + Self.queryEncode($0.value) }.joined(separator: "&")
        return request.origin + request.path + "?" + query
    }

    /// Percent-encodes a query name or value: everything but unreserved characters and `$ ( ) , : @ /`
    /// (so `+`, `&`, `=`, `'`, spaces and non-ASCII bytes are escaped and decode back exactly).
    static func queryEncode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "$"),
                 UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: ","), UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "/"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                result += byte < 16 ? "%0" + hex : "%" + hex
            }
        }
        return result
    }

    static let preferHeader = HTTPField.Name("Prefer")!
    static let preferenceAppliedHeader = HTTPField.Name("Preference-Applied")!

    private func entityResponse(_ status: HTTPResponse.Status, _ entity: StoredEntity, context: String, request: APIRequest,
                                options: QueryOptions?, extraHeaders: HTTPFields) throws -> Response
    {
        var headers = extraHeaders
        headers[.eTag] = entity.etag
        if status != .ok || request.method != .get,
           let prefer = request.headers[HTTPField.Name("Prefer")!], prefer.lowercased().contains("return-no-content")
        {
            headers[HTTPField.Name("Preference-Applied")!] = "return-no-content"
            return Response(status: .noContent, headers: headers)
        }
        var json = (options ?? QueryOptions()).project(entity.json)
        json["@odata.context"] = .string(context + "/$entity")
        return try jsonResponse(status, .object(json), headers: headers)
    }
}

/// A JSON response in BC's content type, serialised canonically (sorted keys).
func jsonResponse(_ status: HTTPResponse.Status, _ value: JSONValue, headers: HTTPFields = [:]) throws -> Response {
    var headers = headers
    headers[.contentType] = "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"
    let bytes = try value.canonicalBytes()
    return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
}
