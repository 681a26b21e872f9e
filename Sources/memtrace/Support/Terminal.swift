#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// ANSI colour for standard output, used only when it is a terminal.
///
/// Colour is off when standard output is not a terminal (a pipe, a file), when
/// `NO_COLOR` is set to anything non-empty (https://no-color.org), and when
/// `TERM` is `dumb`.
enum Terminal {
    /// Whether text written to standard output may carry colour.
    static let colorsStandardOutput: Bool = {
        guard isatty(1) != 0 else { return false }
        if let noColor = getenv("NO_COLOR"), noColor.pointee != 0 { return false }
        if let term = getenv("TERM"), String(cString: term) == "dumb" { return false }
        return true
    }()

    enum Color: String {
        case red = "31"
        case green = "32"
        case yellow = "33"
        case cyan = "36"
        case bold = "1"
    }

    /// `text` in `color` when standard output takes colour; `text` unchanged otherwise.
    static func paint(_ text: String, _ color: Color) -> String {
        colorsStandardOutput ? "\u{1B}[\(color.rawValue)m\(text)\u{1B}[0m" : text
    }

    /// Diff lines with each `size=… (+…)` change in red when it grew and green when it shrank,
    /// on a terminal; unchanged otherwise.
    static func paintChanges(_ text: String) -> String {
        guard colorsStandardOutput else { return text }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard let size = line.range(of: ": size="), let open = line[size.upperBound...].firstIndex(of: "("),
                let close = line[open...].firstIndex(of: ")")
            else { return String(line) }
            let change = line[line.index(after: open)..<close]
            let color: Color? = change.hasPrefix("+") && change != "+0 B" ? .red : change.hasPrefix("-") ? .green : nil
            guard let color else { return String(line) }
            return line[...open] + paint(String(change), color) + line[close...]
        }.joined(separator: "\n")
    }
}
