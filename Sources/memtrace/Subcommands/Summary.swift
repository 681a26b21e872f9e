import Analysis
import ArgumentParser

extension Memtrace {
    /// `memtrace summary`: totals, peak, sites at the peak and by calls, overhead, allocator cross-check.
    struct SummaryCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "summary",
            abstract:
                "Summarise a snapshot: totals, peak, top sites at the peak and by calls, tracer overhead, allocator check.",
            discussion: """
                Shows the live heap and the peak, the call counters, how much memory the tracer used for \
                itself, the sites that held the most memory at the moment of the peak (even if they freed it \
                since), the sites that called the allocator most often (where allocation costs time; \
                memtrace top --metric total --sort count lists more), the temporary allocations (blocks \
                freed by their thread before it allocated anything else; memtrace top --metric temporary), and \
                the traced bytes next to the allocator's own figure (jemalloc stats.allocated, or \
                glibc mallinfo2 uordblks + hblkhd) with their difference.

                Examples:
                  memtrace summary memtrace.leaky.4242.0.snap
                  memtrace summary app.snap --top 10
                """)

        @Argument(help: "The snapshot file.")
        var snapshot: String

        @Option(
            parsing: .unconditional, help: "How many sites to list in each ranking (at the peak, by calls, temporary).")
        var top: Int = 5

        func validate() throws {
            if top < 1 { throw ValidationError("--top must be 1 or more.") }
        }

        func run() throws {
            let traced = try loadTraced(snapshot)
            printOut(Summary(traced, top: top).render())
        }
    }
}
