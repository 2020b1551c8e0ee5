/// Process exit codes of DESIGN §4, and the mapping from HTTP outcomes to them.
///
/// Why here: every command that talks to Business Central needs the same mapping, and it depends
/// only on HTTP facts this module owns.
public enum BCExitCode {
    public static let ok: Int32 = 0
    public static let stepFailed: Int32 = 1
    public static let usage: Int32 = 2
    public static let auth: Int32 = 3
    public static let notFound: Int32 = 4
    public static let invalidInput: Int32 = 5
    public static let remoteClientError: Int32 = 6
    public static let remoteServerError: Int32 = 7
    public static let refusedByPolicy: Int32 = 8

    /// The exit code for a final HTTP status: 2xx/3xx → 0; 401/403 → 3 (auth); 404 → 4;
    /// other 4xx → 6; 5xx → 7.
    public static func forStatus(_ status: Int) -> Int32 {
        switch status {
        case 200..<400: return ok
        case 401, 403: return auth
        case 404: return notFound
        case 400..<500: return remoteClientError
        default: return remoteServerError
        }
    }
}
