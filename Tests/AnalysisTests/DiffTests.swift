import Analysis
import SnapshotReader
import Symbolizer
import XCTest

final class DiffTests: XCTestCase {
    /// The same program loaded at two different addresses: the old run's
    /// `make_list` line is at 0x5555_0000_1100, the new run's at 0x7777_0000_1100.
    func resolvers() -> (old: TableResolver, new: TableResolver) {
        func table(_ base: UInt64, module: String) -> TableResolver {
            TableResolver(table: [
                base + 0x100: [app("make_list", "examples/leaky.c", 12, module: module)],
                base + 0x200: [app("grow", "examples/leaky.c", 20, module: module)],
                base + 0x300: [app("gone", "examples/leaky.c", 25, module: module)],
                base + 0x400: [app("fresh", "examples/leaky.c", 27, module: module)],
                base + 0x500: [app("steady", "examples/leaky.c", 29, module: module)],
                base + 0x900: [app("main", "examples/leaky.c", 40, module: module)],
            ])
        }
        // The module's directory differs too: sites match on the file name.
        return (
            table(0x5555_0000_1000, module: "/old/build/leaky"),
            table(0x7777_0000_1000, module: "/new/leaky")
        )
    }

    func testSitesMatchAcrossLoadAddresses() throws {
        let (oldResolver, newResolver) = resolvers()
        let oldBase: UInt64 = 0x5555_0000_1000
        let newBase: UInt64 = 0x7777_0000_1000
        let table = FrameTable()
        // The new snapshot first, so that the table's frames are the new run's.
        let new = TracedSnapshot(
            makeSnapshot([
                StackSpec(pcs: [newBase + 0x100, newBase + 0x900], size: 142_336, count: 1002),
                StackSpec(pcs: [newBase + 0x200, newBase + 0x900], size: 50, count: 3),
                StackSpec(pcs: [newBase + 0x400, newBase + 0x900], size: 300, count: 3),
                StackSpec(pcs: [newBase + 0x500, newBase + 0x900], size: 64, count: 1),
            ]), resolver: newResolver, table: table)
        let old = TracedSnapshot(
            makeSnapshot([
                StackSpec(pcs: [oldBase + 0x100, oldBase + 0x900], size: 1024, count: 2),
                StackSpec(pcs: [oldBase + 0x200, oldBase + 0x900], size: 100, count: 1),
                StackSpec(pcs: [oldBase + 0x300, oldBase + 0x900], size: 141_312, count: 1000),
                StackSpec(pcs: [oldBase + 0x500, oldBase + 0x900], size: 64, count: 1),
            ]), resolver: oldResolver, table: table)
        let diffs = try new.compare(to: old)
        XCTAssertEqual(
            diffs.map(TextFormat.line),
            [
                "examples/leaky.c:12 in make_list: size=139 KiB (+138 KiB), count=1002 (+1000), average=142 B",
                "examples/leaky.c:25 in gone: size=0 B (-138 KiB), count=0 (-1000)",
                "examples/leaky.c:27 in fresh: size=300 B (+300 B), count=3 (+3), average=100 B",
                "examples/leaky.c:20 in grow: size=50 B (-50 B), count=3 (+2), average=17 B",
                "examples/leaky.c:29 in steady: size=64 B (+0 B), count=1 (+0), average=64 B",
            ])
        // New snapshot's frames are reported (its module path).
        XCTAssertEqual(diffs[0].frames[0].module, "/new/leaky")

        let growth = new.total().size - old.total().size
        XCTAssertEqual(growth, diffs.reduce(0) { $0 + $1.sizeDiff })

        let byTraceback = try new.compare(to: old, StatisticsOptions(groupBy: .traceback))
        XCTAssertEqual(byTraceback.count, 5)
        XCTAssertEqual(byTraceback[0].frames.count, 2)

        let cumulative = try new.compare(
            to: old, StatisticsOptions(groupBy: .function, cumulative: true))
        XCTAssertEqual(cumulative.first?.frames[0].function, "make_list")
        XCTAssertEqual(
            cumulative.first { $0.frames[0].function == "main" }.map(TextFormat.line),
            "examples/leaky.c:0 in main: size=139 KiB (+250 B), count=1009 (+5), average=141 B")
    }

    /// tracemalloc sorts by |size_diff|, then size, |count_diff|, count.
    func testSortOrderTieBreaks() throws {
        let resolver = TableResolver(table: [
            0x1: [app("a", "a.c", 1)], 0x2: [app("b", "b.c", 2)], 0x3: [app("c", "c.c", 3)],
            0x4: [app("d", "d.c", 4)], 0x5: [app("e", "e.c", 5)],
        ])
        let table = FrameTable()
        let old = TracedSnapshot(
            makeSnapshot([
                StackSpec(pcs: [0x1], size: 100, count: 1), StackSpec(pcs: [0x2], size: 200, count: 1),
                StackSpec(pcs: [0x3], size: 100, count: 1), StackSpec(pcs: [0x4], size: 100, count: 5),
                StackSpec(pcs: [0x5], size: 100, count: 5),
            ]), resolver: resolver, table: table)
        let new = TracedSnapshot(
            makeSnapshot([
                StackSpec(pcs: [0x1], size: 150, count: 1),  // +50, size 150
                StackSpec(pcs: [0x2], size: 150, count: 1),  // -50, size 150, count ±0
                StackSpec(pcs: [0x3], size: 150, count: 3),  // +50, size 150, count +2
                StackSpec(pcs: [0x4], size: 100, count: 7),  // +0, count +2, count 7
                StackSpec(pcs: [0x5], size: 100, count: 3),  // +0, count -2, count 3
            ]), resolver: resolver, table: table)
        let order = try new.compare(to: old).map { $0.frames[0].function }
        XCTAssertEqual(order, ["c", "b", "a", "d", "e"])
    }

    /// A limit keeps the first groups of the full order: groups tied with the last one kept
    /// on every figure are ordered by their frames before the cut, as without a limit.
    func testALimitCutsTheFullOrder() throws {
        let resolver = TableResolver(table: [
            0x1: [app("a", "a.c", 1)], 0x2: [app("b", "b.c", 2)], 0x3: [app("c", "c.c", 3)],
            0x4: [app("d", "d.c", 4)], 0x5: [app("e", "e.c", 5)], 0x6: [app("f", "f.c", 6)],
        ])
        let table = FrameTable()
        let old = TracedSnapshot(
            makeSnapshot([StackSpec(pcs: [0x6], size: 10, count: 1), StackSpec(pcs: [0x5], size: 100, count: 1)]),
            resolver: resolver, table: table)
        let new = TracedSnapshot(
            makeSnapshot([
                StackSpec(pcs: [0x1], size: 100, count: 1), StackSpec(pcs: [0x2], size: 100, count: 1),
                StackSpec(pcs: [0x3], size: 100, count: 1), StackSpec(pcs: [0x4], size: 200, count: 1),
                StackSpec(pcs: [0x5], size: 100, count: 2),
            ]), resolver: resolver, table: table)
        func names<T>(_ items: [T], _ frames: (T) -> [Frame]) -> [String] { items.map { frames($0)[0].function } }
        XCTAssertEqual(names(try new.statistics(), \.frames), ["d", "e", "c", "b", "a"])
        XCTAssertEqual(names(try new.statistics(StatisticsOptions(limit: 3)), \.frames), ["d", "e", "c"])
        XCTAssertEqual(names(try new.compare(to: old), \.frames), ["d", "c", "b", "a", "f", "e"])
        XCTAssertEqual(names(try new.compare(to: old, StatisticsOptions(limit: 2)), \.frames), ["d", "c"])
        for sortBy in [SortKey.size, .count] {
            let stats = try new.statistics(StatisticsOptions(sortBy: sortBy))
            let diffs = try new.compare(to: old, StatisticsOptions(sortBy: sortBy))
            for limit in 1...7 {
                let options = StatisticsOptions(sortBy: sortBy, limit: limit)
                XCTAssertEqual(try new.statistics(options), Array(stats.prefix(limit)), "\(sortBy) \(limit)")
                XCTAssertEqual(try new.compare(to: old, options), Array(diffs.prefix(limit)), "\(sortBy) \(limit)")
            }
        }
    }

    func testDifferentTablesAreRefused() {
        let (oldResolver, newResolver) = resolvers()
        let old = TracedSnapshot(makeSnapshot([]), resolver: oldResolver)
        let new = TracedSnapshot(makeSnapshot([]), resolver: newResolver)
        XCTAssertThrowsError(try new.compare(to: old))
    }

    func testFiltersApplyToBothSnapshots() throws {
        let (oldResolver, newResolver) = resolvers()
        let oldBase: UInt64 = 0x5555_0000_1000
        let newBase: UInt64 = 0x7777_0000_1000
        let table = FrameTable()
        let old = TracedSnapshot(
            makeSnapshot([
                StackSpec(pcs: [oldBase + 0x100, oldBase + 0x900], size: 10, count: 1),
                StackSpec(pcs: [oldBase + 0x300, oldBase + 0x900], size: 1000, count: 1),
            ]), resolver: oldResolver, table: table)
        let new = TracedSnapshot(
            makeSnapshot([StackSpec(pcs: [newBase + 0x100, newBase + 0x900], size: 30, count: 3)]),
            resolver: newResolver, table: table)
        let options = StatisticsOptions(filters: [TraceFilter(inclusive: false, pattern: "gone")])
        XCTAssertEqual(
            try new.compare(to: old, options).map(TextFormat.line),
            ["examples/leaky.c:12 in make_list: size=30 B (+20 B), count=3 (+2), average=10 B"])
        XCTAssertEqual(
            new.total(filters: options.filters).size - old.total(filters: options.filters).size, 20)
    }
}
