import Analysis
import Foundation
import SnapshotReader
import Symbolizer
import XCTest

@testable import Renderers

/// The HTML report's structure and escaping, on hand-made snapshots (the
/// end-to-end tests render it in Chromium).
final class HTMLReportTests: XCTestCase {
    static let crafted = "foo<</script><script>alert(1)</script>>"
    static let image = "bar<img src=x onerror=alert(2)>&\"'"

    func report(_ snapshots: [Snapshot], frames: [UInt64: [Frame]] = programFrames) throws -> String {
        let table = FrameTable()
        return try HTMLReport.render(
            snapshots.map { TracedSnapshot($0, resolver: TableResolver(table: frames), table: table) })
    }

    func testCraftedNamesAreEscapedEverywhere() throws {
        var frames = programFrames
        frames[0x401300] = [app(Self.crafted, 5, file: "evil</script>.c")]
        frames[0x401400] = [app(Self.image, 8)]
        let html = try report([programSnapshot()], frames: frames)
        // Only the report's own two script elements, and no markup from the names.
        XCTAssertEqual(html.components(separatedBy: "<script").count - 1, 2)
        XCTAssertEqual(html.components(separatedBy: "</script>").count - 1, 2)
        XCTAssertFalse(html.contains("<script>alert"))
        XCTAssertFalse(html.contains("<img"))
        // Escaped as entities in the tables...
        XCTAssertTrue(html.contains("foo&lt;&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&gt;"))
        XCTAssertTrue(html.contains("bar&lt;img src=x onerror=alert(2)&gt;&amp;&quot;&#39;"))
        XCTAssertTrue(html.contains("evil&lt;/script&gt;.c:5"))
        // ...and as \u escapes in the data block.
        XCTAssertTrue(html.contains(#"foo\u003c\u003c/script\u003e\u003cscript\u003ealert(1)"#))
    }

    /// With source lines, each site's location cell shows its line of source, escaped.
    func testSourceLinesUnderTheLocations() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("memtrace-html-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "\n\n\n\n    if (a < b) leak(\"<b>\");\n".write(
            to: directory.appendingPathComponent("evil.c"), atomically: true, encoding: .utf8)
        var frames = programFrames
        var crafted = app(Self.crafted, 5, file: "evil.c")
        crafted.directory = directory.path
        frames[0x401300] = [crafted]
        let table = FrameTable()
        let html = try HTMLReport.render(
            [TracedSnapshot(programSnapshot(), resolver: TableResolver(table: frames), table: table)],
            source: SourceLines())
        let cell =
            #"<td>evil.c:5<code class="source" title="if (a &lt; b) leak(&quot;&lt;b&gt;&quot;);">"#
            + #"if (a &lt; b) leak(&quot;&lt;b&gt;&quot;);</code></td>"#
        XCTAssertTrue(html.contains(cell), html)
        XCTAssertFalse(html.contains("<b>"))
        XCTAssertFalse(try report([programSnapshot()], frames: frames).contains(#"class="source""#))
    }

    func testScriptSafeJSON() {
        let text = HTMLReport.scriptSafeJSON(.string("</script><!-- & \u{2028}"))
        XCTAssertEqual(text, #""\u003c/script\u003e\u003c!-- \u0026 \u2028""#)
    }

    func testSectionsForOneSnapshot() throws {
        let html = try report([programSnapshot()])
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        XCTAssertTrue(html.contains("<title>memtrace report: app</title>"))
        XCTAssertTrue(html.contains(#"<div class="flame-graph" data-tree="live""#))
        XCTAssertTrue(html.contains(#"<td class="function" data-function="leak_one">leak_one</td>"#))
        // A top-sites table for each figure the menu offers, the live one shown; no temporary
        // figures in this snapshot, so no menu entry or table for them.
        XCTAssertTrue(html.contains(#"data-metrics="live peak total""#), html)
        XCTAssertTrue(html.contains(#"<table class="sites" data-metric="live">"#))
        XCTAssertTrue(html.contains(#"<table class="sites" data-metric="peak" hidden>"#))
        XCTAssertTrue(html.contains(#"<table class="sites" data-metric="total" hidden>"#))
        XCTAssertFalse(html.contains(#"data-metric="temporary""#))
        XCTAssertTrue(html.contains("This snapshot has no timeline"))
        XCTAssertFalse(html.contains(#"id="growth""#))
        XCTAssertFalse(html.contains("http://") || html.contains("https://"), "nothing fetched")
        // The tree: all → main → work → {leak_one, helper → cache_put}, largest first.
        XCTAssertTrue(html.contains(#""names":["all","main","work","leak_one","helper","cache_put"]"#), html)
        XCTAssertFalse(html.contains("Heap overruns"), "a card only when the tracer found any")
        XCTAssertFalse(html.contains("Mismatched releases"))
        XCTAssertFalse(html.contains(#"<section id="sizes">"#), "no SIZES section, no sizes")
        var sized = programSnapshot()
        sized.sizeClasses = [
            .init(count: 0, bytes: 0), .init(count: 3, bytes: 6), .init(count: 0, bytes: 0),
            .init(count: 1, bytes: 9),
        ]
        let sizes = try report([sized])
        XCTAssertTrue(sizes.contains(#"<section id="sizes">"#), sizes)
        XCTAssertTrue(
            sizes.contains(
                #"<tr><td>2 B</td><td class="num">3</td><td class="num">75.0%</td><td class="num">6 B</td>"#
                    + #"<td class="bar-cell"><div class="bar" style="width: 100.0%"></div></td></tr>"#), sizes)
        XCTAssertTrue(
            sizes.contains(
                #"<tr><td>4 B</td><td class="num">0</td><td class="num">0.0%</td><td class="num">0 B</td><td class="bar-cell"></td></tr>"#
            ),
            "empty classes between the first and the last: a row without a bar")
        XCTAssertTrue(sizes.contains(#"<td>8 B</td><td class="num">1</td>"#) && sizes.contains("width: 33.3%"), sizes)
        XCTAssertFalse(sizes.contains("<td>0 B</td>"), "the rows start at the first class that is not empty")
        var overrun = programSnapshot()
        overrun.totals.overrunBlocks = 3
        overrun.totals.mismatchBlocks = 2
        let cards = try report([overrun])
        XCTAssertTrue(
            cards.contains(
                #"<div class="label">Heap overruns</div><div class="value">3</div>"#
                    + #"<div class="note">blocks written one byte past the end (memtrace summary)</div>"#))
        XCTAssertTrue(
            cards.contains(
                #"<div class="label">Mismatched releases</div><div class="value">2</div>"#
                    + #"<div class="note">blocks released otherwise than allocated (memtrace summary)</div>"#))
    }

    func testTimelineAndGrowth() throws {
        let timeline = (0..<5).map { index in
            Snapshot.TimelinePoint(
                timeNs: 1_000_000_000 + UInt64(index) * 500_000_000, currentBytes: UInt64(index) * 1000,
                peakBytes: UInt64(index) * 1000 + 500, rssBytes: 4 << 20)
        }
        let old = makeSnapshot(
            [StackSpec(pcs: [0x401300, 0x401100, 0x401000], live: 1000, liveCount: 10)],
            path: "old.snap", seconds: 1)
        let new = makeSnapshot(
            [StackSpec(pcs: [0x401300, 0x401100, 0x401000], live: 4000, liveCount: 40)],
            path: "new.snap", seconds: 2, sequence: 1, timeline: timeline)
        // Given newest first: the report orders by time.
        let html = try report([new, old])
        XCTAssertTrue(html.contains(#"<section id="growth">"#))
        XCTAssertTrue(html.contains("between old.snap and new.snap"))
        XCTAssertTrue(html.contains(#"<td class="num grow">+3000 B</td>"#))
        XCTAssertTrue(html.contains(#"data-tree="growth""#))
        XCTAssertTrue(html.contains(#"<polyline class="current""#))
        XCTAssertTrue(html.contains(#"<polyline class="rss""#))
        XCTAssertTrue(html.contains("5 points"))
        XCTAssertTrue(html.contains("<title>new.snap</title>"), "snapshot markers")
        XCTAssertTrue(html.contains("2 snapshots over 1.00 s · latest taken 2.00 s after tracing started"), html)
        XCTAssertTrue(html.contains(">0.40 s</text>"), "the time axis: 2 s in five steps")
        let quick = try report([
            makeSnapshot([StackSpec(pcs: [0x401000], live: 1, liveCount: 1)], path: "a.snap", seconds: 0.0012),
            makeSnapshot([StackSpec(pcs: [0x401000], live: 1, liveCount: 1)], path: "b.snap", seconds: 0.0030),
        ])
        XCTAssertTrue(quick.contains("2 snapshots over 1.8 ms · latest taken 3.0 ms after tracing started"), quick)
    }

    func testTrendsWithThreeSnapshots() throws {
        var snapshots: [Snapshot] = []
        for index in 0..<4 {
            let leak: UInt64 = UInt64(index + 1) * 1000
            let cache: UInt64 = index == 0 ? 0 : 5000
            let stacks = [
                StackSpec(pcs: [0x401300, 0x401100, 0x401000], live: leak, liveCount: 1),
                StackSpec(pcs: [0x401400, 0x401200, 0x401000], live: cache, liveCount: 1),
            ]
            snapshots.append(
                makeSnapshot(
                    stacks, path: "s\(index).snap", seconds: Double(index + 1), sequence: UInt64(index)))
        }
        let html = try report(snapshots)
        XCTAssertTrue(html.contains(#"<section id="trends">"#))
        XCTAssertTrue(
            html.contains(
                #"<td class="kind grows">grows without bound</td><td class="function" data-function="leak_one">leak_one</td>"#
            ), html)
        XCTAssertTrue(html.contains(#"<td class="kind plateaus">fills then plateaus</td>"#))
        XCTAssertTrue(html.contains(#"<td class="num">+1000 B/s</td><td class="num">1.00</td>"#))
        XCTAssertFalse(try report(Array(snapshots.prefix(2))).contains(#"id="trends""#), "needs three")
    }

    /// The largest sites stacked over time: six drawn apart, largest at the bottom, the rest in one.
    func testLargestSitesOverTime() throws {
        var frames = programFrames
        for site in 0..<8 { frames[0x402000 + UInt64(site) * 0x100] = [app("site\(site)", 100 + site)] }
        var snapshots: [Snapshot] = []
        for index in 0..<4 {
            var stacks: [StackSpec] = []
            for site in 0..<8 {
                let pc: UInt64 = 0x402000 + UInt64(site) * 0x100
                stacks.append(
                    StackSpec(pcs: [pc, 0x401000], live: UInt64((site + 1) * 100 * (index + 1)), liveCount: 1))
            }
            snapshots.append(
                makeSnapshot(stacks, path: "s\(index).snap", seconds: Double(index + 1), sequence: UInt64(index)))
        }
        let html = try report(snapshots, frames: frames)
        let section = try XCTUnwrap(
            html.components(separatedBy: #"<section id="sites-over-time">"#).dropFirst().first?
                .components(separatedBy: "</section>").first, html)
        XCTAssertEqual(section.components(separatedBy: "<polygon").count - 1, 7, section)
        let legend = section.components(separatedBy: "<li>").dropFirst().map { item in
            item.replacingOccurrences(of: #"<[^>]*>"#, with: "", options: .regularExpression)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var expected: [String] = []
        for site in (2..<8).reversed() {
            expected.append("app.c:\(100 + site) in site\(site) (\((site + 1) * 400) B at the last snapshot)")
        }
        expected.append("every other site (1200 B at the last snapshot)")
        XCTAssertEqual(legend, expected)
        // Polygons in the legend's order, the first from the axis up.
        XCTAssertTrue(section.contains(#"<polygon class="s0" points=""#), section)
        XCTAssertTrue(section.contains(#"<polygon class="others" points=""#), section)
        let bottom = try XCTUnwrap(section.range(of: #"class="s0""#))
        let top = try XCTUnwrap(section.range(of: #"class="others""#))
        XCTAssertLessThan(bottom.lowerBound, top.lowerBound)
        XCTAssertTrue(section.contains("<title>app.c:107 in site7: 3200 B at the last snapshot</title>"), section)
        XCTAssertFalse(
            try report(Array(snapshots.prefix(2)), frames: frames).contains("sites-over-time"), "needs three")
    }

    /// The flame graph marks the standard libraries' frames (drawn grey), not the program's.
    func testFlameGraphMarksLibraryFrames() throws {
        var frames = programFrames
        frames[0x401800] = [
            Frame(
                function: "std::vector<int>::_M_realloc_insert(int const&)",
                file: "/usr/include/c++/12/bits/vector.tcc", line: 453, module: "/bin/app")
        ]
        let snapshot = makeSnapshot([StackSpec(pcs: [0x401800, 0x401100, 0x401000], live: 100, liveCount: 1)])
        let html = try report([snapshot], frames: frames)
        let json = try XCTUnwrap(
            html.components(separatedBy: #"<script type="application/json" id="memtrace-data">"#).dropFirst().first?
                .components(separatedBy: "</script>").first)
        let data = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let live = try XCTUnwrap(data["live"] as? [String: Any])
        let names = try XCTUnwrap(live["names"] as? [String])
        // Down the only path: [name, detail, bytes, blocks, children, library?].
        var marked: [String: Bool] = [:]
        var node = try XCTUnwrap(live["root"] as? [Any])
        while true {
            let name = names[try XCTUnwrap(node[0] as? Int)]
            marked[name] = node.count > 5 && (node[5] as? Int) == 1
            guard let children = node[4] as? [[Any]], let child = children.first else { break }
            node = child
        }
        XCTAssertEqual(
            marked,
            ["all": false, "main": false, "work": false, "std::vector<int>::_M_realloc_insert(int const&)": true])
        XCTAssertTrue(html.contains("library: array[5] === 1"), "the script reads the mark")
    }

    func testByteTicks() {
        func labels(_ highest: UInt64) -> [String] { HTMLReport.byteTicks(highest).map(\.label) }
        XCTAssertEqual(labels(0), ["0 B", "1 B"])
        XCTAssertEqual(labels(900), ["0 B", "200 B", "400 B", "600 B", "800 B", "1000 B"])
        XCTAssertEqual(labels(128 * 1024), ["0 KiB", "50 KiB", "100 KiB", "150 KiB"])
        XCTAssertEqual(labels(2800 * 1024), ["0 MiB", "1 MiB", "2 MiB", "3 MiB"])
        XCTAssertEqual(labels(3 << 30), ["0 GiB", "1 GiB", "2 GiB", "3 GiB"])
        XCTAssertEqual(labels(1536 << 10), ["0 MiB", "0.5 MiB", "1 MiB", "1.5 MiB"])
        XCTAssertEqual(HTMLReport.byteTicks(1536 << 10).map(\.bytes), [0, 512, 1024, 1536].map { $0 << 10 })
    }

    /// Six ticks from 0 to the span, in a unit that keeps them apart: a run of a few
    /// milliseconds is not labelled 0.00 s throughout.
    func testTimeTicks() {
        func labels(_ span: Double) -> [String] {
            (0...5).map { HTMLReport.timeTick(span * Double($0) / 5, span: span) }
        }
        XCTAssertEqual(labels(60), ["0.0 s", "12.0 s", "24.0 s", "36.0 s", "48.0 s", "60.0 s"])
        XCTAssertEqual(labels(2.5), ["0.00 s", "0.50 s", "1.00 s", "1.50 s", "2.00 s", "2.50 s"])
        XCTAssertEqual(labels(0.25), ["0 ms", "50 ms", "100 ms", "150 ms", "200 ms", "250 ms"])
        XCTAssertEqual(labels(0.004), ["0.0 ms", "0.8 ms", "1.6 ms", "2.4 ms", "3.2 ms", "4.0 ms"])
        XCTAssertEqual(labels(0.0005), ["0 µs", "100 µs", "200 µs", "300 µs", "400 µs", "500 µs"])
    }
}
