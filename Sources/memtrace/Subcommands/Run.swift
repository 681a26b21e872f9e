import Analysis
import ArgumentParser
import Foundation
import SnapshotReader

extension Memtrace {
    /// `memtrace run`: runs a program under libtrace.so.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a program with the tracer preloaded and report what it allocated.",
            discussion: """
                Sets LD_PRELOAD to libtrace.so (found next to the memtrace executable, or given by --lib or \
                MEMTRACE_LIB), runs CMD with its standard streams, and when it ends prints the peak heap, the \
                heap live at exit, the number of allocation calls and the snapshot files written (the \
                program's own and those of its children) to standard error. The exit status is CMD's (128 + \
                the signal number when a signal killed it). SIGINT and SIGTERM sent to memtrace are passed on (those \
                memtrace was started ignoring stay ignored, for CMD too). A \
                program that a signal ends (SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGALRM…) or _exit() still writes \
                a last snapshot before it dies.

                The output pattern may use %p (pid), %n (the process's snapshot number), %e (executable name), \
                %h (host name) and %%; a relative pattern is made absolute against the current directory. The default is \
                memtrace.%e.%p.%n.snap. --output, --frames, --interval and --sample set MEMTRACE_OUTPUT, \
                MEMTRACE_FRAMES, MEMTRACE_INTERVAL and MEMTRACE_SAMPLE; other MEMTRACE_* variables \
                (docs/tracer.md) pass through.

                --sample records one allocation per SIZE bytes on average (Poisson sampling by bytes, as \
                tcmalloc, jemalloc and Go do; 512k is their usual rate) instead of every one, and scales what \
                it records so that sizes and counts are unbiased estimates (the peak, a maximum of estimates, runs \
                high): cheap enough for production.

                Examples:
                  memtrace run -- ./leaky
                  memtrace run --output /tmp/snaps/%e.%p.%n.snap --interval 0.5 -- python3 app.py
                  memtrace run --jemalloc --frames 16 -- ./server --port 8080
                  memtrace run --sample 512k -- ./server --port 8080
                """)

        @Option(
            name: .shortAndLong, help: ArgumentHelp("Snapshot file name pattern.", valueName: "PATTERN"))
        var output: String?

        @Option(
            parsing: .unconditional, help: ArgumentHelp("Frames kept per stack (1-256, default 64).", valueName: "N"))
        var frames: Int?

        @Option(
            parsing: .unconditional,
            help: ArgumentHelp(
                "Also write a snapshot every SECONDS (fractions allowed).", valueName: "SECONDS"))
        var interval: Double?

        @Option(
            parsing: .unconditional,
            help: ArgumentHelp(
                "Record one allocation per SIZE bytes on average (e.g. 512k) instead of every one.",
                valueName: "SIZE"))
        var sample: String?

        @OptionGroup var traced: TracedProgramOptions

        var program: [String] { traced.program }

        /// "524288", "512k", "512KiB", "1M", "1MiB": bytes, as the tracer reads MEMTRACE_SAMPLE; nil otherwise.
        static func sampleBytes(_ text: String) -> UInt64? {
            let units: [(String, UInt64)] = [
                ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("k", 1 << 10), ("K", 1 << 10),
                ("M", 1 << 20), ("G", 1 << 30), ("", 1),
            ]
            for (suffix, scale) in units where text.hasSuffix(suffix) {
                guard let number = UInt64(text.dropLast(suffix.count)), number > 0 else { continue }
                let (bytes, overflow) = number.multipliedReportingOverflow(by: scale)
                return overflow ? nil : bytes
            }
            return nil
        }

        func validate() throws {
            try traced.validate(self, usage: "memtrace run -- CMD [ARGS...]")
            try requireOutputName(output)
            if let frames, !(1...256).contains(frames) {
                throw ValidationError("--frames must be between 1 and 256.")
            }
            if let interval, !(interval > 0 && interval.isFinite) {
                throw ValidationError("--interval must be a positive number of seconds.")
            }
            if let sample, Self.sampleBytes(sample) == nil {
                throw ValidationError("--sample takes a size in bytes, like 524288, 512k or 1M; got '\(sample)'.")
            }
        }

        func run() throws {
            var environment = try traced.preloading(currentEnvironment())
            let cwd = currentDirectory()
            let pattern = OutputPattern(
                output ?? environment["MEMTRACE_OUTPUT"].flatMap { $0.isEmpty ? nil : $0 }
                    ?? OutputPattern.defaultPattern,
                relativeTo: cwd)
            environment["MEMTRACE_OUTPUT"] = pattern.pattern
            if let frames { environment["MEMTRACE_FRAMES"] = String(frames) }
            if let interval { environment["MEMTRACE_INTERVAL"] = String(interval) }
            if let sample, let bytes = Self.sampleBytes(sample) { environment["MEMTRACE_SAMPLE"] = String(bytes) }

            if let why = whyNotTraceable(program[0], environment: environment) { throw CLIError(why, status: 2) }
            let unpreloadable = warnIfNotPreloadable(program[0], environment: environment)
            // File times come from a coarse clock that may lag this one by a tick.
            let spawned = realtimeNanoseconds()
            let started = spawned - 50_000_000
            var childPID: Int32 = 0
            let ending = try Launcher.run(program, environment: environment) { childPID = $0 }
            report(
                pattern: pattern, since: started, spawned: spawned, pid: childPID, ending: ending,
                environment: environment, unpreloadable: unpreloadable)
            if ending.status != 0 { throw ExitCode(ending.status) }
        }

        /// "the tracer cannot write in DIR: REASON" when the directory of `pattern` is one the
        /// tracer cannot create files in; nil when it can, or when %e or %p name it (each
        /// process's own, not known here).
        static func unwritableDirectory(_ pattern: OutputPattern) -> String? {
            let directory = (pattern.pattern as NSString).deletingLastPathComponent
            guard !directory.contains("%") else { return nil }
            let path = directory.isEmpty ? "." : directory
            if access(path, W_OK | X_OK) != 0 {
                return "the tracer cannot write in \(directory): \(String(cString: strerror(errno)))"
            }
            // Writable, and full: the tracer said "No space left on device" above.
            var space = statvfs()
            if statvfs(path, &space) == 0, space.f_bavail == 0 {
                return "the file system of \(directory) is full"
            }
            return nil
        }

        /// Why no snapshot came: the settings that asked for none, an output directory the tracer
        /// could not write to (it said so above), or the ways a program ends without one.
        static func noSnapshotReason(
            pattern: OutputPattern, environment: [String: String], unpreloadable: String?, signal: Int32? = nil
        ) -> String {
            func setting(_ name: String) -> Bool? {
                guard let value = environment[name]?.lowercased() else { return nil }
                if ["0", "no", "off", "false"].contains(value) { return false }
                return ["1", "yes", "on", "true"].contains(value) ? true : nil
            }
            // The tracer reads an empty setting as none.
            if let disabled = environment["MEMTRACE_DISABLE"], !disabled.isEmpty, setting("MEMTRACE_DISABLE") != false {
                return "MEMTRACE_DISABLE=\(disabled) turns the tracer off"
            }
            if let unpreloadable { return unpreloadable }
            if let unwritable = unwritableDirectory(pattern) { return unwritable }
            if setting("MEMTRACE_AT_EXIT") == false {
                return "MEMTRACE_AT_EXIT=\(environment["MEMTRACE_AT_EXIT"]!) turns the snapshot at exit off; ask for "
                    + "snapshots with --interval, memtrace snapshot PID or memtrace_snapshot()"
            }
            if signal == SIGABRT {
                return "an abort() while the tracer was in the allocator writes none: glibc's checks abort there when "
                    + "they find the heap corrupted (free(): double free…); ask for snapshots with --interval"
            }
            return "a program killed by SIGKILL, a crash or a signal that dumps core (but SIGABRT) writes none at "
                + "exit, nor one that calls _exit() in a signal handler that interrupted an allocation, nor one that "
                + "ends with the exit_group system call itself, as Go's runtime does; ask for snapshots with --interval"
        }

        /// Prints the run's summary to standard error.
        func report(
            pattern: OutputPattern, since: UInt64, spawned: UInt64, pid: Int32, ending: Launcher.Ending,
            environment: [String: String], unpreloadable: String?
        ) {
            // Files changed since the program started (the file clock is coarse, hence the
            // margin in `since`) and written by a process whose tracing started after the
            // program did: a previous run's files in the same place are not this run's. Unless
            // the process's clock is not the machine's (faketime): its snapshot's moment is more
            // than a minute off the file's, and the file's time alone says it is this run's.
            let files = pattern.existingFiles(since: since).filter { path in
                guard let origin = snapshotOrigin(of: path) else { return false }
                return origin.tracingStart >= spawned
                    || origin.taken.distance(to: modificationTime(path)).magnitude > 60_000_000_000
            }
            var ownSnapshot: SnapshotReader.Snapshot?
            for path in files.reversed() {
                if !pattern.pattern.contains("%p") || pattern.matches(path, pid: pid),
                    let snapshot = try? SnapshotFile.read(path: path), snapshot.header.pid == UInt32(pid)
                {
                    ownSnapshot = snapshot
                    break
                }
            }
            let name = program[0]
            var lines = ["memtrace: \(name) (pid \(pid)) \(ending.description)"]
            if let snapshot = ownSnapshot {
                let totals = snapshot.totals
                let live =
                    switch snapshot.header.trigger {
                    case .exit: "live at exit"
                    case .termination: "live when \(snapshot.process["signal"] ?? "a signal") ended it"
                    default: "live at its last snapshot"
                    }
                // heaptrack ends with its count of temporary allocations too.
                let temporary = snapshot.temporaryTotal.count
                let calls =
                    "\(totals.allocCalls) allocation calls" + (temporary > 0 ? " (\(temporary) temporary)" : "")
                lines.append(
                    "memtrace: peak heap \(SizeFormat.format(totals.peakBytes)), \(live) \(SizeFormat.format(totals.liveBytes)) in \(totals.liveBlocks) blocks, \(calls)"
                        + (snapshot.header.isSampled ? " (sampled)" : ""))
                if let untraced = snapshot.untracedAllocator { lines.append("memtrace: \(untraced)") }
            }
            if files.isEmpty {
                lines.append(
                    "memtrace: no snapshot was written to \(pattern.pattern) "
                        + "(\(Self.noSnapshotReason(pattern: pattern, environment: environment, unpreloadable: unpreloadable, signal: ending.signal)))"
                )
            } else {
                lines.append("memtrace: \(files.count) snapshot\(files.count == 1 ? "" : "s") written:")
                let shown = files.count > 20 ? Array(files.suffix(20)) : files
                if files.count > shown.count {
                    lines.append("  … \(files.count - shown.count) earlier ones")
                }
                lines += shown.map { "  " + $0 }
                if let last = ownSnapshot?.path ?? files.last {
                    lines.append("memtrace: see memtrace top \(last)")
                }
            }
            printError(lines.joined(separator: "\n"))
        }
    }
}
