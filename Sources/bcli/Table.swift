/// Plain aligned columns (no box drawing, so output stays grep- and cut-friendly), fitted to the
/// terminal.
///
/// Why fitted: a `state` row with full URLs, ETags and correlation ids ran to 455 characters and
/// wrapped into noise. Columns marked `flexible` give up width, widest first, down to their
/// minimum, and a cut cell ends in `…` (`...` in ASCII); the others keep their width. `width`
/// nil prints every cell whole (`--wide`).
struct Table {
    struct Column {
        var title: String
        var flexible = false
        var minimum = 8
        /// Cut from the start (`…examples/quickstart.yaml`): for paths, whose end says the most.
        var keepEnd = false
        /// Colours a cell after it is padded, so escape codes never count as width.
        var paint: ((String) -> String)? = nil
    }

    var columns: [Column]
    var rows: [[String]]

    /// The lines to print: the header, then one per row; no line is wider than `width`, as far
    /// as the fixed columns allow.
    func lines(width: Int?, style: Style) -> [String] {
        let widths = fittedWidths(width: width, style: style)
        func render(_ cells: [String], header: Bool) -> String {
            var out = ""
            let cells = Array(cells.prefix(columns.count))
            for (i, cell) in cells.enumerated() {
                let last = i == cells.count - 1
                var text = Self.cut(cell, to: widths[i], ellipsis: style.ellipsis, keepEnd: columns[i].keepEnd)
                let pad = last ? 0 : widths[i] - text.count
                if !header, let paint = columns[i].paint, !text.isEmpty { text = paint(text) }
                out += text + String(repeating: " ", count: max(0, pad)) + (last ? "" : "  ")
            }
            while out.hasSuffix(" ") { out.removeLast() }
            return out
        }
        return [render(columns.map(\.title), header: true)] + rows.map { render($0, header: false) }
    }

    func print(width: Int?, style: Style = Style.stdout) {
        for line in lines(width: width, style: style) { Terminal.line(line) }
    }

    /// Natural widths; then, while the line is too wide, the flexible columns are capped at the
    /// largest width that fits (each no lower than its minimum).
    func fittedWidths(width: Int?, style: Style) -> [Int] {
        var natural = columns.map(\.title.count)
        for row in rows { for (i, cell) in row.enumerated() where i < natural.count { natural[i] = max(natural[i], cell.count) } }
        guard let width else { return natural }
        let gaps = 2 * max(0, columns.count - 1)
        func total(cap: Int) -> Int {
            gaps + zip(columns, natural).map { c, w in c.flexible ? min(w, max(cap, min(c.minimum, w))) : w }.reduce(0, +)
        }
        guard total(cap: Int.max) > width else { return natural }
        var low = 0, high = natural.max() ?? 0
        while low < high {
            let mid = (low + high + 1) / 2
            if total(cap: mid) <= width { low = mid } else { high = mid - 1 }
        }
        return zip(columns, natural).map { c, w in c.flexible ? min(w, max(low, min(c.minimum, w))) : w }
    }

    static func cut(_ text: String, to width: Int, ellipsis: String, keepEnd: Bool = false) -> String {
        guard text.count > width else { return text }
        guard width > ellipsis.count else { return String(keepEnd ? text.suffix(width) : text.prefix(width)) }
        return keepEnd ? ellipsis + String(text.suffix(width - ellipsis.count)) : String(text.prefix(width - ellipsis.count)) + ellipsis
    }
}

/// The table options every table-printing command takes.
enum TableWidth {
    /// `--wide`: nil (every cell whole); else the terminal's width.
    static func resolve(wide: Bool) -> Int? { wide ? nil : TerminalWidth.current() }
}
