import Analysis
import ArgumentParser
import Foundation
import SnapshotReader

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

extension Memtrace {
    /// `memtrace watch PID`: the top sites of a running process, refreshed, with what grew.
    struct Watch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the top sites of a running traced process, refreshed, with their growth while watched.",
            discussion: """
                Asks PID for a snapshot every --interval seconds, as memtrace snapshot does, and shows its \
                largest sites with their change since the first snapshot of the watch, as memtrace diff \
                shows it:

                  examples/leaky.c:47 in record_event: size=14.1 KiB (+9600 B), count=300 (+200), average=48 B

                On a terminal the screen is redrawn each time; otherwise each round follows the last. The \
                watch ends after --count rounds, on Ctrl-C, or when the process ends, whose exit snapshot is \
                then the last round. The snapshots stay where the process writes them, for memtrace trend or \
                diff afterwards.

                Examples:
                  memtrace watch 4242
                  memtrace watch 4242 --interval 10 --by function --include 'src/*'
                  memtrace watch 4242 --count 3 --limit 5 > growth.txt
                """)

        @Argument(help: "The traced process.")
        var pid: Int32

        @Option(
            parsing: .unconditional,
            help: ArgumentHelp("Seconds between snapshots.", valueName: "SECONDS"))
        var interval: Double = 2

        @Option(parsing: .unconditional, help: "Stop after N rounds; 0 watches until the process ends.")
        var count: Int = 0

        @OptionGroup var options: ReportOptions

        func validate() throws {
            if !(interval >= 0.1 && interval <= 86400) {
                throw ValidationError("--interval must be from 0.1 to 86400 seconds.")
            }
            if count < 0 { throw ValidationError("--count must be 0 (until the process ends) or more.") }
            if options.format != .text { throw ValidationError("watch writes text only (--format text).") }
        }

        func run() throws {
            let request = try SnapshotRequest(pid: pid, timeout: max(5, interval))
            let redraw = isatty(1) != 0
            let series = SnapshotSeries()
            var first: TracedSnapshot?
            var round = 0
            let start = realtimeNanoseconds()
            while count == 0 || round < count {
                if round > 0 && !wait(seconds: interval) { break }
                let path: String
                do {
                    path = try request.take()
                } catch {
                    // Gone between the wait and the signal, or while the snapshot was written.
                    guard round > 0, !alive else { throw error }
                    break
                }
                do {
                    try show(path, first: &first, series: series, redraw: redraw)
                } catch {
                    // A snapshot the options do not apply to (--metric temporary of a sampled
                    // one) ends the watch at once; a damaged one later on is skipped.
                    guard first != nil else { throw error }
                    printError("\(error)")
                }
                round += 1
            }
            guard count == 0 || round < count else { return }
            // The process ended: its exit snapshot, when it wrote one, is the last round.
            if let path = exitSnapshot(request, after: start) {
                do { try show(path, first: &first, series: series, redraw: redraw) } catch { printError("\(error)") }
            }
        }

        var alive: Bool { kill(pid, 0) == 0 || errno == EPERM }

        /// Sleeps `seconds`, false as soon as the process has ended.
        func wait(seconds: Double) -> Bool {
            let deadline = realtimeNanoseconds() + UInt64(seconds * 1e9)
            while realtimeNanoseconds() < deadline {
                if !alive { return false }
                usleep(UInt32(min(50_000, (deadline - min(deadline, realtimeNanoseconds())) / 1000 + 1)))
            }
            return alive
        }

        /// The snapshot the process wrote at its end, at exit or when a signal ended it, taken after
        /// `time` (CLOCK_REALTIME, ns), waiting a moment for it; nil when it wrote none.
        func exitSnapshot(_ request: SnapshotRequest, after time: UInt64) -> String? {
            let deadline = realtimeNanoseconds() + 2_000_000_000
            repeat {
                let ends = request.files().keys.compactMap { path -> (String, UInt64)? in
                    guard let origin = snapshotOrigin(of: path), origin.pid == UInt32(pid), origin.taken >= time,
                        origin.trigger == 0 || origin.trigger == 4
                    else { return nil }
                    return (path, origin.taken)
                }
                if let last = ends.max(by: { $0.1 < $1.1 }) { return last.0 }
                usleep(50_000)
            } while realtimeNanoseconds() < deadline
            printError("memtrace: process \(pid) ended without an exit snapshot")
            return nil
        }

        /// Prints one round: a line on the snapshot and the process, then the sites with their change
        /// since the first round's snapshot.
        func show(_ path: String, first: inout TracedSnapshot?, series: SnapshotSeries, redraw: Bool) throws {
            let traced = try series.load(path) { try checkMetric(options.metric, $0) }
            let base = first ?? traced
            if first == nil { first = traced }
            let diffs = try traced.compare(to: base, options.statisticsOptions)
            var text = Self.heading(traced, base: base, options: options) + "\n"
            text += sampledNote([traced]) + options.metricNote
            text += TextFormat.render(diffs, traceback: options.by == .traceback, source: options.sourceLines)
            if redraw {
                printOut("\u{1B}[H\u{1B}[2J" + Terminal.paintChanges(Self.fitted(text, to: Self.screenSize())))
            } else {
                printOut(Terminal.paintChanges(text) + "\n")
            }
        }

        /// The terminal's columns and rows, nil when standard output does not say.
        static func screenSize() -> (columns: Int, rows: Int)? {
            var size = winsize()
            guard ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0, size.ws_row > 0 else { return nil }
            return (Int(size.ws_col), Int(size.ws_row))
        }

        /// `text` as a screen of `size` shows it without scrolling: lines cut to its width (ending in
        /// "…"), and no more lines than its height leaves under the cursor.
        static func fitted(_ text: String, to size: (columns: Int, rows: Int)?) -> String {
            guard let size else { return text }
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if lines.last == "" { lines.removeLast() }
            if lines.count > size.rows - 1 { lines.removeLast(lines.count - max(1, size.rows - 1)) }
            return lines.map { line in
                line.count > size.columns ? String(line.prefix(max(1, size.columns - 1))) + "…" : line
            }.joined(separator: "\n") + "\n"
        }

        /// `# pid 4242 (./server), snapshot #3 at 6.02 s (at exit): live 80.0 KiB in 40 blocks (+78.0 KiB, +39 in 4.01 s)`.
        static func heading(_ traced: TracedSnapshot, base: TracedSnapshot, options: ReportOptions) -> String {
            let header = traced.snapshot.header
            let total = traced.total(filters: options.filters, metric: options.metric)
            let old = base.total(filters: options.filters, metric: options.metric)
            let elapsed = Double(header.snapshotTimeNs &- header.startTimeNs) / 1e9
            let span = Double(header.snapshotTimeNs &- base.snapshot.header.snapshotTimeNs) / 1e9
            var who = "pid \(header.pid)"
            if let cmdline = traced.snapshot.process["cmdline"], !cmdline.isEmpty {
                who += " (" + cmdline.split(separator: "\0").joined(separator: " ").escapingControlCharacters + ")"
            }
            let trigger =
                switch header.trigger {
                case .exit: " (at exit)"
                case .termination: " (ended by \(traced.snapshot.process["signal"] ?? "a signal"))"
                default: ""
                }
            let what = options.metric == .live ? "live" : options.metric.rawValue
            let change = SizeFormat.format(total.size - old.size, signed: true)
            let blocks = total.count - old.count
            return "# \(who), snapshot #\(header.sequence) at \(String(format: "%.2f", elapsed)) s\(trigger): "
                + "\(what) \(SizeFormat.format(total.size)) in \(total.count) blocks "
                + "(\(change), \(blocks >= 0 ? "+" : "")\(blocks) in \(String(format: "%.2f", span)) s)"
        }
    }
}
