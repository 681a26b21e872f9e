import Analysis
import Symbolizer

/// The call tree a flame graph draws: stacks merged from the root, each node
/// holding the bytes of every stack through it.
struct FlameTree {
    final class Node {
        let name: String
        /// `file:line` (or the module) of the first frame merged into this node.
        let location: String
        let module: String
        var value: Int64 = 0
        var count: Int64 = 0
        var children: [Node] = []
        var index: [String: Int] = [:]

        init(name: String, location: String, module: String) {
            self.name = name
            self.location = location
            self.module = module
        }

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

    /// Adds `stacks` (root first) with their bytes and blocks.
    mutating func add(_ frames: [Frame], bytes: Int64, count: Int64) {
        guard bytes > 0 else { return }
        var node = root
        node.value += bytes
        node.count += count
        for frame in frames {
            node = node.child(frame)
            node.value += bytes
            node.count += count
        }
    }

    /// The tree as compact JSON: `{"names":[…],"details":[…],"root":NODE}`, where a
    /// node is `[name, detail, bytes, blocks, [children…]]` (indices into the two
    /// string tables), children largest first. Nodes under `minimum` bytes are left out.
    func json(minimum: Int64) -> JSONFormat.Value {
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
            let children = node.children.filter { $0.value >= minimum }.sorted { a, b in
                a.value != b.value ? a.value > b.value : a.name < b.name
            }
            return .array([
                .int(intern(node.name, &names, &nameIndex)), .int(intern(detail, &details, &detailIndex)),
                .int(node.value), .int(node.count), .array(children.map(encode)),
            ])
        }
        let root = encode(root)
        return .object([
            ("names", .array(names.map { .string($0) })), ("details", .array(details.map { .string($0) })),
            ("root", root),
        ])
    }
}
