import Analysis
import ArgumentParser
import Renderers

extension Memtrace {
    /// `memtrace report`: one self-contained HTML file to look at snapshots with.
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write an HTML report: flame graph, top sites, heap over time, growth.",
            discussion: """
                Writes one HTML file that needs nothing else (no network, no other files): the program and \
                its figures, an interactive flame graph of the live bytes of the latest snapshot (click to \
                zoom, search, hover for details), the top allocation sites, a chart of the live heap, its \
                peak and the process's RSS over the run (from the snapshot's timeline, recorded every \
                MEMTRACE_TIMELINE seconds), and with two or more snapshots what grew from the first to the \
                last, as a table and as a flame graph of the growth. Snapshots are taken in time order.

                Examples:
                  memtrace report memtrace.server.4242.3.snap -o report.html
                  memtrace report memtrace.server.4242.*.snap -o growth.html && xdg-open growth.html
                """)

        @Argument(help: "One or more snapshots; the latest is drawn, the first and last are compared.")
        var snapshots: [String] = []

        @Option(
            name: .shortAndLong,
            help: ArgumentHelp("The HTML file to write; - is standard output.", valueName: "FILE"))
        var output: String

        @Option(parsing: .unconditional, help: "Rows in the tables of sites and growth.")
        var top: Int = 25

        func validate() throws {
            try requireOutputName(output)
            if snapshots.isEmpty { throw ValidationError("Give at least one snapshot.") }
            if top < 1 { throw ValidationError("--top must be 1 or more.") }
            if snapshots.contains(where: { isSameFile(output, $0) }) {
                throw ValidationError("-o must name another file than the snapshots.")
            }
        }

        func run() throws {
            let traced = try loadTracedMany(snapshots)
            warnOfSeveralProcesses(traced.map(\.snapshot), "the report's timeline, growth and trends expect one run")
            warnOfAHeapFreedAtExit(traced.map(\.snapshot))
            try writeOutput(try HTMLReport.render(traced, topSites: top, source: SourceLines()), to: output)
        }
    }
}
