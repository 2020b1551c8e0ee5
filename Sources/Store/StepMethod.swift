/// The HTTP method of a step, one type from the manifest (`HTTPVerb` in Batch) through the runner
/// and rollback to the ledger. `BCRequest` keeps its own `String` method; Batch converts in one
/// place (`BCRequest.init(method: StepMethod, …)`).
public enum StepMethod: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    case get = "GET", post = "POST", patch = "PATCH", delete = "DELETE"

    /// Anything but GET changes data in Business Central.
    public var isWrite: Bool { self != .get }

    /// The raw value, so interpolation prints `POST`, not `post`.
    public var description: String { rawValue }
}

/// What a step row's `method` column records (the column stays TEXT; the raw value is its
/// spelling and the spelling in every output): the HTTP method sent, or one of two marks for a
/// row that sent nothing.
public enum RecordedMethod: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
    case http(StepMethod)
    /// `?`: a `${{ }}` method whose references did not resolve; the step was recorded skipped.
    case unresolved
    /// `NONE`: a rollback's decision recorded against an original step (nothing to undo, not
    /// attempted).
    case noRequest

    public static let get = RecordedMethod.http(.get)
    public static let post = RecordedMethod.http(.post)
    public static let patch = RecordedMethod.http(.patch)
    public static let delete = RecordedMethod.http(.delete)

    public init?(rawValue: String) {
        switch rawValue {
        case "?": self = .unresolved
        case "NONE": self = .noRequest
        default:
            guard let method = StepMethod(rawValue: rawValue) else { return nil }
            self = .http(method)
        }
    }

    public var rawValue: String {
        switch self {
        case .http(let method): return method.rawValue
        case .unresolved: return "?"
        case .noRequest: return "NONE"
        }
    }

    /// The HTTP method sent; nil for the two marks.
    public var http: StepMethod? {
        if case .http(let method) = self { return method }
        return nil
    }

    public var description: String { rawValue }
}
