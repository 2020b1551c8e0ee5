import Foundation
import GRDB
import Hashing

/// One stored record: the fields a client may set, plus what the server owns.
struct StoredEntity: Sendable {
    var id: String
    var etag: String
    /// `systemCreatedAt`: set once at insert, never changed.
    var created: String
    /// `lastModifiedDateTime`: set at insert and on every PATCH.
    var lastModified: String
    var fields: [String: JSONValue]

    /// The entity as `$filter` and `$orderby` see it: fields plus `id`, `systemCreatedAt`,
    /// `lastModifiedDateTime` and `@odata.etag` (`QueryOptions.project` makes the answer).
    var json: [String: JSONValue] {
        var object = fields
        object["id"] = .string(id)
        object["systemCreatedAt"] = .string(created)
        object["lastModifiedDateTime"] = .string(lastModified)
        object["@odata.etag"] = .string(etag)
        return object
    }
}

/// What the journal records about the request that caused a write.
struct WriteContext: Sendable {
    var method: String
    var path: String
    var clientRequestID: String?
    var requestID: String
    /// Lowercase hex SHA-256 of the exact request body bytes received (nil without a body), so
    /// tests can prove the ledger's request blob is what the server got.
    var bodySHA256: String?
    /// False for the demo data the server seeds itself: the journal lists client writes only.
    var journaled = true
    /// For an operation of a JSON `$batch`: the sandbox's `request-id` of the outer `$batch`
    /// request and its `client-request-id` (nil for a request sent alone). Why: the journal keeps
    /// one line per operation, as if it were sent alone (its own `client_request_id`), and these
    /// columns say which `$batch` carried it, so a checker can tell the two apart.
    var batchRequestID: String? = nil
    var batchClientRequestID: String? = nil
}

/// How a PATCH or DELETE names the version it expects.
enum IfMatch: Sendable {
    case any
    case etags([String])

    /// Parses the `If-Match` header; nil when absent (the caller answers 400 BadRequest_InvalidToken).
    init?(header: String?) {
        guard let header, !header.trimmingWhitespace.isEmpty else { return nil }
        if header.trimmingWhitespace == "*" {
            self = .any
        } else {
            self = .etags(header.split(separator: ",").map { $0.trimmingWhitespace })
        }
    }

    func matches(_ etag: String) -> Bool {
        switch self {
        case .any: return true
        case .etags(let list):
            let ours = IfMatch.opaque(etag)
            return list.contains { IfMatch.opaque($0) == ours }
        }
    }

    /// The quoted opaque part, ignoring the weakness marker (`W/"x"` and `"x"` match).
    static func opaque(_ tag: String) -> String {
        tag.hasPrefix("W/") ? String(tag.dropFirst(2)) : tag
    }
}

/// Records, number series, the journal and issued tokens, in SQLite (GRDB).
///
/// Why SQLite even in memory: one code path, real transactions (the ETag check, the key check,
/// the write and its journal line commit together or not at all), and with `--data` other
/// processes and later runs see the same records (WAL mode, busy timeout).
final class EntityStore: Sendable {
    let writer: any DatabaseWriter

    init(dataDirectory: String?) throws(SandboxConfigurationError) {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.label = "bcli-sandbox"
        do {
            if let dataDirectory {
                try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
                let path = (dataDirectory as NSString).appendingPathComponent("sandbox.sqlite3")
                writer = try DatabasePool(path: path, configuration: configuration)
            } else {
                writer = try DatabaseQueue(configuration: configuration)
            }
            try writer.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    try EntityStore.migrate(db)
                    return .commit
                }
            }
        } catch let error as SandboxConfigurationError {
            throw error
        } catch {
            throw .dataDirectory(path: dataDirectory ?? ":memory:", reason: "\(error)")
        }
    }

    private static func migrate(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE IF NOT EXISTS entity (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                company_id TEXT NOT NULL,
                entity_set TEXT NOT NULL,
                id TEXT NOT NULL,
                key_value TEXT,
                parent_id TEXT,
                body BLOB NOT NULL,
                etag TEXT NOT NULL,
                last_modified TEXT NOT NULL,
                created_at TEXT,
                UNIQUE (company_id, entity_set, id)
            );
            CREATE UNIQUE INDEX IF NOT EXISTS entity_key ON entity (company_id, entity_set, key_value)
                WHERE key_value IS NOT NULL;
            CREATE TABLE IF NOT EXISTS series (
                company_id TEXT NOT NULL,
                entity_set TEXT NOT NULL,
                last INTEGER NOT NULL,
                PRIMARY KEY (company_id, entity_set)
            );
            CREATE TABLE IF NOT EXISTS journal (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                time TEXT NOT NULL,
                method TEXT NOT NULL,
                path TEXT NOT NULL,
                company_id TEXT NOT NULL,
                entity_set TEXT NOT NULL,
                entity_id TEXT NOT NULL,
                etag_before TEXT,
                etag_after TEXT,
                status INTEGER NOT NULL,
                client_request_id TEXT,
                request_id TEXT NOT NULL,
                body_sha256 TEXT,
                batch_request_id TEXT,
                batch_client_request_id TEXT
            );
            CREATE TABLE IF NOT EXISTS token (
                token TEXT PRIMARY KEY,
                client_id TEXT NOT NULL,
                expires_at REAL NOT NULL
            );
            CREATE TABLE IF NOT EXISTS clock (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                last_millis INTEGER NOT NULL
            );
            """)
        // Data folders written before the journal recorded body digests gain the column.
        let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(journal)").map { $0["name"] as String }
        if !columns.contains("body_sha256") {
            try db.execute(sql: "ALTER TABLE journal ADD COLUMN body_sha256 TEXT")
        }
        // Data folders written before the sandbox served `$batch` gain the columns naming the batch.
        for column in ["batch_request_id", "batch_client_request_id"] where !columns.contains(column) {
            try db.execute(sql: "ALTER TABLE journal ADD COLUMN \(column) TEXT")
        }
        // Data folders written before records had a creation time gain the column; their records
        // were created no later than they were last modified, the best time known.
        let entityColumns = try Row.fetchAll(db, sql: "PRAGMA table_info(entity)").map { $0["name"] as String }
        if !entityColumns.contains("created_at") {
            try db.execute(sql: "ALTER TABLE entity ADD COLUMN created_at TEXT")
        }
        try db.execute(sql: "UPDATE entity SET created_at = last_modified WHERE created_at IS NULL")
    }

    /// The time of a write: now, in milliseconds, but always after the previous write's time (the
    /// last one is kept in `clock`, inside the write's IMMEDIATE transaction), so records created
    /// one after another — by this process or another sharing the `--data` folder — have strictly
    /// increasing `systemCreatedAt`, and a PATCH always moves `lastModifiedDateTime` forward. Within
    /// one millisecond (or after the wall clock stepped back) the time runs ahead by 1 ms per write.
    private static func tick(_ db: Database) throws -> String {
        let now = Timestamp.nowMillis()
        let last = try Int.fetchOne(db, sql: "SELECT last_millis FROM clock WHERE id = 1")
        let next = last.map { max(now, $0 + 1) } ?? now
        try db.execute(sql: """
            INSERT INTO clock (id, last_millis) VALUES (1, ?)
            ON CONFLICT (id) DO UPDATE SET last_millis = excluded.last_millis
            """, arguments: [next])
        return Timestamp.format(millis: next)
    }

    // MARK: Reading

    private static func entity(from row: Row) throws -> StoredEntity {
        let body: [UInt8] = Array((row["body"] as Data?) ?? Data())
        let fields = try JSONValue(parsing: body).objectValue ?? [:]
        let lastModified: String = row["last_modified"]
        return StoredEntity(id: row["id"], etag: row["etag"], created: (row["created_at"] as String?) ?? lastModified,
                            lastModified: lastModified, fields: fields)
    }

    /// Seeds records that do not exist yet (matched by key), without journaling them.
    func seed(company: String, setKey: String, definition: EntitySetDefinition, records: [[String: JSONValue]]) async throws {
        for fields in records {
            guard let keyField = definition.keyField, let key = EntityStore.keyString(fields[keyField]) else { continue }
            let exists = try await transaction { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM entity WHERE company_id = ? AND entity_set = ? AND key_value = ?",
                                 arguments: [company, setKey, key]) ?? 0
            }
            if exists > 0 { continue }
            let context = WriteContext(method: "SEED", path: "", clientRequestID: nil, requestID: "seed", journaled: false)
            _ = try await create(company: company, setKey: setKey, definition: definition, fields: fields, parent: nil, context: context)
        }
    }

    func list(company: String, set: String, parentID: String?) async throws -> [StoredEntity] {
        try await writer.read { db in
            var sql = "SELECT * FROM entity WHERE company_id = ? AND entity_set = ?"
            var arguments: StatementArguments = [company, set]
            if let parentID {
                sql += " AND parent_id = ?"
                arguments += [parentID]
            }
            return try Row.fetchAll(db, sql: sql + " ORDER BY seq", arguments: arguments).map(EntityStore.entity(from:))
        }
    }

    func get(company: String, set: String, id: String) async throws -> StoredEntity? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM entity WHERE company_id = ? AND entity_set = ? AND id = ?",
                             arguments: [company, set, id]).map(EntityStore.entity(from:))
        }
    }

    // MARK: Writing (each in one IMMEDIATE transaction, journal included)

    private func transaction<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await writer.writeWithoutTransaction { db in
            var result: T?
            try db.inTransaction(.immediate) {
                result = try work(db)
                return .commit
            }
            return result!
        }
    }

    static func newETag() -> String {
        let digits = String(UInt64.random(in: 1_000_000_000_000_000_000...UInt64.max))
        let raw = "'\(digits.count);\(digits);00;'"
        return "W/\"\(Data(raw.utf8).base64EncodedString())\""
    }

    private static func encode(_ fields: [String: JSONValue]) throws -> Data {
        Data(try JSONValue.object(fields).canonicalBytes())
    }

    private static func keyString(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let s): return s.isEmpty ? nil : s
        case .number(let n): return n == n.rounded() ? String(Int(n)) : String(n)
        default: return nil
        }
    }

    private static func checkKeyUnique(_ db: Database, company: String, setKey: String, definition: EntitySetDefinition,
                                       value: String, excluding id: String?) throws
    {
        let existing = try String.fetchOne(
            db, sql: "SELECT id FROM entity WHERE company_id = ? AND entity_set = ? AND key_value = ?",
            arguments: [company, setKey, value])
        if let existing, existing != id {
            throw SandboxAPIError.duplicateKey(definition.displayName, field: definition.keyField ?? "key", value: value)
        }
    }

    private static func nextSeriesNumber(_ db: Database, company: String, setKey: String, prefix: String) throws -> String {
        var last = try Int.fetchOne(db, sql: "SELECT last FROM series WHERE company_id = ? AND entity_set = ?",
                                    arguments: [company, setKey]) ?? 0
        var candidate: String
        repeat {
            last += 10
            let digits = String(last)
            candidate = prefix + String(repeating: "0", count: max(0, 5 - digits.count)) + digits
        } while try Bool.fetchOne(db, sql: "SELECT 1 FROM entity WHERE company_id = ? AND entity_set = ? AND key_value = ?",
                                  arguments: [company, setKey, candidate]) == true
        try db.execute(sql: """
            INSERT INTO series (company_id, entity_set, last) VALUES (?, ?, ?)
            ON CONFLICT (company_id, entity_set) DO UPDATE SET last = excluded.last
            """, arguments: [company, setKey, last])
        return candidate
    }

    private static func journal(_ db: Database, _ context: WriteContext, company: String, setKey: String, id: String,
                                before: String?, after: String?, status: Int, time: String) throws
    {
        try db.execute(sql: """
            INSERT INTO journal (time, method, path, company_id, entity_set, entity_id, etag_before, etag_after,
                                 status, client_request_id, request_id, body_sha256, batch_request_id,
                                 batch_client_request_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [time, context.method, context.path, company, setKey, id, before, after, status,
                             context.clientRequestID, context.requestID, context.bodySHA256, context.batchRequestID,
                             context.batchClientRequestID])
    }

    /// Inserts a record: assigns id, ETag, number (series) and line number, checks key uniqueness, journals.
    func create(company: String, setKey: String, definition: EntitySetDefinition, fields input: [String: JSONValue],
                parent: (field: String, id: String)?, context: WriteContext) async throws -> StoredEntity
    {
        let parentField = parent?.field
        let parentID = parent?.id
        return try await transaction { db in
            var fields = input
            if let parentField, let parentID { fields[parentField] = .string(parentID) }
            if let keyField = definition.keyField {
                if EntityStore.keyString(fields[keyField]) == nil, let prefix = definition.seriesPrefix {
                    fields[keyField] = .string(try EntityStore.nextSeriesNumber(db, company: company, setKey: setKey, prefix: prefix))
                }
            }
            if let lineField = definition.lineNumberField, fields[lineField] == nil || fields[lineField] == .number(0) {
                let maxLine = try EntityStore.list(db, company: company, setKey: setKey, parentID: parentID)
                    .compactMap { $0.fields[lineField]?.doubleValue }.max() ?? 0
                fields[lineField] = .number((maxLine / 10000).rounded(.down) * 10000 + 10000)
            }
            let key = definition.keyField.flatMap { EntityStore.keyString(fields[$0]) }
            if let key {
                try EntityStore.checkKeyUnique(db, company: company, setKey: setKey, definition: definition, value: key, excluding: nil)
            }
            let time = try EntityStore.tick(db)
            let entity = StoredEntity(id: UUID().uuidString.lowercased(), etag: EntityStore.newETag(),
                                      created: time, lastModified: time, fields: fields)
            try db.execute(sql: """
                INSERT INTO entity (company_id, entity_set, id, key_value, parent_id, body, etag, last_modified, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [company, setKey, entity.id, key, parentID, try EntityStore.encode(fields), entity.etag,
                                 time, time])
            if context.journaled {
                try EntityStore.journal(db, context, company: company, setKey: setKey, id: entity.id, before: nil,
                                        after: entity.etag, status: 201, time: time)
            }
            return entity
        }
    }

    private static func list(_ db: Database, company: String, setKey: String, parentID: String?) throws -> [StoredEntity] {
        var sql = "SELECT * FROM entity WHERE company_id = ? AND entity_set = ?"
        var arguments: StatementArguments = [company, setKey]
        if let parentID {
            sql += " AND parent_id = ?"
            arguments += [parentID]
        }
        return try Row.fetchAll(db, sql: sql, arguments: arguments).map(EntityStore.entity(from:))
    }

    private static func current(_ db: Database, company: String, setKey: String, id: String,
                                definition: EntitySetDefinition) throws -> StoredEntity
    {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM entity WHERE company_id = ? AND entity_set = ? AND id = ?",
                                         arguments: [company, setKey, id])
        else { throw SandboxAPIError.recordNotFound(definition.displayName, id: id) }
        return try entity(from: row)
    }

    /// Merges `changes` into a record after the If-Match check; new ETag and timestamp; journals.
    func update(company: String, setKey: String, definition: EntitySetDefinition, id: String, ifMatch: IfMatch,
                changes: [String: JSONValue], context: WriteContext) async throws -> StoredEntity
    {
        try await transaction { db in
            var entity = try EntityStore.current(db, company: company, setKey: setKey, id: id, definition: definition)
            guard ifMatch.matches(entity.etag) else { throw SandboxAPIError.entityChanged }
            let before = entity.etag
            let parentLink = definition.parent.flatMap { entity.fields[$0.field] }
            for (name, value) in changes { entity.fields[name] = value }
            if let field = definition.parent?.field, let parentLink {
                entity.fields[field] = parentLink  // a line stays with its document
            }
            let key = definition.keyField.flatMap { EntityStore.keyString(entity.fields[$0]) }
            if let key {
                try EntityStore.checkKeyUnique(db, company: company, setKey: setKey, definition: definition, value: key, excluding: id)
            }
            var etag = EntityStore.newETag()
            while etag == before { etag = EntityStore.newETag() }
            entity.etag = etag
            let time = try EntityStore.tick(db)
            entity.lastModified = time
            try db.execute(sql: """
                UPDATE entity SET key_value = ?, body = ?, etag = ?, last_modified = ?
                WHERE company_id = ? AND entity_set = ? AND id = ?
                """, arguments: [key, try EntityStore.encode(entity.fields), etag, time, company, setKey, id])
            try EntityStore.journal(db, context, company: company, setKey: setKey, id: id, before: before,
                                    after: etag, status: 200, time: time)
            return entity
        }
    }

    /// Deletes a record after the If-Match check; journals. Returns the ETag it had.
    @discardableResult
    func delete(company: String, setKey: String, definition: EntitySetDefinition, id: String, ifMatch: IfMatch,
                context: WriteContext) async throws -> String
    {
        try await transaction { db in
            let entity = try EntityStore.current(db, company: company, setKey: setKey, id: id, definition: definition)
            guard ifMatch.matches(entity.etag) else { throw SandboxAPIError.entityChanged }
            try db.execute(sql: "DELETE FROM entity WHERE company_id = ? AND entity_set = ? AND id = ?",
                           arguments: [company, setKey, id])
            try EntityStore.journal(db, context, company: company, setKey: setKey, id: id, before: entity.etag,
                                    after: nil, status: 204, time: try EntityStore.tick(db))
            return entity.etag
        }
    }

    // MARK: Journal

    /// The journal's rows after `seq`, oldest first, each as its `JournalLine`.
    func journal(after seq: Int) async throws -> [JSONValue] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM journal WHERE seq > ? ORDER BY seq", arguments: [seq]).map(JournalLine.json)
        }
    }

    // MARK: Tokens

    func saveToken(_ token: String, clientID: String, expiresAt: Double) async throws {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM token WHERE expires_at < ?", arguments: [Timestamp.now().seconds])
            try db.execute(sql: "INSERT INTO token (token, client_id, expires_at) VALUES (?, ?, ?)",
                           arguments: [token, clientID, expiresAt])
        }
    }

    /// The client a token belongs to, if it exists and has not expired.
    func client(forToken token: String) async throws -> String? {
        try await writer.read { db in
            try String.fetchOne(db, sql: "SELECT client_id FROM token WHERE token = ? AND expires_at > ?",
                                arguments: [token, Timestamp.now().seconds])
        }
    }
}
