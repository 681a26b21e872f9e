import Foundation
import SnapshotReader

/// Snapshot files made in the test, with every frame embedded (SYMBOLS), so
/// that memtrace reads them without any binary and their figures and times
/// are exact: the input of the golden tests.
enum Synthetic {
    /// The frames of a stack's program counters: `function` at `file:line` in `/opt/app/bin/app`.
    struct Site {
        var function: String
        var line: Int
        var file = "app.c"
    }

    /// pc → frames for `sites`, pcs 0x1000, 0x1010, …; every stack also has `main` at app.c:90.
    static func symbols(_ sites: [Site]) -> [UInt64: [Snapshot.SymbolFrame]] {
        var table: [UInt64: [Snapshot.SymbolFrame]] = [
            0x9000: [Snapshot.SymbolFrame(function: "main", file: "app.c", line: 90, module: "/opt/app/bin/app")]
        ]
        for (index, site) in sites.enumerated() {
            table[0x1000 + UInt64(index) * 0x10] = [
                Snapshot.SymbolFrame(
                    function: site.function, file: site.file, line: site.line, module: "/opt/app/bin/app")
            ]
        }
        return table
    }

    /// A snapshot taken `seconds` after tracing started, where site `i` holds `bytes[i]` in `bytes[i] / 100` blocks.
    static func snapshot(
        sites: [Site], bytes: [UInt64], seconds: Double, sequence: UInt64, pid: UInt32 = 4242,
        timeline: [Snapshot.TimelinePoint]? = nil
    ) -> Snapshot {
        let start: UInt64 = 1_700_000_000_000_000_000
        let header = Snapshot.Header(
            version: 2, flags: 0, framesLimit: 64, pid: pid, ppid: 1, startTimeNs: start,
            snapshotTimeNs: start + UInt64(seconds * 1e9), sequence: sequence, trigger: .interval)
        var totals = Snapshot.Totals()
        totals.liveBytes = bytes.reduce(0, +)
        totals.liveBlocks = bytes.map { $0 / 100 }.reduce(0, +)
        totals.peakBytes = totals.liveBytes
        totals.stackCount = UInt64(sites.count)
        let stacks = sites.indices.map { index in
            Snapshot.Stack(pcs: [0x1000 + UInt64(index) * 0x10, 0x9000], trueDepth: 2)
        }
        let stats = sites.indices.map { index in
            Snapshot.StackStat(
                stack: UInt32(index), liveBytes: bytes[index], liveCount: bytes[index] / 100,
                totalBytes: bytes[index], totalCount: bytes[index] / 100, peakBytes: bytes[index],
                peakCount: bytes[index] / 100)
        }
        return Snapshot(
            path: "", header: header, process: ["exe": "/opt/app/bin/app", "cmdline": "app\0"],
            totals: totals, modules: [], stacks: stacks, stackStats: stats, blocks: nil,
            allocator: nil, symbols: symbols(sites), timeline: timeline)
    }

    /// Writes `snapshot` to `directory/name` and returns `name`.
    @discardableResult
    static func write(_ snapshot: Snapshot, _ name: String, in directory: URL) throws -> String {
        try SnapshotWriter.write(snapshot, to: directory.appendingPathComponent(name).path)
        return name
    }
}
