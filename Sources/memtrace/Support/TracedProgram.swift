import ArgumentParser

/// What `memtrace run` and `memtrace check` share: the program to run after `--`, the tracer
/// library to preload, and whether jemalloc allocates under it.
struct TracedProgramOptions: ParsableArguments {
    @Flag(
        help:
            "Allocate with Debian's jemalloc (preloaded after the tracer), so its statistics cross-check the traced figures."
    )
    var jemalloc = false

    @Option(
        help: ArgumentHelp(
            "The tracer library to preload (default: MEMTRACE_LIB, or libtrace.so next to memtrace).",
            valueName: "PATH"))
    var lib: String?

    @Argument(
        parsing: .captureForPassthrough,
        help: ArgumentHelp("The program and its arguments, after --.", valueName: "CMD"))
    var command: [String] = []

    static let jemallocPath: String = {
        #if arch(arm64)
            "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2"
        #else
            "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
        #endif
    }()

    /// The program and its arguments, without the `--` that may precede them.
    var program: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

    /// Everything after the options is the program's, so `--help` has to be caught by the
    /// command (`command`), and a missing program named with the command's `usage`.
    func validate<Command: ParsableCommand>(_ command: Command, usage: String) throws {
        if let first = self.command.first, ["-h", "--help", "-help"].contains(first) {
            throw CleanExit.helpRequest(command)
        }
        if program.isEmpty { throw ValidationError("Missing the program to run: \(usage)") }
    }

    /// `environment` with LD_PRELOAD naming the tracer first, then jemalloc when asked for,
    /// then whatever the environment preloaded already.
    func preloading(_ environment: [String: String]) throws -> [String: String] {
        var preload = [try locateTracer(lib: lib, environment: environment)]
        if jemalloc {
            guard isFile(Self.jemallocPath) else {
                throw CLIError("--jemalloc: \(Self.jemallocPath) is missing (apt-get install libjemalloc2)")
            }
            preload.append(Self.jemallocPath)
        }
        if let existing = environment["LD_PRELOAD"], !existing.isEmpty { preload.append(existing) }
        var result = environment
        result["LD_PRELOAD"] = preload.joined(separator: " ")
        return result
    }
}
