import COpenSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SHA-256 through OpenSSL's EVP interface.
///
/// Why OpenSSL: it uses the CPU's SHA extensions, so hashing runs at memory speed
/// (several times `sha256sum` here) and the store never becomes the bottleneck of a run.
/// One value hashes one stream; it is not shared across tasks.
public struct SHA256: ~Copyable {
    private let context: OpaquePointer

    public init() {
        guard let ctx = EVP_MD_CTX_new() else {
            fatalError("OpenSSL could not allocate a digest context (out of memory)")
        }
        guard EVP_DigestInit_ex(ctx, EVP_sha256(), nil) == 1 else {
            EVP_MD_CTX_free(ctx)
            fatalError("OpenSSL refused to initialise SHA-256")
        }
        context = ctx
    }

    deinit { EVP_MD_CTX_free(context) }

    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        _ = EVP_DigestUpdate(context, base, buffer.count)
    }

    public mutating func update(_ bytes: some Sequence<UInt8>) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if done == nil {
            let copy = Array(bytes)
            copy.withUnsafeBytes { update($0) }
        }
    }

    public consuming func finalize() -> Digest {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        out.withUnsafeMutableBufferPointer { _ = EVP_DigestFinal_ex(context, $0.baseAddress, &length) }
        return Digest(rawBytes: out)!
    }

    /// The digest of `bytes`.
    public static func hash(_ bytes: some Sequence<UInt8>) -> Digest {
        var h = SHA256()
        h.update(bytes)
        return h.finalize()
    }

    public static func hash(_ buffer: UnsafeRawBufferPointer) -> Digest {
        var h = SHA256()
        h.update(buffer)
        return h.finalize()
    }

    /// Streams a file through the hash in 1 MiB reads; the file is never held in memory whole.
    /// Returns the digest and the number of bytes read.
    public static func hash(fileAt path: String) throws(FileHashError) -> (digest: Digest, size: Int64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileHashError(path: path, errno: errno) }
        defer { close(fd) }
        var h = SHA256()
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let n = read(fd, buffer, chunk)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileHashError(path: path, errno: errno)
            }
            if n == 0 { break }
            h.update(UnsafeRawBufferPointer(start: buffer, count: n))
            total += Int64(n)
        }
        return (h.finalize(), total)
    }
}

/// A file could not be read for hashing.
public struct FileHashError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let errno: Int32
    public var description: String {
        "cannot read \(path): \(String(cString: strerror(errno))) — check the path and its permissions"
    }
}
