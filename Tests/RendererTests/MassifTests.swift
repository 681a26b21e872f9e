import Analysis
import Renderers
import SnapshotReader
import Symbolizer
import XCTest

/// `export --format massif`: Massif's file, with the heap over time and the trees at the peak and
/// at the snapshot; `ms_print` reads it in the end-to-end tests.
final class MassifTests: XCTestCase {
    func testTimelinePeakAndSnapshotTrees() {
        var frames = programFrames
        frames[0x401600] = [app("tiny", 40)]
        frames[0x401700] = [
            Frame(function: "__libc_start_call_main", file: "", line: 0, module: "/lib/libc.so.6", offset: 0x80)
        ]
        let start: UInt64 = 1_000_000_000
        var snapshot = makeSnapshot(
            [
                StackSpec(pcs: [0x401300, 0x401100, 0x401000, 0x401700], live: 4000, liveCount: 40, peak: 4000),
                StackSpec(pcs: [0x401400, 0x401200, 0x401000], live: 1000, liveCount: 1, peak: 1000),
                StackSpec(pcs: [0x401600, 0x401000], live: 10, liveCount: 1, peak: 10),
                StackSpec(pcs: [0x401500, 0x401000], live: 0, liveCount: 0, total: 500, totalCount: 5),
            ],
            timeline: [
                Snapshot.TimelinePoint(timeNs: start + 500_000_000, currentBytes: 2000, peakBytes: 2000, rssBytes: 0),
                Snapshot.TimelinePoint(timeNs: start + 2_500_000_000, currentBytes: 5010, peakBytes: 5010, rssBytes: 0),
            ])
        snapshot.totals.peakBytes = 5010
        snapshot.totals.peakTimeNs = start + 2_000_250_000
        snapshot.totals.liveUsableBytes = 5100
        let text = MassifFormat.render(
            TracedSnapshot(snapshot, resolver: TableResolver(table: frames)), description: "memtrace test")
        let tree = """
            n3: 5010 (heap allocation functions) malloc/new/new[], --alloc-fns, etc.
             n1: 4000 leak_one (app.c:5)
              n1: 4000 work (app.c:20)
               n0: 4000 main (app.c:30)
             n1: 1000 cache_put (app.c:8)
              n1: 1000 helper (app.c:12)
               n1: 1000 work (app.c:21)
                n0: 1000 main (app.c:30)
             n0: 10 in 1 place, below massif's threshold (1.00%)

            """
        XCTAssertEqual(
            text,
            """
            desc: memtrace test
            cmd: app
            time_unit: ms
            #-----------
            snapshot=0
            #-----------
            time=500.000
            mem_heap_B=2000
            mem_heap_extra_B=0
            mem_stacks_B=0
            heap_tree=empty
            #-----------
            snapshot=1
            #-----------
            time=2000.250
            mem_heap_B=5010
            mem_heap_extra_B=0
            mem_stacks_B=0
            heap_tree=peak

            """ + tree
                + """
                #-----------
                snapshot=2
                #-----------
                time=2500.000
                mem_heap_B=5010
                mem_heap_extra_B=0
                mem_stacks_B=0
                heap_tree=empty
                #-----------
                snapshot=3
                #-----------
                time=2500.000
                mem_heap_B=5010
                mem_heap_extra_B=90
                mem_stacks_B=0
                heap_tree=detailed

                """ + tree)
    }

    /// Filters choose the trees' stacks; a frame without a line names its module.
    func testFiltersAndFramesWithoutLines() {
        let frames: [UInt64: [Frame]] = [
            0x401000: [app("main", 30)],
            0x401300: [Frame(function: "xmlStrdup", file: "", line: 0, module: "/usr/lib/libxml2.so.2", offset: 4)],
            0x401400: [app("cache_put", 8)],
        ]
        let snapshot = makeSnapshot([
            StackSpec(pcs: [0x401300, 0x401000], live: 300, liveCount: 3),
            StackSpec(pcs: [0x401400, 0x401000], live: 100, liveCount: 1),
        ])
        let traced = TracedSnapshot(snapshot, resolver: TableResolver(table: frames))
        let text = MassifFormat.render(
            traced, description: "d", filters: [TraceFilter(parsing: "libxml2*", inclusive: true)])
        XCTAssertTrue(
            text.hasSuffix(
                """
                heap_tree=detailed
                n1: 300 (heap allocation functions) malloc/new/new[], --alloc-fns, etc.
                 n1: 300 xmlStrdup (in /usr/lib/libxml2.so.2)
                  n0: 300 main (app.c:30)

                """), text)
        XCTAssertFalse(text.contains("heap_tree=peak"), "no peak recorded")
    }
}
