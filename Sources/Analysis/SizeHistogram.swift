import SnapshotReader

/// Every allocation of the run by size class (the SIZES section), as `memtrace summary` and the
/// HTML report draw it: a row per class from the first that is not empty to the last.
public struct SizeHistogram: Sendable, Equatable {
    /// One size class.
    public struct Row: Sendable, Equatable {
        /// The class's smallest size: `0 B`, `16 B`, `1 KiB` (see ``SizeHistogram/lowerBound(ofClass:)``).
        public var label: String
        /// Allocations and their bytes.
        public var count: UInt64
        public var bytes: UInt64
        /// The class's allocations over all allocations, 0 to 1.
        public var share: Double
        /// The class's allocations over the busiest class's, 0 to 1: a bar's length.
        public var scale: Double
    }

    public var rows: [Row]

    /// The histogram of `classes`, class 0 first; nil when no class has an allocation.
    public init?(_ classes: [Snapshot.SizeClass]) {
        guard let first = classes.firstIndex(where: { $0.count > 0 }),
            let last = classes.lastIndex(where: { $0.count > 0 })
        else { return nil }
        let total = Double(classes.reduce(UInt64(0)) { $0 &+ $1.count })
        let busiest = Double(classes.map(\.count).max()!)
        rows = (first...last).map { index in
            let sizeClass = classes[index]
            return Row(
                label: Self.lowerBound(ofClass: index), count: sizeClass.count, bytes: sizeClass.bytes,
                share: Double(sizeClass.count) / total, scale: Double(sizeClass.count) / busiest)
        }
    }

    /// The smallest size of class `index`, 2^index bytes (0 for class 0) in the largest binary
    /// unit it is a whole number of: `0 B`, `16 B`, `1 KiB`, `256 MiB`.
    public static func lowerBound(ofClass index: Int) -> String {
        guard index > 0 else { return "0 B" }
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        return "\(UInt64(1) << UInt64(index % 10)) \(units[index / 10])"
    }
}
