import Analysis
import ArgumentParser
import Renderers

extension Memtrace {
    /// `memtrace trend`: which stacks grow steadily over periodic snapshots of one run.
    struct TrendCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "trend",
            abstract: "Rank stacks by how steadily their live bytes grow over snapshots of one run.",
            discussion: """
                Give three or more snapshots of one run (MEMTRACE_INTERVAL, memtrace run --interval, \
                memtrace snapshot PID, or memtrace_snapshot() calls), in any order: they are put in the \
                order they were taken. For each stack, a least-squares line through its live bytes over \
                time gives the slope (bytes per second) and the fit (R², 1 when the points lie on the \
                line). The slope over the last third of the snapshots separates a leak from a cache:

                  grows      still growing at the end at least half as fast as overall: a leak, or \
                something without a bound
                  slows      still growing, but slower
                  plateaus   grew, then stopped (last-third slope at most a tenth): a cache or pool that \
                filled up
                  shrinks    falling at the end

                Stacks are ranked by kind, then by slope × R²:

                  grows     trend.c:28 in leak_step: +39.4 KiB/s (R²=1.00, last third +38.4 KiB/s), \
                size=80.0 KiB (+78.0 KiB), count=40 (+39)

                Only growing kinds are listed unless --all is given.

                Examples:
                  memtrace run --interval 1 -- ./server
                  memtrace trend memtrace.server.4242.*.snap
                  memtrace trend *.snap --by lineno --limit 3
                  memtrace trend *.snap --format json | jq '.trends[] | select(.kind == "grows")'
                """)

        @Argument(help: "The snapshots, three or more, of one run.")
        var snapshots: [String] = []

        @Option(help: "Group by traceback (the default), lineno, function, file or module.")
        var by: GroupBy = .traceback

        @Option(parsing: .unconditional, help: "Show at most N stacks; 0 shows all.")
        var limit: Int = 10

        @Flag(help: "Also list stacks that shrank or did not grow.")
        var all = false

        @OptionGroup var filterOptions: FilterOptions

        @Option(help: "Output format: text or json.")
        var format: TextOrJSON = .text

        func validate() throws {
            if limit < 0 { throw ValidationError("--limit must be 0 (all) or more.") }
            if snapshots.count < 3 {
                throw ValidationError(
                    "trend needs at least 3 snapshots of one run (got \(snapshots.count)).")
            }
            if let repeated = repeatedFile(in: snapshots) {
                throw ValidationError("\(repeated) is given twice: each snapshot is one step of the run.")
            }
        }

        func run() throws {
            let traced = try loadTracedMany(snapshots)
            let analysis = try TrendAnalysis(
                traced, options: StatisticsOptions(groupBy: by, filters: filterOptions.filters))
            var trends = analysis.trends
            if !all { trends = trends.filter { [.grows, .slows, .plateaus].contains($0.kind) } }
            if limit > 0 { trends = Array(trends.prefix(limit)) }
            warnOfSeveralProcesses(analysis.snapshots, "trend expects one run")
            warnOfAHeapFreedAtExit(analysis.snapshots)
            switch format {
            case .json:
                printOut(TrendFormat.json(analysis, trends: trends, groupBy: by))
            case .text:
                printOut(
                    sampledNote(traced)
                        + TrendFormat.render(analysis, trends: trends, traceback: by == .traceback) { kind, word in
                            switch kind {
                            case .grows: Terminal.paint(word, .red)
                            case .slows: Terminal.paint(word, .yellow)
                            case .plateaus: Terminal.paint(word, .cyan)
                            case .shrinks: Terminal.paint(word, .green)
                            case .steady: word
                            }
                        })
            }
        }
    }
}
