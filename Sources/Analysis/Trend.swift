import SnapshotReader
import Symbolizer

/// How one group's live bytes moved over a series of snapshots of one run.
public struct Trend: Sendable, Equatable {
    /// The shape of the series.
    public enum Kind: String, Sendable, CaseIterable {
        /// Still growing at the end as fast as overall: a leak, or a structure without a bound.
        case grows
        /// Grew, but the growth is slowing down: it may yet level off.
        case slows
        /// Grew, then stopped: a cache or pool that filled to its size.
        case plateaus
        /// Ends lower than it was at its highest and is falling.
        case shrinks
        /// Did not grow over the series.
        case steady

        /// A phrase for reports: `grows without bound`, `fills then plateaus`…
        public var description: String {
            switch self {
            case .grows: "grows without bound"
            case .slows: "grows, slowing down"
            case .plateaus: "fills then plateaus"
            case .shrinks: "shrinks"
            case .steady: "steady"
            }
        }
    }

    /// The group's site, as in ``Statistic/frames``.
    public var frames: [Frame]
    /// Live bytes in each snapshot, in time order (0 where the group had none).
    public var sizes: [Int64]
    /// Live blocks in each snapshot.
    public var counts: [Int64]
    /// Least-squares slope of live bytes over time, bytes per second.
    public var slope: Double
    /// Coefficient of determination of that line (0…1): 1 when the bytes lie on it.
    public var rSquared: Double
    /// The slope over the last third of the snapshots (at least two), bytes per second.
    public var recentSlope: Double
    /// What the series looks like.
    public var kind: Kind

    /// Last minus first live bytes.
    public var growth: Int64 { (sizes.last ?? 0) - (sizes.first ?? 0) }

    /// The ranking score: the slope weighted by how well a line fits, bytes per second.
    public var score: Double { slope * rSquared }

    /// Creates a trend; ``TrendAnalysis`` computes them from snapshots.
    public init(
        frames: [Frame], sizes: [Int64], counts: [Int64], slope: Double, rSquared: Double,
        recentSlope: Double, kind: Kind
    ) {
        self.frames = frames
        self.sizes = sizes
        self.counts = counts
        self.slope = slope
        self.rSquared = rSquared
        self.recentSlope = recentSlope
        self.kind = kind
    }
}

/// Ranks the groups of periodic snapshots of one run by how steadily their live bytes grow.
///
/// Snapshots are put in time order (`snapshot_time_ns`, then sequence), so
/// file names that sort `…10.snap` before `…2.snap` do no harm. For every group
/// (a whole stack by default) the live bytes at each snapshot form a series; a
/// least-squares line through it gives the slope (bytes per second) and the fit
/// (R²). Comparing the slope over the last third of the series with the overall
/// slope separates a leak, which keeps growing at the same pace
/// (``Trend/Kind/grows``: recent slope at least half the overall one), from a
/// cache that filled and stopped (``Trend/Kind/plateaus``: recent slope at most a
/// tenth of it), with ``Trend/Kind/slows`` in between; a series falling at the
/// end and ending below nine tenths of its highest is ``Trend/Kind/shrinks``. Groups are ranked by
/// kind (grows, slows, plateaus, then the rest) and, within a kind, by slope × R²:
/// steady, fast growth first.
public struct TrendAnalysis {
    /// Seconds since the first snapshot, one per snapshot, in time order.
    public var times: [Double]
    /// The snapshots, in time order.
    public var snapshots: [Snapshot]
    /// Every group with a block in any snapshot, ranked.
    public var trends: [Trend]

    /// A recent slope at least this fraction of the overall slope is still growing.
    public static let growingRatio = 0.5
    /// A recent slope at most this fraction of the overall slope has levelled off.
    public static let plateauRatio = 0.1

    /// Computes the trends of `snapshots`.
    ///
    /// - Parameters:
    ///   - snapshots: three or more snapshots of one run, in any order, sharing one ``FrameTable``.
    ///   - options: grouping (``GroupBy/traceback`` is the usual choice), filters and metric;
    ///     `cumulative` is allowed except with traceback.
    /// - Throws: ``AnalysisError`` with fewer than three snapshots, snapshots that do not
    ///   share a table, all taken at the same moment, or a bad option combination.
    public init(_ snapshots: [TracedSnapshot], options: StatisticsOptions) throws {
        guard snapshots.count >= 3 else {
            throw AnalysisError(
                "trend needs at least 3 snapshots of one run (got \(snapshots.count)): take them with MEMTRACE_INTERVAL, memtrace snapshot PID, or memtrace_snapshot()"
            )
        }
        guard let table = snapshots.first?.table, snapshots.allSatisfy({ $0.table === table }) else {
            throw AnalysisError("snapshots to compare must be traced with the same FrameTable")
        }
        let ordered = snapshots.sorted { a, b in
            let (x, y) = (a.snapshot.header, b.snapshot.header)
            if x.snapshotTimeNs != y.snapshotTimeNs { return x.snapshotTimeNs < y.snapshotTimeNs }
            return x.sequence < y.sequence
        }
        let start = ordered[0].snapshot.header.snapshotTimeNs
        times = ordered.map { Double($0.snapshot.header.snapshotTimeNs - start) / 1e9 }
        guard let lastTime = times.last, lastTime > 0 else {
            throw AnalysisError("the snapshots were all taken at the same moment: no time to measure growth over")
        }
        self.snapshots = ordered.map(\.snapshot)

        var series: [[Int32]: (sizes: [Int64], counts: [Int64])] = [:]
        let count = ordered.count
        for (index, traced) in ordered.enumerated() {
            for (key, value) in try traced.group(options) {
                series[key, default: ([Int64](repeating: 0, count: count), [Int64](repeating: 0, count: count))]
                    .sizes[index] = value.size
                series[key]!.counts[index] = value.count
            }
        }
        let recentStart = count - max(2, (count + 2) / 3)
        let times = times
        trends = series.map { key, value in
            let sizes = value.sizes.map(Double.init)
            let (slope, rSquared) = Self.fit(times, sizes)
            let recent = Self.fit(Array(times[recentStart...]), Array(sizes[recentStart...])).slope
            return Trend(
                frames: key.map { table.frame($0) }, sizes: value.sizes, counts: value.counts,
                slope: slope, rSquared: rSquared, recentSlope: recent,
                kind: Self.classify(sizes: value.sizes, slope: slope, recentSlope: recent, rSquared: rSquared))
        }
        let order = Dictionary(uniqueKeysWithValues: Trend.Kind.allCases.enumerated().map { ($1, $0) })
        trends.sort { a, b in
            if a.kind != b.kind { return order[a.kind]! < order[b.kind]! }
            if a.score != b.score { return a.score > b.score }
            if a.growth != b.growth { return a.growth > b.growth }
            return TracedSnapshot.framesDescending(a.frames, b.frames)
        }
    }

    /// The least-squares line through `(x, y)`: its slope and R² (1 when `y` is constant).
    public static func fit(_ x: [Double], _ y: [Double]) -> (slope: Double, rSquared: Double) {
        let n = Double(x.count)
        guard x.count >= 2 else { return (0, 1) }
        let meanX = x.reduce(0, +) / n
        let meanY = y.reduce(0, +) / n
        var sxx = 0.0
        var sxy = 0.0
        var syy = 0.0
        for (a, b) in zip(x, y) {
            sxx += (a - meanX) * (a - meanX)
            sxy += (a - meanX) * (b - meanY)
            syy += (b - meanY) * (b - meanY)
        }
        guard sxx > 0 else { return (0, 1) }
        let slope = sxy / sxx
        guard syy > 0 else { return (slope, 1) }
        return (slope, min(1, max(0, sxy * sxy / (sxx * syy))))
    }

    /// The kind of a series with the given slopes and fit; see the type's description.
    public static func classify(
        sizes: [Int64], slope: Double, recentSlope: Double, rSquared: Double = 1
    ) -> Trend.Kind {
        guard let first = sizes.first, let last = sizes.last, let highest = sizes.max() else {
            return .steady
        }
        if slope <= 0 || last <= first {
            return last < highest && recentSlope < 0 ? .shrinks : .steady
        }
        // A slope smaller than its own standard error (t² = R²(n-2)/(1-R²) below 1): the points
        // scatter more than they climb, and a series that only wobbles is not growing.
        if sizes.count > 2 && rSquared * Double(sizes.count - 2) < 1 - rSquared { return .steady }
        if recentSlope >= growingRatio * slope { return .grows }
        // Falling at the end, and by more than a tenth of its highest: shrinking, not merely full.
        if recentSlope < 0 && Double(last) < 0.9 * Double(highest) { return .shrinks }
        if recentSlope <= plateauRatio * slope { return .plateaus }
        return .slows
    }
}
