import Symbolizer

/// Text output in tracemalloc's shape, with the function added to each site.
///
/// A statistic is `SITE: size=139 KiB, count=1002, average=142 B`; a
/// difference is `SITE: size=139 KiB (+139 KiB), count=1002 (+1002), average=142 B`.
/// `average=` is left out when the count is 0. A site is `file:line in function`
/// when the source is known (line 0 when grouping by file or function, as
/// tracemalloc shows a `filename` group), `function+0xOFFSET in module` when only
/// the symbol is known, and the module path when nothing else is.
public enum TextFormat {
    /// `pid 42`, `pids 42, 43`, or past six `pids 42, 43, 44, 45, 46, … (371 processes)`: a
    /// shell's loop forks a process a command.
    public static func pids(_ pids: [UInt32]) -> String {
        let sorted = Set(pids).sorted().map(String.init)
        if sorted.count == 1 { return "pid \(sorted[0])" }
        if sorted.count <= 6 { return "pids " + sorted.joined(separator: ", ") }
        return "pids " + sorted.prefix(5).joined(separator: ", ") + ", … (\(sorted.count) processes)"
    }

    /// How one frame is written.
    public static func describe(_ frame: Frame) -> String {
        if !frame.file.isEmpty {
            let location = "\(frame.file):\(frame.line)"
            return frame.function.isEmpty ? location : "\(location) in \(frame.function)"
        }
        let module = frame.module.isEmpty ? "??" : frame.module
        if !frame.function.isEmpty {
            // A symbolizer's last resort (`libfoo.so+0x1234`, `0x7f…`) already names the place.
            if frame.offset == nil
                && (frame.function.hasPrefix("0x") || frame.function.hasPrefix(basename(module) + "+0x"))
            {
                return frame.function
            }
            let offset = frame.offset.map { "+0x" + String($0, radix: 16) } ?? ""
            return "\(frame.function)\(offset) in \(basename(module))"
        }
        if let offset = frame.offset { return "\(module)+0x" + String(offset, radix: 16) }
        return module
    }

    /// `SITE: size=…, count=…[, average=…]` for a statistic.
    public static func line(_ stat: Statistic) -> String {
        var text =
            "\(site(stat.frames)): size=\(SizeFormat.format(stat.size)), count=\(stat.count)"
        if stat.count != 0 {
            text += ", average=\(SizeFormat.format(Double(stat.size) / Double(stat.count)))"
        }
        return text
    }

    /// `SITE: size=… (±…), count=… (±…)[, average=…]` for a difference.
    public static func line(_ diff: StatisticDiff) -> String {
        var text =
            "\(site(diff.frames)): size=\(SizeFormat.format(diff.size)) (\(SizeFormat.format(diff.sizeDiff, signed: true))), count=\(diff.count) (\(SizeFormat.signedCount(diff.countDiff)))"
        if diff.count != 0 {
            text += ", average=\(SizeFormat.format(Double(diff.size) / Double(diff.count)))"
        }
        return text
    }

    /// Lines for a list of statistics; with `traceback`, each is followed by its
    /// frames, innermost first, indented by four spaces. With `source`, each site and
    /// frame is followed by its line of source, when the file is at hand, indented four
    /// spaces more.
    public static func render(_ stats: [Statistic], traceback: Bool = false, source: SourceLines? = nil) -> String {
        var out = ""
        write(stats, traceback: traceback, source: source) { out += $0 }
        return out
    }

    /// The same lines, handed to `emit` in pieces of whole lines as they are made (a ranking of
    /// every stack of a large snapshot is hundreds of megabytes).
    public static func write(
        _ stats: [Statistic], traceback: Bool = false, source: SourceLines? = nil, emit: (String) -> Void
    ) {
        writeLines(count: stats.count, emit: emit) { index in
            line(stats[index]) + "\n" + details(stats[index].frames, traceback: traceback, source: source)
        }
    }

    /// Lines for a list of differences; see ``render(_:traceback:source:)-([Statistic],_,_)``.
    public static func render(
        _ diffs: [StatisticDiff], traceback: Bool = false, source: SourceLines? = nil
    ) -> String {
        var out = ""
        write(diffs, traceback: traceback, source: source) { out += $0 }
        return out
    }

    /// The same lines, handed to `emit` in pieces of whole lines as they are made.
    public static func write(
        _ diffs: [StatisticDiff], traceback: Bool = false, source: SourceLines? = nil, emit: (String) -> Void
    ) {
        writeLines(count: diffs.count, emit: emit) { index in
            line(diffs[index]) + "\n" + details(diffs[index].frames, traceback: traceback, source: source)
        }
    }

    /// `entry(0)`, `entry(1)`… handed to `emit` about a megabyte at a time (nothing when `count` is 0).
    private static func writeLines(count: Int, emit: (String) -> Void, entry: (Int) -> String) {
        var out = ""
        for index in 0..<count {
            out += entry(index)
            if out.utf8.count >= 1 << 20 {
                emit(out)
                out = ""
            }
        }
        if !out.isEmpty { emit(out) }
    }

    static func site(_ frames: [Frame]) -> String {
        LibraryFrames.site(frames).map(describe) ?? "??"
    }

    /// What follows a site's line: its frames with `traceback`, the source of each line shown.
    private static func details(_ frames: [Frame], traceback: Bool, source: SourceLines?) -> String {
        if traceback { return frameLines(frames, source: source) }
        return LibraryFrames.site(frames).flatMap { source?.text(of: $0) }.map { "    \($0)\n" } ?? ""
    }

    /// A stack's frames, innermost first, indented by four spaces; with `source`, each followed by
    /// its line of source, when the file is at hand, indented by eight.
    public static func frameLines(_ frames: [Frame], source: SourceLines? = nil) -> String {
        frames.map { frame in
            "    " + describe(frame) + "\n" + (source?.text(of: frame).map { "        \($0)\n" } ?? "")
        }.joined()
    }
}

/// JSON output with the documented shape
/// `{"stats":[{"size":N,"count":N,"size_diff":N,"count_diff":N,"frames":[{"function":…,"file":…,"line":N,"module":…}]}]}`.
///
/// `size_diff` and `count_diff` appear only in differences. Frames are
/// innermost first and carry `inlined` (and `offset` when only the symbol was
/// known) besides the four documented fields. Top-level fields other than
/// `stats` (`group_by`, `cumulative`, `total`, `sampled`…) are extras given by the caller.
public enum JSONFormat {
    /// A JSON value, enough for memtrace's reports.
    public indirect enum Value: Sendable {
        case int(Int64)
        case uint(UInt64)
        case double(Double)
        case string(String)
        case bool(Bool)
        case null
        case array([Value])
        /// Keys keep the given order.
        case object([(String, Value)])
        /// Text already serialized (``serialize(_:)``): a value met many times, as a frame is in
        /// thousands of stacks, written once.
        case serialized(String)
    }

    /// The frame object.
    public static func value(_ frame: Frame) -> Value {
        var fields: [(String, Value)] = [
            ("function", .string(frame.function)), ("file", .string(frame.file)),
            ("line", .int(Int64(frame.line))),
            ("module", .string(frame.module)),
        ]
        if frame.isInlined { fields.append(("inlined", .bool(true))) }
        if let offset = frame.offset { fields.append(("offset", .uint(offset))) }
        return .object(fields)
    }

    /// The object for one statistic.
    public static func value(_ stat: Statistic) -> Value {
        .object(
            [("size", .int(stat.size)), ("count", .int(stat.count)), ("frames", .array(stat.frames.map(value)))]
                + site(stat.frames))
    }

    /// The object for one difference.
    public static func value(_ diff: StatisticDiff) -> Value {
        .object(
            [
                ("size", .int(diff.size)), ("count", .int(diff.count)), ("size_diff", .int(diff.sizeDiff)),
                ("count_diff", .int(diff.countDiff)), ("frames", .array(diff.frames.map(value))),
            ] + site(diff.frames))
    }

    /// `"site": N`, the index of the site among a whole stack's `frames` (``LibraryFrames``);
    /// nothing for a group of one frame, which is its site.
    public static func site(_ frames: [Frame]) -> [(String, Value)] {
        site(count: frames.count) { LibraryFrames.siteIndex(frames) }
    }

    /// The same for a stack of `count` frames whose site is at `index()` (asked only when needed).
    public static func site(count: Int, index: () -> Int) -> [(String, Value)] {
        count > 1 ? [("site", .int(Int64(index())))] : []
    }

    /// `{"stats":[…], extra…}` for statistics.
    public static func render(_ stats: [Statistic], extra: [(String, Value)] = []) -> String {
        var document = ""
        write(stats, extra: extra) { document += $0 }
        return document
    }

    /// The same document, handed to `emit` in pieces as it is made (``writeDocument``).
    public static func write(_ stats: [Statistic], extra: [(String, Value)] = [], emit: (String) -> Void) {
        writeDocument(arrayKey: "stats", count: stats.count, element: { value(stats[$0]) }, trailing: extra, emit: emit)
    }

    /// `{"stats":[…], extra…}` for differences.
    public static func render(_ diffs: [StatisticDiff], extra: [(String, Value)] = []) -> String {
        var document = ""
        write(diffs, extra: extra) { document += $0 }
        return document
    }

    /// The same document, handed to `emit` in pieces as it is made (``writeDocument``).
    public static func write(_ diffs: [StatisticDiff], extra: [(String, Value)] = [], emit: (String) -> Void) {
        writeDocument(arrayKey: "stats", count: diffs.count, element: { value(diffs[$0]) }, trailing: extra, emit: emit)
    }

    /// `{leading…,"arrayKey":[element(0),…],trailing…}` and a newline, handed to `emit` in
    /// pieces of about `chunkBytes` as it is made, each element made when it is written: a
    /// snapshot of 600,000 stacks makes half a gigabyte of JSON and more, which held whole as
    /// values and text (and copied to be written) took several times that in memory.
    public static func writeDocument(
        leading: [(String, Value)] = [], arrayKey: String, count: Int, element: (Int) -> Value,
        trailing: [(String, Value)] = [], chunkBytes: Int = 1 << 20, emit: (String) -> Void
    ) {
        var out = "{"
        for (key, item) in leading {
            writeString(key, to: &out)
            out += ":"
            write(item, to: &out)
            out += ","
        }
        writeString(arrayKey, to: &out)
        out += ":["
        for index in 0..<count {
            if index > 0 { out += "," }
            write(element(index), to: &out)
            if out.utf8.count >= chunkBytes {
                emit(out)
                out = ""
            }
        }
        out += "]"
        for (key, item) in trailing {
            out += ","
            writeString(key, to: &out)
            out += ":"
            write(item, to: &out)
        }
        out += "}\n"
        emit(out)
    }

    /// Compact JSON text for `value`.
    public static func serialize(_ value: Value) -> String {
        var out = ""
        write(value, to: &out)
        return out
    }

    static func write(_ value: Value, to out: inout String) {
        switch value {
        case .int(let n): out += String(n)
        case .uint(let n): out += String(n)
        case .double(let d): out += d.isFinite ? String(d) : "null"
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        case .serialized(let text): out += text
        case .string(let s): writeString(s, to: &out)
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                write(item, to: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            for (index, (key, item)) in fields.enumerated() {
                if index > 0 { out += "," }
                writeString(key, to: &out)
                out += ":"
                write(item, to: &out)
            }
            out += "}"
        }
    }

    static func writeString(_ s: String, to out: inout String) {
        // Most names need no escape: appended whole.
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            out += "\""
            out += s
            out += "\""
            return
        }
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
