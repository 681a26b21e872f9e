import Analysis
import SnapshotReader
import Symbolizer

/// `memtrace report`: one self-contained HTML file (inline CSS and JavaScript,
/// nothing fetched from the network) to look at snapshots with.
///
/// It shows the program and its figures, an interactive flame graph of the
/// latest snapshot (live bytes, or at a choice the bytes at the peak, every
/// allocation of the run, the temporary allocations; click a frame to zoom into
/// it, type in the search box to highlight frames, hover for a tooltip), the sites holding
/// the most memory, a chart of heap usage over the run (live, peak and RSS)
/// when the snapshot carries a TIMELINE, and, given two or more snapshots, what
/// grew between the first and the last: a table and a flame graph of the
/// growth; given three or more, the sites ranked as `memtrace trend` ranks them.
///
/// Every text that comes from a snapshot — function, file and module names —
/// is escaped: in HTML as entities, in the embedded JSON with `\u003c`-style
/// escapes so that no `</script>` can end the data block, and the script only
/// ever sets it as `textContent`. A crafted C++ template name cannot inject markup.
public enum HTMLReport {
    /// The report for `snapshots`.
    ///
    /// - Parameters:
    ///   - snapshots: one or more snapshots sharing one ``FrameTable``, in any
    ///     order; they are put in the order they were taken, and the latest is
    ///     the one drawn.
    ///   - topSites: rows of the top-sites and growth tables.
    ///   - source: with it, each site of the tables shows its line of source under its location.
    /// - Returns: the HTML document.
    /// - Throws: ``AnalysisError`` when the snapshots do not share a table or there are none.
    public static func render(
        _ snapshots: [TracedSnapshot], topSites: Int = 25, source: SourceLines? = nil
    ) throws -> String {
        guard !snapshots.isEmpty else { throw AnalysisError("report needs at least one snapshot") }
        let ordered = snapshots.sorted { a, b in
            let (x, y) = (a.snapshot.header, b.snapshot.header)
            return x.snapshotTimeNs != y.snapshotTimeNs
                ? x.snapshotTimeNs < y.snapshotTimeNs : x.sequence < y.sequence
        }
        let first = ordered[0]
        let last = ordered[ordered.count - 1]
        let snapshot = last.snapshot

        // One tree per figure the snapshot holds; the live one is drawn first.
        let metrics = Metric.available(in: snapshot)
        // The menu's entries, as speedscope's profiles are named.
        var data: [(String, JSONFormat.Value)] = [
            ("titles", .object(metrics.map { ($0.rawValue, .string($0.title)) }))
        ]
        let stacks = last.stackFrameIDs
        // At most a node per frame of every stack.
        var trees = FlameTree(table: last.table, nodes: min(1 << 22, stacks.reduce(0) { $0 + $1.frames.count }))
        for (stat, frames) in stacks {
            trees.add(ids: frames, figures: metrics.map { $0.figures(stat) })
        }
        let liveTotal = trees.rootValues[0]  // .live is the first column
        var siteTables: [(metric: Metric, stats: [Statistic], total: Int64)] = []
        for (column, metric) in metrics.enumerated() {
            let total = trees.rootValues[column]
            data.append((metric.rawValue, trees.json(minimum: max(1, total / 20_000), column: column)))
            let stats = try last.statistics(StatisticsOptions(groupBy: .lineno, metric: metric, limit: topSites))
            siteTables.append((metric, stats, total))
        }

        var growthSection = ""
        var sitesOverTime = ""
        if ordered.count > 1 {
            let diffs = try last.compare(to: first, StatisticsOptions(groupBy: .lineno, limit: topSites))
            var growth = FlameTree()
            for diff in try last.compare(to: first, StatisticsOptions(groupBy: .traceback))
            where diff.sizeDiff > 0 {
                growth.add(diff.frames.reversed(), bytes: diff.sizeDiff, count: max(0, diff.countDiff))
            }
            data.append(("growth", growth.json(minimum: max(1, growth.rootValues[0] / 20_000))))
            growthSection = growthHTML(
                first: first, last: last, diffs: diffs,
                grown: growth.rootValues[0], source: source)
        }
        if ordered.count >= 3, ordered.last!.snapshot.header.snapshotTimeNs > first.snapshot.header.snapshotTimeNs {
            let analysis = try TrendAnalysis(ordered, options: StatisticsOptions(groupBy: .lineno))
            let trends = analysis.trends.filter { [.grows, .slows, .plateaus].contains($0.kind) }
            sitesOverTime = sitesOverTimeHTML(analysis, ordered: ordered)
            growthSection += trendHTML(Array(trends.prefix(topSites)), snapshots: ordered.count, source: source)
        }

        var html = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="generator" content="memtrace">
            <title>memtrace report: \(escape(programName(snapshot)))</title>
            <style>
            \(HTMLReportAssets.style)
            </style>
            </head>
            <body>

            """
        html += headerHTML(ordered)
        html += "<main>\n"
        html += cardsHTML(snapshot, liveTotal: liveTotal)
        html += """
            <section id="flame-section">
            <h2>Live bytes by call stack</h2>
            <p class="hint">Each bar is a function; its width is the bytes allocated under it: live \
            ones, or as chosen those held at the moment of the peak, every allocation of the run (where \
            allocation costs time), or the temporary ones (freed by their thread before it allocated anything \
            else). Callers are above their callees; the standard libraries' frames (libc, libstdc++, Rust's \
            and Swift's) are grey. Click a bar to zoom in, click an upper bar or
            <em>Reset zoom</em> to zoom out; search highlights matching functions.</p>
            <div class="flame-graph" data-tree="live" data-metrics="\(metrics.map(\.rawValue).joined(separator: " "))"></div>
            </section>

            """
        html += timelineHTML(ordered)
        html += sitesOverTime
        html += sitesHTML(siteTables, source: source)
        html += sizesHTML(snapshot)
        html += growthSection
        html += """
            <footer>Generated by memtrace from \(footer(ordered)).</footer>
            </main>
            <div id="tooltip" role="tooltip"></div>
            <script type="application/json" id="memtrace-data">\(scriptSafeJSON(.object(data)))</script>
            <script>
            \(HTMLReportAssets.script)
            </script>
            </body>
            </html>

            """
        return html
    }

    // MARK: - Sections

    /// `3 snapshots: a.snap, b.snap, c.snap`, or the first and last of a long series.
    static func footer(_ ordered: [TracedSnapshot]) -> String {
        let paths = ordered.map { escape($0.snapshot.path) }
        if paths.count == 1 { return "1 snapshot: \(paths[0])" }
        if paths.count <= 4 { return "\(paths.count) snapshots: " + paths.joined(separator: ", ") }
        return "\(paths.count) snapshots: \(paths[0]), \(paths[1]) … \(paths[paths.count - 1])"
    }

    static func programName(_ snapshot: Snapshot) -> String {
        let exe = snapshot.process["exe"] ?? ""
        return exe.split(separator: "/").last.map(String.init) ?? "process \(snapshot.header.pid)"
    }

    static func headerHTML(_ ordered: [TracedSnapshot]) -> String {
        let snapshot = ordered[ordered.count - 1].snapshot
        var command =
            snapshot.process["cmdline"].map {
                $0.split(separator: "\0", omittingEmptySubsequences: true).joined(separator: " ")
            } ?? ""
        if command.isEmpty { command = snapshot.process["exe"] ?? "" }
        let span = Double(snapshot.header.snapshotTimeNs &- ordered[0].snapshot.header.snapshotTimeNs) / 1e9
        var facts = [
            snapshot.mergedFrom ?? TextFormat.pids(ordered.map(\.snapshot.header.pid))
        ]
        facts.append(
            "\(ordered.count) snapshot\(ordered.count == 1 ? "" : "s")"
                + (ordered.count > 1 ? " over \(timeTick(span, span: span))" : ""))
        let taken = Double(snapshot.header.snapshotTimeNs &- snapshot.header.startTimeNs) / 1e9
        facts.append("latest taken \(timeTick(taken, span: taken)) after tracing started")
        if snapshot.header.isSampled {
            facts.append("sampled: one sample per \(SizeFormat.format(snapshot.totals.sampleRate)) on average")
        }
        return """
            <header>
            <h1>memtrace report: <span class="program">\(escape(programName(snapshot)))</span></h1>
            <p class="command"><code>\(escape(command))</code></p>
            <p class="facts">\(facts.map(escape).joined(separator: " · "))</p>
            </header>

            """
    }

    static func cardsHTML(_ snapshot: Snapshot, liveTotal: Int64) -> String {
        let totals = snapshot.totals
        var cards: [(String, String, String)] = [
            ("Live heap", SizeFormat.format(totals.liveBytes), "\(totals.liveBlocks) blocks"),
            ("Peak heap", SizeFormat.format(totals.peakBytes), "highest live bytes"),
            (
                "Allocations", "\(totals.allocCalls)",
                "\(SizeFormat.format(totals.totalAllocBytes)) in total, \(totals.freeCalls) frees"
            ),
        ]
        if snapshot.countsTemporary {
            let temporary = snapshot.temporaryTotal
            cards.append(
                (
                    "Temporary", "\(temporary.count)",
                    "\(SizeFormat.format(temporary.bytes)), freed before the next allocation"
                ))
        }
        if totals.overrunBlocks != 0 {
            cards.append(
                ("Heap overruns", "\(totals.overrunBlocks)", "blocks written one byte past the end (memtrace summary)"))
        }
        if totals.mismatchBlocks != 0 {
            cards.append(
                (
                    "Mismatched releases", "\(totals.mismatchBlocks)",
                    "blocks released otherwise than allocated (memtrace summary)"
                ))
        }
        cards += [
            ("Call stacks", "\(snapshot.stackStats.count)", "distinct allocating stacks"),
            ("Tracer overhead", SizeFormat.format(totals.tracerOverheadBytes), "memory for its tables"),
        ]
        var html = "<section class=\"cards\">\n"
        for (label, value, note) in cards {
            html +=
                "<div class=\"card\"><div class=\"label\">\(escape(label))</div><div class=\"value\">\(escape(value))</div><div class=\"note\">\(escape(note))</div></div>\n"
        }
        return html + "</section>\n"
    }

    /// One table per figure the flame graph can draw, the live one shown; the script shows the
    /// one matching the flame graph's menu.
    static func sitesHTML(
        _ tables: [(metric: Metric, stats: [Statistic], total: Int64)], source: SourceLines? = nil
    ) -> String {
        var html = """
            <section id="sites">
            <h2>Top allocation sites (<span class="sites-metric">live bytes</span>)</h2>

            """
        for table in tables {
            html += sitesTable(table.stats, total: table.total, metric: table.metric, source: source)
        }
        return html + "</section>\n"
    }

    /// Every allocation of the run by size class (the SIZES section), a bar per class from the
    /// first to the last that is not empty; nothing when the snapshot has no such section.
    static func sizesHTML(_ snapshot: Snapshot) -> String {
        guard let histogram = SizeHistogram(snapshot.sizeClasses ?? []) else { return "" }
        var html = """
            <section id="sizes">
            <h2>Allocation sizes</h2>
            <p class="hint">Every allocation of the run by its requested size, each row from its size up to \
            the next row's\(snapshot.header.isSampled ? " (estimated from the samples)" : ""): many calls \
            in the small rows are where a pool, an arena or a buffer on the stack saves time.</p>
            <table class="sizes">
            <thead><tr><th>Size from</th><th class="num">Calls</th><th class="num">Share</th>\
            <th class="num">Bytes</th><th class="bar-cell"></th></tr></thead>
            <tbody>

            """
        for row in histogram.rows {
            html += "<tr><td>\(row.label)</td>"
            html += "<td class=\"num\">\(row.count)</td>"
            html += "<td class=\"num\">\(TrendFormat.fixed(row.share * 100, 1))%</td>"
            html += "<td class=\"num\">\(escape(SizeFormat.format(row.bytes)))</td>"
            html +=
                row.count == 0
                ? "<td class=\"bar-cell\"></td></tr>\n"
                : "<td class=\"bar-cell\"><div class=\"bar\" style=\"width: \(TrendFormat.fixed(row.scale * 100, 1))%\"></div></td></tr>\n"
        }
        return html + "</tbody>\n</table>\n</section>\n"
    }

    /// A site's location cell: `file:line`, and under it its line of source when at hand.
    static func locationCell(_ frame: Frame, source: SourceLines?) -> String {
        var html = "<td>\(escape(FrameLabel.location(frame)))"
        if let text = source?.text(of: frame) {
            html += "<code class=\"source\" title=\"\(escape(text))\">\(escape(text))</code>"
        }
        return html + "</td>"
    }

    static func sitesTable(_ stats: [Statistic], total: Int64, metric: Metric, source: SourceLines? = nil) -> String {
        var html = """
            <table class="sites" data-metric="\(metric.rawValue)"\(metric == .live ? "" : " hidden")>
            <thead><tr><th class="num">#</th><th>Function</th><th>Location</th><th>Module</th>\
            <th class="num">Size</th><th class="num">Blocks</th><th class="num">Average</th><th class="num">Share</th></tr></thead>
            <tbody>

            """
        for (rank, stat) in stats.enumerated() {
            let frame = LibraryFrames.site(stat.frames) ?? Frame(function: "", file: "", line: 0, module: "")
            let name = FrameLabel.name(frame)
            let average = stat.count > 0 ? SizeFormat.format(Double(stat.size) / Double(stat.count)) : ""
            html += "<tr>"
            html += "<td class=\"num\">\(rank + 1)</td>"
            html += "<td class=\"function\" data-function=\"\(escape(name))\">\(escape(name))</td>"
            html += locationCell(frame, source: source)
            html += "<td>\(escape(basename(frame.module)))</td>"
            html += "<td class=\"num\">\(escape(SizeFormat.format(stat.size)))</td>"
            html += "<td class=\"num\">\(stat.count)</td>"
            html += "<td class=\"num\">\(escape(average))</td>"
            html += "<td class=\"num\">\(percent(stat.size, of: total))</td>"
            html += "</tr>\n"
        }
        if stats.isEmpty {
            let none =
                switch metric {
                case .live: "No live blocks."
                case .peak: "Nothing was held at the peak."
                case .total: "Nothing was allocated."
                case .temporary: "No temporary allocations."
                }
            html += "<tr><td colspan=\"8\">\(none)</td></tr>\n"
        }
        return html + "</tbody>\n</table>\n"
    }

    static func growthHTML(
        first: TracedSnapshot, last: TracedSnapshot, diffs: [StatisticDiff], grown: Int64, source: SourceLines? = nil
    ) -> String {
        let before = first.total()
        let after = last.total()
        let change = after.size - before.size
        let span = Double(last.snapshot.header.snapshotTimeNs &- first.snapshot.header.snapshotTimeNs) / 1e9
        var html = """
            <section id="growth">
            <h2>Growth from the first snapshot to the last</h2>
            <p>Live bytes went from <strong>\(escape(SizeFormat.format(before.size)))</strong> to \
            <strong>\(escape(SizeFormat.format(after.size)))</strong> \
            (<span class="\(change > 0 ? "grow" : "shrink")">\(escape(SizeFormat.format(change, signed: true)))</span>) \
            in \(timeTick(span, span: span)), between \(escape(first.snapshot.path)) and \(escape(last.snapshot.path)).</p>
            <table class="growth">
            <thead><tr><th>Function</th><th>Location</th><th class="num">Size</th><th class="num">Change</th>\
            <th class="num">Blocks</th><th class="num">Change</th></tr></thead>
            <tbody>

            """
        for diff in diffs {
            let frame = LibraryFrames.site(diff.frames) ?? Frame(function: "", file: "", line: 0, module: "")
            let name = FrameLabel.name(frame)
            let style = diff.sizeDiff > 0 ? "grow" : diff.sizeDiff < 0 ? "shrink" : ""
            html += "<tr>"
            html += "<td class=\"function\" data-function=\"\(escape(name))\">\(escape(name))</td>"
            html += locationCell(frame, source: source)
            html += "<td class=\"num\">\(escape(SizeFormat.format(diff.size)))</td>"
            html +=
                "<td class=\"num \(style)\">\(escape(SizeFormat.format(diff.sizeDiff, signed: true)))</td>"
            html += "<td class=\"num\">\(diff.count)</td>"
            html += "<td class=\"num \(style)\">\(escape(SizeFormat.signedCount(diff.countDiff)))</td>"
            html += "</tr>\n"
        }
        html += "</tbody>\n</table>\n"
        if grown > 0 {
            html += """
                <h3>Where the growth is</h3>
                <p class="hint">Only stacks whose live bytes grew, each as wide as its growth.</p>
                <div class="flame-graph growth" data-tree="growth" data-label="growth"></div>

                """
        }
        return html + "</section>\n"
    }

    /// The `memtrace trend` table: which sites grow without bound and which filled up.
    static func trendHTML(_ trends: [Trend], snapshots: Int, source: SourceLines? = nil) -> String {
        var html = """
            <section id="trends">
            <h2>Growth trends</h2>
            <p class="hint">A least-squares line through each site's live bytes over the \(snapshots) snapshots \
            (as <code>memtrace trend --by lineno</code>): <em>grows</em> is still growing at the end as fast as \
            overall (a leak), <em>plateaus</em> grew and stopped (a cache that filled up).</p>
            <table class="trends">
            <thead><tr><th>Kind</th><th>Function</th><th>Location</th><th class="num">Slope</th>\
            <th class="num">R²</th><th class="num">Last third</th><th class="num">Size</th></tr></thead>
            <tbody>

            """
        for trend in trends {
            let frame = LibraryFrames.site(trend.frames) ?? Frame(function: "", file: "", line: 0, module: "")
            let name = FrameLabel.name(frame)
            html += "<tr>"
            html += "<td class=\"kind \(trend.kind.rawValue)\">\(escape(trend.kind.description))</td>"
            html += "<td class=\"function\" data-function=\"\(escape(name))\">\(escape(name))</td>"
            html += locationCell(frame, source: source)
            html += "<td class=\"num\">\(escape(TrendFormat.rate(trend.slope)))</td>"
            html += "<td class=\"num\">\(TrendFormat.fixed(trend.rSquared, 2))</td>"
            html += "<td class=\"num\">\(escape(TrendFormat.rate(trend.recentSlope)))</td>"
            html += "<td class=\"num\">\(escape(SizeFormat.format(trend.sizes.last ?? 0)))</td>"
            html += "</tr>\n"
        }
        if trends.isEmpty { html += "<tr><td colspan=\"7\">No site grew.</td></tr>\n" }
        return html + "</tbody>\n</table>\n</section>\n"
    }

    /// How many sites the chart of sites over time draws apart; the others are added up.
    static let sitesDrawn = 6

    /// The live bytes of the largest sites across the snapshots, stacked over time (heaptrack's
    /// "consumed" chart): the sites that held most at any snapshot, each an area, the others added
    /// up in one on top, so that the top edge is the live heap at each snapshot.
    static func sitesOverTimeHTML(_ analysis: TrendAnalysis, ordered: [TracedSnapshot]) -> String {
        let totals = ordered.map { UInt64(clamping: $0.total(metric: .live).size) }
        // Largest first; on a tie, in the trends' own order.
        let largest = analysis.trends.enumerated().filter { ($0.element.sizes.max() ?? 0) > 0 }.sorted { a, b in
            let (x, y) = (a.element.sizes.max() ?? 0, b.element.sizes.max() ?? 0)
            return x != y ? x > y : a.offset < b.offset
        }.prefix(sitesDrawn).map(\.element)
        var series: [(values: [UInt64], label: String, style: String)] = largest.enumerated().map { index, trend in
            let frame = LibraryFrames.site(trend.frames) ?? Frame(function: "", file: "", line: 0, module: "")
            return (trend.sizes.map { UInt64(clamping: $0) }, TextFormat.describe(frame), "s\(index)")
        }
        let drawn = (0..<totals.count).map { index in series.reduce(UInt64(0)) { $0 &+ $1.values[index] } }
        let others = zip(totals, drawn).map { $0 > $1 ? $0 - $1 : 0 }
        if others.contains(where: { $0 > 0 }) { series.append((others, "every other site", "others")) }
        // Seconds since tracing started, as the heap's chart above counts them.
        let start = ordered[ordered.count - 1].snapshot.header.startTimeNs
        let seconds = ordered.map { Double($0.snapshot.header.snapshotTimeNs &- start) / 1e9 }
        let span = max(seconds.last ?? 0, 1e-3)
        let frame = ChartFrame(height: 260, span: span, highest: totals.max() ?? 0)
        func x(_ time: Double) -> String { TrendFormat.fixed(frame.x(time), 1) }
        func y(_ bytes: UInt64) -> String { TrendFormat.fixed(frame.y(bytes), 1) }
        var svg = frame.opening(class: "timeline sites-over-time", label: "live bytes of the largest sites over time")
        // Each area from the top of the ones below it to its own top, the largest at the bottom.
        var below = [UInt64](repeating: 0, count: seconds.count)
        for (values, label, style) in series {
            let above = zip(below, values).map { $0 &+ $1 }
            let upperEdge = seconds.indices.map { "\(x(seconds[$0])),\(y(above[$0]))" }
            let lowerEdge = seconds.indices.reversed().map { "\(x(seconds[$0])),\(y(below[$0]))" }
            svg += "<polygon class=\"\(style)\" points=\"\((upperEdge + lowerEdge).joined(separator: " "))\">"
            svg +=
                "<title>\(escape(label)): \(escape(SizeFormat.format(values.last ?? 0))) at the last snapshot</title></polygon>\n"
            below = above
        }
        svg += "</svg>\n"
        var legend = "<ul class=\"legend sites\">\n"
        for (values, label, style) in series {
            legend += "<li><span class=\"swatch \(style)\"></span>\(escape(label)) "
            legend +=
                "<span class=\"muted\">(\(escape(SizeFormat.format(values.last ?? 0))) at the last snapshot)</span></li>\n"
        }
        legend += "</ul>\n"
        return """
            <section id="sites-over-time">
            <h2>Largest sites over time</h2>
            <p class="hint">The live bytes of the \(largest.count) sites that held the most at any of the \
            \(ordered.count) snapshots, stacked, with every other site above them: the top edge is the live \
            heap at each snapshot. A leak is a band that keeps widening, a cache one that widens and stays.</p>
            \(svg)\(legend)</section>

            """
    }

    /// The timeline charts, as inline SVG, from the latest snapshot's TIMELINE:
    /// the live heap and its peak, and below it, on its own scale, the RSS.
    static func timelineHTML(_ ordered: [TracedSnapshot]) -> String {
        let snapshot = ordered[ordered.count - 1].snapshot
        guard let points = snapshot.timeline?.sorted(by: { $0.timeNs < $1.timeNs }), points.count >= 2
        else {
            return """
                <section id="timeline">
                <h2>Heap over time</h2>
                <p class="hint">This snapshot has no timeline (MEMTRACE_TIMELINE=0, or a tracer older than the TIMELINE section).</p>
                </section>

                """
        }
        let start = min(snapshot.header.startTimeNs, points[0].timeNs)
        let seconds = points.map { Double($0.timeNs &- start) / 1e9 }
        let markers: [(time: Double, label: String)] = ordered.compactMap { traced in
            let header = traced.snapshot.header
            guard header.snapshotTimeNs >= start else { return nil }
            return (Double(header.snapshotTimeNs - start) / 1e9, traced.snapshot.path)
        }
        let span = max(seconds.last ?? 0, markers.map(\.time).max() ?? 0, 1e-3)
        let heap = chart(
            seconds: seconds, span: span, markers: markers, height: 240, label: "live heap and peak over time",
            series: [
                (points.map(\.peakBytes), "peak"), (points.map(\.currentBytes), "current"),
            ])
        let rss = chart(
            seconds: seconds, span: span, markers: markers, height: 150, label: "resident set size over time",
            series: [(points.map(\.rssBytes), "rss")])
        let last = points[points.count - 1]
        return """
            <section id="timeline">
            <h2>Heap over time</h2>
            <p class="legend"><span class="key current"></span>live heap (now \(escape(SizeFormat.format(last.currentBytes)))) \
            <span class="key peak"></span>peak so far (\(escape(SizeFormat.format(last.peakBytes)))) \
            <span class="key snapshot"></span>snapshots · \(points.count) points</p>
            \(heap)<p class="legend"><span class="key rss"></span>resident set size of the process \
            (now \(escape(SizeFormat.format(last.rssBytes)))): the heap, plus code, stacks, the allocator's \
            free memory and the tracer's tables</p>
            \(rss)</section>

            """
    }

    /// One SVG line chart over `span` seconds, with a nicely rounded byte axis.
    static func chart(
        seconds: [Double], span: Double, markers: [(time: Double, label: String)], height: Double,
        label: String, series: [(values: [UInt64], style: String)]
    ) -> String {
        let frame = ChartFrame(height: height, span: span, highest: series.flatMap(\.values).max() ?? 0)
        func x(_ time: Double) -> Double { frame.x(time) }
        func y(_ bytes: UInt64) -> Double { frame.y(bytes) }
        let (upper, bottom) = (frame.upper, frame.bottom)
        var svg = frame.opening(class: "timeline", label: label)
        for marker in markers {
            let position = TrendFormat.fixed(x(marker.time), 1)
            svg +=
                "<line class=\"snapshot\" x1=\"\(position)\" x2=\"\(position)\" y1=\"\(Int(upper))\" y2=\"\(Int(height - bottom))\"><title>\(escape(marker.label))</title></line>\n"
        }
        for (values, style) in series {
            let coordinates = zip(values, seconds).map { value, time in
                "\(TrendFormat.fixed(x(time), 1)),\(TrendFormat.fixed(y(value), 1))"
            }
            svg += "<polyline class=\"\(style)\" points=\"\(coordinates.joined(separator: " "))\"/>\n"
        }
        return svg + "</svg>\n"
    }

    /// Where a chart draws: 960 units wide and `height` high, margins for the axes' labels, bytes
    /// from 0 to the last of their ticks upwards, `span` seconds from the left.
    struct ChartFrame {
        let width = 960.0
        let height: Double
        let span: Double
        let ticks: [(bytes: UInt64, label: String)]
        let left = 78.0
        let right = 28.0
        let upper = 12.0
        let bottom = 30.0

        init(height: Double, span: Double, highest: UInt64) {
            self.height = height
            self.span = span
            ticks = HTMLReport.byteTicks(highest)
        }

        func x(_ time: Double) -> Double { left + (width - left - right) * time / span }

        func y(_ bytes: UInt64) -> Double {
            upper + (height - upper - bottom) * (1 - Double(bytes) / Double(max(ticks.last?.bytes ?? 1, 1)))
        }

        /// The `<svg>` element's opening, its grid and the labels of both axes.
        func opening(class name: String, label: String) -> String {
            var svg = """
                <svg class="\(name)" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-label="\(escape(label))">

                """
            for (bytes, tickLabel) in ticks {
                let position = TrendFormat.fixed(y(bytes), 1)
                svg +=
                    "<line class=\"grid\" x1=\"\(Int(left))\" x2=\"\(Int(width - right))\" y1=\"\(position)\" y2=\"\(position)\"/>"
                svg +=
                    "<text class=\"axis\" x=\"\(Int(left - 6))\" y=\"\(position)\" text-anchor=\"end\" dominant-baseline=\"middle\">\(tickLabel)</text>\n"
            }
            for tick in 0...5 {
                let time = span * Double(tick) / 5
                svg +=
                    "<text class=\"axis\" x=\"\(TrendFormat.fixed(x(time), 1))\" y=\"\(Int(height - 10))\" text-anchor=\"middle\">\(HTMLReport.timeTick(time, span: span))</text>\n"
            }
            return svg
        }
    }

    /// A time on an axis of `span` seconds (or a duration, as its own span), in the unit that
    /// keeps the ticks apart: `12.5 s`, `1.25 s`, `250 ms`, `2.5 ms`, `40 µs`.
    static func timeTick(_ time: Double, span: Double) -> String {
        let (value, range, unit) =
            span >= 1
            ? (time, span, "s") : span >= 0.001 ? (time * 1e3, span * 1e3, "ms") : (time * 1e6, span * 1e6, "µs")
        let digits = range >= 10 ? (unit == "s" ? 1 : 0) : range >= 1 ? (unit == "s" ? 2 : 1) : 2
        return TrendFormat.fixed(value, digits) + " " + unit
    }

    /// Axis values from 0 to at least `highest` with their labels: steps of 1, 2 or 5
    /// times a power of ten in the binary unit (B, KiB, MiB…) that `highest` is under
    /// 1024 of, labelled in that unit (`0 B`, `512 KiB`, `1.5 GiB`).
    static func byteTicks(_ highest: UInt64) -> [(bytes: UInt64, label: String)] {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var power = 0
        while highest >> (10 * UInt64(power)) >= 1024 && power < units.count - 1 { power += 1 }
        let unit = Double(UInt64(1) << (10 * UInt64(power)))
        let scaled = max(Double(highest) / unit, 1)
        var step = 1.0
        // Fractions of a unit, but never of a byte.
        while scaled / step < 2 && step > 0.01 && (power > 0 || step > 1) { step /= 10 }
        while scaled / step > 5 {
            for factor in [2.0, 2.5, 2.0] where scaled / step > 5 { step *= factor }
        }
        var ticks: [(UInt64, String)] = []
        var index = 0.0
        while true {
            let value = index * step
            let digits = step >= 1 ? 0 : step >= 0.1 ? 1 : 2
            var label = TrendFormat.fixed(value, digits)
            if label.contains(".") {
                while label.hasSuffix("0") { label.removeLast() }
                if label.hasSuffix(".") { label.removeLast() }
            }
            let position = (value * unit).rounded()  // past UInt64.max only for figures no heap has
            ticks.append((position < 0x1p64 ? UInt64(position) : UInt64.max, label + " " + units[power]))
            if value >= scaled { break }
            index += 1
        }
        return ticks
    }

    // MARK: - Escaping

    /// `text` with `&`, `<`, `>`, `"` and `'` replaced by entities: safe in element content and quoted attributes.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// JSON whose text can sit inside `<script>`: `<`, `>`, `&` and the two
    /// JavaScript line separators are written as `\uXXXX` escapes (they only
    /// occur inside JSON strings, where the escapes mean the same characters).
    static func scriptSafeJSON(_ value: JSONFormat.Value) -> String {
        var out = ""
        for scalar in JSONFormat.serialize(value).unicodeScalars {
            switch scalar {
            case "<": out += "\\u003c"
            case ">": out += "\\u003e"
            case "&": out += "\\u0026"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func percent(_ part: Int64, of total: Int64) -> String {
        total > 0 ? TrendFormat.fixed(Double(part) / Double(total) * 100, 1) + "%" : ""
    }

    static func basename(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}
