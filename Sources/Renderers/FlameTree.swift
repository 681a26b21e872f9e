import Analysis
import Symbolizer

/// The call tree a flame graph draws: stacks merged from the root, each node
/// holding the bytes and blocks of every stack through it — in one column or
/// up to four (one per figure: the report's live, peak, total and temporary
/// trees share their nodes, so the frames are merged once).
struct FlameTree {
    final class Node {
        let name: String
        /// `file:line` (or the module) of the first frame merged into this node.
        let location: String
        let module: String
        /// Bytes and blocks, one lane per column (inline: a tree of a million nodes would
        /// otherwise make two million small arrays).
        var values = SIMD4<Int64>()
        var counts = SIMD4<Int64>()
        var children: [Node] = []
        var index: [String: Int] = [:]

        init(name: String, location: String, module: String) {
            self.name = name
            self.location = location
            self.module = module
        }

        /// Bytes in the first column.
        var value: Int64 { values[0] }

        func child(_ frame: Frame) -> Node {
            let name = FrameLabel.name(frame)
            let key = name + "\u{0}" + frame.file
            if let position = index[key] { return children[position] }
            let node = Node(name: name, location: FrameLabel.location(frame), module: frame.module)
            index[key] = children.count
            children.append(node)
            return node
        }
    }

    let root = Node(name: "all", location: "", module: "")

    /// Adds a stack (root first) with its bytes and blocks.
    mutating func add(_ frames: [Frame], bytes: Int64, count: Int64) {
        add(frames, figures: [(bytes, count)])
    }

    /// Adds a stack (root first) with its bytes and blocks in each column (at most four); a
    /// column whose bytes are not positive gets nothing.
    mutating func add(_ frames: [Frame], figures: [(size: Int64, count: Int64)]) {
        var values = SIMD4<Int64>()
        var counts = SIMD4<Int64>()
        for (column, figure) in figures.prefix(4).enumerated() where figure.size > 0 {
            values[column] = figure.size
            counts[column] = figure.count
        }
        guard values != SIMD4() else { return }
        var node = root
        node.values &+= values
        node.counts &+= counts
        for frame in frames {
            node = node.child(frame)
            node.values &+= values
            node.counts &+= counts
        }
    }

    /// The tree of one column as compact JSON: `{"names":[…],"details":[…],"root":NODE}`,
    /// where a node is `[name, detail, bytes, blocks, [children…]]` (indices into the two
    /// string tables), children largest first. Nodes under `minimum` bytes are left out.
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
        func encode(_ node: Node) -> JSONFormat.Value {
            let detail = [node.location, node.module].filter { !$0.isEmpty }.joined(separator: " · ")
            let children = node.children.filter { $0.values[column] >= minimum }.sorted { a, b in
                a.values[column] != b.values[column] ? a.values[column] > b.values[column] : a.name < b.name
            }
            return .array([
                .int(intern(node.name, &names, &nameIndex)), .int(intern(detail, &details, &detailIndex)),
                .int(node.values[column]), .int(node.counts[column]), .array(children.map(encode)),
            ])
        }
        let root = encode(root)
        return .object([
            ("names", .array(names.map { .string($0) })), ("details", .array(details.map { .string($0) })),
            ("root", root),
        ])
    }
}
