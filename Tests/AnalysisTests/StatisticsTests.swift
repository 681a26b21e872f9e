import Analysis
import SnapshotReader
import Symbolizer
import XCTest

final class StatisticsTests: XCTestCase {
    // Addresses of a made-up program: 0x1xx are allocation sites, 0x9xx callers.
    let resolver = TableResolver(table: [
        0x100: [app("make_list", "examples/leaky.c", 12)],
        0x101: [app("make_list", "examples/leaky.c", 14)],
        0x200: [app("grow", "examples/grow.c", 7)],
        0x300: [app("parse", "src/parse.c", 40)],
        0x900: [app("main", "examples/leaky.c", 30)],
        0x901: [app("main", "examples/leaky.c", 31)],
        0x902: [app("run", "src/run.c", 5)],
    ])

    func traced(_ stacks: [StackSpec], table: FrameTable = FrameTable()) -> TracedSnapshot {
        TracedSnapshot(makeSnapshot(stacks), resolver: resolver, table: table)
    }

    func sites(_ stats: [Statistic]) -> [String] {
        stats.map { TextFormat.describe($0.frames[0]) }
    }

    func testSortedBySizeThenCount() throws {
        let snapshot = traced([
            StackSpec(pcs: [0x100, 0x900], size: 1000, count: 10),
            StackSpec(pcs: [0x200, 0x900], size: 5000, count: 1),
            StackSpec(pcs: [0x300, 0x902], size: 1000, count: 20),
            StackSpec(pcs: [0x101, 0x900], size: 0, count: 0),  // nothing live: no group
        ])
        let stats = try snapshot.statistics()
        XCTAssertEqual(
            sites(stats),
            ["examples/grow.c:7 in grow", "src/parse.c:40 in parse", "examples/leaky.c:12 in make_list"])
        XCTAssertEqual(stats.map(\.size), [5000, 1000, 1000])
        XCTAssertEqual(stats.map(\.count), [1, 20, 10])
    }

    func testLinenoGroupsStacksWithTheSameInnermostLine() throws {
        let snapshot = traced([
            StackSpec(pcs: [0x100, 0x900], size: 100, count: 1),
            StackSpec(pcs: [0x100, 0x901], size: 200, count: 2),
            StackSpec(pcs: [0x101, 0x900], size: 50, count: 1),
        ])
        let stats = try snapshot.statistics()
        XCTAssertEqual(
            stats.map(TextFormat.line),
            [
                "examples/leaky.c:12 in make_list: size=300 B, count=3, average=100 B",
                "examples/leaky.c:14 in make_list: size=50 B, count=1, average=50 B",
            ])
        let byFunction = try snapshot.statistics(StatisticsOptions(groupBy: .function))
        XCTAssertEqual(
            byFunction.map(TextFormat.line),
            ["examples/leaky.c:0 in make_list: size=350 B, count=4, average=88 B"])
        let byTraceback = try snapshot.statistics(StatisticsOptions(groupBy: .traceback))
        XCTAssertEqual(byTraceback.count, 3)
        XCTAssertEqual(
            byTraceback[0].frames.map(TextFormat.describe),
            ["examples/leaky.c:12 in make_list", "examples/leaky.c:31 in main"])
    }

    func testGroupByFileAndModule() throws {
        let lib = Frame(
            function: "g_strdup", file: "", line: 0, module: "/usr/lib/libglib-2.0.so.0", offset: 0x1a)
        let resolver = TableResolver(table: [
            0x100: [app("make_list", "examples/leaky.c", 12)],
            0x101: [app("main", "examples/leaky.c", 30)],
            0x200: [lib],
        ])
        let snapshot = TracedSnapshot(
            makeSnapshot([
                StackSpec(pcs: [0x100], size: 100, count: 1),
                StackSpec(pcs: [0x101], size: 100, count: 1),
                StackSpec(pcs: [0x200, 0x100], size: 300, count: 3),
            ]), resolver: resolver)
        XCTAssertEqual(
            try snapshot.statistics(StatisticsOptions(groupBy: .file)).map(TextFormat.line),
            [
                "/usr/lib/libglib-2.0.so.0: size=300 B, count=3, average=100 B",
                "examples/leaky.c:0: size=200 B, count=2, average=100 B",
            ])
        XCTAssertEqual(
            try snapshot.statistics(StatisticsOptions(groupBy: .module)).map(TextFormat.line),
            [
                "/usr/lib/libglib-2.0.so.0: size=300 B, count=3, average=100 B",
                "/bin/app: size=200 B, count=2, average=100 B",
            ])
        XCTAssertEqual(
            try snapshot.statistics().map(TextFormat.line).first,
            "g_strdup+0x1a in libglib-2.0.so.0: size=300 B, count=3, average=100 B")
    }

    func testCumulativeCountsAStackOncePerDistinctSite() throws {
        // recurse → recurse → main: the recursive line appears twice in the
        // stack but its block is counted once.
        let resolver = TableResolver(table: [
            0x100: [app("recurse", "r.c", 3)],
            0x101: [app("recurse", "r.c", 5)],
            0x900: [app("main", "r.c", 10)],
            0x200: [app("other", "o.c", 1)],
        ])
        let snapshot = TracedSnapshot(
            makeSnapshot([
                StackSpec(pcs: [0x100, 0x101, 0x101, 0x900], size: 1000, count: 10),
                StackSpec(pcs: [0x200, 0x900], size: 24, count: 1),
            ]), resolver: resolver)
        let byLine = try snapshot.statistics(StatisticsOptions(cumulative: true))
        XCTAssertEqual(
            byLine.map(TextFormat.line),
            [
                "r.c:10 in main: size=1024 B, count=11, average=93 B",
                "r.c:5 in recurse: size=1000 B, count=10, average=100 B",
                "r.c:3 in recurse: size=1000 B, count=10, average=100 B",
                "o.c:1 in other: size=24 B, count=1, average=24 B",
            ])
        let byFunction = try snapshot.statistics(
            StatisticsOptions(groupBy: .function, cumulative: true))
        XCTAssertEqual(byFunction.map(\.size), [1024, 1000, 24])
        XCTAssertEqual(byFunction.map { $0.frames[0].function }, ["main", "recurse", "other"])
        let byFile = try snapshot.statistics(StatisticsOptions(groupBy: .file, cumulative: true))
        XCTAssertEqual(
            byFile.map(TextFormat.line),
            [
                "r.c:0: size=1024 B, count=11, average=93 B", "o.c:0: size=24 B, count=1, average=24 B",
            ])
        let byModule = try snapshot.statistics(StatisticsOptions(groupBy: .module, cumulative: true))
        XCTAssertEqual(byModule.map(\.size), [1024])
        XCTAssertThrowsError(
            try snapshot.statistics(StatisticsOptions(groupBy: .traceback, cumulative: true)))
    }

    func testAllocatorFramesAreDropped() throws {
        let libstdcxx = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"
        let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
        let resolver = TableResolver(table: [
            0x10: [
                Frame(
                    function: "operator new(unsigned long)", file: "", line: 0, module: libstdcxx,
                    offset: 0x1c)
            ],
            0x11: [
                Frame(function: "operator new[](unsigned long)", file: "", line: 0, module: libstdcxx)
            ],
            0x12: [Frame(function: "malloc", file: "", line: 0, module: "/build/libtrace.so")],
            0x13: [Frame(function: "__libc_malloc", file: "", line: 0, module: libc)],
            0x14: [Frame(function: "strdup", file: "", line: 0, module: libc, offset: 0x1a)],
            0x15: [
                Frame(
                    function: "_Znwm", file: "", line: 0, module: "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
                )
            ],
            0x16: [Frame(function: "__cxa_allocate_exception", file: "", line: 0, module: libstdcxx)],
            0x17: [Frame(function: "_Znwm", file: "", line: 0, module: "/build/libtrace.so")],
            0x100: [app("Widget::make()", "w.cpp", 9)],
            0x900: [app("main", "w.cpp", 20)],
        ])
        let snapshot = TracedSnapshot(
            makeSnapshot([
                StackSpec(pcs: [0x16, 0x17, 0x100, 0x900], size: 4, count: 1),
                StackSpec(pcs: [0x10, 0x100, 0x900], size: 8, count: 1),
                StackSpec(pcs: [0x11, 0x100, 0x900], size: 16, count: 1),
                StackSpec(pcs: [0x12, 0x13, 0x15, 0x100, 0x900], size: 32, count: 1),
                StackSpec(pcs: [0x14, 0x900], size: 64, count: 1),
                StackSpec(pcs: [0x10, 0x11], size: 128, count: 1),
            ]), resolver: resolver)
        var stacks = snapshot.stacks.map { $0.frames.map(\.function) }
        // The tracer's operator new threw bad_alloc: the exception object's stack, without it.
        XCTAssertEqual(stacks.removeFirst(), ["__cxa_allocate_exception", "Widget::make()", "main"])
        XCTAssertEqual(stacks[0], ["Widget::make()", "main"])
        XCTAssertEqual(stacks[1], ["Widget::make()", "main"])
        XCTAssertEqual(stacks[2], ["Widget::make()", "main"])
        XCTAssertEqual(
            stacks[3], ["strdup", "main"],
            "a libc function that allocates is the caller, not the allocator")
        XCTAssertEqual(
            stacks[4], ["operator new(unsigned long)", "operator new[](unsigned long)"],
            "nothing left: kept whole")
        // The exception object's site is the line that threw, past libstdc++'s frame.
        let stats = try snapshot.statistics()
        XCTAssertEqual(
            stats.map(TextFormat.line)[2], "w.cpp:9 in Widget::make(): size=60 B, count=4, average=15 B")
    }

    func testInlinedFramesAreSeparateFramesInnermostFirst() throws {
        let resolver = TableResolver(table: [
            0x100: [
                Frame(function: "helper", file: "h.h", line: 4, module: "/bin/app", isInlined: true),
                app("caller", "c.c", 12),
            ],
            0x900: [app("main", "c.c", 30)],
        ])
        let snapshot = TracedSnapshot(
            makeSnapshot([StackSpec(pcs: [0x100, 0x900], size: 10, count: 1)]), resolver: resolver)
        XCTAssertEqual(
            snapshot.stacks[0].frames.map(TextFormat.describe),
            ["h.h:4 in helper", "c.c:12 in caller", "c.c:30 in main"])
        XCTAssertEqual(
            try snapshot.statistics().map(TextFormat.line),
            ["h.h:4 in helper: size=10 B, count=1, average=10 B"])
    }

    func testInliningDeeperThanAStackKeepsTheInnermostFrames() throws {
        // A damaged SYMBOLS section: every address stands for 256 inlined calls, so a stack of
        // 256 addresses would be 65,536 frames deep.
        var table: [UInt64: [Frame]] = [:]
        for pc in UInt64(0x1000)..<0x1100 {
            table[pc] = (0..<256).map { app("f\(pc)_\($0)", "deep.c", $0 + 1) }
        }
        /// Counts the addresses asked for: the frames are cut as they are gathered, never held
        /// whole (4,000 such stacks had taken a gigabyte).
        final class Counting: FrameResolver {
            let inner: TableResolver
            var asked: [UInt64] = []
            init(_ inner: TableResolver) { self.inner = inner }
            func frames(for pc: UInt64) -> [Frame] {
                asked.append(pc)
                return inner.frames(for: pc)
            }
        }
        let resolver = Counting(TableResolver(table: table))
        let snapshot = TracedSnapshot(
            makeSnapshot([StackSpec(pcs: Array(UInt64(0x1000)..<0x1100), size: 64, count: 2)]),
            resolver: resolver)
        XCTAssertEqual(resolver.asked, Array(0x1000...0x1004), "four addresses fill the stack, a fifth says it goes on")
        let frames = snapshot.stacks[0].frames
        XCTAssertEqual(TracedSnapshot.maximumDepth, 1024)
        XCTAssertEqual(frames.count, 1024)
        XCTAssertEqual(frames.first, app("f4096_0", "deep.c", 1))
        XCTAssertEqual(frames.last, app("f4099_255", "deep.c", 256))
        XCTAssertEqual(
            try snapshot.statistics(StatisticsOptions(groupBy: .traceback)).map { $0.frames.count }, [1024])
    }

    func testLongNamesAreShownCutAndStillToldApart() throws {
        let long = String(repeating: "Template<", count: 200) + "é"
        let resolver = TableResolver(table: [
            0x100: [app(long + "A", "t.cc", 3)],
            0x200: [app(long + "B", "t.cc", 3)],
            0x300: [app("short", String(repeating: "/dir", count: 1100) + "/t.cc", 9)],
        ])
        let snapshot = TracedSnapshot(
            makeSnapshot([
                StackSpec(pcs: [0x100], size: 30, count: 1), StackSpec(pcs: [0x200], size: 20, count: 1),
                StackSpec(pcs: [0x300], size: 10, count: 1),
            ]),
            resolver: resolver)
        let stats = try snapshot.statistics()
        XCTAssertEqual(stats.map(\.size), [30, 20, 10])
        let names = stats.map { $0.frames[0].function }
        // 1021 bytes of the name (1021 = 113 * 9 + 4), then "…": 1024 bytes.
        XCTAssertEqual(names[0], String(repeating: "Template<", count: 113) + "Temp…")
        XCTAssertEqual(names[0].utf8.count, FrameTable.maximumFunctionLength)
        XCTAssertEqual(names[1], names[0])
        XCTAssertEqual(stats[2].frames[0].file, String(repeating: "/dir", count: 1023) + "/…")
        XCTAssertEqual(stats[2].frames[0].file.utf8.count, FrameTable.maximumPathLength)
        XCTAssertEqual("aé".cut(toUTF8: 5), "aé")
        XCTAssertEqual("aaaaé".cut(toUTF8: 5), "aa…")
        XCTAssertEqual("aééé".cut(toUTF8: 5), "a…")
    }

    func testControlCharactersInNamesAreShownEscaped() throws {
        let resolver = TableResolver(table: [
            0x100: [app("fn\nnext\u{1b}]0;TITLE\u{07}\u{1b}[2J", "fi\tle.c", 1, module: "/bin/a\u{9b}pp")]
        ])
        let snapshot = TracedSnapshot(
            makeSnapshot([StackSpec(pcs: [0x100], size: 1000, count: 1)]), resolver: resolver)
        XCTAssertEqual(
            try snapshot.statistics().map(TextFormat.line),
            ["fi\\tle.c:1 in fn\\nnext\\x1b]0;TITLE\\x07\\x1b[2J: size=1000 B, count=1, average=1000 B"])
        XCTAssertEqual(snapshot.stacks[0].frames[0].module, "/bin/a\\x9bpp")
    }

    func testFrameDescriptions() {
        let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
        XCTAssertEqual(TextFormat.describe(app("main", "m.c", 3)), "m.c:3 in main")
        XCTAssertEqual(
            TextFormat.describe(Frame(function: "", file: "m.c", line: 0, module: "/bin/app")), "m.c:0")
        XCTAssertEqual(
            TextFormat.describe(Frame(function: "strdup", file: "", line: 0, module: libc, offset: 0x1a)),
            "strdup+0x1a in libc.so.6")
        XCTAssertEqual(
            TextFormat.describe(Frame(function: "_start", file: "", line: 0, module: "/bin/app")),
            "_start in app")
        XCTAssertEqual(
            TextFormat.describe(Frame(function: "libc.so.6+0x758cb", file: "", line: 0, module: libc)),
            "libc.so.6+0x758cb")
        XCTAssertEqual(
            TextFormat.describe(Frame(function: "0x7fff1234", file: "", line: 0, module: "")),
            "0x7fff1234")
        XCTAssertEqual(TextFormat.describe(Frame(function: "", file: "", line: 0, module: libc)), libc)
        XCTAssertEqual(TextFormat.describe(Frame(function: "", file: "", line: 0, module: "")), "??")
    }

    func testPeakMetric() throws {
        let snapshot = traced([
            StackSpec(pcs: [0x100], size: 10, count: 1, peakSize: 0, peakCount: 0),
            StackSpec(pcs: [0x200], size: 0, count: 0, peakSize: 4096, peakCount: 4),
        ])
        let stats = try snapshot.statistics(StatisticsOptions(metric: .peak))
        XCTAssertEqual(
            stats.map(TextFormat.line),
            ["examples/grow.c:7 in grow: size=4096 B, count=4, average=1024 B"])
    }

    func testTotalMetricAndSortByCount() throws {
        let snapshot = traced([
            StackSpec(pcs: [0x100, 0x900], size: 1000, count: 10, totalSize: 50_000, totalCount: 500),
            StackSpec(pcs: [0x200, 0x900], size: 5000, count: 1),
            StackSpec(pcs: [0x300, 0x902], size: 0, count: 0, totalSize: 200_000, totalCount: 100),
            StackSpec(pcs: [0x101, 0x900], size: 0, count: 0, totalSize: 100_000, totalCount: 100),
        ])
        // Everything allocated, freed or not, by bytes then by calls.
        let total = try snapshot.statistics(StatisticsOptions(metric: .total))
        XCTAssertEqual(
            sites(total),
            [
                "src/parse.c:40 in parse", "examples/leaky.c:14 in make_list", "examples/leaky.c:12 in make_list",
                "examples/grow.c:7 in grow",
            ])
        XCTAssertEqual(total.map(\.size), [200_000, 100_000, 50_000, 5000])
        let calls = try snapshot.statistics(StatisticsOptions(metric: .total, sortBy: .count))
        XCTAssertEqual(
            sites(calls),
            [
                "examples/leaky.c:12 in make_list", "src/parse.c:40 in parse", "examples/leaky.c:14 in make_list",
                "examples/grow.c:7 in grow",
            ])
        XCTAssertEqual(calls.map(\.count), [500, 100, 100, 1])
        // Live blocks by count: the 10 small blocks before the one large block.
        let live = try snapshot.statistics(StatisticsOptions(sortBy: .count))
        XCTAssertEqual(sites(live), ["examples/leaky.c:12 in make_list", "examples/grow.c:7 in grow"])
        XCTAssertEqual(snapshot.total(metric: .total).count, 701)
    }

    func testCompareByCount() throws {
        let table = FrameTable()
        let old = traced(
            [
                StackSpec(pcs: [0x100], size: 0, count: 0, totalSize: 1000, totalCount: 10),
                StackSpec(pcs: [0x200], size: 0, count: 0, totalSize: 1000, totalCount: 1),
            ], table: table)
        let new = traced(
            [
                StackSpec(pcs: [0x100], size: 0, count: 0, totalSize: 9000, totalCount: 910),
                StackSpec(pcs: [0x200], size: 0, count: 0, totalSize: 1_000_000, totalCount: 3),
            ], table: table)
        let bySize = try new.compare(to: old, StatisticsOptions(metric: .total))
        XCTAssertEqual(
            bySize.map(TextFormat.line),
            [
                "examples/grow.c:7 in grow: size=977 KiB (+976 KiB), count=3 (+2), average=326 KiB",
                "examples/leaky.c:12 in make_list: size=9000 B (+8000 B), count=910 (+900), average=10 B",
            ])
        let byCount = try new.compare(to: old, StatisticsOptions(metric: .total, sortBy: .count))
        XCTAssertEqual(byCount.map(\.countDiff), [900, 2])
        XCTAssertTrue(try new.compare(to: old).allSatisfy { $0.size == 0 && $0.sizeDiff == 0 })
    }

    func testTextLinesMatchPythonStatistic() throws {
        try XCTSkipUnless(pythonAvailable, "python3 is not installed")
        let figures: [(Int64, Int64, Int64, Int64)] = [
            (142_336, 1002, 142_336, 1002), (0, 0, -141_312, -1000), (64_614, 3, 0, 0),
            (1_000_000, 7, -24, 1),
            (10, 3, 10, 3),
        ]
        let site = "examples/leaky.c:12 in make_list"
        let script = """
            class T:
                def __str__(self): return "\(site)"
            for s, c, sd, cd in \(figures.map { [$0.0, $0.1, $0.2, $0.3] }):
                print(tracemalloc.Statistic(T(), s, c))
                print(tracemalloc.StatisticDiff(T(), s, sd, c, cd))
            """
        let expected = try python(script)
        let frame = app("make_list", "examples/leaky.c", 12)
        for (index, (size, count, sizeDiff, countDiff)) in figures.enumerated() {
            XCTAssertEqual(
                TextFormat.line(Statistic(frames: [frame], size: size, count: count)), expected[2 * index])
            XCTAssertEqual(
                TextFormat.line(
                    StatisticDiff(
                        frames: [frame], size: size, sizeDiff: sizeDiff, count: count, countDiff: countDiff)),
                expected[2 * index + 1])
        }
    }

    func testDocumentedLineShapes() {
        let frame = app("make_list", "examples/leaky.c", 12)
        XCTAssertEqual(
            TextFormat.line(Statistic(frames: [frame], size: 142_336, count: 1002)),
            "examples/leaky.c:12 in make_list: size=139 KiB, count=1002, average=142 B")
        XCTAssertEqual(
            TextFormat.line(
                StatisticDiff(
                    frames: [frame], size: 142_336, sizeDiff: 142_336, count: 1002, countDiff: 1002)),
            "examples/leaky.c:12 in make_list: size=139 KiB (+139 KiB), count=1002 (+1002), average=142 B"
        )
        XCTAssertEqual(
            TextFormat.line(
                StatisticDiff(frames: [frame], size: 0, sizeDiff: -141_312, count: 0, countDiff: -1000)),
            "examples/leaky.c:12 in make_list: size=0 B (-138 KiB), count=0 (-1000)")
    }

    func testJSONShape() throws {
        let snapshot = traced([StackSpec(pcs: [0x100, 0x900], size: 300, count: 3)])
        let json = JSONFormat.render(try snapshot.statistics(StatisticsOptions(groupBy: .traceback)))
        XCTAssertEqual(
            json,
            #"{"stats":[{"size":300,"count":3,"frames":[{"function":"make_list","file":"examples/leaky.c","line":12,"module":"/bin/app"},{"function":"main","file":"examples/leaky.c","line":30,"module":"/bin/app"}],"site":0}]}"#
                + "\n")
        let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        XCTAssertNotNil(parsed?["stats"] as? [[String: Any]])
        let diff = StatisticDiff(
            frames: [Frame(function: "f\"q", file: "a\\b\n", line: 1, module: "m")], size: 1,
            sizeDiff: -2, count: 3,
            countDiff: -4)
        XCTAssertEqual(
            JSONFormat.render([diff], extra: [("sampled", .bool(false))]),
            #"{"stats":[{"size":1,"count":3,"size_diff":-2,"count_diff":-4,"frames":[{"function":"f\"q","file":"a\\b\n","line":1,"module":"m"}]}],"sampled":false}"#
                + "\n")
        // Names written whole when nothing in them needs escaping, escaped otherwise; text already
        // serialized written as it is.
        XCTAssertEqual(
            JSONFormat.serialize(
                .array([
                    .string("façade 名前"), .string("tab\there\u{1}\r"), .string(""),
                    .serialized(#"{"k":[1,2]}"#),
                ])),
            #"["façade 名前","tab\there\u0001\r","",{"k":[1,2]}]"#)
    }

    func testJSONDocumentInPieces() {
        // Each piece ends after the element that took it to chunkBytes, the last holds the rest;
        // together they are the document, elements made only as they are written.
        var made: [Int] = []
        var pieces: [String] = []
        JSONFormat.writeDocument(
            leading: [("a", .int(1))], arrayKey: "items", count: 5,
            element: { index in
                made.append(index)
                return .object([("n", .int(Int64(index))), ("pad", .string(String(repeating: "x", count: 8)))])
            }, trailing: [("b", .string("z")), ("c", .null)], chunkBytes: 20,
            emit: { pieces.append($0) })
        XCTAssertEqual(made, [0, 1, 2, 3, 4])
        XCTAssertEqual(
            pieces,
            [
                #"{"a":1,"items":[{"n":0,"pad":"xxxxxxxx"}"#, #",{"n":1,"pad":"xxxxxxxx"}"#,
                #",{"n":2,"pad":"xxxxxxxx"}"#, #",{"n":3,"pad":"xxxxxxxx"}"#,
                #",{"n":4,"pad":"xxxxxxxx"}"#, "],\"b\":\"z\",\"c\":null}\n",
            ])
        var empty: [String] = []
        JSONFormat.writeDocument(arrayKey: "stats", count: 0, element: { _ in .null }, emit: { empty.append($0) })
        XCTAssertEqual(empty, [#"{"stats":[]}"# + "\n"])
    }
}
