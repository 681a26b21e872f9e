import Analysis
import ArgumentParser

extension Metric: ExpressibleByArgument {}

/// `--include`, `--exclude` and `--all-frames`: tracemalloc's Filter, shared by every command that reads stacks.
struct FilterOptions: ParsableArguments {
    @Option(
        name: .customLong("include"), parsing: .singleValue,
        help: ArgumentHelp(
            "Keep only blocks whose site's file, function or module matches GLOB (repeatable; FILE:LINE also matches the line).",
            valueName: "GLOB"))
    var includes: [String] = []

    @Option(
        name: .customLong("exclude"), parsing: .singleValue,
        help: ArgumentHelp(
            "Drop blocks whose site's file, function or module matches GLOB (repeatable).",
            valueName: "GLOB"))
    var excludes: [String] = []

    @Flag(help: "Filters examine every frame of the stack, not only the site.")
    var allFrames = false

    var filters: [TraceFilter] {
        includes.map { TraceFilter(parsing: $0, inclusive: true, allFrames: allFrames) }
            + excludes.map { TraceFilter(parsing: $0, inclusive: false, allFrames: allFrames) }
    }
}
