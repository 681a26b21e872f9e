import SnapshotReader

/// The traced figures next to the allocator's own, to see how much the tracer
/// accounts for.
///
/// Traced bytes are `live_usable_bytes` (what `malloc_usable_size` reports for
/// the live blocks). Under jemalloc they compare with `stats.allocated`, which
/// also counts size classes; under glibc with `mallinfo2`'s `uordblks + hblkhd`,
/// which also counts chunk headers. Blocks allocated before tracing started
/// and allocations the tracer made for itself through libc account for the rest.
public struct AllocatorCrossCheck: Sendable, Equatable {
    /// Which allocator the figures come from.
    public var kind: Snapshot.AllocatorStats.Kind
    /// Where ``allocatorBytes`` comes from, e.g. `jemalloc stats.allocated`.
    public var source: String
    /// The allocator's in-use bytes.
    public var allocatorBytes: UInt64
    /// The tracer's `live_usable_bytes`.
    public var tracedBytes: UInt64
    /// `allocatorBytes - tracedBytes`.
    public var difference: Int64 { Int64(clamping: allocatorBytes) - Int64(clamping: tracedBytes) }

    /// Computes the cross-check from a snapshot, or `nil` when it holds no
    /// usable allocator statistics.
    public init?(_ snapshot: Snapshot) {
        guard let stats = snapshot.allocator else { return nil }
        func value(_ name: String) -> UInt64? {
            stats[name] ?? stats.values.first { $0.name.hasSuffix("." + name) }?.value
        }
        switch stats.kind {
        case .jemalloc:
            guard let allocated = value("stats.allocated") ?? value("allocated") else { return nil }
            source = "jemalloc stats.allocated"
            allocatorBytes = allocated
        case .glibc:
            guard let used = value("uordblks") else { return nil }
            source = "glibc mallinfo2 uordblks + hblkhd"
            let (sum, overflow) = used.addingReportingOverflow(value("hblkhd") ?? 0)
            guard !overflow else { return nil }  // not figures of a real heap
            allocatorBytes = sum
        case .unknown:
            return nil
        }
        kind = stats.kind
        tracedBytes = snapshot.totals.liveUsableBytes
    }
}

/// What `memtrace summary` shows: totals, peak, the sites holding memory at
/// the peak, the sites calling the allocator most, temporary allocations, heap
/// overruns, the tracer's overhead and the allocator cross-check.
public struct Summary {
    /// The snapshot summarised.
    public var snapshot: Snapshot
    /// The largest sites at the moment of the global peak (their `peak_bytes`), by line.
    public var topAtPeak: [Statistic]
    /// The sites that allocated most often over the run (their `total_count`), by line.
    public var mostCalls: [Statistic]
    /// The sites with the most temporary allocations (their `temporary_count`), by line; empty
    /// when the snapshot does not count them.
    public var mostTemporary: [Statistic]
    /// The sites of blocks the tracer found written one byte past their end (their
    /// `overrun_count`, the OVERRUNS section), by line, most blocks first; empty when it found none.
    public var overruns: [Statistic]
    /// Blocks released otherwise than allocated (the MISMATCHES section), by both stacks, most
    /// blocks first; empty when the tracer found none.
    public var mismatches: [MismatchRecord]
    /// Traced against allocator figures, when the snapshot carries them.
    public var crossCheck: AllocatorCrossCheck?

    /// Summarises a traced snapshot.
    ///
    /// - Parameters:
    ///   - traced: the snapshot with its frames.
    ///   - top: how many sites of each ranking to list.
    ///   - filters: filters applied to the sites ranked.
    public init(_ traced: TracedSnapshot, top: Int = 5, filters: [TraceFilter] = []) {
        snapshot = traced.snapshot
        // A limit of 0 would list every site.
        func ranked(_ metric: Metric, by sort: SortKey) -> [Statistic] {
            guard top > 0 else { return [] }
            let options = StatisticsOptions(filters: filters, metric: metric, sortBy: sort, limit: top)
            return (try? traced.statistics(options)) ?? []
        }
        topAtPeak = ranked(.peak, by: .size)
        mostCalls = ranked(.total, by: .count)
        mostTemporary = ranked(.temporary, by: .count)
        var overrunSites: [Int32: (size: Int64, count: Int64)] = [:]
        var order: [Int32] = []
        for (stat, frames) in traced.stackFrameIDs where stat.overrunCount != 0 {
            let site = traced.table.site(of: frames)
            if overrunSites[site] == nil { order.append(site) }
            let old = overrunSites[site, default: (0, 0)]
            overrunSites[site] = (
                old.size &+ Int64(clamping: stat.overrunBytes), old.count &+ Int64(clamping: stat.overrunCount)
            )
        }
        // Most blocks first; then in the order of the stacks' records.
        overruns = order.indices.sorted { a, b in
            let (first, second) = (overrunSites[order[a]]!.count, overrunSites[order[b]]!.count)
            return first != second ? first > second : a < b
        }.map { position in
            let figures = overrunSites[order[position]]!
            return Statistic(frames: [traced.table.frame(order[position])], size: figures.size, count: figures.count)
        }
        mismatches = MismatchRecord.records(traced)
        crossCheck = AllocatorCrossCheck(traced.snapshot)
    }

    /// The summary as text, one labelled figure a line.
    public func render() -> String {
        let header = snapshot.header
        let totals = snapshot.totals
        var lines: [(String, String)] = []
        lines.append(("Snapshot", snapshot.path))
        var process = snapshot.mergedFrom ?? "pid \(header.pid), parent \(header.ppid)"
        if let cmdline = snapshot.process["cmdline"], !cmdline.isEmpty {
            let words = cmdline.split(separator: "\0", omittingEmptySubsequences: true)
            process += ": " + words.joined(separator: " ").escapingControlCharacters
        } else if let exe = snapshot.process["exe"] {
            process += ": " + exe.escapingControlCharacters
        }
        lines.append(("Process", process))
        if let untraced = snapshot.untracedAllocator { lines.append(("Not traced", untraced)) }
        let trigger: String
        switch header.trigger {
        case .exit:
            let quick = snapshot.process["exit"] == "_exit"
            trigger = quick ? "at _exit() (no atexit handler or destructor ran)" : "at exit"
        case .signal: trigger = "on signal"
        case .interval: trigger = "on interval"
        case .api: trigger = "by the program (memtrace_snapshot)"
        case .termination: trigger = "when \(snapshot.process["signal"] ?? "a signal") ended the program"
        }
        let after = Self.seconds(header.snapshotTimeNs, since: header.startTimeNs)
        lines.append(
            (
                "Taken",
                snapshot.mergedFrom == nil
                    ? "\(trigger), \(after) after tracing started (snapshot #\(header.sequence))"
                    : "the latest \(trigger), \(after) after the first process started tracing"
            ))
        lines.append(
            (
                "Live",
                "\(Self.bytes(totals.liveBytes)) in \(totals.liveBlocks) blocks (\(Self.bytes(totals.liveUsableBytes)) usable)"
            ))
        var peak = Self.bytes(totals.peakBytes)
        if totals.peakTimeNs != 0 {
            peak +=
                ", \(Self.seconds(totals.peakTimeNs, since: header.startTimeNs)) after tracing started"
        }
        lines.append(("Peak", peak))
        if let timeline = Self.timeline(snapshot) { lines.append(("Timeline", timeline)) }
        lines.append(
            (
                "Calls",
                "\(totals.allocCalls) allocations, \(totals.freeCalls) frees, \(totals.reallocCalls) reallocs; \(Self.bytes(totals.totalAllocBytes)) allocated in total"
            ))
        if snapshot.countsTemporary {
            let temporary = snapshot.temporaryTotal
            let share =
                totals.allocCalls > 0
                ? " (" + SizeFormat.printf("%.1f", Double(temporary.count) * 100 / Double(totals.allocCalls)) + "%)"
                : ""
            lines.append(
                (
                    "Temporary",
                    "\(temporary.count) allocations\(share), \(Self.bytes(temporary.bytes)), freed before their thread's next allocation"
                ))
        }
        if totals.overrunBlocks != 0 {
            let blocks = "\(totals.overrunBlocks) block\(totals.overrunBlocks == 1 ? "" : "s")"
            lines.append(("Overruns", blocks + " written one byte past the end: heap overruns, sites below"))
        }
        if totals.mismatchBlocks != 0 {
            let blocks = "\(totals.mismatchBlocks) block\(totals.mismatchBlocks == 1 ? "" : "s")"
            lines.append(("Mismatched", blocks + " released otherwise than allocated (free of new...), sites below"))
        }
        if totals.untrackedFrees != 0 {
            lines.append(("Untracked", "\(totals.untrackedFrees) frees of blocks the tracer never saw"))
        }
        lines.append(
            (
                "Stacks",
                "\(totals.stackCount) unique, \(totals.truncatedStacks) cut at \(header.framesLimit) frames; \(totals.lostAllocations) allocations lost"
            ))
        lines.append(("Tracer", "\(Self.bytes(totals.tracerOverheadBytes)) of its own memory"))
        if header.isSampled || totals.sampleRate != 0 {
            lines.append(
                (
                    "Sampling",
                    Self.samplingLine(rate: totals.sampleRate)
                ))
        } else {
            lines.append(("Sampling", "off: every allocation recorded"))
        }
        let width = lines.map(\.0.count).max()! + 2
        var out = lines.map { label, value in
            (label + ":").padding(to: width) + value + "\n"
        }.joined()

        out += "\nTop sites at peak:\n"
        if topAtPeak.isEmpty { out += "  (none)\n" }
        for stat in topAtPeak { out += "  " + TextFormat.line(stat) + "\n" }

        out += "\nMost allocation calls (every allocation, released or not):\n"
        if mostCalls.isEmpty { out += "  (none)\n" }
        for stat in mostCalls { out += "  " + TextFormat.line(stat) + "\n" }

        if !mostTemporary.isEmpty {
            out += "\nMost temporary allocations (freed before their thread's next allocation):\n"
            for stat in mostTemporary { out += "  " + TextFormat.line(stat) + "\n" }
        }

        if !overruns.isEmpty {
            out += "\nHeap overruns (blocks written one byte past the end, found at their release or a snapshot):\n"
            for stat in overruns { out += "  " + TextFormat.line(stat) + "\n" }
        }

        if !mismatches.isEmpty {
            out += "\nMismatched releases (allocated one way, released another):\n"
            for record in mismatches {
                out +=
                    "  \(record.allocatedBy.name) released with \(record.releasedHow): size=\(SizeFormat.format(UInt64(clamping: record.size))), count=\(record.count); "
                    + "allocated at \(TextFormat.describe(record.allocation[0])), released at \(TextFormat.describe(record.release[0]))\n"
            }
        }

        if let sizes = Self.sizeHistogram(snapshot.sizeClasses ?? []) {
            out += "\nAllocation sizes (every allocation, by requested size: from this size to the next row's):\n"
            out += sizes
        }

        out += "\nAllocator cross-check:\n"
        if let check = crossCheck {
            let rows = [
                ("traced live usable bytes", Self.bytes(check.tracedBytes)),
                (check.source, Self.bytes(check.allocatorBytes)),
                (
                    "difference",
                    Self.signedBytes(check.difference)
                        + Self.percent(check.difference, of: check.allocatorBytes)
                ),
            ]
            let width = rows.map(\.0.count).max()! + 2
            for (label, value) in rows { out += "  " + (label + ":").padding(to: width) + value + "\n" }
        } else if let allocator = snapshot.process["allocator"], snapshot.allocator?.kind != .jemalloc {
            // PROCESS allocator: the tracer forwarded to neither glibc's malloc nor jemalloc.
            out +=
                "  not available: the allocator is \(allocator), whose statistics memtrace does not read "
                + "(only glibc's and jemalloc's)\n"
        } else if snapshot.allocator?.kind == .unknown {
            // The tracer leaves them out when asking could hurt the program (docs/tracer.md).
            if snapshot.header.trigger == .termination {
                out +=
                    "  not available: a signal was ending the program, and the tracer leaves the allocator alone then\n"
            } else {
                out +=
                    "  not available: the tracer left the allocator's statistics out of this snapshot (the program ran as one thread and did not call the allocator while the tracer's helper thread wrote it); the exit snapshot has them\n"
            }
        } else {
            out += "  not available: the snapshot carries no allocator statistics\n"
        }
        return out
    }

    /// The allocations by size class as text, a row per class: its smallest size, its
    /// allocations and their share of all, their bytes, and a bar `width` long for the busiest
    /// class; nil without allocations.
    ///
    ///     16 B     120345  45.2%   3.4 MiB  ████████████████████████████
    public static func sizeHistogram(_ classes: [Snapshot.SizeClass], width: Int = 30) -> String? {
        guard let histogram = SizeHistogram(classes) else { return nil }
        let rows = histogram.rows.map { row in
            (
                row.label, String(row.count), SizeFormat.printf("%.1f%%", row.share * 100),
                SizeFormat.format(row.bytes), row
            )
        }
        let widths = (
            rows.map(\.0.count).max()!, rows.map(\.1.count).max()!, rows.map(\.2.count).max()!,
            rows.map(\.3.count).max()!
        )
        return rows.map { label, count, share, bytes, row in
            // A class with any allocation gets at least a sliver of a bar.
            let bar = row.count == 0 ? 0 : max(1, Int((row.scale * Double(width)).rounded()))
            return "  " + label.padding(to: widths.0) + "  " + count.leftPadded(to: widths.1) + "  "
                + share.leftPadded(to: widths.2) + "  " + bytes.leftPadded(to: widths.3)
                + (bar > 0 ? "  " + String(repeating: "█", count: bar) : "") + "\n"
        }.joined()
    }

    /// `N points over T s: live ▁▂▄█ A → B; RSS C → D`, from the TIMELINE section.
    static func timeline(_ snapshot: Snapshot) -> String? {
        guard let points = snapshot.timeline?.sorted(by: { $0.timeNs < $1.timeNs }),
            let first = points.first, let last = points.last
        else { return nil }
        let span = Self.seconds(last.timeNs, since: first.timeNs)
        var text = "\(points.count) point\(points.count == 1 ? "" : "s") over \(span): live "
        if points.count > 1 { text += sparkline(points.map(\.currentBytes)) + " " }
        text += "\(SizeFormat.format(first.currentBytes)) → \(SizeFormat.format(last.currentBytes))"
        if let rss = points.map(\.rssBytes).max(), rss > 0 {
            text += "; RSS \(SizeFormat.format(first.rssBytes)) → \(SizeFormat.format(last.rssBytes))"
            // The highest point, when the process shrank since (heaptrack's "peak RSS").
            if rss > last.rssBytes { text += ", at most \(SizeFormat.format(rss))" }
        }
        return text
    }

    /// `values` drawn with the eight block characters `▁`…`█`, at most `width`
    /// characters, from 0 to the highest value. When the series is longer than that, the last
    /// character is the last value (where the run ended: a heap freed at exit shows its drop) and
    /// each other one the highest value of its share of the rest.
    public static func sparkline(_ values: [UInt64], width: Int = 24) -> String {
        guard !values.isEmpty, width > 0 else { return "" }
        let blocks = Array("▁▂▃▄▅▆▇█")
        let highest = max(values.max() ?? 0, 1)
        let block = { (value: UInt64) in blocks[Int((Double(value) / Double(highest) * 7).rounded())] }
        guard values.count > width else { return String(values.map(block)) }
        let rest = values.dropLast()
        let count = width - 1
        return String(
            (0..<count).map { bucket in
                block(rest[bucket * rest.count / count..<(bucket + 1) * rest.count / count].max() ?? 0)
            } + [block(values[values.count - 1])])
    }

    /// What a sampled snapshot's figures are worth, at a mean of R bytes a sample: an estimate of
    /// S bytes rests on about S/R samples, so its standard error is about √(S·R), 10% once S is
    /// 100 R (docs/tracer.md, *Sampling*); the peak is the highest the estimated total reached, a
    /// maximum of noisy values, and so runs high.
    static func samplingLine(rate: UInt64) -> String {
        guard rate != 0 else { return "sampled: figures are estimates; the peak runs high" }
        let mean = SizeFormat.format(rate)
        let precision =
            rate > UInt64.max / 100
            ? "" : " (±10% for a site of \(SizeFormat.format(rate * 100)), ±√(size × \(mean)) in general)"
        return "sampled, one sample per \(mean) on average: figures are estimates\(precision); the peak runs high"
    }

    static func bytes(_ value: UInt64) -> String {
        value < 10 * 1024 ? "\(value) B" : "\(SizeFormat.format(value)) (\(value) B)"
    }

    static func signedBytes(_ value: Int64) -> String {
        let exact = (value >= 0 ? "+" : "") + "\(value) B"
        return value.magnitude < 10 * 1024
            ? exact : "\(SizeFormat.format(value, signed: true)) (\(exact))"
    }

    static func seconds(_ time: UInt64, since start: UInt64) -> String {
        guard time >= start else { return "0.000 s" }  // a peak read from the coarse clock may come first
        let value = Double(time - start) / 1e9
        return SizeFormat.printf(value < 10 ? "%.3f" : "%.1f", value) + " s"
    }

    static func percent(_ difference: Int64, of total: UInt64) -> String {
        guard total > 0 else { return "" }
        return ", " + SizeFormat.printf("%.2f", Double(difference) / Double(total) * 100)
            + "% of the allocator's"
    }
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
