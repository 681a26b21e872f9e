/// A shelf holds items; each item knows its shelf.
public final class Shelf {
    public let name: String
    public private(set) var items: [Item] = []

    public init(name: String) { self.name = name }

    /// Puts a new item called `name` on the shelf.
    @discardableResult
    public func stock(_ name: String) -> Item {
        let item = Item(name: name, shelf: self)
        items.append(item)
        return item
    }
}

public final class Item {
    public let name: String
    #if FIX_LEAK
        public private(set) weak var shelf: Shelf?
    #else
        /// The planted leak: a strong reference back to the shelf makes a retain cycle, so
        /// neither the shelf nor its items are ever freed.
        public private(set) var shelf: Shelf?
    #endif

    init(name: String, shelf: Shelf) {
        self.name = name
        self.shelf = shelf
    }
}

/// Counts the items of a freshly stocked shelf.
public func stockedCount(_ names: [String]) -> Int {
    let shelf = Shelf(name: "A")
    for name in names { shelf.stock(name) }
    return shelf.items.count
}
