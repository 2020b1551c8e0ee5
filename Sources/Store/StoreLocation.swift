#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the store lives: `--store DIR`, else `$BCLI_STORE`, else `$XDG_DATA_HOME/bcli`, else
/// `~/.local/share/bcli` (docs/architecture.md, "The store"). Config stays elsewhere
/// (`$XDG_CONFIG_HOME/bcli`).
public enum StoreLocation {
    public static func resolve(explicit: String?, environment: [String: String]) -> String {
        if let explicit, !explicit.isEmpty { return absolute(explicit, environment) }
        if let env = environment["BCLI_STORE"], !env.isEmpty { return absolute(env, environment) }
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") { return xdg + "/bcli" }
        let home = environment["HOME"] ?? "/tmp"
        return home + "/.local/share/bcli"
    }

    static func absolute(_ path: String, _ environment: [String: String]) -> String {
        var p = path
        if p == "~" || p.hasPrefix("~/") { p = (environment["HOME"] ?? "") + p.dropFirst() }
        if !p.hasPrefix("/") {
            let cwd = currentDirectory()
            p = cwd + "/" + p
        }
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        return p
    }
}


func currentDirectory() -> String {
    var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    guard getcwd(&buf, buf.count) != nil else { return "." }
    return String(cString: buf)
}
