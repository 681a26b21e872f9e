import Analysis
import SnapshotReader
import Symbolizer

/// A snapshot as the output file of Valgrind's Massif (`massif.out.PID`), which `ms_print` and
/// massif-visualizer read: the heap over time from the snapshot's timeline, then two detailed
/// trees of call stacks, the blocks held at the moment of the peak (`heap_tree=peak`) and those
/// live when the snapshot was taken, each node a frame and the bytes allocated under it.
///
/// ```
/// desc: memtrace export leaky.snap --format massif
/// cmd: ./leaky
/// time_unit: ms
/// #-----------
/// snapshot=0
/// #-----------
/// time=0.125
/// mem_heap_B=2400
/// mem_heap_extra_B=0
/// mem_stacks_B=0
/// heap_tree=empty
/// …
/// heap_tree=peak
/// n3: 84896 (heap allocation functions) malloc/new/new[], --alloc-fns, etc.
///  n1: 64000 make_list (examples/leaky.c:33)
///   n0: 64000 main (examples/leaky.c:63)
///  …
///  n0: 129 in 2 places, all below massif's threshold (1.00%)
/// ```
///
/// As in Massif, the root's children are the innermost frames (here past the allocator's own,
/// from the first frame that called it), each node's children its callers up to `main`, largest
/// first, and the nodes under 1% of the tree's bytes are added up in one line. Times are milliseconds since
/// tracing started; `mem_heap_extra_B` is what the allocator gave beyond the sizes asked for where
/// the snapshot knows it (the last one), 0 elsewhere.
public enum MassifFormat {
    /// Massif's default `--threshold`: nodes under this share of the tree are added up.
    public static let threshold = 0.01

    /// The file for `traced`; `filters` choose the stacks of the trees (the heap's totals are the
    /// snapshot's), `description` is its `desc:` line.
    public static func render(_ traced: TracedSnapshot, description: String, filters: [TraceFilter] = []) -> String {
        let snapshot = traced.snapshot
        let header = snapshot.header
        let totals = snapshot.totals
        let start = header.startTimeNs
        func milliseconds(_ time: UInt64) -> String {
            let micro = (time &- start) / 1000
            let fraction = String(micro % 1000)
            return "\(micro / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
        }
        let stacks = traced.stackFrameIDs(keeping: filters)
        // The moments to draw, in time order: every timeline point, the peak, and the snapshot.
        enum Tree { case none, peak, live }
        var moments: [(time: UInt64, heap: UInt64, extra: UInt64, tree: Tree)] =
            (snapshot.timeline ?? []).map { ($0.timeNs, $0.currentBytes, 0, .none) }
        if totals.peakBytes > 0 {
            // The tracer reads a coarse clock at the peak, a few ms off: the timeline bounds it, after
            // the last point that had not seen it and by the first that had.
            let timeline = snapshot.timeline ?? []
            let reached = timeline.first { $0.peakBytes >= totals.peakBytes }?.timeNs ?? header.snapshotTimeNs
            let before = timeline.last { $0.peakBytes < totals.peakBytes && $0.timeNs <= reached }?.timeNs ?? start
            moments.append((min(max(totals.peakTimeNs, before), reached), totals.peakBytes, 0, .peak))
        }
        let extra = totals.liveUsableBytes > totals.liveBytes ? totals.liveUsableBytes - totals.liveBytes : 0
        moments.append((header.snapshotTimeNs, totals.liveBytes, extra, .live))
        moments.sort { $0.time != $1.time ? $0.time < $1.time : $0.tree == .none && $1.tree != .none }

        var command = snapshot.process["cmdline"].map { $0.split(separator: "\0").joined(separator: " ") } ?? ""
        if command.isEmpty { command = snapshot.process["exe"] ?? "" }
        var out = "desc: \(oneLine(description))\ncmd: \(oneLine(command))\ntime_unit: ms\n"
        for (index, moment) in moments.enumerated() {
            out += "#-----------\nsnapshot=\(index)\n#-----------\n"
            out += "time=\(milliseconds(moment.time))\nmem_heap_B=\(moment.heap)\n"
            out += "mem_heap_extra_B=\(moment.extra)\nmem_stacks_B=0\n"
            switch moment.tree {
            case .none:
                out += "heap_tree=empty\n"
            case .peak:
                out += "heap_tree=peak\n"
                out += tree(stacks.map { ($0.frames, $0.stat.peakBytes) }, table: traced.table)
            case .live:
                out += "heap_tree=detailed\n"
                out += tree(stacks.map { ($0.frames, $0.stat.liveBytes) }, table: traced.table)
            }
        }
        return out
    }

    /// A node of a tree: the bytes under it and its callers.
    private final class Node {
        var bytes: UInt64 = 0
        var children: [Int32: Node] = [:]
    }

    /// The tree of `stacks` (frame ids, innermost first, with their bytes), in Massif's lines.
    static func tree(_ stacks: [(frames: [Int32], bytes: UInt64)], table: FrameTable) -> String {
        let root = Node()
        for (frames, bytes) in stacks where bytes > 0 {
            root.bytes &+= bytes
            var node = root
            // As Valgrind shows stacks, up to main: not the C runtime's frames that call it.
            let end = frames.firstIndex { table.frame($0).function == "main" }.map { $0 + 1 } ?? frames.count
            for id in frames[..<end] {
                let child = node.children[id] ?? Node()
                node.children[id] = child
                child.bytes &+= bytes
                node = child
            }
        }
        let smallest = UInt64(Double(root.bytes) * threshold)
        var out = ""
        func write(_ node: Node, label: String, depth: Int) {
            let sorted = node.children.sorted { a, b in
                a.value.bytes != b.value.bytes ? a.value.bytes > b.value.bytes : a.key < b.key
            }
            let shown = sorted.filter { $0.value.bytes >= smallest && $0.value.bytes > 0 }
            let small = sorted.count - shown.count
            let indent = String(repeating: " ", count: depth)
            out += "\(indent)n\(shown.count + (small > 0 ? 1 : 0)): \(node.bytes) \(label)\n"
            for (id, child) in shown { write(child, label: self.label(table.frame(id)), depth: depth + 1) }
            if small > 0 {
                let bytes = sorted.dropFirst(shown.count).reduce(UInt64(0)) { $0 &+ $1.value.bytes }
                let places = small == 1 ? "1 place" : "\(small) places"
                let all = small == 1 ? "" : "all "
                out += "\(indent) n0: \(bytes) in \(places), \(all)below massif's threshold (1.00%)\n"
            }
        }
        write(root, label: "(heap allocation functions) malloc/new/new[], --alloc-fns, etc.", depth: 0)
        return out
    }

    /// `function (file:line)` as Massif names a frame, `function (in module)` without a line.
    static func label(_ frame: Frame) -> String {
        let function = frame.function.isEmpty ? "???" : frame.function
        if !frame.file.isEmpty { return "\(function) (\(frame.file):\(frame.line))" }
        return frame.module.isEmpty ? function : "\(function) (in \(frame.module))"
    }

    /// `text` on one line: Massif's header fields end at the line's end.
    static func oneLine(_ text: String) -> String {
        text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).joined(separator: " ")
    }
}
