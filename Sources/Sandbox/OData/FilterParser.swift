import Hashing

/// A parsed `$filter` expression.
indirect enum FilterExpression: Sendable, Equatable {
    enum Comparison: String, Sendable { case eq, ne, gt, ge, lt, le }
    enum Function: String, Sendable { case contains, startswith, endswith }

    case and(FilterExpression, FilterExpression)
    case or(FilterExpression, FilterExpression)
    case not(FilterExpression)
    case compare(property: String, Comparison, ODataLiteral)
    case function(Function, property: String, String)

    /// Properties the expression reads (to validate them against the entity set).
    var properties: [String] {
        switch self {
        case .and(let a, let b), .or(let a, let b): return a.properties + b.properties
        case .not(let a): return a.properties
        case .compare(let p, _, _), .function(_, let p, _): return [p]
        }
    }
}

/// Parses the `$filter` subset the sandbox supports: `eq ne gt ge lt le`, `and or not`,
/// parentheses, `contains/startswith/endswith`, and string ('…', '' escapes), number, boolean,
/// `null`, GUID, date (2024-01-31) and date-time (2024-01-31T10:00:00Z) literals.
///
/// Why hand-written: a dozen grammar rules, and the errors must say where the syntax broke, as BC's do.
///
/// Depth is bounded so no request can overflow the stack: parentheses and `not` nest at most
/// `maximumNestingDepth` levels (an error naming the limit and the character position otherwise),
/// and a chain of `and`s or `or`s becomes a balanced tree (its depth grows with the logarithm of
/// its length), so every recursive walk of the result (validation, evaluation) stays shallow.
struct FilterParser {
    /// The deepest nesting of parentheses and `not` a `$filter` may have. Real filters nest a few
    /// levels; 100 is far above that and far below what the recursive descent can take.
    static let maximumNestingDepth = 100

    enum Token: Equatable {
        case identifier(String)
        case literal(ODataLiteral)
        case open, close, comma
    }

    private let tokens: [Token]
    /// The 0-based character position of each token in the filter text.
    private let positions: [Int]
    private var index = 0
    /// Parentheses and `not`s open around the current token.
    private var nesting = 0

    static func parse(_ text: String) throws(SandboxAPIError) -> FilterExpression {
        let (tokens, positions) = try tokenize(text)
        var parser = FilterParser(tokens: tokens, positions: positions)
        let expression = try parser.parseOr()
        guard parser.index == parser.tokens.count else {
            throw .badRequest("Syntax error in $filter '\(text)': unexpected \(parser.describe(parser.tokens[parser.index])).")
        }
        return expression
    }

    private init(tokens: [Token], positions: [Int]) {
        self.tokens = tokens
        self.positions = positions
    }

    /// Enters one level of parentheses or `not` at the current token, or fails past the limit.
    private mutating func enterNesting() throws(SandboxAPIError) {
        guard nesting < Self.maximumNestingDepth else {
            let at = index < positions.count ? positions[index] : positions.last ?? 0
            throw .badRequest("The $filter expression is nested too deeply at position \(at): more than \(Self.maximumNestingDepth) levels of parentheses and 'not' (the bcli sandbox's limit).")
        }
        nesting += 1
    }

    /// `operands` joined by `combine` as a balanced tree, leaves in their original order.
    private static func balanced(_ operands: ArraySlice<FilterExpression>,
                                 _ combine: (FilterExpression, FilterExpression) -> FilterExpression) -> FilterExpression {
        if operands.count == 1 { return operands[operands.startIndex] }
        let middle = operands.startIndex + operands.count / 2
        return combine(balanced(operands[..<middle], combine), balanced(operands[middle...], combine))
    }

    private func describe(_ token: Token) -> String {
        switch token {
        case .identifier(let s): return "'\(s)'"
        case .literal(let l): return "literal \(l)"
        case .open: return "'('"
        case .close: return "')'"
        case .comma: return "','"
        }
    }

    private var peek: Token? { index < tokens.count ? tokens[index] : nil }

    private func isKeyword(_ token: Token?, _ word: String) -> Bool {
        if case .identifier(let s)? = token { return s == word }
        return false
    }

    private mutating func parseOr() throws(SandboxAPIError) -> FilterExpression {
        var operands = [try parseAnd()]
        while isKeyword(peek, "or") {
            index += 1
            operands.append(try parseAnd())
        }
        return Self.balanced(operands[...], FilterExpression.or)
    }

    private mutating func parseAnd() throws(SandboxAPIError) -> FilterExpression {
        var operands = [try parseUnary()]
        while isKeyword(peek, "and") {
            index += 1
            operands.append(try parseUnary())
        }
        return Self.balanced(operands[...], FilterExpression.and)
    }

    private mutating func parseUnary() throws(SandboxAPIError) -> FilterExpression {
        if isKeyword(peek, "not") {
            try enterNesting()
            defer { nesting -= 1 }
            index += 1
            return .not(try parseUnary())
        }
        return try parsePrimary()
    }

    private mutating func parsePrimary() throws(SandboxAPIError) -> FilterExpression {
        guard let token = peek else { throw .badRequest("Syntax error in $filter: the expression ends too early.") }
        if token == .open {
            try enterNesting()
            defer { nesting -= 1 }
            index += 1
            let inner = try parseOr()
            guard peek == .close else { throw .badRequest("Syntax error in $filter: ')' expected.") }
            index += 1
            return inner
        }
        if case .identifier(let name) = token, tokens.count > index + 1, tokens[index + 1] == .open {
            guard let function = FilterExpression.Function(rawValue: name) else {
                throw .badRequest("The function '\(name)' is not supported in $filter by the bcli sandbox (supported: contains, startswith, endswith).")
            }
            index += 2
            guard case .identifier(let property)? = peek else { throw .badRequest("Syntax error in $filter: \(name)( expects a property name first.") }
            index += 1
            guard peek == .comma else { throw .badRequest("Syntax error in $filter: ',' expected in \(name)(…).") }
            index += 1
            guard case .literal(.string(let argument))? = peek else {
                throw .badRequest("Syntax error in $filter: \(name)(…) expects a string literal second.")
            }
            index += 1
            guard peek == .close else { throw .badRequest("Syntax error in $filter: ')' expected after \(name)(…).") }
            index += 1
            return .function(function, property: property, argument)
        }
        // comparison: property op literal, or literal op property
        let left = try operand()
        guard case .identifier(let opName)? = peek, let op = FilterExpression.Comparison(rawValue: opName) else {
            if let t = peek {
                throw .badRequest("Syntax error in $filter: a comparison operator (eq, ne, gt, ge, lt, le) expected, found \(describe(t)).")
            }
            throw .badRequest("Syntax error in $filter: a comparison operator (eq, ne, gt, ge, lt, le) expected.")
        }
        index += 1
        let right = try operand()
        switch (left, right) {
        case (.identifier(let p), .literal(let l)):
            return .compare(property: p, op, l)
        case (.literal(let l), .identifier(let p)):
            let flipped: FilterExpression.Comparison
            switch op {
            case .gt: flipped = .lt
            case .ge: flipped = .le
            case .lt: flipped = .gt
            case .le: flipped = .ge
            default: flipped = op
            }
            return .compare(property: p, flipped, l)
        default:
            throw .badRequest("The bcli sandbox supports comparisons of a property with a literal only.")
        }
    }

    private mutating func operand() throws(SandboxAPIError) -> Token {
        guard let token = peek else { throw .badRequest("Syntax error in $filter: the expression ends too early.") }
        switch token {
        case .identifier(let s) where ["and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le"].contains(s):
            throw .badRequest("Syntax error in $filter: unexpected keyword '\(s)'.")
        case .identifier, .literal:
            index += 1
            return token
        default:
            throw .badRequest("Syntax error in $filter: unexpected \(describe(token)).")
        }
    }

    // MARK: Lexer

    /// The tokens of `text` and the 0-based character position where each starts.
    static func tokenize(_ text: String) throws(SandboxAPIError) -> (tokens: [Token], positions: [Int]) {
        let chars = Array(text.unicodeScalars)
        var tokens: [Token] = []
        var positions: [Int] = []
        var i = 0
        func isIdentStart(_ c: Unicode.Scalar) -> Bool {
            c == "_" || (c >= "a" && c <= "z") || (c >= "A" && c <= "Z")
        }
        func isIdentChar(_ c: Unicode.Scalar) -> Bool {
            isIdentStart(c) || (c >= "0" && c <= "9") || c == "/" || c == "."
        }
        func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }
        func slice(_ from: Int, _ count: Int) -> String {
            var s = String.UnicodeScalarView()
            s.append(contentsOf: chars[from..<min(chars.count, from + count)])
            return String(s)
        }
        while i < chars.count {
            let c = chars[i]
            if c == " " || c == "\t" || c == "\n" || c == "\r" { i += 1; continue }
            // Every branch below appends exactly one token, starting here, or throws.
            positions.append(i)
            if c == "(" { tokens.append(.open); i += 1; continue }
            if c == ")" { tokens.append(.close); i += 1; continue }
            if c == "," { tokens.append(.comma); i += 1; continue }
            if c == "'" {
                var value = String.UnicodeScalarView()
                i += 1
                var closed = false
                while i < chars.count {
                    if chars[i] == "'" {
                        if i + 1 < chars.count, chars[i + 1] == "'" {
                            value.append("'")
                            i += 2
                            continue
                        }
                        closed = true
                        i += 1
                        break
                    }
                    value.append(chars[i])
                    i += 1
                }
                guard closed else { throw .badRequest("Syntax error in $filter: unterminated string literal.") }
                tokens.append(.literal(.string(String(value))))
                continue
            }
            // GUID literal (unquoted, may start with a letter or a digit)
            let candidate = slice(i, 36)
            if ODataLiteral.isGUID(candidate), i + 36 == chars.count || !isIdentChar(chars[i + 36]) {
                tokens.append(.literal(.guid(candidate.lowercased())))
                i += 36
                continue
            }
            if isDigit(c) || (c == "-" && i + 1 < chars.count && isDigit(chars[i + 1])) {
                var end = i + 1
                scan: while end < chars.count {
                    let ch = chars[end]
                    if isDigit(ch) || ch == "." || ch == ":" || ch == "T" || ch == "Z" || ch == "e" || ch == "E" {
                        end += 1
                        continue
                    }
                    if ch == "+" || ch == "-" {
                        // exponent sign, time-zone offset, or the dashes of YYYY-MM-DD
                        let previous = chars[end - 1]
                        if previous == "e" || previous == "E" || slice(i, end - i).contains("T")
                            || (ch == "-" && (end - i == 4 || end - i == 7))
                        {
                            end += 1
                            continue
                        }
                    }
                    break scan
                }
                let word = slice(i, end - i)
                if word.contains("T") {
                    guard let seconds = ODataLiteral.parseDateTime(word) else {
                        throw .badRequest("Syntax error in $filter: '\(word)' is not a valid date-time (use 2024-01-31T10:00:00Z).")
                    }
                    tokens.append(.literal(.dateTime(seconds)))
                } else if word.count == 10, word.dropFirst(4).first == "-" {
                    guard ODataLiteral.parseDate(word) != nil else {
                        throw .badRequest("Syntax error in $filter: '\(word)' is not a valid date (use 2024-01-31).")
                    }
                    tokens.append(.literal(.date(word)))
                } else {
                    guard let number = Double(word) else {
                        throw .badRequest("Syntax error in $filter: '\(word)' is not a valid number.")
                    }
                    tokens.append(.literal(.number(number)))
                }
                i = end
                continue
            }
            if isIdentStart(c) {
                var end = i + 1
                while end < chars.count, isIdentChar(chars[end]) { end += 1 }
                let word = slice(i, end - i)
                switch word {
                case "true": tokens.append(.literal(.bool(true)))
                case "false": tokens.append(.literal(.bool(false)))
                case "null": tokens.append(.literal(.null))
                default: tokens.append(.identifier(word))
                }
                i = end
                continue
            }
            throw .badRequest("Syntax error in $filter at position \(i): unexpected character '\(c)'.")
        }
        return (tokens, positions)
    }
}
