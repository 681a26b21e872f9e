import Analysis
import SnapshotReader
import Symbolizer

/// How the renderers name a frame: its function, or where it is when the
/// function is unknown (`libfoo.so+0x1234`, `file.c:12`).
public enum FrameLabel {
    /// The name shown for `frame` in flame graphs, folded stacks and speedscope.
    public static func name(_ frame: Frame) -> String {
        frame.function.isEmpty ? TextFormat.describe(frame) : frame.function
    }

    /// `file:line`, the module's file name, or empty, for tooltips.
    public static func location(_ frame: Frame) -> String {
        if !frame.file.isEmpty { return "\(frame.file):\(frame.line)" }
        guard !frame.module.isEmpty else { return "" }
        let module = frame.module.split(separator: "/").last.map(String.init) ?? frame.module
        if let offset = frame.offset { return "\(module)+0x" + String(offset, radix: 16) }
        return module
    }
}

/// One stack of a snapshot with the figure a renderer draws.
struct WeightedStack {
    /// Frame ids in the snapshot's ``TracedSnapshot/table``, root first (the reverse of the
    /// snapshot's order): a renderer names each frame once, however many stacks hold it.
    var frames: [Int32]
    var value: Int64
}

extension Metric {
    /// A short description for titles: `live bytes`, `bytes at the peak`, `bytes allocated`.
    var title: String {
        switch self {
        case .live: "live bytes"
        case .peak: "bytes at the peak"
        case .total: "bytes allocated"
        case .temporary: "bytes allocated temporarily"
        }
    }
}

extension TracedSnapshot {
    /// Every stack with a nonzero `metric` in bytes, root first, in STACK_STATS order.
    func weightedStacks(_ metric: Metric, filters: [TraceFilter] = []) -> [WeightedStack] {
        stackFrameIDs(keeping: filters).compactMap { stat, frames in
            let value = metric.figures(stat).size
            return value == 0 ? nil : WeightedStack(frames: frames.reversed(), value: value)
        }
    }
}
