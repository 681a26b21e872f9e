import Analysis
import Symbolizer

/// The call tree a flame graph draws: stacks merged from the root, each node
/// holding the bytes and blocks of every stack through it — in one column or
/// up to four (one per figure: the report's live, peak, total and temporary
/// trees share their nodes, so the frames are merged once).
///
/// Frames merge when they show the same name in the same file. The nodes live in
/// parallel arrays (node 0 is the root), found by their parent and label in one
/// dictionary: a report of 50,000 stacks makes about a million nodes, and as objects
/// with a dictionary each they cost more to build and free than the rest of the report.
struct FlameTree {
    /// Bytes and blocks of each node, one lane per column.
    private(set) var values: [SIMD4<Int64>] = [SIMD4()]
    private(set) var counts: [SIMD4<Int64>] = [SIMD4()]
    /// Each node's label (an index into `labelNames`; -1 for the root), the first frame merged
    /// into it (an index into `frames`: its file:line and module are the node's details), its
    /// first child and next sibling (-1 for none), children in the order they came.
    private var label: [Int32] = [-1]
    private var detail: [Int32] = [-1]
    private var firstChild: [Int32] = [-1]
    private var lastChild: [Int32] = [-1]
    private var nextSibling: [Int32] = [-1]
    /// parent << 32 | label → node.
    private var nodeOf: [UInt64: Int32] = [:]

    /// Labels: a frame's name, and its name and file as the key that merges frames.
    private var labelNames: [String] = []
    private var labelOf: [String: Int32] = [:]
    /// Frames kept for their details, each with its label.
    private var frames: [Frame] = []
    private var frameLabel: [Int32] = []
    /// For stacks of frame ids: the table they number, and each id's index in `frames`.
    private let table: FrameTable?
    private var frameOfID: [Int32] = []

    /// A tree of stacks given as frames, or, with `table`, as ids in it; room is made for
    /// `nodes` nodes at once.
    init(table: FrameTable? = nil, nodes: Int = 0) {
        self.table = table
        guard nodes > 0 else { return }
        nodeOf.reserveCapacity(nodes)
        for column in [\FlameTree.label, \.detail, \.firstChild, \.lastChild, \.nextSibling] {
            self[keyPath: column].reserveCapacity(nodes + 1)
        }
        values.reserveCapacity(nodes + 1)
        counts.reserveCapacity(nodes + 1)
    }

    /// The root's bytes in each column: the total.
    var rootValues: SIMD4<Int64> { values[0] }

    /// Keeps `frame` (for its details) and returns its index in `frames`.
    private mutating func keep(_ frame: Frame) -> Int32 {
        let name = FrameLabel.name(frame)
        let key = name + "\u{0}" + frame.file
        let next = Int32(labelNames.count)
        let id = labelOf[key, default: next]
        if id == next {
            labelOf[key] = id
            labelNames.append(name)
        }
        frames.append(frame)
        frameLabel.append(id)
        return Int32(frames.count - 1)
    }

    /// The child of `parent` labelled as frame `index` is, made when new, with its figures raised.
    private mutating func step(
        from parent: Int32, frame index: Int32, _ newValues: SIMD4<Int64>, _ newCounts: SIMD4<Int64>
    ) -> Int32 {
        let key = UInt64(UInt32(parent)) << 32 | UInt64(UInt32(frameLabel[Int(index)]))
        let node: Int32
        if let known = nodeOf[key] {
            node = known
        } else {
            node = Int32(values.count)
            nodeOf[key] = node
            values.append(SIMD4())
            counts.append(SIMD4())
            label.append(frameLabel[Int(index)])
            detail.append(index)
            firstChild.append(-1)
            lastChild.append(-1)
            nextSibling.append(-1)
            let p = Int(parent)
            if lastChild[p] < 0 { firstChild[p] = node } else { nextSibling[Int(lastChild[p])] = node }
            lastChild[p] = node
        }
        values[Int(node)] &+= newValues
        counts[Int(node)] &+= newCounts
        return node
    }

    /// The columns of `figures` (at most four); a column whose bytes are not positive gets
    /// nothing. Nil when no column gets anything.
    private static func columns(_ figures: [(size: Int64, count: Int64)]) -> (SIMD4<Int64>, SIMD4<Int64>)? {
        var values = SIMD4<Int64>()
        var counts = SIMD4<Int64>()
        for (column, figure) in figures.prefix(4).enumerated() where figure.size > 0 {
            values[column] = figure.size
            counts[column] = figure.count
        }
        return values == SIMD4() ? nil : (values, counts)
    }

    /// Adds a stack (root first) with its bytes and blocks.
    mutating func add(_ frames: [Frame], bytes: Int64, count: Int64) {
        guard let (values, counts) = Self.columns([(bytes, count)]) else { return }
        self.values[0] &+= values
        self.counts[0] &+= counts
        var node: Int32 = 0
        for frame in frames {
            let key = UInt64(UInt32(node)) << 32
            // Known children need no copy of the frame: look the label up first.
            let name = FrameLabel.name(frame)
            if let id = labelOf[name + "\u{0}" + frame.file], let child = nodeOf[key | UInt64(UInt32(id))] {
                self.values[Int(child)] &+= values
                self.counts[Int(child)] &+= counts
                node = child
            } else {
                node = step(from: node, frame: keep(frame), values, counts)
            }
        }
    }

    /// Adds a stack given as ids in the tree's table, innermost first (as a
    /// ``TracedSnapshot`` keeps them), with its bytes and blocks in each column.
    mutating func add(ids: [Int32], figures: [(size: Int64, count: Int64)]) {
        guard let table, let (values, counts) = Self.columns(figures) else { return }
        self.values[0] &+= values
        self.counts[0] &+= counts
        var node: Int32 = 0
        for id in ids.reversed() {
            let i = Int(id)
            if i >= frameOfID.count {
                frameOfID.append(contentsOf: repeatElement(-1, count: max(table.count, i + 1) - frameOfID.count))
            }
            if frameOfID[i] < 0 { frameOfID[i] = keep(table.frame(id)) }
            node = step(from: node, frame: frameOfID[i], values, counts)
        }
    }

    /// The tree of one column as compact JSON: `{"names":[…],"details":[…],"root":NODE}`,
    /// where a node is `[name, detail, bytes, blocks, [children…]]` (indices into the two
    /// string tables), children largest first, with a sixth element `1` for a frame of a standard
    /// library (``LibraryFrames``), which the report draws in grey. Nodes under `minimum` bytes are
    /// left out.
    func json(minimum: Int64, column: Int = 0) -> JSONFormat.Value {
        var names: [String] = []
        var nameIndex: [String: Int] = [:]
        var details: [String] = []
        var detailIndex: [String: Int] = [:]
        func intern(_ text: String, _ table: inout [String], _ index: inout [String: Int]) -> Int64 {
            if let known = index[text] { return Int64(known) }
            table.append(text)
            index[text] = table.count - 1
            return Int64(table.count - 1)
        }
        func name(_ node: Int32) -> String { node == 0 ? "all" : labelNames[Int(label[Int(node)])] }
        // Per distinct frame, decided once: 0 not yet, 1 a library's, 2 the program's.
        var library = [UInt8](repeating: 0, count: frames.count)
        func isLibrary(_ node: Int32) -> Bool {
            guard node != 0 else { return false }
            let index = Int(detail[Int(node)])
            if library[index] == 0 { library[index] = LibraryFrames.isLibraryFrame(frames[index]) ? 1 : 2 }
            return library[index] == 1
        }
        func encode(_ node: Int32) -> JSONFormat.Value {
            var text = ""
            if node != 0 {
                let frame = frames[Int(detail[Int(node)])]
                text = [FrameLabel.location(frame), frame.module].filter { !$0.isEmpty }.joined(separator: " · ")
            }
            var children: [Int32] = []
            var child = firstChild[Int(node)]
            while child >= 0 {
                if values[Int(child)][column] >= minimum { children.append(child) }
                child = nextSibling[Int(child)]
            }
            children.sort { a, b in
                let (x, y) = (values[Int(a)][column], values[Int(b)][column])
                return x != y ? x > y : name(a) < name(b)
            }
            return .array(
                [
                    .int(intern(name(node), &names, &nameIndex)), .int(intern(text, &details, &detailIndex)),
                    .int(values[Int(node)][column]), .int(counts[Int(node)][column]), .array(children.map(encode)),
                ] + (isLibrary(node) ? [.int(1)] : []))
        }
        let root = encode(0)
        return .object([
            ("names", .array(names.map { .string($0) })), ("details", .array(details.map { .string($0) })),
            ("root", root),
        ])
    }
}
