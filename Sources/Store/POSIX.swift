#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Support

/// Thin wrappers over the system calls the store needs, each turning errno into `StoreError`.
enum POSIX {
    static func makeDirectory(_ path: String, mode: mode_t = 0o700) throws(StoreError) {
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw .io(operation: "mkdir", path: path, errno: errno)
        }
    }

    /// `mkdir -p` with mode 0700 for every folder it creates.
    static func makeDirectories(_ path: String, mode: mode_t = 0o700) throws(StoreError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            current += "/" + part
            if mkdir(current, mode) != 0 && errno != EEXIST {
                throw .io(operation: "mkdir", path: current, errno: errno)
            }
        }
    }

    /// A fan-out folder under `objects/sha256` (or `tmp/`): the parent exists from the store's
    /// open, so one `mkdir` does; the whole path is made only when that fails.
    static func makeFanOutDirectory(_ path: String) throws(StoreError) {
        if mkdir(path, 0o700) == 0 || errno == EEXIST { return }
        try makeDirectories(path)
    }

    static func fileSize(_ path: String) -> Int64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int64(st.st_size)
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func writeAll(fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws(StoreError) {
        var offset = 0
        while offset < buffer.count {
            let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "write", path: path, errno: errno)
            }
            offset += n
        }
    }

    /// `AtomicFile.write` (temp file, fsync, rename, fsync of the folder), its failures as `StoreError`.
    static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t) throws(StoreError) {
        do throws(AtomicFile.Failure) {
            try AtomicFile.write(bytes, to: path, mode: mode)
        } catch {
            throw .io(operation: error.operation, path: error.path, errno: error.errno)
        }
    }

    static func fsyncDirectory(_ path: String) throws(StoreError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        if fsync(fd) != 0 { throw .io(operation: "fsync", path: path, errno: errno) }
    }

    static func readFile(_ path: String) throws(StoreError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(operation: "stat", path: path, errno: errno) }
        let size = Int(st.st_size)
        var out = [UInt8](repeating: 0, count: size)
        var offset = 0
        while offset < size {
            let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + offset, size - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "read", path: path, errno: errno)
            }
            if n == 0 { break }
            offset += n
        }
        if offset < size { out.removeSubrange(offset...) }
        return out
    }

    /// Names in a folder (no `.`/`..`); empty when it does not exist.
    static func listDirectory(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func modificationTime(_ path: String) -> Int? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        #if canImport(Darwin)
        return Int(st.st_mtimespec.tv_sec)
        #else
        return Int(st.st_mtim.tv_sec)
        #endif
    }
}

/// `syncfs(2)`: one flush of a whole filesystem, the barrier behind `ObjectStore.putAll`'s batch
/// durability. Glibc's Swift overlay does not export it, so it is looked up at run time; where it
/// is missing, `putAll` falls back to one fsync per blob.
enum FileSystemSync {
    private typealias SyncFS = @convention(c) (Int32) -> Int32
    private static let function: SyncFS? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "syncfs") else { return nil }
        return unsafeBitCast(symbol, to: SyncFS.self)
    }()

    static var available: Bool { function != nil }

    static func sync(_ path: String) throws(StoreError) {
        guard let function else { return }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        if function(fd) != 0 { throw .io(operation: "syncfs", path: path, errno: errno) }
    }
}
