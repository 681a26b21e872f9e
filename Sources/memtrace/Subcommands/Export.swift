import Analysis
import ArgumentParser
import Renderers

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

extension Memtrace {
    /// `memtrace export`: a snapshot in a format other tools read.
    struct Export: ParsableCommand {
        enum Format: String, ExpressibleByArgument, CaseIterable {
            case pprof, folded, speedscope, massif, json
        }

        static let configuration = CommandConfiguration(
            abstract: "Write a snapshot as pprof, folded stacks, speedscope JSON, Massif's format or plain JSON.",
            discussion: """
                pprof: a gzipped profile.proto with the heap profile's four sample types (alloc_objects, \
                alloc_space, inuse_objects, inuse_space; inuse_space shown by default), mappings with \
                build-ids and inlined frames. go tool pprof, Pyroscope, Parca and Grafana read it.
                folded: `root;caller;leaf BYTES` lines for flamegraph.pl and inferno.
                speedscope: a file for speedscope.app (live bytes, bytes at the peak, bytes allocated, and \
                bytes allocated temporarily unless sampled).
                massif: a massif.out file for ms_print and massif-visualizer: the heap over time, and the \
                trees of call stacks at the peak and at the snapshot.
                json: every stack with its figures and frames, and the timeline.

                --metric chooses the bytes of folded stacks and the profile speedscope shows first: live \
                (the default), peak (held at the moment of the peak), total (ever allocated) or temporary \
                (freed before the thread's next allocation; not in sampled snapshots). json always carries \
                every figure, pprof all but temporary. Without -o the result goes to standard output.

                Examples:
                  memtrace export app.snap --format pprof -o app.pb.gz && go tool pprof -top app.pb.gz
                  memtrace export app.snap --format folded | flamegraph.pl --countname bytes > live.svg
                  memtrace export app.snap --format speedscope -o app.speedscope.json
                  memtrace export app.snap --format massif -o massif.out.app && ms_print massif.out.app
                  memtrace export app.snap --format json | jq '.stacks[0]'
                """)

        @Argument(help: "The snapshot file.")
        var snapshot: String

        @Option(help: "pprof, folded, speedscope, massif or json.")
        var format: Format

        @Option(
            name: .shortAndLong,
            help: ArgumentHelp(
                "The file to write; - (the default) is standard output.", valueName: "FILE"))
        var output: String = "-"

        @Option(help: "Which bytes folded stacks count: live, peak, total or temporary.")
        var metric: Metric = .live

        @OptionGroup var filterOptions: FilterOptions

        func validate() throws {
            try requireOutputName(output)
            if isSameFile(output, snapshot) {
                throw ValidationError("-o must name another file than the snapshot.")
            }
            if format == .pprof && output == "-" && isatty(1) != 0 {
                throw ValidationError("pprof is binary: give -o FILE or redirect standard output.")
            }
            if format == .pprof && !filterOptions.filters.isEmpty {
                throw ValidationError(
                    "--include/--exclude do not apply to pprof: use go tool pprof's -focus and -ignore.")
            }
        }

        func run() throws {
            let filters = filterOptions.filters
            switch format {
            case .pprof:
                let (traced, resolver) = try loadSymbolized(snapshot)
                let bytes = try PprofFormat.render(
                    traced.snapshot, resolver: resolver,
                    comments: [
                        "memtrace snapshot \(snapshot), "
                            + (traced.snapshot.mergedFrom
                                ?? "pid \(traced.snapshot.header.pid)")
                    ])
                try writeOutput(bytes, to: output)
            case .folded:
                let traced = try loadTraced(snapshot) { try checkMetric(metric, $0) }
                try writeOutput(FoldedFormat.render(traced, metric: metric, filters: filters), to: output)
            case .speedscope:
                let traced = try loadTraced(snapshot) { try checkMetric(metric, $0) }
                try writeOutput(
                    SpeedscopeFormat.render(traced, name: snapshot, metric: metric, filters: filters),
                    to: output)
            case .massif:
                let traced = try loadTraced(snapshot)
                let description = "memtrace export \(snapshot) --format massif"
                try writeOutput(MassifFormat.render(traced, description: description, filters: filters), to: output)
            case .json:
                let traced = try loadTraced(snapshot)
                try writeOutput(to: output) { emit in
                    JSONExport.write(traced, filters: filters) { emit(Array($0.utf8)) }
                }
            }
        }
    }
}
