import Analysis
import SnapshotReader

/// `memtrace trend` output: one line per group, most steadily growing first.
///
/// ```
/// # 12 snapshots of pid 4242 over 2.20 s; slope of live bytes by least squares
/// grows     trend.c:20 in leak_step: +9.1 KiB/s (R²=1.00, last third +9.1 KiB/s), size=24.0 KiB (+22.0 KiB), count=12 (+11)
/// plateaus  trend.c:31 in cache_put: +11.6 KiB/s (R²=0.55, last third +0 B/s), size=64.0 KiB (+48.0 KiB), count=64 (+48)
/// ```
///
/// The first word is the ``Trend/Kind``; then the site, the slope in bytes per
/// second with the line's fit and the slope over the last third of the
/// snapshots, and the last snapshot's size and count with their change since
/// the first. With traceback grouping every frame follows, indented.
public enum TrendFormat {
    /// The text report.
    ///
    /// - Parameters:
    ///   - analysis: the computed trends.
    ///   - trends: the ones to print (a prefix of `analysis.trends`, or a filtered list).
    ///   - traceback: print every frame under each line.
    ///   - style: how the kind word is decorated (colour on a terminal).
    /// - Returns: lines ending in newlines.
    public static func render(
        _ analysis: TrendAnalysis, trends: [Trend], traceback: Bool,
        style: (Trend.Kind, String) -> String = { $1 }
    ) -> String {
        var out = header(analysis) + "\n"
        if trends.isEmpty { out += "# no group of live bytes grew\n" }
        for trend in trends {
            let word = trend.kind.rawValue.padding(to: 9)
            out += style(trend.kind, word) + " " + line(trend) + "\n"
            if traceback {
                out += trend.frames.map { "    " + TextFormat.describe($0) + "\n" }.joined()
            }
        }
        return out
    }

    /// `# N snapshots of pid P over T s; …`.
    public static func header(_ analysis: TrendAnalysis) -> String {
        let who = TextFormat.pids(analysis.snapshots.map(\.header.pid))
        let span = fixed(analysis.times.last ?? 0, 2)
        return "# \(analysis.snapshots.count) snapshots of \(who) over \(span) s; slope of live bytes by least squares"
    }

    /// One trend without its kind word.
    public static func line(_ trend: Trend) -> String {
        let site = LibraryFrames.site(trend.frames).map(TextFormat.describe) ?? "??"
        let size = trend.sizes.last ?? 0
        let count = trend.counts.last ?? 0
        let countGrowth = count - (trend.counts.first ?? 0)
        return "\(site): \(rate(trend.slope)) (R²=\(fixed(trend.rSquared, 2)), last third \(rate(trend.recentSlope))), "
            + "size=\(SizeFormat.format(size)) (\(SizeFormat.format(trend.growth, signed: true))), "
            + "count=\(count) (\(SizeFormat.signedCount(countGrowth)))"
    }

    /// `+9.1 KiB/s`.
    public static func rate(_ bytesPerSecond: Double) -> String {
        // -0.4 B/s would print as "-0 B/s".
        let value = abs(bytesPerSecond) < 0.5 ? 0 : bytesPerSecond
        return SizeFormat.format(value, signed: true) + "/s"
    }

    /// The JSON report: snapshots with their times, then every trend given.
    public static func json(_ analysis: TrendAnalysis, trends: [Trend], groupBy: GroupBy) -> String {
        let snapshots: [JSONFormat.Value] = zip(analysis.snapshots, analysis.times).map { snapshot, time in
            .object([
                ("path", .string(snapshot.path)), ("pid", .uint(UInt64(snapshot.header.pid))),
                ("sequence", .uint(snapshot.header.sequence)), ("time_s", .double(time)),
                ("live_bytes", .uint(snapshot.totals.liveBytes)),
            ])
        }
        let items: [JSONFormat.Value] = trends.map { trend in
            .object([
                ("kind", .string(trend.kind.rawValue)), ("slope", .double(trend.slope)),
                ("r_squared", .double(trend.rSquared)), ("recent_slope", .double(trend.recentSlope)),
                ("size", .int(trend.sizes.last ?? 0)), ("size_diff", .int(trend.growth)),
                ("count", .int(trend.counts.last ?? 0)),
                ("count_diff", .int((trend.counts.last ?? 0) - (trend.counts.first ?? 0))),
                ("sizes", .array(trend.sizes.map { .int($0) })),
                ("counts", .array(trend.counts.map { .int($0) })),
                ("frames", .array(trend.frames.map(JSONFormat.value))),
            ])
        }
        let sampled = analysis.snapshots.first { $0.header.isSampled }
        return JSONFormat.serialize(
            .object([
                ("group_by", .string(groupBy.rawValue)), ("sampled", .bool(sampled != nil)),
                ("sample_rate", .uint(sampled?.totals.sampleRate ?? 0)), ("snapshots", .array(snapshots)),
                ("trends", .array(items)),
            ])) + "\n"
    }

    /// `value` with `digits` decimals, rounded half away from zero.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        // Beyond Int64 (or not a number): only figures of a damaged file come here.
        guard (abs(value) * scale).rounded() < 9.0e18 else { return "\(value)" }  // 1e+20, inf, nan
        let scaled = Int64((abs(value) * scale).rounded())
        let whole = scaled / Int64(scale)
        var fraction = String(scaled % Int64(scale))
        while fraction.count < digits { fraction = "0" + fraction }
        return (value < 0 && scaled != 0 ? "-" : "") + "\(whole)" + (digits > 0 ? "." + fraction : "")
    }
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
