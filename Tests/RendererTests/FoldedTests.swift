import Analysis
import Renderers
import SnapshotReader
import Symbolizer
import XCTest

/// Folded stacks, exact text on hand-made snapshots.
final class FoldedTests: XCTestCase {
    func testLiveBytesRootFirstWithInlinedFrames() {
        XCTAssertEqual(
            FoldedFormat.render(traced(programSnapshot())),
            """
            main;work;helper;cache_put 1000
            main;work;leak_one 4000

            """)
    }

    func testTotalBytesIncludesFreedStacksAndDropsAllocatorFrames() {
        XCTAssertEqual(
            FoldedFormat.render(traced(programSnapshot()), metric: .total),
            """
            main 500
            main;work;helper;cache_put 1000
            main;work;leak_one 6000

            """)
    }

    func testFiltersApply() {
        let filters = [TraceFilter(parsing: "cache_*", inclusive: false)]
        XCTAssertEqual(
            FoldedFormat.render(traced(programSnapshot()), filters: filters),
            "main;work;leak_one 4000\n")
    }

    func testStacksFoldingToTheSameTextAreAdded() {
        // Two pcs on different lines of the same function fold to one frame name.
        var frames = programFrames
        frames[0x401310] = [app("leak_one", 6)]
        let snapshot = makeSnapshot([
            StackSpec(pcs: [0x401300, 0x401100, 0x401000], live: 10, liveCount: 1),
            StackSpec(pcs: [0x401310, 0x401100, 0x401000], live: 32, liveCount: 2),
        ])
        let traced = TracedSnapshot(snapshot, resolver: TableResolver(table: frames))
        XCTAssertEqual(FoldedFormat.render(traced), "main;work;leak_one 42\n")
    }

    func testNamesAreSanitized() {
        XCTAssertEqual(FoldedFormat.sanitize("a;b\nc"), "a:b c")
        XCTAssertEqual(FoldedFormat.sanitize(""), "??")
        // Not a count (or a differential line's second one) to flamegraph.pl's parser.
        XCTAssertEqual(FoldedFormat.sanitize("worker 42"), "worker_42")
        XCTAssertEqual(FoldedFormat.sanitize("new\tline 7.5"), "new line_7.5")
        XCTAssertEqual(FoldedFormat.sanitize("42"), "42")
        XCTAssertEqual(FoldedFormat.sanitize("operator new(unsigned long)"), "operator new(unsigned long)")
        XCTAssertEqual(FoldedFormat.sanitize("f 1x"), "f 1x")
        // Unknown functions are named by their place.
        let unknown = Frame(function: "", file: "", line: 0, module: "/lib/libz.so.1", offset: 0x42)
        XCTAssertEqual(FrameLabel.name(unknown), "/lib/libz.so.1+0x42")
    }

    func testTwoColumnDiff() {
        let table = FrameTable()
        let old = makeSnapshot(
            [
                StackSpec(pcs: [0x401300, 0x401100, 0x401000], live: 2000, liveCount: 20),
                StackSpec(pcs: [0x401400, 0x401200, 0x401000], live: 1000, liveCount: 1),
                StackSpec(pcs: [0x401100, 0x401000], live: 64, liveCount: 1),
            ], path: "old.snap")
        let oldTraced = traced(old, table: table)
        let newTraced = traced(programSnapshot(), table: table)
        XCTAssertEqual(
            FoldedFormat.renderDiff(old: oldTraced, new: newTraced),
            """
            main;work 64 0
            main;work;helper;cache_put 1000 1000
            main;work;leak_one 2000 4000

            """)
    }
}
