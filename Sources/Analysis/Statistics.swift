import SnapshotReader
import Symbolizer

/// Which of a stack's figures statistics add up.
public enum Metric: String, Sendable {
    /// Blocks live when the snapshot was taken (`live_bytes`, `live_count`).
    case live
    /// Blocks the stack held at the moment of the global peak (`peak_bytes`, `peak_count`).
    case peak
    /// Everything the stack ever allocated (`total_bytes`, `total_count`).
    case total
    /// Blocks released by `free` in their thread before it allocated anything else (the TEMPORARY
    /// section): allocations a program could often avoid.
    case temporary

    /// The figures `snapshot` holds for every stack: live, peak and total always, temporary
    /// when it counts them (not when sampled).
    public static func available(in snapshot: Snapshot) -> [Metric] {
        [.live, .peak, .total] + (snapshot.countsTemporary ? [.temporary] : [])
    }

    /// This metric's bytes and blocks in a stack's record.
    public func figures(_ stat: Snapshot.StackStat) -> (size: Int64, count: Int64) {
        switch self {
        case .live: (Int64(clamping: stat.liveBytes), Int64(clamping: stat.liveCount))
        case .peak: (Int64(clamping: stat.peakBytes), Int64(clamping: stat.peakCount))
        case .total: (Int64(clamping: stat.totalBytes), Int64(clamping: stat.totalCount))
        case .temporary: (Int64(clamping: stat.temporaryBytes), Int64(clamping: stat.temporaryCount))
        }
    }
}

/// Which figure ranks groups first.
public enum SortKey: String, Sendable {
    /// Bytes, then blocks: tracemalloc's order.
    case size
    /// Blocks, then bytes: the sites that allocate most often (heaptrack's "most calls").
    case count
}

/// What to compute: tracemalloc's `key_type` and `cumulative`, plus filters.
public struct StatisticsOptions: Sendable {
    /// How blocks are grouped.
    public var groupBy: GroupBy
    /// Count a stack once for every distinct site among its frames, not only
    /// the innermost; not allowed with ``GroupBy/traceback``.
    public var cumulative: Bool
    /// Traces to keep or drop before grouping.
    public var filters: [TraceFilter]
    /// Which figures to add up.
    public var metric: Metric
    /// Which figure ranks groups first.
    public var sortBy: SortKey
    /// At most this many groups, the first in the order; 0 for all. Only the groups that can
    /// make the cut get their frames and the full order's last tie-break.
    public var limit: Int

    /// Creates options; the defaults are tracemalloc's `statistics('lineno')` over live blocks.
    public init(
        groupBy: GroupBy = .lineno, cumulative: Bool = false, filters: [TraceFilter] = [],
        metric: Metric = .live, sortBy: SortKey = .size, limit: Int = 0
    ) {
        self.groupBy = groupBy
        self.cumulative = cumulative
        self.filters = filters
        self.metric = metric
        self.sortBy = sortBy
        self.limit = limit
    }
}

/// Errors of the analysis itself (bad options, not bad files).
public struct AnalysisError: Error, CustomStringConvertible, Equatable {
    /// A one-line explanation.
    public var description: String
    /// Creates an error with a one-line explanation.
    public init(_ description: String) { self.description = description }
}

/// The size and count of one group: tracemalloc's `Statistic`.
public struct Statistic: Sendable, Equatable {
    /// The group's site: one frame, or the whole stack (innermost first) for ``GroupBy/traceback``.
    public var frames: [Frame]
    /// Bytes.
    public var size: Int64
    /// Blocks.
    public var count: Int64

    /// Creates a statistic.
    public init(frames: [Frame], size: Int64, count: Int64) {
        self.frames = frames
        self.size = size
        self.count = count
    }
}

/// A group's figures in a new snapshot and their change since an old one: tracemalloc's `StatisticDiff`.
public struct StatisticDiff: Sendable, Equatable {
    /// The group's site, as in ``Statistic/frames``.
    public var frames: [Frame]
    /// Bytes in the new snapshot (0 for a vanished group).
    public var size: Int64
    /// New minus old bytes.
    public var sizeDiff: Int64
    /// Blocks in the new snapshot.
    public var count: Int64
    /// New minus old blocks.
    public var countDiff: Int64

    /// Creates a difference.
    public init(frames: [Frame], size: Int64, sizeDiff: Int64, count: Int64, countDiff: Int64) {
        self.frames = frames
        self.size = size
        self.sizeDiff = sizeDiff
        self.count = count
        self.countDiff = countDiff
    }
}

extension TracedSnapshot {
    /// Groups blocks and sorts the groups by size, then count, largest first:
    /// tracemalloc's `Snapshot.statistics` (count first with ``SortKey/count``).
    ///
    /// - Parameter options: grouping, cumulative mode, filters, metric, sort key, limit.
    /// - Returns: one statistic per non-empty group, at most `options.limit` when it is not 0.
    /// - Throws: ``AnalysisError`` when `cumulative` is combined with ``GroupBy/traceback``.
    public func statistics(_ options: StatisticsOptions = StatisticsOptions()) throws -> [Statistic] {
        let countFirst = options.sortBy == .count
        let candidates = Self.candidates(
            try group(options).map { key, value in
                (key, countFirst ? Rank(value.count, value.size) : Rank(value.size, value.count))
            }, limit: options.limit)
        var stats = candidates.map { key, rank in
            Statistic(
                frames: key.map { table.frame($0) }, size: countFirst ? rank.figures.1 : rank.figures.0,
                count: countFirst ? rank.figures.0 : rank.figures.1)
        }
        stats.sort { a, b in
            if countFirst {
                if a.count != b.count { return a.count > b.count }
                if a.size != b.size { return a.size > b.size }
            } else {
                if a.size != b.size { return a.size > b.size }
                if a.count != b.count { return a.count > b.count }
            }
            return Self.framesDescending(a.frames, b.frames)
        }
        return options.limit > 0 ? Array(stats.prefix(options.limit)) : stats
    }

    /// A group's figures in the order they rank it, larger first; compared before its frames.
    struct Rank: Comparable {
        var figures: (Int64, Int64, Int64, Int64)
        init(_ a: Int64, _ b: Int64, _ c: Int64 = 0, _ d: Int64 = 0) { figures = (a, b, c, d) }
        static func < (x: Rank, y: Rank) -> Bool { x.figures < y.figures }
        static func == (x: Rank, y: Rank) -> Bool { x.figures == y.figures }
    }

    /// The groups that can be among the first `limit` (all when `limit` is 0): those whose rank
    /// is at or above the `limit`-th largest, ties included, so that the frames, the last
    /// tie-break, are built and compared for those only.
    static func candidates<Key>(_ groups: [(Key, Rank)], limit: Int) -> [(Key, Rank)] {
        guard limit > 0, groups.count > limit else { return groups }
        var ranks = groups.map(\.1)
        ranks.sort(by: >)
        let cut = ranks[limit - 1]
        return groups.filter { $0.1 >= cut }
    }

    /// Compares this (new) snapshot with an older one: tracemalloc's `Snapshot.compare_to`.
    ///
    /// Every group present in either snapshot appears: grown, shrunk, unchanged
    /// (`+0`), new, and vanished (size 0). Sorted by |size change|, size,
    /// |count change|, count, largest first (with ``SortKey/count``, the
    /// count's pair before the size's).
    ///
    /// - Parameters:
    ///   - old: the earlier snapshot; it must share this snapshot's ``table``.
    ///   - options: grouping, cumulative mode, filters, metric (applied to both), sort key, limit
    ///     (at most that many differences, the first in the order, when it is not 0).
    /// - Throws: ``AnalysisError`` for a bad option combination or snapshots with different tables.
    public func compare(
        to old: TracedSnapshot, _ options: StatisticsOptions = StatisticsOptions()
    )
        throws
        -> [StatisticDiff]
    {
        guard old.table === table else {
            throw AnalysisError("snapshots to compare must be traced with the same FrameTable")
        }
        let newGroups = try group(options)
        var oldGroups = try old.group(options)
        // (size, size change, count, count change) of every group, ranked as sorted below.
        var changes: [([Int32], (Int64, Int64, Int64, Int64))] = []
        changes.reserveCapacity(newGroups.count + oldGroups.count)
        for (key, value) in newGroups {
            let previous = oldGroups.removeValue(forKey: key) ?? (0, 0)
            changes.append((key, (value.size, value.size - previous.size, value.count, value.count - previous.count)))
        }
        for (key, value) in oldGroups {
            changes.append((key, (0, -value.size, 0, -value.count)))
        }
        let countFirst = options.sortBy == .count
        let ranked = changes.indices.map { index -> (Int, Rank) in
            let (size, sizeDiff, count, countDiff) = changes[index].1
            let bytes = (Int64(clamping: sizeDiff.magnitude), size)
            let blocks = (Int64(clamping: countDiff.magnitude), count)
            let (first, second) = countFirst ? (blocks, bytes) : (bytes, blocks)
            return (index, Rank(first.0, first.1, second.0, second.1))
        }
        var diffs = Self.candidates(ranked, limit: options.limit).map { index, _ in
            let (key, figures) = changes[index]
            return StatisticDiff(
                frames: key.map { table.frame($0) }, size: figures.0, sizeDiff: figures.1, count: figures.2,
                countDiff: figures.3)
        }
        diffs.sort { a, b in
            let order =
                countFirst
                ? Self.blocksFirst(a, b) ?? Self.bytesFirst(a, b) : Self.bytesFirst(a, b) ?? Self.blocksFirst(a, b)
            return order ?? Self.framesDescending(a.frames, b.frames)
        }
        return options.limit > 0 ? Array(diffs.prefix(options.limit)) : diffs
    }

    /// compare(to:)'s order by bytes: |size change|, then size, larger first; nil on a tie.
    @inline(__always) static func bytesFirst(_ a: StatisticDiff, _ b: StatisticDiff) -> Bool? {
        if a.sizeDiff.magnitude != b.sizeDiff.magnitude { return a.sizeDiff.magnitude > b.sizeDiff.magnitude }
        return a.size != b.size ? a.size > b.size : nil
    }

    /// compare(to:)'s order by blocks: |count change|, then count, larger first; nil on a tie.
    @inline(__always) static func blocksFirst(_ a: StatisticDiff, _ b: StatisticDiff) -> Bool? {
        if a.countDiff.magnitude != b.countDiff.magnitude { return a.countDiff.magnitude > b.countDiff.magnitude }
        return a.count != b.count ? a.count > b.count : nil
    }

    /// Bytes and blocks of the traces that survive `filters`, each counted once.
    public func total(
        filters: [TraceFilter] = [], metric: Metric = .live
    ) -> (
        size: Int64, count: Int64
    ) {
        var filterSet = FilterSet(filters, table: table)
        var size: Int64 = 0
        var count: Int64 = 0
        for trace in traces where filterSet.keeps(trace.frames) {
            let value = metric.figures(trace.stat)
            size &+= value.size  // wrapping, as everywhere figures of a file are summed: a damaged one
            count &+= value.count
        }
        return (size, count)
    }

    /// Group key (site ids in ``table``) → summed figures; groups with no block are left out.
    func group(_ options: StatisticsOptions) throws -> [[Int32]: (size: Int64, count: Int64)] {
        if options.cumulative && options.groupBy == .traceback {
            throw AnalysisError("cumulative mode cannot be used when grouping by traceback")
        }
        var filterSet = FilterSet(options.filters, table: table)
        var groups: [[Int32]: (size: Int64, count: Int64)] = [:]
        var seen = Set<Int32>()
        func add(_ key: [Int32], _ value: (size: Int64, count: Int64)) {
            if let existing = groups[key] {
                groups[key] = (existing.size &+ value.size, existing.count &+ value.count)
            } else {
                groups[key] = value
            }
        }
        for trace in traces {
            let value = options.metric.figures(trace.stat)
            if value.count == 0 && value.size == 0 { continue }
            if !filterSet.keeps(trace.frames) { continue }
            switch (options.groupBy, options.cumulative) {
            case (.traceback, _):
                add(trace.frames, value)
            case (let by, false):
                add([table.site(of: table.site(of: trace.frames), by: by)], value)
            case (let by, true):
                seen.removeAll(keepingCapacity: true)
                for id in trace.frames {
                    let site = table.site(of: id, by: by)
                    if seen.insert(site).inserted { add([site], value) }
                }
            }
        }
        return groups
    }

    /// The last tie-break, as tracemalloc's reverse sort on the traceback:
    /// frames compared by file, line, function, module, larger first.
    static func framesDescending(_ a: [Frame], _ b: [Frame]) -> Bool {
        for (x, y) in zip(a, b) {
            if x.file != y.file { return x.file > y.file }
            if x.line != y.line { return x.line > y.line }
            if x.function != y.function { return x.function > y.function }
            if x.module != y.module { return x.module > y.module }
        }
        return a.count > b.count
    }
}
