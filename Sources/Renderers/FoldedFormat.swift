import Analysis
import Symbolizer

/// Folded stacks, the input of flamegraph.pl and inferno: one line per
/// distinct stack, `root;caller;leaf VALUE`.
///
/// Frames are named by ``FrameLabel/name(_:)``, root first; a `;` inside a
/// name becomes `:` and line breaks become spaces, so that every line splits
/// back into the same frames. Stacks that fold to the same text are added up;
/// lines are sorted by their stack text (byte order), and stacks whose value
/// is zero are left out.
public enum FoldedFormat {
    /// The folded stacks of `traced`, weighted by `metric`'s bytes.
    ///
    /// - Parameters:
    ///   - traced: the snapshot.
    ///   - metric: live bytes (the default), bytes at the peak, or bytes ever allocated.
    ///   - filters: traces to keep or drop, as `memtrace top` applies them.
    /// - Returns: the lines, each ending in a newline.
    public static func render(
        _ traced: TracedSnapshot, metric: Metric = .live, filters: [TraceFilter] = []
    ) -> String {
        let folded = fold(traced, metric, filters)
        return folded.keys.sorted(by: utf8Less).map { "\($0) \(folded[$0]!)\n" }.joined()
    }

    /// The two-column form of `difffolded.pl`, for differential flame graphs:
    /// `root;…;leaf OLD NEW` for every stack of either snapshot.
    ///
    /// `flamegraph.pl` draws such a file with the new value as the width and
    /// the change as the colour (red grew, blue shrank).
    ///
    /// - Parameters:
    ///   - old: the earlier snapshot.
    ///   - new: the later snapshot.
    ///   - metric: which bytes to compare.
    ///   - filters: traces to keep or drop in both snapshots.
    /// - Returns: the lines, sorted by stack text, each ending in a newline.
    public static func renderDiff(
        old: TracedSnapshot, new: TracedSnapshot, metric: Metric = .live, filters: [TraceFilter] = []
    ) -> String {
        let before = fold(old, metric, filters)
        let after = fold(new, metric, filters)
        let keys = Set(before.keys).union(after.keys).sorted(by: utf8Less)
        return keys.map { "\($0) \(before[$0] ?? 0) \(after[$0] ?? 0)\n" }.joined()
    }

    /// A frame's name made safe for the folded format.
    public static func sanitize(_ name: String) -> String {
        var out = ""
        out.reserveCapacity(name.utf8.count)
        for character in name {
            switch character {
            case ";": out.append(":")
            case "\n", "\r", "\r\n", "\t": out.append(" ")
            default: out.append(character)
            }
        }
        // A name ending in white space and a number ("worker 42") would read as the line's count
        // to flamegraph.pl and its ports, and the line as a differential one: "worker_42".
        let number = out.reversed().prefix { $0.isASCII && ($0.isNumber || $0 == ".") }.count
        if number > 0, number < out.count {
            let space = out.index(out.endIndex, offsetBy: -number - 1)
            if out[space] == " " { out.replaceSubrange(space...space, with: "_") }
        }
        return out.isEmpty ? "??" : out
    }

    static func fold(
        _ traced: TracedSnapshot, _ metric: Metric, _ filters: [TraceFilter]
    ) -> [String:
        Int64]
    {
        var folded: [String: Int64] = [:]
        var names: [Int32: String] = [:]
        for stack in traced.weightedStacks(metric, filters: filters) {
            let text = stack.frames.map { id in
                if let name = names[id] { return name }
                let name = sanitize(FrameLabel.name(traced.table.frame(id)))
                names[id] = name
                return name
            }.joined(separator: ";")
            folded[text, default: 0] &+= stack.value
        }
        return folded.filter { $0.value != 0 }
    }

    static func utf8Less(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}
