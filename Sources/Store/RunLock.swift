#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The advisory lock (`flock`) a process holds on `<store>/locks/<run-id>` while it executes a run.
///
/// The kernel drops the lock when the process dies, even by SIGKILL, so nothing is ever stuck and
/// "unfinished and unlocked" reliably means "interrupted". Rollback takes the same lock.
public final class RunLock: @unchecked Sendable {
    public let path: String
    private var fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { release() }

    static func path(store root: String, runID: String) -> String { "\(root)/locks/\(runID)" }

    /// Takes the lock without waiting; throws `runLocked` when another process holds it.
    public static func acquire(store root: String, runID: String) throws(StoreError) -> RunLock {
        guard RunID.isValid(runID) else { throw .invalidRunID(runID) }
        try POSIX.makeDirectory(root + "/locks")
        let file = path(store: root, runID: runID)
        let fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io(operation: "open", path: file, errno: errno) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            close(fd)
            if e == EWOULDBLOCK { throw .runLocked(runID) }
            throw .io(operation: "flock", path: file, errno: e)
        }
        return RunLock(path: file, fd: fd)
    }

    /// True when some process (this one included) holds the run's lock right now.
    public static func isHeld(store root: String, runID: String) -> Bool {
        guard RunID.isValid(runID) else { return false }
        let file = path(store: root, runID: runID)
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return errno == EWOULDBLOCK
    }

    public func release() {
        if fd >= 0 {
            flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
    }
}
