#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one way bcli replaces a file: a reader sees the old file or the new one, never part of
/// either, and after a crash the new one is there only if it is whole.
public enum AtomicFile {
    /// The system call that failed, the file it was about, and its errno.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public let operation: String
        public let path: String
        public let errno: Int32

        public var description: String { "\(operation) \(path): \(String(cString: strerror(errno)))" }
    }

    /// Writes `bytes` to `path`: a new temp file in the same folder (created with `mode`, never
    /// over an existing file), every byte written, fsync, close, rename over `path`, fsync of the
    /// folder. Every failing call throws, naming itself; a temp file left by a failure is removed.
    /// The folder must exist.
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws(Failure) {
        let folder = folder(of: path)
        let name = path.split(separator: "/").last.map(String.init) ?? "file"
        let (fd, temp) = try createTemp(in: folder, name: name, mode: mode)
        do throws(Failure) {
            try writeAll(fd: fd, bytes, path: temp)
            if fsync(fd) != 0 { throw Failure(operation: "fsync", path: temp, errno: errno) }
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
        if close(fd) != 0 {
            let e = errno
            unlink(temp)
            throw Failure(operation: "close", path: temp, errno: e)
        }
        if rename(temp, path) != 0 {
            let e = errno
            unlink(temp)
            throw Failure(operation: "rename", path: path, errno: e)
        }
        try syncFolder(folder)
    }

    /// The folder holding `path` (`.` for a bare name, `/` for a file at the root).
    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let folder = String(path[..<slash])
        return folder.isEmpty ? "/" : folder
    }

    private static func createTemp(in folder: String, name: String, mode: mode_t) throws(Failure) -> (Int32, String) {
        var rng = SystemRandomNumberGenerator()
        var temp = ""
        for _ in 0..<8 {
            temp = "\(folder)/.\(name).\(getpid()).\(rng.next() as UInt32).tmp"
            let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
            if fd >= 0 { return (fd, temp) }
            if errno != EEXIST { break }
        }
        throw Failure(operation: "create", path: temp, errno: errno)
    }

    private static func writeAll(fd: Int32, _ bytes: [UInt8], path: String) throws(Failure) {
        let failure: Failure? = bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = systemWrite(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return Failure(operation: "write", path: path, errno: errno)
                }
                offset += n
            }
            return nil
        }
        if let failure { throw failure }
    }

    private static func syncFolder(_ folder: String) throws(Failure) {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(operation: "open", path: folder, errno: errno) }
        defer { close(fd) }
        if fsync(fd) != 0 { throw Failure(operation: "fsync", path: folder, errno: errno) }
    }
}

private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, buffer, count)
    #else
    return Darwin.write(fd, buffer, count)
    #endif
}
