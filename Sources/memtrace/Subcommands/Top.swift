import Analysis
import ArgumentParser
import Renderers

extension Memtrace {
    /// `memtrace top`: tracemalloc's `Snapshot.statistics`.
    struct Top: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the sites holding the most live memory in a snapshot.",
            discussion: """
                Groups the snapshot's live blocks by site, as Python's tracemalloc.Snapshot.statistics() does, \
                and prints the largest groups first (by size, then count):

                  examples/leaky.c:33 in make_list: size=62.5 KiB, count=1000, average=64 B

                A site is the program's line that asked for memory: the tracer's, malloc's and operator new's \
                own frames are never shown, and the standard libraries' (libc, libstdc++ and its headers, \
                Rust's std, Swift's) are passed over, so a std::vector, a Vec or an Array growing is at the \
                line that grew it; --by traceback shows them. --by file and --by function show line 0, as \
                tracemalloc does for a file group.

                --metric peak ranks what each site held at the moment of the peak; --metric total ranks \
                everything each site allocated, released or not (with --sort count: the sites that call the \
                allocator most often, where allocation costs time); --metric temporary ranks the blocks their \
                thread freed before it allocated anything else (not counted in sampled snapshots).

                Examples:
                  memtrace top memtrace.leaky.4242.0.snap
                  memtrace top app.snap --by traceback --limit 3
                  memtrace top app.snap --by traceback --source --limit 1
                  memtrace top app.snap --by function --cumulative --include 'src/*' --exclude '*test*'
                  memtrace top app.snap --metric total --sort count
                  memtrace top app.snap --format json | jq '.stats[0].frames[0]'
                  memtrace top app.snap --format folded | flamegraph.pl --countname bytes > live.svg
                """)

        @Argument(help: "The snapshot file.")
        var snapshot: String

        @OptionGroup var options: ReportOptions

        func run() throws {
            let traced = try loadTraced(snapshot) { try checkMetric(options.metric, $0) }
            let stats = try traced.statistics(options.statisticsOptions)
            switch options.format {
            case .text:
                printOut { emit in
                    emit(sampledNote([traced]) + options.metricNote)
                    TextFormat.write(
                        stats, traceback: options.by == .traceback, source: options.sourceLines, emit: emit)
                }
            case .json:
                let total = traced.total(filters: options.filters, metric: options.metric)
                let extra: [(String, JSONFormat.Value)] =
                    options.jsonExtras(traced) + [
                        ("total", .object([("size", .int(total.size)), ("count", .int(total.count))])),
                        ("snapshot", .string(snapshot)),
                    ]
                printOut { emit in JSONFormat.write(stats, extra: extra, emit: emit) }
            case .folded:
                printOut(FoldedFormat.render(traced, metric: options.metric, filters: options.filters))
            }
        }
    }
}
