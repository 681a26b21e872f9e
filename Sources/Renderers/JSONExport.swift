import Analysis
import SnapshotReader

/// The whole snapshot as JSON, for scripts: header figures, totals, every
/// stack with its six figures and its frames, the timeline and the allocations
/// by size.
///
/// ```
/// {"snapshot":"app.snap","pid":42,"ppid":1,"start_time_ns":…,"snapshot_time_ns":…,
///  "sequence":0,"trigger":"exit","sampled":false,"sample_rate":0,
///  "totals":{"live_bytes":…,"live_blocks":…,"peak_bytes":…,…},
///  "stacks":[{"live_bytes":…,"live_count":…,"peak_bytes":…,"peak_count":…,
///             "total_bytes":…,"total_count":…,"frames":[{"function":…,"file":…,"line":…,"module":…}]}],
///  "timeline":[{"time_ns":…,"current_bytes":…,"peak_bytes":…,"rss_bytes":…}],
///  "sizes":[{"from":0,"to":1,"count":…,"bytes":…},{"from":2,"to":3,…},…]}
/// ```
///
/// Stacks are sorted by live bytes, largest first; frames are innermost first
/// with the allocator's own frames removed, as in `memtrace top --format json`,
/// and a stack of more than one frame says which is its site (`"site": N`).
/// `timeline` and `sizes` (every allocation by size class, sizes `from` to `to`
/// inclusive, from class 0 to the last that is not empty) are present only
/// when the snapshot has them.
public enum JSONExport {
    /// The JSON document for `traced`.
    ///
    /// - Parameters:
    ///   - traced: the snapshot.
    ///   - filters: traces to keep or drop.
    /// - Returns: compact JSON ending in a newline.
    public static func render(_ traced: TracedSnapshot, filters: [TraceFilter] = []) -> String {
        var document = ""
        write(traced, filters: filters) { document += $0 }
        return document
    }

    /// The same document, handed to `emit` in pieces of about `chunkBytes` as it is made: a
    /// snapshot of 600,000 stacks makes 1.2 GB of JSON, which held whole (and copied to be
    /// written) took 3 GB of memory.
    ///
    /// - Parameters:
    ///   - traced: the snapshot.
    ///   - filters: traces to keep or drop.
    ///   - chunkBytes: about how much text each piece holds (the last may hold less).
    ///   - emit: receives the pieces in order; together they are ``render(_:filters:)``'s text.
    public static func write(
        _ traced: TracedSnapshot, filters: [TraceFilter] = [], chunkBytes: Int = 1 << 20, emit: (String) -> Void
    ) {
        let snapshot = traced.snapshot
        let header = snapshot.header
        let totals = snapshot.totals
        // A frame's object is written once and repeated as text: a compiler's snapshot has
        // 2.8 million frames in its stacks, a few thousand distinct.
        var frameText: [Int32: JSONFormat.Value] = [:]
        func frame(_ id: Int32) -> JSONFormat.Value {
            if let known = frameText[id] { return known }
            let text = JSONFormat.Value.serialized(JSONFormat.serialize(JSONFormat.value(traced.table.frame(id))))
            frameText[id] = text
            return text
        }
        let stacks = traced.stackFrameIDs(keeping: filters)
            .sorted { a, b in
                if a.stat.liveBytes != b.stat.liveBytes { return a.stat.liveBytes > b.stat.liveBytes }
                return a.stat.totalBytes > b.stat.totalBytes
            }
        let leading: [(String, JSONFormat.Value)] = [
            ("snapshot", .string(snapshot.path)), ("pid", .uint(UInt64(header.pid))),
            ("ppid", .uint(UInt64(header.ppid))), ("start_time_ns", .uint(header.startTimeNs)),
            ("snapshot_time_ns", .uint(header.snapshotTimeNs)), ("sequence", .uint(header.sequence)),
            ("trigger", .string(String(describing: header.trigger))),
            ("sampled", .bool(header.isSampled)), ("sample_rate", .uint(totals.sampleRate)),
            (
                "totals",
                .object([
                    ("live_bytes", .uint(totals.liveBytes)), ("live_blocks", .uint(totals.liveBlocks)),
                    ("live_usable_bytes", .uint(totals.liveUsableBytes)),
                    ("peak_bytes", .uint(totals.peakBytes)), ("peak_time_ns", .uint(totals.peakTimeNs)),
                    ("alloc_calls", .uint(totals.allocCalls)), ("free_calls", .uint(totals.freeCalls)),
                    ("realloc_calls", .uint(totals.reallocCalls)),
                    ("total_alloc_bytes", .uint(totals.totalAllocBytes)),
                    ("tracer_overhead_bytes", .uint(totals.tracerOverheadBytes)),
                ])
            ),
        ]
        var trailing: [(String, JSONFormat.Value)] = []
        if let timeline = snapshot.timeline {
            trailing.append(
                (
                    "timeline",
                    .array(
                        timeline.map { point in
                            .object([
                                ("time_ns", .uint(point.timeNs)), ("current_bytes", .uint(point.currentBytes)),
                                ("peak_bytes", .uint(point.peakBytes)), ("rss_bytes", .uint(point.rssBytes)),
                            ])
                        })
                ))
        }
        if let sizeClasses = snapshot.sizeClasses {
            trailing.append(
                (
                    "sizes",
                    .array(
                        sizeClasses.enumerated().map { index, sizeClass in
                            let range = Snapshot.SizeClass.range(index)
                            return .object([
                                ("from", .uint(range.lowerBound)), ("to", .uint(range.upperBound)),
                                ("count", .uint(sizeClass.count)), ("bytes", .uint(sizeClass.bytes)),
                            ])
                        })
                ))
        }

        JSONFormat.writeDocument(
            leading: leading, arrayKey: "stacks", count: stacks.count,
            element: { index in
                let (stat, frames) = stacks[index]
                var figures: [(String, JSONFormat.Value)] = [
                    ("live_bytes", .uint(stat.liveBytes)), ("live_count", .uint(stat.liveCount)),
                    ("peak_bytes", .uint(stat.peakBytes)), ("peak_count", .uint(stat.peakCount)),
                    ("total_bytes", .uint(stat.totalBytes)), ("total_count", .uint(stat.totalCount)),
                ]
                if snapshot.countsTemporary {
                    figures += [
                        ("temporary_bytes", .uint(stat.temporaryBytes)),
                        ("temporary_count", .uint(stat.temporaryCount)),
                    ]
                }
                let site = JSONFormat.site(count: frames.count) { traced.table.siteIndex(frames) }
                return .object(figures + [("frames", .array(frames.map(frame)))] + site)
            }, trailing: trailing, chunkBytes: chunkBytes, emit: emit)
    }
}
