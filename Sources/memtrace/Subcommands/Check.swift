import Analysis
import ArgumentParser
import SnapshotReader

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

extension Memtrace {
    /// `memtrace check`: runs a program traced, scans its heap for leaks at exit, passes or fails.
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a program traced and fail when it leaks, like LeakSanitizer without a rebuild.",
            discussion: """
                Runs CMD with libtrace.so preloaded and MEMTRACE_LEAKS=1: when each process exits, the \
                tracer scans its memory for pointers to the blocks still live and classifies them as \
                valgrind memcheck does (definite: nothing points to it; indirect: only leaked blocks do; \
                possible: only pointers into its middle; reachable: still pointed to). memtrace then \
                reports the leaks of every process that wrote an exit snapshot, grouped by allocation \
                stack, biggest first, the blocks the program wrote one byte past the end of (heap \
                overruns, which fail the check unless --allow-overruns) and the blocks it released \
                otherwise than it allocated them (free of new, delete of new[], delete of malloc, a \
                sized delete of the wrong size...: mismatched releases, which fail the check unless \
                --allow-mismatches), and exits:

                  CMD's own status  when CMD failed (non-zero, or 128 + N when signal N killed it)
                  23                when leaks of --kinds exceed --max-leak bytes, or a heap overrun or
                                    a mismatched release was found (see --exit-code)
                  0                 otherwise
                  2                 when CMD exited 0 but wrote no exit snapshot to check (it made the
                                    exit_group system call itself, as Go's runtime does, or is
                                    statically linked) or a snapshot is unreadable

                Suppressions use LeakSanitizer's format, one leak:PATTERN a line, matched against the \
                function, source file or module of any frame of the allocation stack (* matches \
                anything; ^ and $ anchor; otherwise the pattern matches anywhere). Built-in rules hide \
                what libc, the loader and libstdc++ allocate once and keep (docs/leaks.md lists them).

                The report goes to standard error (as LeakSanitizer's and memcheck's do) unless \
                --report-file is given. Snapshots go to a temporary directory that is removed \
                afterwards, unless --output gives a pattern to keep them under.

                Examples:
                  memtrace check -- ./unit-tests
                  memtrace check --max-leak 1KiB --kinds definite -- ./server --selftest
                  memtrace check --suppressions lsan.supp --format json --report-file leaks.json -- ./app
                """)

        @Option(
            parsing: .unconditional,
            help: ArgumentHelp(
                "Fail when more than SIZE bytes leak (default 0: any leaked block fails; 10KiB, 1MB... accepted).",
                valueName: "SIZE"))
        var maxLeak: String = "0"

        @Option(
            help: ArgumentHelp(
                "Kinds that count as leaks, comma-separated: definite, indirect, possible, reachable, or all.",
                valueName: "KINDS"))
        var kinds: String = "definite,indirect"

        @Option(
            name: .customLong("suppressions"), parsing: .singleValue,
            help: ArgumentHelp("A LeakSanitizer-style suppressions file (repeatable).", valueName: "FILE"))
        var suppressionFiles: [String] = []

        @Flag(help: "Do not apply the built-in suppressions for libc, the loader and libstdc++.")
        var noBuiltinSuppressions = false

        @Flag(help: "Report heap overruns (blocks written one byte past their end) without failing on them.")
        var allowOverruns = false

        @Flag(
            help:
                "Report mismatched releases (free of a block of new, delete of new[] or of malloc...) without failing on them."
        )
        var allowMismatches = false

        @Option(help: "Report format: text or json.")
        var format: LeakReportFormat = .text

        @Flag(help: "Text report: under each frame, its line of source, when the file is on this machine.")
        var source = false

        @Option(help: ArgumentHelp("Write the report to FILE (- for standard output).", valueName: "FILE"))
        var reportFile: String?

        @Option(
            parsing: .unconditional,
            help: ArgumentHelp("The exit status when the check fails (default 23).", valueName: "N"))
        var exitCode: Int32 = 23

        @Option(
            name: .shortAndLong,
            help: ArgumentHelp(
                "Keep the snapshots, named by this pattern (as memtrace run --output).", valueName: "PATTERN"))
        var output: String?

        @OptionGroup var traced: TracedProgramOptions

        var program: [String] { traced.program }

        func validate() throws {
            try traced.validate(self, usage: "memtrace check [OPTIONS] -- CMD [ARGS...]")
            try requireOutputName(output)
            _ = try parsedKinds()
            guard SizeFormat.parse(maxLeak) != nil else {
                throw ValidationError("--max-leak: '\(maxLeak)' is not a size (examples: 0, 512, 10KiB, 1MB).")
            }
            guard (1...255).contains(exitCode) else {
                throw ValidationError("--exit-code must be between 1 and 255.")
            }
            if source && format != .text { throw ValidationError("--source applies to the text report only.") }
        }

        func parsedKinds() throws -> Set<LeakKind> {
            var result = Set<LeakKind>()
            for word in kinds.split(separator: ",").map({ $0.trimmingCharacters() }) {
                if word == "all" {
                    result.formUnion(LeakKind.allCases)
                } else if let kind = LeakKind(name: word) {
                    result.insert(kind)
                } else {
                    throw ValidationError(
                        "--kinds: unknown kind \"\(word)\" (use definite, indirect, possible, reachable or all).")
                }
            }
            if result.isEmpty { throw ValidationError("--kinds needs at least one kind.") }
            return result
        }

        func run() throws {
            let kinds = try parsedKinds()
            let limit = Int64(clamping: SizeFormat.parse(maxLeak) ?? 0)
            // Suppression files are read first: a typo in one should not cost a whole run.
            var rules: [LeakSuppression] = []
            for file in suppressionFiles { rules += try cliError { try LeakSuppression.load(path: file) } }
            if !noBuiltinSuppressions { rules += LeakSuppression.builtIn }

            var environment = try traced.preloading(currentEnvironment())
            let scratch = output == nil ? try makeScratchDirectory() : nil
            defer { if let scratch { removeScratchDirectory(scratch) } }
            let pattern = OutputPattern(output ?? scratch! + "/%e.%p.%n.snap", relativeTo: currentDirectory())
            environment["MEMTRACE_OUTPUT"] = pattern.pattern
            environment["MEMTRACE_LEAKS"] = "1"
            // A leak check needs every block, and a snapshot at exit.
            environment["MEMTRACE_BLOCKS"] = "1"
            environment["MEMTRACE_AT_EXIT"] = "1"
            // The report below names the sites of overruns and mismatched releases with their
            // symbols; the tracer's own lines at exit would give the same stacks by address.
            environment["MEMTRACE_OVERRUN_REPORT"] = "0"
            for variable in ["MEMTRACE_SAMPLE", "MEMTRACE_DISABLE"] { environment[variable] = nil }

            if let why = whyNotTraceable(program[0], environment: environment) { throw CLIError(why, status: 2) }
            let unpreloadable = warnIfNotPreloadable(program[0], environment: environment)
            let started = realtimeNanoseconds() - 50_000_000
            var childPID: Int32 = 0
            let ending = try Launcher.run(program, environment: environment) { childPID = $0 }

            let snapshots = try exitSnapshots(pattern: pattern, since: started)
            var reports: [LeakReport] = []
            for snapshot in snapshots {
                let traced = try loadTraced(snapshot.path)
                reports.append(try cliError { try LeakReport(traced, suppressions: rules) })
            }
            // The program's own process first, then the others by pid.
            reports.sort { a, b in
                let (x, y) = (a.snapshot.header.pid, b.snapshot.header.pid)
                if (x == UInt32(childPID)) != (y == UInt32(childPID)) { return x == UInt32(childPID) }
                return x < y
            }
            // No report that would pass for want of a single traced allocation.
            if ending.status == 0, let own = reports.first(where: { $0.snapshot.header.pid == UInt32(childPID) }),
                let untraced = own.snapshot.untracedAllocator
            {
                throw CLIError("\(program[0]) (pid \(childPID)) could not be checked: \(untraced)")
            }
            let verdict = LeakVerdict(
                reports, kinds: kinds, maxLeak: limit, failsOnOverruns: !allowOverruns,
                failsOnMismatches: !allowMismatches)
            if !reports.isEmpty {
                let text =
                    format == .json
                    ? LeakFormat.json(reports, verdict: verdict, showPaths: scratch == nil)
                    : LeakFormat.text(
                        reports, verdict: verdict, showPaths: scratch == nil, source: source ? SourceLines() : nil)
                if let reportFile {
                    try writeOutput(text, to: reportFile)
                } else {
                    writeError(text)
                }
            }
            if ending.status != 0 {
                printError("memtrace: \(program[0]) (pid \(childPID)) \(ending.description): its status wins")
                throw ExitCode(ending.status)
            }
            guard reports.contains(where: { $0.snapshot.header.pid == UInt32(childPID) }) else {
                let reason =
                    unpreloadable ?? Run.unwritableDirectory(pattern)
                    ?? "a program that makes the exit_group system call itself, as Go's runtime does, writes none"
                throw CLIError(
                    "\(program[0]) (pid \(childPID)) wrote no exit snapshot, so its leaks could not be checked (\(reason))"
                )
            }
            if verdict.failed { throw ExitCode(exitCode) }
        }

        /// The last exit snapshot of every process, in pid order.
        func exitSnapshots(pattern: OutputPattern, since: UInt64) throws -> [SnapshotReader.Snapshot] {
            var byPID: [UInt32: SnapshotReader.Snapshot] = [:]
            for path in pattern.existingFiles(since: since) {
                let snapshot = try SnapshotFile.read(path: path)
                guard snapshot.header.trigger == .exit else { continue }
                byPID[snapshot.header.pid] = snapshot
            }
            return byPID.keys.sorted().map { byPID[$0]! }
        }
    }
}

/// Report formats of `memtrace check`.
enum LeakReportFormat: String, ExpressibleByArgument, CaseIterable {
    case text
    case json
}

/// Runs `body`, turning an ``AnalysisError`` into a ``CLIError`` (status 2).
private func cliError<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as AnalysisError {
        throw CLIError(error.description)
    }
}

/// A new private directory for the snapshots of one check.
private func makeScratchDirectory() throws -> String {
    var base = currentEnvironment()["TMPDIR"] ?? "/tmp"
    if base.isEmpty { base = "/tmp" }
    var template = Array((base + "/memtrace-check.XXXXXX").utf8CString)
    guard mkdtemp(&template) != nil else {
        throw CLIError("cannot create a directory in \(base): \(String(cString: strerror(errno)))")
    }
    return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

/// Removes the files of a scratch directory, then the directory.
private func removeScratchDirectory(_ path: String) {
    for name in directoryNames(path) { unlink(path + "/" + name) }
    rmdir(path)
}

/// Writes `text` to standard error as is.
private func writeError(_ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let count = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { return }
        bytes = bytes.dropFirst(count)
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
