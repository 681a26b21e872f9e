import SnapshotReader
import Symbolizer

/// Leak reports as text, in valgrind memcheck's words, and as JSON.
///
/// Text, per process:
///
///     == pid 4242: ./list (exit snapshot /tmp/memtrace.list.4242.0.snap)
///     64 bytes in 2 blocks are indirectly lost in loss record 1 of 2
///         list.c:20 in make_list
///         …
///     32 bytes in 1 blocks are definitely lost in loss record 2 of 2
///         …
///     LEAK SUMMARY:
///        definitely lost: 32 bytes in 1 blocks
///        …
///
/// Records are numbered biggest first; each gives its blocks' own bytes. memcheck's
/// "96 (32 direct, 64 indirect) bytes" split is given once per process (`lost:`), because the
/// snapshot does not say which block points to which.
public enum LeakFormat {
    /// The text report of every process, then the verdict.
    ///
    /// - Parameters:
    ///   - reports: one report per process.
    ///   - verdict: the kinds shown and the limit.
    ///   - names: a label for each report's process (its command line), by pid.
    ///   - showPaths: name each process's snapshot file (leave out for files that are deleted afterwards).
    ///   - source: with it, each frame is followed by its line of source.
    public static func text(
        _ reports: [LeakReport], verdict: LeakVerdict, names: [UInt32: String] = [:], showPaths: Bool = true,
        source: SourceLines? = nil
    ) -> String {
        var out = ""
        for report in reports {
            out += text(
                report, kinds: verdict.kinds, name: names[report.snapshot.header.pid], showPath: showPaths,
                source: source)
            out += "\n"
        }
        let kinds = LeakKind.reportOrder.filter { verdict.kinds.contains($0) }.map(\.name).joined(separator: ", ")
        let processes = reports.count == 1 ? "1 process" : "\(reports.count) processes"
        let leaked = "\(verdict.leaked.size) bytes in \(verdict.leaked.count) blocks"
        let leaks =
            verdict.leaksFailed
            ? "\(leaked) leaked (\(kinds)) in \(processes), more than the \(verdict.maxLeak) bytes allowed"
            : "\(leaked) leaked (\(kinds)) in \(processes), at most \(verdict.maxLeak) bytes allowed"
        // The errors that fail the check lead; those allowed follow the leaks.
        var failing: [String] = []
        var allowed: [String] = []
        func error(_ blocks: Int64, _ phrase: String, _ name: String, fails: Bool) {
            guard blocks > 0 else { return }
            let text = "\(blocks) \(blocks == 1 ? "block" : "blocks") \(phrase) (\(name)"
            if fails { failing.append(text + ")") } else { allowed.append(text + ", allowed)") }
        }
        error(verdict.overrunBlocks, "written one byte past their end", "heap overruns", fails: verdict.failsOnOverruns)
        error(
            verdict.mismatchBlocks, "released otherwise than allocated", "mismatched free / delete / delete[]",
            fails: verdict.failsOnMismatches)
        let status = verdict.failed ? "FAILED" : "passed"
        out += "memtrace: \(status): " + (failing + [leaks] + allowed).joined(separator: "; ") + "\n"
        return out
    }

    /// The text report of one process: its records of `kinds`, the summary, the suppressions used.
    public static func text(
        _ report: LeakReport, kinds: Set<LeakKind>, name: String? = nil, showPath: Bool = true,
        source: SourceLines? = nil
    ) -> String {
        let header = report.snapshot.header
        var out = "== pid \(header.pid)"
        if let name = name ?? commandLine(report.snapshot) { out += ": \(name)" }
        out += showPath ? " (exit snapshot \(report.snapshot.path))\n" : "\n"
        let records = report.records(kinds: kinds)
        for (index, record) in records.enumerated() {
            out +=
                "\(record.size) bytes in \(record.count) blocks are \(record.kind.memcheckPhrase) in loss record \(index + 1) of \(records.count)\n"
            out += TextFormat.frameLines(record.frames, source: source)
        }
        if records.isEmpty { out += "no leaks of the kinds checked (\(kindList(kinds)))\n" }
        for (index, record) in report.overruns.enumerated() {
            out +=
                "\(record.size) bytes in \(record.count) blocks were written one byte past their end in overrun record \(index + 1) of \(report.overruns.count)\n"
            out += TextFormat.frameLines(record.frames, source: source)
        }
        for (index, record) in report.mismatches.enumerated() {
            out +=
                "\(record.size) bytes in \(record.count) blocks allocated with \(record.allocatedBy.name) were released with \(record.releasedHow) in mismatch record \(index + 1) of \(report.mismatches.count)\n"
            out += TextFormat.frameLines(record.allocation, source: source)
            out += "  released at:\n"
            out += TextFormat.frameLines(record.release, source: source)
        }
        out += "LEAK SUMMARY:\n"
        for kind in LeakKind.reportOrder {
            let figures = report.totals[kind] ?? LeakFigures()
            let label = kind.memcheckPhrase.leftPadded(to: 15)
            let note = kinds.contains(kind) ? "" : " (not checked)"
            out += "   \(label): \(figures.size) bytes in \(figures.count) blocks\(note)\n"
        }
        let suppressed = report.suppressed(kinds: Set(LeakKind.allCases))
        out += "   \("suppressed".leftPadded(to: 15)): \(suppressed.size) bytes in \(suppressed.count) blocks\n"
        if report.ignored.count > 0 {
            out +=
                "   \("ignored".leftPadded(to: 15)): \(report.ignored.size) bytes in \(report.ignored.count) blocks (memtrace_ignore)\n"
        }
        let (direct, indirect) = report.lost
        out +=
            "   \("lost".leftPadded(to: 15)): \(direct.size + indirect.size) (\(direct.size) direct, \(indirect.size) indirect) bytes in \(direct.count + indirect.count) blocks\n"
        if direct.count + indirect.count > 0, let note = allocatorNote(report.snapshot) { out += "   note: \(note)\n" }
        if report.overrunBlocks > 0 {
            out +=
                "   \("heap overruns".leftPadded(to: 15)): \(report.overrunBlocks) blocks written one byte past their end\n"
        }
        if report.mismatchBlocks > 0 {
            out +=
                "   \("mismatched".leftPadded(to: 15)): \(report.mismatchBlocks) blocks released otherwise than allocated\n"
        }
        if !report.suppressions.isEmpty {
            out += "Suppressions used:\n"
            out += "   blocks      bytes  rule\n"
            for use in report.suppressions {
                let hidden = use.hidden(kinds: Set(LeakKind.allCases))
                var line =
                    "   " + String(hidden.count).leftPadded(to: 6) + " " + String(hidden.size).leftPadded(to: 10) + "  "
                    + use.suppression.rule
                line += use.suppression.reason.isEmpty ? "" : " (\(use.suppression.origin): \(use.suppression.reason))"
                if use.suppression.reason.isEmpty && !use.suppression.origin.isEmpty {
                    line += " (\(use.suppression.origin))"
                }
                out += line + "\n"
            }
        }
        return out
    }

    /// `{"leaks":[…],"overruns":[…],"mismatches":[…],"summary":{…},"processes":[…]}`.
    ///
    /// `leaks` lists every record of the kinds checked, of every process, each
    /// `{"kind":"definite","size":N,"count":N,"frames":[…],"pid":N}` with frames as in the other
    /// JSON reports (``JSONFormat/value(_:)-(Frame)``); `size` and `count` are the blocks' own.
    /// `overruns` lists the heap overrun records the same way, without `kind`; `mismatches` the
    /// mismatched releases, each `{"allocated_by":"new[]","released_by":"free","size":N,
    /// "count":N,"allocation":[…],"release":[…],"pid":N}`.
    /// `summary` adds the processes up; `processes` has one summary per process, whose `snapshot`
    /// is null unless `showPaths` (the snapshots were kept).
    public static func json(_ reports: [LeakReport], verdict: LeakVerdict, showPaths: Bool = true) -> String {
        var leaks: [JSONFormat.Value] = []
        for report in reports {
            for record in report.records(kinds: verdict.kinds) {
                leaks.append(
                    .object([
                        ("kind", .string(record.kind.name)), ("size", .int(record.size)),
                        ("count", .int(record.count)), ("frames", .array(record.frames.map(JSONFormat.value))),
                        ("pid", .uint(UInt64(report.snapshot.header.pid))),
                    ]))
            }
        }
        var overruns: [JSONFormat.Value] = []
        for report in reports {
            for record in report.overruns {
                overruns.append(
                    .object([
                        ("size", .int(record.size)), ("count", .int(record.count)),
                        ("frames", .array(record.frames.map(JSONFormat.value))),
                        ("pid", .uint(UInt64(report.snapshot.header.pid))),
                    ]))
            }
        }
        var mismatches: [JSONFormat.Value] = []
        for report in reports {
            for record in report.mismatches {
                mismatches.append(
                    .object([
                        ("allocated_by", .string(record.allocatedBy.name)),
                        ("released_by", .string(record.releasedBy.name)),
                        ("named_size", .uint(record.namedSize)), ("size", .int(record.size)),
                        ("count", .int(record.count)),
                        ("allocation", .array(record.allocation.map(JSONFormat.value))),
                        ("release", .array(record.release.map(JSONFormat.value))),
                        ("pid", .uint(UInt64(report.snapshot.header.pid))),
                    ]))
            }
        }
        var totals: [LeakKind: LeakFigures] = [:]
        var suppressed = LeakFigures()
        var ignored = LeakFigures()
        for report in reports {
            for (kind, figures) in report.totals { totals[kind, default: LeakFigures()] += figures }
            suppressed += report.suppressed(kinds: Set(LeakKind.allCases))
            ignored += report.ignored
        }
        var summary: [(String, JSONFormat.Value)] = LeakKind.reportOrder.map {
            ($0.name, figures(totals[$0] ?? LeakFigures()))
        }
        summary += [
            ("suppressed", figures(suppressed)), ("ignored", figures(ignored)),
            ("leaked", figures(verdict.leaked)),
            ("kinds", .array(LeakKind.reportOrder.filter { verdict.kinds.contains($0) }.map { .string($0.name) })),
            ("max_leak", .int(verdict.maxLeak)), ("overrun_blocks", .int(verdict.overrunBlocks)),
            ("overruns_fail", .bool(verdict.failsOnOverruns)), ("mismatch_blocks", .int(verdict.mismatchBlocks)),
            ("mismatches_fail", .bool(verdict.failsOnMismatches)), ("failed", .bool(verdict.failed)),
            ("processes", .int(Int64(reports.count))),
        ]
        let processes: [JSONFormat.Value] = reports.map { report in
            var fields: [(String, JSONFormat.Value)] = [
                ("pid", .uint(UInt64(report.snapshot.header.pid))),
                ("ppid", .uint(UInt64(report.snapshot.header.ppid))),
                ("exe", .string(report.snapshot.process["exe"] ?? "")),
                ("snapshot", showPaths ? .string(report.snapshot.path) : .null),
            ]
            fields += LeakKind.reportOrder.map { ($0.name, figures(report.totals[$0] ?? LeakFigures())) }
            fields += [
                ("suppressed", figures(report.suppressed(kinds: Set(LeakKind.allCases)))),
                ("ignored", figures(report.ignored)), ("overrun_blocks", .int(report.overrunBlocks)),
                ("mismatch_blocks", .int(report.mismatchBlocks)),
                (
                    "suppressions",
                    .array(
                        report.suppressions.map { use in
                            let hidden = use.hidden(kinds: Set(LeakKind.allCases))
                            return .object([
                                ("rule", .string(use.suppression.rule)), ("origin", .string(use.suppression.origin)),
                                ("size", .int(hidden.size)), ("count", .int(hidden.count)),
                            ])
                        })
                ),
            ]
            return .object(fields)
        }
        return JSONFormat.serialize(
            .object([
                ("leaks", .array(leaks)), ("overruns", .array(overruns)), ("mismatches", .array(mismatches)),
                ("summary", .object(summary)),
                ("processes", .array(processes)),
            ]))
            + "\n"
    }

    static func figures(_ figures: LeakFigures) -> JSONFormat.Value {
        .object([("size", .int(figures.size)), ("count", .int(figures.count))])
    }

    static func kindList(_ kinds: Set<LeakKind>) -> String {
        LeakKind.reportOrder.filter { kinds.contains($0) }.map(\.name).joined(separator: ", ")
    }

    /// The process's arguments joined by spaces, from the PROCESS section.
    /// Under an allocator other than glibc's (PROCESS `allocator`: jemalloc, tcmalloc, mimalloc),
    /// the scan reads no memory the program mapped itself (docs/leaks.md, *Limits*), and says so
    /// where it found leaks: a block that only such memory points to counts as lost.
    static func allocatorNote(_ snapshot: Snapshot) -> String? {
        guard let allocator = snapshot.process["allocator"] else { return nil }
        let name = allocator.split(separator: "/").last.map(String.init) ?? allocator
        return "under \(name), memory the program maps itself is not scanned for pointers, so a block that only "
            + "such memory points to counts as lost (docs/leaks.md, Limits)"
    }

    static func commandLine(_ snapshot: Snapshot) -> String? {
        if let cmdline = snapshot.process["cmdline"], !cmdline.isEmpty {
            return cmdline.split(separator: "\0", omittingEmptySubsequences: true).joined(separator: " ")
        }
        return snapshot.process["exe"]
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
