#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Hashing

/// How much a write must survive before it counts as done.
public enum Durability: String, Sendable, CaseIterable {
    /// Survives SIGKILL of bcli at any instant: blobs reach the page cache before the row that
    /// names them commits; SQLite runs WAL with `synchronous=NORMAL`.
    case process
    /// Also survives power loss: every blob and its folder are fsynced before the row that names
    /// them commits; SQLite runs `synchronous=FULL`.
    case full
}

/// Content-addressed blobs on disk: `objects/sha256/<2 hex>/<62 hex>`, mode 0444; and, read
/// through `inline`, the small blobs the ledger stores in its `object_data` table.
///
/// The discipline is git's and restic's: a blob's file name is the SHA-256 of its exact bytes;
/// it is written to a temp file in its own fan-out folder, length-checked, optionally fsynced,
/// then linked into place, so a torn or empty file never sits under a final name. Dedup trusts
/// nothing: an existing file is skipped only when its size and hash are right; otherwise it is
/// moved to `quarantine/` and replaced.
///
/// `put` always writes a file; `LedgerStore.put` keeps small blobs in the ledger instead. Every
/// read (`get`, `contains`, `verify`, `resolve`) looks for a file first, then in the ledger, and
/// re-hashes whatever it found, so a caller cannot tell where a blob lives.
public struct ObjectStore: Sendable {
    public let root: String
    public let durability: Durability
    /// The ledger's small blobs; nil for an object folder used without its ledger.
    public let inline: InlineObjects?

    public var objectsDirectory: String { root + "/objects/sha256" }
    public var quarantineDirectory: String { root + "/quarantine" }

    /// This process's id, for temp names (read once; bcli never forks).
    static let pid = getpid()

    /// The prefix of temp files in fan-out folders; fsck and gc recognise leftovers by it.
    public static let tempPrefix = ".tmp-"

    /// Whether single puts may write an unnamed temp file (`O_TMPFILE`) and link it into place.
    /// Tests turn it off to prove the named-temp fallback stores the same bytes under the same name.
    let unnamedTemps: Bool

    /// Opens (creating if needed, mode 0700) the object folders under `root`.
    public init(root: String, durability: Durability = .process, inline: InlineObjects? = nil) throws(StoreError) {
        try self.init(root: root, durability: durability, unnamedTemps: true, inline: inline)
    }

    init(root: String, durability: Durability, unnamedTemps: Bool, inline: InlineObjects? = nil) throws(StoreError) {
        self.root = root
        self.durability = durability
        self.unnamedTemps = unnamedTemps
        self.inline = inline
        try POSIX.makeDirectories(root + "/objects/sha256")
    }

    /// The file a digest lives at. Only ever called with a parsed `Digest`, so no path tricks pass.
    public func path(for digest: Digest) -> String {
        let hex = digest.hex
        let split = hex.index(hex.startIndex, offsetBy: 2)
        return "\(objectsDirectory)/\(hex[..<split])/\(hex[split...])"
    }

    public struct PutResult: Sendable, Equatable {
        public let digest: Digest
        public let size: Int64
        /// True when a correct copy was already stored and nothing was written.
        public let deduplicated: Bool
    }

    /// Stores `bytes` and returns their digest.
    @discardableResult
    public func put(_ bytes: [UInt8]) throws(StoreError) -> PutResult {
        try putAll([bytes])[0]
    }

    /// Stores several blobs with one durability barrier for all of them (git's "batch" fsync):
    /// every temp file is written, then — in `full` durability — one `syncfs` makes them all
    /// durable, then each is renamed into place and each touched folder is fsynced once. A row that
    /// names any of them must be committed only after this returns, exactly as for `put`.
    public func putAll(_ items: [[UInt8]]) throws(StoreError) -> [PutResult] {
        // Without fsync there is no barrier to share; one at a time keeps each blob's create and
        // link together, which measured faster on ext4 (docs/performance.md), and lets each use
        // an unnamed temp file (`putOne`).
        if durability == .process || items.count == 1 {
            var results: [PutResult] = []
            results.reserveCapacity(items.count)
            for bytes in items { results.append(try putOne(bytes)) }
            return results
        }
        return try putBatch(items)
    }

    /// One blob, written as an unnamed temp file (`O_TMPFILE`) in its fan-out folder and linked
    /// under its final name with `linkat`: one directory entry is created, where a named temp file
    /// costs a create and a rename (docs/performance.md, "Issue 12"). The file has no name until it
    /// is complete and length-checked, so a torn or empty file still never sits under a final
    /// name, and a process killed before the link leaves nothing behind (the kernel frees the
    /// inode). Where the file system or `/proc` does not allow it, `putBatch`'s named temp file.
    private func putOne(_ bytes: [UInt8]) throws(StoreError) -> PutResult {
        guard unnamedTemps, UnnamedTemp.supported else { return try putBatch([bytes])[0] }
        let digest = SHA256.hash(bytes)
        let final = path(for: digest)
        let size = Int64(bytes.count)
        if try existingCopyIsGood(final, digest: digest, size: size) {
            return PutResult(digest: digest, size: size, deduplicated: true)
        }
        let folder = String(final[..<final.lastIndex(of: "/")!])
        guard let fd = try UnnamedTemp.open(in: folder) else { return try putBatch([bytes])[0] }
        defer { close(fd) }
        let label = folder + "/(unnamed temp)"
        let written: Result<Void, StoreError> = bytes.withUnsafeBytes { buf in
            Result { () throws(StoreError) in try POSIX.writeAll(fd: fd, buf, path: label) }
        }
        try written.get()
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(operation: "stat", path: label, errno: errno) }
        guard Int64(st.st_size) == size else { throw .shortWrite(path: label, expected: Int(size), written: Int(st.st_size)) }
        if durability == .full && fsync(fd) != 0 { throw .io(operation: "fsync", path: label, errno: errno) }
        // A file that appeared under the name since the check above (a concurrent writer of the
        // same bytes, or a bad file) is handled as at the check: a good copy is a dedup, a bad
        // one is quarantined and the link tried once more.
        for attempt in 0..<2 {
            switch UnnamedTemp.link(fd, to: final) {
            case 0:
                if durability == .full { try POSIX.fsyncDirectory(folder) }
                return PutResult(digest: digest, size: size, deduplicated: false)
            case EEXIST where attempt == 0:
                if try existingCopyIsGood(final, digest: digest, size: size) {
                    return PutResult(digest: digest, size: size, deduplicated: true)
                }
            case let e where UnnamedTemp.meansUnsupported(e):
                UnnamedTemp.disable()
                return try putBatch([bytes])[0]
            case let e:
                throw .io(operation: "link", path: final, errno: e)
            }
        }
        throw .io(operation: "link", path: final, errno: EEXIST)
    }

    private func putBatch(_ items: [[UInt8]]) throws(StoreError) -> [PutResult] {
        var results: [PutResult] = []
        results.reserveCapacity(items.count)
        var pending: [(temp: String, final: String, folder: String)] = []
        var pendingFinals = Set<String>()
        var published = 0
        defer { for p in pending[published...] { unlink(p.temp) } }  // only reached with leftovers on error
        let batchSync = durability == .full && items.count > 1 && FileSystemSync.available
        for bytes in items {
            let digest = SHA256.hash(bytes)
            let final = path(for: digest)
            let size = Int64(bytes.count)
            let present = try pendingFinals.contains(final) ? true : existingCopyIsGood(final, digest: digest, size: size)
            if present {
                results.append(PutResult(digest: digest, size: size, deduplicated: true))
                continue
            }
            let folder = String(final[..<final.lastIndex(of: "/")!])
            let temp = try makeTemp(in: folder)
            do throws(StoreError) {
                let written: Result<Void, StoreError> = bytes.withUnsafeBytes { buf in
                    Result { () throws(StoreError) in try POSIX.writeAll(fd: temp.fd, buf, path: temp.path) }
                }
                try written.get()
                try finishTemp(temp, expectedSize: size, fsyncNow: durability == .full && !batchSync)
            } catch {
                close(temp.fd)
                unlink(temp.path)
                throw error
            }
            pending.append((temp.path, final, folder))
            pendingFinals.insert(final)
            results.append(PutResult(digest: digest, size: size, deduplicated: false))
        }
        if batchSync { try FileSystemSync.sync(objectsDirectory) }
        var folders = Set<String>()
        while published < pending.count {
            let p = pending[published]
            if rename(p.temp, p.final) != 0 { throw .io(operation: "rename", path: p.final, errno: errno) }
            folders.insert(p.folder)
            published += 1
        }
        if durability == .full { for folder in folders.sorted() { try POSIX.fsyncDirectory(folder) } }
        return results
    }

    /// Streams a file into the store (1 MiB at a time), hashing while copying; the file is never
    /// held in memory whole.
    @discardableResult
    public func put(fileAt source: String) throws(StoreError) -> PutResult {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw .io(operation: "open", path: source, errno: errno) }
        defer { close(input) }
        try POSIX.makeDirectories(streamTempDirectory)
        let temp = try makeTemp(in: streamTempDirectory)
        var hasher = SHA256()
        var total: Int64 = 0
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        do throws(StoreError) {
            while true {
                let n = read(input, buffer, chunk)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw .io(operation: "read", path: source, errno: errno)
                }
                if n == 0 { break }
                let slice = UnsafeRawBufferPointer(start: buffer, count: n)
                hasher.update(slice)
                try POSIX.writeAll(fd: temp.fd, slice, path: temp.path)
                total += Int64(n)
            }
            try finishTemp(temp, expectedSize: total, fsyncNow: durability == .full)
        } catch {
            close(temp.fd)
            unlink(temp.path)
            throw error
        }
        let digest = hasher.finalize()
        let final = path(for: digest)
        if try existingCopyIsGood(final, digest: digest, size: total) {
            unlink(temp.path)
            return PutResult(digest: digest, size: total, deduplicated: true)
        }
        let folder = String(final[..<final.lastIndex(of: "/")!])
        try POSIX.makeDirectory(folder)
        if rename(temp.path, final) != 0 {
            let e = errno
            unlink(temp.path)
            throw .io(operation: "rename", path: final, errno: e)
        }
        if durability == .full { try POSIX.fsyncDirectory(folder) }
        return PutResult(digest: digest, size: total, deduplicated: false)
    }

    /// Where a blob's bytes are, for messages: its file, or the ledger row that holds them.
    public func location(for digest: Digest) -> String {
        let file = path(for: digest)
        if let inline, !POSIX.exists(file), (try? inline.contains(digest)) == true {
            return "\(inline.databasePath) (object_data \(digest.hex))"
        }
        return file
    }

    /// The exact stored bytes, after checking the hash (a blob is never returned unverified): the
    /// file's, or, when there is no good file, the ledger's copy.
    public func get(_ digest: Digest) throws(StoreError) -> [UInt8] {
        let file = path(for: digest)
        var damaged: StoreError?
        if POSIX.exists(file) {
            let bytes = try POSIX.readFile(file)
            let actual = SHA256.hash(bytes)
            if actual == digest { return bytes }
            damaged = .blobCorrupt(digest, actual: actual, size: Int64(bytes.count))
        }
        if let stored = try inline?.bytes(digest) {
            let actual = SHA256.hash(stored)
            if actual == digest { return stored }
            throw damaged ?? .blobCorrupt(digest, actual: actual, size: Int64(stored.count))
        }
        throw damaged ?? .blobMissing(digest)
    }

    /// Whether the blob is stored (unchecked). A ledger that cannot be read counts as not holding
    /// it; `get` and `verify` say why.
    public func contains(_ digest: Digest) -> Bool {
        POSIX.exists(path(for: digest)) || (try? inline?.contains(digest)) == true
    }

    public enum Verification: Sendable, Equatable {
        case ok(size: Int64)
        case missing
        case empty
        case wrongSize(expected: Int64, actual: Int64)
        case corrupt(actual: Digest, size: Int64)
        /// No good file, and the ledger that may hold the blob could not be read.
        case unreadable(String)

        public var isOK: Bool { if case .ok = self { return true } else { return false } }
    }

    /// Re-hashes a blob: its file, or, when there is no good file, the ledger's copy (a good copy
    /// anywhere is `.ok`; otherwise the file's verdict, or the copy's when there is no file). With
    /// `expectedSize`, a size mismatch is reported before hashing.
    public func verify(_ digest: Digest, expectedSize: Int64? = nil) -> Verification {
        let fileVerdict = verifyFile(digest, expectedSize: expectedSize)
        guard !fileVerdict.isOK, let inline else { return fileVerdict }
        let stored: [UInt8]?
        do { stored = try inline.bytes(digest) } catch {
            return fileVerdict == .missing ? .unreadable(error.description) : fileVerdict
        }
        guard let stored else { return fileVerdict }
        let copy = Self.verify(stored, digest: digest, expectedSize: expectedSize)
        return copy.isOK || fileVerdict == .missing ? copy : fileVerdict
    }

    /// `verify` of the blob's file alone (`.missing` when there is none).
    public func verifyFile(_ digest: Digest, expectedSize: Int64? = nil) -> Verification {
        let file = path(for: digest)
        guard let size = POSIX.fileSize(file) else { return .missing }
        if size == 0 && digest != ObjectStore.emptyDigest { return .empty }
        if let expectedSize, expectedSize != size { return .wrongSize(expected: expectedSize, actual: size) }
        guard let (actual, read) = try? SHA256.hash(fileAt: file) else { return .missing }
        return actual == digest ? .ok(size: read) : .corrupt(actual: actual, size: read)
    }

    /// `verify` for bytes read from the ledger.
    static func verify(_ bytes: [UInt8], digest: Digest, expectedSize: Int64?) -> Verification {
        let size = Int64(bytes.count)
        if size == 0 && digest != ObjectStore.emptyDigest { return .empty }
        if let expectedSize, expectedSize != size { return .wrongSize(expected: expectedSize, actual: size) }
        let actual = SHA256.hash(bytes)
        return actual == digest ? .ok(size: size) : .corrupt(actual: actual, size: size)
    }

    /// The digest of zero bytes: the only blob allowed to be empty.
    public static let emptyDigest = SHA256.hash([UInt8]())

    /// Finds the one stored blob whose hex starts with `prefix` (≥ 7 hex, `sha256:` optional).
    public func resolve(prefix text: String) throws(StoreError) -> Digest {
        let hex: String
        do { hex = try Digest.parsePrefix(text) } catch { throw .invalidDigest(error) }
        if hex.count == 64 {
            let d = try! Digest(parsing: hex)
            guard contains(d) else { throw .unknownPrefix(text) }
            return d
        }
        let fan = String(hex.prefix(2))
        let rest = hex.dropFirst(2)
        var found = Set<Digest>()
        for name in POSIX.listDirectory("\(objectsDirectory)/\(fan)") where name.hasPrefix(rest) {
            if let d = try? Digest(parsing: fan + name) { found.insert(d) }
        }
        if let inline { found.formUnion(try inline.digests(withPrefix: hex)) }
        switch found.count {
        case 0: throw .unknownPrefix(text)
        case 1: return found.first!
        default: throw .ambiguousPrefix(text, candidates: found.sorted())
        }
    }

    /// Moves a bad file aside (never deletes evidence) so a good copy can take its name.
    public func quarantine(_ file: String, digest: Digest) throws(StoreError) {
        try POSIX.makeDirectory(quarantineDirectory)
        let target = "\(quarantineDirectory)/\(digest.hex).\(Timestamp.epochMilliseconds()).\(getpid())"
        if rename(file, target) != 0 && errno != ENOENT {
            throw .io(operation: "rename", path: file, errno: errno)
        }
    }

    /// The folder of streamed puts' temp files (the digest is known only at the end).
    public var streamTempDirectory: String { root + "/tmp" }

    /// One file the object walk found.
    public struct File: Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            /// A file named by its digest (its bytes are not checked by the walk).
            case blob(Digest)
            /// A `.tmp-*` file in a fan-out folder: a write a process did not finish.
            case temp
            /// A file in `tmp/`: a streamed write a process did not finish.
            case streamedTemp
            /// A file in the object folder whose name is not a digest.
            case misnamed
        }

        public let path: String
        public let kind: Kind
    }

    /// Every file under the object folders, then every file in `tmp/`, each in name order: the
    /// one walk `fsck` and `gc` share.
    public func walk() -> [File] {
        var out: [File] = []
        for fan in POSIX.listDirectory(objectsDirectory).sorted() {
            let folder = objectsDirectory + "/" + fan
            guard POSIX.isDirectory(folder) else { continue }
            for name in POSIX.listDirectory(folder).sorted() {
                let path = folder + "/" + name
                if name.hasPrefix(ObjectStore.tempPrefix) {
                    out.append(File(path: path, kind: .temp))
                } else if fan.utf8.count == 2, let digest = try? Digest(parsing: fan + name) {
                    out.append(File(path: path, kind: .blob(digest)))
                } else {
                    out.append(File(path: path, kind: .misnamed))
                }
            }
        }
        for name in POSIX.listDirectory(streamTempDirectory).sorted() {
            out.append(File(path: streamTempDirectory + "/" + name, kind: .streamedTemp))
        }
        return out
    }

    // MARK: - Internals

    private struct Temp { let fd: Int32; let path: String }

    /// A new temp file, created read-only (0444: the mode applies to later opens, this fd can
    /// write). The fan-out folder is created on first use (ENOENT), not checked on every put.
    private func makeTemp(in folder: String) throws(StoreError) -> Temp {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<8 {
            let name = "\(folder)/\(ObjectStore.tempPrefix)\(ObjectStore.pid)-\(rng.next() as UInt64)"
            let fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o444)
            if fd >= 0 { return Temp(fd: fd, path: name) }
            if errno == ENOENT {
                try POSIX.makeFanOutDirectory(folder)
                continue
            }
            if errno != EEXIST { throw .io(operation: "create", path: name, errno: errno) }
        }
        throw .io(operation: "create", path: folder, errno: EEXIST)
    }

    /// Length check, optional fsync, close.
    private func finishTemp(_ temp: Temp, expectedSize: Int64, fsyncNow: Bool) throws(StoreError) {
        var st = stat()
        guard fstat(temp.fd, &st) == 0 else { throw .io(operation: "stat", path: temp.path, errno: errno) }
        guard Int64(st.st_size) == expectedSize else {
            throw .shortWrite(path: temp.path, expected: Int(expectedSize), written: Int(st.st_size))
        }
        if fsyncNow && fsync(temp.fd) != 0 {
            throw .io(operation: "fsync", path: temp.path, errno: errno)
        }
        if close(temp.fd) != 0 { throw .io(operation: "close", path: temp.path, errno: errno) }
    }

    /// True when `final` holds exactly the right bytes. A wrong file is quarantined.
    private func existingCopyIsGood(_ final: String, digest: Digest, size: Int64) throws(StoreError) -> Bool {
        guard let existing = POSIX.fileSize(final) else { return false }
        if existing == size, let (actual, _) = try? SHA256.hash(fileAt: final), actual == digest {
            // Touch it, as git does on dedup, so `gc`'s grace period counts from this reuse and a
            // concurrent gc cannot remove a blob a row is about to name.
            utimensat(AT_FDCWD, final, nil, 0)
            return true
        }
        try quarantine(final, digest: digest)
        return false
    }
}

/// Unnamed temp files: `open(folder, O_TMPFILE)`, then `linkat` of `/proc/self/fd/N` under the
/// final name (linking by `AT_EMPTY_PATH` needs a capability bcli does not have). Support is
/// decided at run time: a file system without `O_TMPFILE` (EOPNOTSUPP, EISDIR, EINVAL) or a
/// missing `/proc` turns it off for the process, and puts use named temp files.
enum UnnamedTemp {
    /// Linux's `O_TMPFILE` (`__O_TMPFILE | O_DIRECTORY`); Glibc's Swift overlay does not export it.
    #if os(Linux)
    static let flag: Int32 = 0o20000000 | O_DIRECTORY
    #else
    static let flag: Int32 = 0
    #endif

    /// On until a file system refuses; read by every put, so it is a lock-guarded flag.
    private final class Switch: @unchecked Sendable {
        private var lock = pthread_mutex_t()
        private var on: Bool
        init(_ on: Bool) { self.on = on; pthread_mutex_init(&lock, nil) }
        var value: Bool { pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }; return on }
        func turnOff() { pthread_mutex_lock(&lock); on = false; pthread_mutex_unlock(&lock) }
    }
    private static let state = Switch(flag != 0)

    static var supported: Bool { state.value }

    static func disable() { state.turnOff() }

    /// errnos that say "this file system or system cannot do it", not "this write failed".
    static func meansUnsupported(_ e: Int32) -> Bool {
        e == EOPNOTSUPP || e == EISDIR || e == EINVAL || e == ENOSYS || e == EPERM || e == EXDEV || e == ENOENT
    }

    /// An open, writable, nameless file in `folder` (mode 0444 once linked), or nil when the file
    /// system cannot make one (support is then off). The fan-out folder is created on ENOENT.
    static func open(in folder: String) throws(StoreError) -> Int32? {
        for _ in 0..<2 {
            let fd = openFile(folder, flag | O_WRONLY | O_CLOEXEC, 0o444)
            if fd >= 0 { return fd }
            let e = errno
            if e == ENOENT { try POSIX.makeFanOutDirectory(folder); continue }
            if meansUnsupported(e) { disable(); return nil }
            throw .io(operation: "create", path: folder + "/(unnamed temp)", errno: e)
        }
        throw .io(operation: "create", path: folder + "/(unnamed temp)", errno: ENOENT)
    }

    private static func openFile(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 {
        #if canImport(Glibc)
        Glibc.open(path, flags, mode)
        #else
        Darwin.open(path, flags, mode)
        #endif
    }

    /// Links the open file under `path`; returns 0 or the errno.
    static func link(_ fd: Int32, to path: String) -> Int32 {
        linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0 ? 0 : errno
    }
}
