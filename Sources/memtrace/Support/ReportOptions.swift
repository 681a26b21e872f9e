import Analysis
import ArgumentParser
import SnapshotReader

extension GroupBy: ExpressibleByArgument {}
extension SortKey: ExpressibleByArgument {}

/// Output formats of `top` and `diff`.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text
    case json
    /// Folded stacks of live bytes (`top`), or the two-column old/new form (`diff`).
    case folded
}

/// Output formats of the commands that have no folded form (`trend`).
enum TextOrJSON: String, ExpressibleByArgument, CaseIterable {
    case text
    case json
}

/// The options `top` and `diff` share: tracemalloc's key type, cumulative mode, filters, limit,
/// format, and which figures to rank.
struct ReportOptions: ParsableArguments {
    @Option(name: .long, help: "Group by lineno, function, file, module or traceback.")
    var by: GroupBy = .lineno

    @Option(
        help: """
            Which blocks to count: live (when the snapshot was taken), peak (held at the moment of the \
            peak), total (every allocation of the run so far, released or not) or temporary (released by \
            free in their thread before it allocated anything else).
            """)
    var metric: Metric = .live

    @Option(help: "Rank by size (bytes, then blocks) or count (blocks, then bytes).")
    var sort: SortKey = .size

    @Flag(
        help:
            "Count a block for every distinct site of its stack, not only the innermost (not with --by traceback)."
    )
    var cumulative = false

    @Option(parsing: .unconditional, help: "Show at most N groups; 0 shows all.")
    var limit: Int = 10

    @Flag(
        help:
            "Text output: under each site (each frame with --by traceback), its line of source, when the file is on this machine."
    )
    var source = false

    @OptionGroup var filterOptions: FilterOptions

    @Option(
        help:
            "Output format: text, json, or folded (stacks for flamegraph.pl; --by, --cumulative and --limit do not apply)."
    )
    var format: OutputFormat = .text

    func validate() throws {
        if cumulative && by == .traceback {
            throw ValidationError("--cumulative cannot be combined with --by traceback.")
        }
        if limit < 0 { throw ValidationError("--limit must be 0 (all) or more.") }
        if source && format != .text { throw ValidationError("--source applies to text output only.") }
    }

    /// The source lines to show, with --source.
    var sourceLines: SourceLines? { source ? SourceLines() : nil }

    var filters: [TraceFilter] {
        filterOptions.filters
    }

    var statisticsOptions: StatisticsOptions {
        StatisticsOptions(
            groupBy: by, cumulative: cumulative, filters: filters, metric: metric, sortBy: sort, limit: limit)
    }

    /// JSON fields describing the report, after `stats`.
    func jsonExtras(_ snapshot: TracedSnapshot) -> [(String, JSONFormat.Value)] {
        [
            ("group_by", .string(by.rawValue)), ("cumulative", .bool(cumulative)),
            ("metric", .string(metric.rawValue)), ("sort", .string(sort.rawValue)),
            ("sampled", .bool(snapshot.snapshot.header.isSampled)),
            ("sample_rate", .uint(snapshot.snapshot.totals.sampleRate)),
        ]
    }

    /// The line text output starts with when the figures are not live blocks.
    var metricNote: String {
        switch metric {
        case .live: ""
        case .peak: "# blocks held at the moment of the peak (--metric peak)\n"
        case .total: "# every allocation of the run up to the snapshot, released or not (--metric total)\n"
        case .temporary:
            "# blocks their thread freed before it allocated anything else (--metric temporary)\n"
        }
    }

}

/// Throws when `metric` asks for figures one of `snapshots` does not hold (a sampled snapshot
/// counts no temporary allocations).
func checkMetric(_ metric: Metric, _ snapshot: SnapshotReader.Snapshot) throws {
    guard metric == .temporary, !snapshot.countsTemporary else { return }
    let why =
        snapshot.header.isSampled
        ? "the snapshot is sampled (a sampled thread's last recorded block is not its last allocation)"
        : "the snapshot has no TEMPORARY section"
    throw CLIError("\(snapshot.path): temporary allocations are not counted: \(why)", status: 2)
}

/// Warns when `snapshots` come from more than one process, for a command that reads them as
/// one run (`expectation` says what expects that).
func warnOfSeveralProcesses(_ snapshots: [SnapshotReader.Snapshot], _ expectation: String) {
    guard Set(snapshots.map(\.header.pid)).count > 1 else { return }
    printError("memtrace: warning: the snapshots come from more than one process; \(expectation)")
}

/// A warning when the latest of several snapshots of one process is its exit snapshot, taken
/// after the program freed most of its heap as it ended (python3 and sqlite3 do): a line
/// through it, or a growth from the first snapshot to it, says nothing grew.
func warnOfAHeapFreedAtExit(_ snapshots: [SnapshotReader.Snapshot]) {
    let ordered = snapshots.sorted {
        ($0.header.snapshotTimeNs, $0.header.sequence) < ($1.header.snapshotTimeNs, $1.header.sequence)
    }
    guard ordered.count >= 3, Set(ordered.map(\.header.pid)).count == 1, let last = ordered.last,
        last.header.trigger == .exit, let highest = ordered.dropLast().map(\.totals.liveBytes).max(),
        last.totals.liveBytes < highest / 2
    else { return }
    printError(
        "memtrace: warning: the latest snapshot, \(last.path), was taken at exit, with \(SizeFormat.format(last.totals.liveBytes)) "
            + "live where an earlier one had \(SizeFormat.format(highest)): leave it out to see what grew while the program ran"
    )
}

/// The line text output starts with when figures are sampled.
func sampledNote(_ snapshots: [TracedSnapshot]) -> String {
    guard let sampled = snapshots.first(where: { $0.snapshot.header.isSampled }) else { return "" }
    let rate = sampled.snapshot.totals.sampleRate
    let mean = rate > 0 ? " (one sample per \(SizeFormat.format(rate)) on average)" : ""
    return "# sampled snapshot\(mean): sizes and counts are estimates scaled up from the sampled blocks\n"
}
