import Analysis
import ArgumentParser
import Renderers

extension Memtrace {
    /// `memtrace diff`: tracemalloc's `Snapshot.compare_to`.
    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what grew and shrank between two snapshots.",
            discussion: """
                Compares NEW with OLD as Python's tracemalloc.Snapshot.compare_to() does. Every group of \
                either snapshot is listed: grown, shrunk, unchanged (+0), new, and vanished (size=0 B), sorted \
                by the size of the change:

                  examples/leaky.c:47 in record_event: size=14.1 KiB (+9600 B), count=300 (+200), average=48 B

                Sites are matched by their symbolized frames (module file name, function, file, line), not by \
                addresses, so snapshots of two separate runs compare correctly.

                With --fail-on-growth SIZE the command exits with status 1 when the total growth after filters \
                (new total minus old total) exceeds SIZE: 4096, 10KiB, 1.5MiB (powers of 1024), 1MB (powers \
                of 1000).

                With --metric total both snapshots count every allocation up to them, released or not: between \
                two snapshots of one run the change is what each site allocated in between; between runs of two \
                builds, --fail-on-growth becomes a budget on how much more the new build allocates.

                --format folded writes `root;…;leaf OLD NEW` lines for every stack of either snapshot \
                (difffolded.pl's form): flamegraph.pl draws them as a differential flame graph. For pprof, \
                export both snapshots and give the older as the base: \
                go tool pprof -diff_base old.pb.gz new.pb.gz.

                Examples:
                  memtrace diff before.snap after.snap
                  memtrace diff run1.snap run2.snap --by traceback --limit 5
                  memtrace diff base.snap pr.snap --exclude 'libpython*' --fail-on-growth 64KiB
                  memtrace diff base.snap pr.snap --metric total --sort count --limit 5
                  memtrace diff before.snap after.snap --format folded | flamegraph.pl > growth.svg
                """)

        @Argument(help: "The earlier snapshot.")
        var old: String

        @Argument(help: "The later snapshot.")
        var new: String

        @OptionGroup var options: ReportOptions

        @Option(
            parsing: .unconditional,
            help: ArgumentHelp(
                "Exit with status 1 when the total growth exceeds SIZE.", valueName: "SIZE"))
        var failOnGrowth: String?

        func validate() throws {
            if let failOnGrowth, SizeFormat.parse(failOnGrowth) == nil {
                throw ValidationError(
                    "--fail-on-growth: '\(failOnGrowth)' is not a size (examples: 4096, 10KiB, 1MB).")
            }
        }

        func run() throws {
            let (oldTraced, newTraced) = try loadTracedPair(old: old, new: new) { try checkMetric(options.metric, $0) }
            let diffs = try newTraced.compare(to: oldTraced, options.statisticsOptions)
            let newTotal = newTraced.total(filters: options.filters, metric: options.metric)
            let oldTotal = oldTraced.total(filters: options.filters, metric: options.metric)
            let growth = newTotal.size - oldTotal.size
            switch options.format {
            case .text:
                printOut { emit in
                    emit(sampledNote([oldTraced, newTraced]) + options.metricNote)
                    // Pieces of whole lines, painted line by line.
                    TextFormat.write(diffs, traceback: options.by == .traceback, source: options.sourceLines) {
                        emit(Terminal.paintChanges($0))
                    }
                }
            case .json:
                let extra: [(String, JSONFormat.Value)] =
                    options.jsonExtras(newTraced) + [
                        (
                            "total",
                            .object([
                                ("size", .int(newTotal.size)), ("count", .int(newTotal.count)),
                                ("size_diff", .int(growth)),
                                ("count_diff", .int(newTotal.count - oldTotal.count)),
                            ])
                        ),
                        ("old", .string(old)), ("new", .string(new)),
                    ]
                printOut { emit in JSONFormat.write(diffs, extra: extra, emit: emit) }
            case .folded:
                printOut(
                    FoldedFormat.renderDiff(
                        old: oldTraced, new: newTraced, metric: options.metric, filters: options.filters))
            }
            if let failOnGrowth, let limit = SizeFormat.parse(failOnGrowth), growth > 0,
                UInt64(growth) > limit
            {
                let measured = options.metric == .live ? "" : " of --metric \(options.metric.rawValue)"
                throw CLIError(
                    "total growth \(Self.describe(growth))\(measured) exceeds --fail-on-growth \(failOnGrowth) (\(limit) B)",
                    status: 1)
            }
        }

        /// `+9600 B`, or `+139 KiB (142336 B)` from 10 KiB on.
        static func describe(_ growth: Int64) -> String {
            let exact = "+\(growth) B"
            return growth < 10 * 1024 ? exact : "\(SizeFormat.format(growth, signed: true)) (\(growth) B)"
        }
    }
}
