import Foundation
import SnapshotReader
import XCTest
import _MemtraceTestSupport

/// `memtrace run` then `memtrace top` on the sites fixture, with exact figures.
final class TopTests: XCTestCase {
    var work: Workspace!
    var exitSnapshot = ""
    var firstSnapshot = ""

    override func setUpWithError() throws {
        work = try Workspace("top")
        try work.build("sites.c")
        let run = try work.memtrace(["run", "--", "./sites"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let files = try work.snapshots()
        XCTAssertEqual(files.count, 2, "one snapshot from memtrace_snapshot, one at exit: \(files)")
        firstSnapshot = try XCTUnwrap(files.first { $0.hasSuffix(".0.snap") })
        exitSnapshot = try XCTUnwrap(files.first { $0.hasSuffix(".1.snap") })
        XCTAssertTrue(firstSnapshot.hasPrefix("memtrace.sites."), firstSnapshot)
    }

    func site(_ marker: String, _ function: String) throws -> String {
        "sites.c:\(try work.line("sites.c", "SITE \(marker)")) in \(function)"
    }

    func testRunReportsOnStandardError() throws {
        let run = try work.memtrace(["run", "--", "./sites"])
        let lines = run.stderrLines
        XCTAssertEqual(lines.count, 6, run.stderr)
        XCTAssertTrue(lines[0].hasPrefix("memtrace: ./sites (pid "), lines[0])
        XCTAssertTrue(lines[0].hasSuffix(") exited with status 0"), lines[0])
        // 100 x 24 + 3 x 10000 + 1000 + 5000 live at exit; the peak also held churn's last block (699 B).
        XCTAssertEqual(
            lines[1],
            "memtrace: peak heap 38.2 KiB, live at exit 37.5 KiB in 105 blocks, 606 allocation calls (500 temporary)")
        XCTAssertEqual(lines[2], "memtrace: 2 snapshots written:")
        let pid = lines[0].split(separator: " ")[3].dropLast()
        XCTAssertEqual(lines[3], "  memtrace.sites.\(pid).0.snap")
        XCTAssertEqual(lines[4], "  memtrace.sites.\(pid).1.snap")
        XCTAssertEqual(lines[5], "memtrace: see memtrace top memtrace.sites.\(pid).1.snap")
        XCTAssertEqual(run.stdout, "", "the program prints nothing and memtrace prints to stderr only")
    }

    func testTopText() throws {
        let top = try work.memtrace(["top", exitSnapshot, "--include", "*sites.c"])
        XCTAssertEqual(top.status, 0, top.stderr)
        XCTAssertEqual(
            top.stdoutLines,
            [
                "\(try site("big", "big_blocks")): size=29.3 KiB, count=3, average=10000 B",
                "\(try site("realloc", "grown")): size=5000 B, count=1, average=5000 B",
                "\(try site("small", "small_blocks")): size=2400 B, count=100, average=24 B",
                "\(try site("calloc", "zeroed")): size=1000 B, count=1, average=1000 B",
            ])
        XCTAssertEqual(top.stderr, "")
    }

    func testTopWithoutFiltersHasOurSitesAndNoAllocatorFrames() throws {
        let top = try work.memtrace(["top", exitSnapshot, "--limit", "0"])
        XCTAssertEqual(top.status, 0, top.stderr)
        XCTAssertTrue(
            top.stdoutLines.contains(
                "\(try site("big", "big_blocks")): size=29.3 KiB, count=3, average=10000 B"))
        for line in top.stdoutLines {
            XCTAssertFalse(line.contains("libtrace"), line)
            XCTAssertFalse(line.hasPrefix("malloc") || line.contains(" in malloc:"), line)
        }
    }

    func testLimitAndExclude() throws {
        let top = try work.memtrace([
            "top", exitSnapshot, "--include", "*sites.c", "--exclude", "big_*", "--limit", "2",
        ])
        XCTAssertEqual(
            top.stdoutLines,
            [
                "\(try site("realloc", "grown")): size=5000 B, count=1, average=5000 B",
                "\(try site("small", "small_blocks")): size=2400 B, count=100, average=24 B",
            ])
        let line = try work.line("sites.c", "SITE small")
        let one = try work.memtrace([
            "top", exitSnapshot, "--include", "sites.c:\(line)", "--include", "*/sites.c:\(line)",
        ])
        XCTAssertEqual(
            one.stdoutLines,
            ["\(try site("small", "small_blocks")): size=2400 B, count=100, average=24 B"])
    }

    func testEverythingAllocatedByCalls() throws {
        // churn's 500 blocks of 200 to 699 bytes are all freed: only --metric total sees them.
        let top = try work.memtrace([
            "top", exitSnapshot, "--include", "*sites.c", "--metric", "total", "--sort", "count",
        ])
        XCTAssertEqual(top.status, 0, top.stderr)
        XCTAssertEqual(
            top.stdoutLines,
            [
                "# every allocation of the run up to the snapshot, released or not (--metric total)",
                "\(try site("churn", "churn")): size=219 KiB, count=500, average=450 B",
                "\(try site("small", "small_blocks")): size=2400 B, count=100, average=24 B",
                "\(try site("big", "big_blocks")): size=29.3 KiB, count=3, average=10000 B",
                "\(try site("realloc", "grown")): size=5000 B, count=1, average=5000 B",
                "\(try site("calloc", "zeroed")): size=1000 B, count=1, average=1000 B",
                "\(try site("first", "grown")): size=10 B, count=1, average=10 B",
            ])
        // By bytes, the default order.
        let bytes = try work.memtrace(["top", exitSnapshot, "--include", "*sites.c", "--metric", "total"])
        XCTAssertEqual(
            bytes.stdoutLines.dropFirst().prefix(2),
            [
                "\(try site("churn", "churn")): size=219 KiB, count=500, average=450 B",
                "\(try site("big", "big_blocks")): size=29.3 KiB, count=3, average=10000 B",
            ])
        // Live blocks by count; no note for the default metric.
        let live = try work.memtrace([
            "top", exitSnapshot, "--include", "*sites.c", "--sort", "count", "--limit", "2",
        ])
        XCTAssertEqual(
            live.stdoutLines,
            [
                "\(try site("small", "small_blocks")): size=2400 B, count=100, average=24 B",
                "\(try site("big", "big_blocks")): size=29.3 KiB, count=3, average=10000 B",
            ])
        // Of those, only churn's are freed before the next allocation (the realloc'd block is not).
        let temporary = try work.memtrace(["top", exitSnapshot, "--include", "*sites.c", "--metric", "temporary"])
        XCTAssertEqual(
            temporary.stdoutLines,
            [
                "# blocks their thread freed before it allocated anything else (--metric temporary)",
                "\(try site("churn", "churn")): size=219 KiB, count=500, average=450 B",
            ])
        let json = try work.memtrace([
            "top", exitSnapshot, "--include", "*sites.c", "--metric", "total", "--format", "json", "--limit", "1",
        ])
        let object = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["metric"] as? String, "total")
        XCTAssertEqual(object["sort"] as? String, "size")
        let total = try XCTUnwrap(object["total"] as? [String: Any])
        XCTAssertEqual(total["size"] as? Int, 224_750 + 2400 + 30000 + 5000 + 1000 + 10)
        XCTAssertEqual(total["count"] as? Int, 606)
        let folded = try work.memtrace([
            "top", exitSnapshot, "--include", "*sites.c", "--metric", "total", "--format", "folded",
        ])
        XCTAssertEqual(
            folded.stdoutLines.filter { $0.hasSuffix(";churn 224750") }.count, 1, folded.stdout)
    }

    func testTopJSON() throws {
        let top = try work.memtrace(["top", exitSnapshot, "--include", "*sites.c", "--format", "json"])
        XCTAssertEqual(top.status, 0, top.stderr)
        let json = try top.json()
        let stats = try XCTUnwrap(json["stats"] as? [[String: Any]])
        XCTAssertEqual(stats.map { $0["size"] as? Int }, [30000, 5000, 2400, 1000])
        XCTAssertEqual(stats.map { $0["count"] as? Int }, [3, 1, 100, 1])
        XCTAssertNil(stats[0]["size_diff"])
        let frame = try XCTUnwrap((stats[0]["frames"] as? [[String: Any]])?.first)
        XCTAssertEqual(frame["function"] as? String, "big_blocks")
        XCTAssertEqual(frame["line"] as? Int, try work.line("sites.c", "SITE big"))
        XCTAssertTrue((frame["file"] as? String)?.hasSuffix("sites.c") == true, "\(frame)")
        XCTAssertTrue((frame["module"] as? String)?.hasSuffix("/sites") == true, "\(frame)")
        XCTAssertEqual(json["sampled"] as? Bool, false)
    }

    func testTraceback() throws {
        let top = try work.memtrace([
            "top", exitSnapshot, "--include", "*sites.c", "--by", "traceback", "--limit", "1",
        ])
        let lines = top.stdoutLines
        XCTAssertGreaterThanOrEqual(lines.count, 3, top.stdout)
        XCTAssertEqual(
            Array(lines.prefix(3)),
            [
                "\(try site("big", "big_blocks")): size=29.3 KiB, count=3, average=10000 B",
                "    \(try site("big", "big_blocks"))",
                "    sites.c:\(try work.line("sites.c", "CALL big")) in main",
            ])
        // Below main: libc's start-up frames, then nothing of ours.
        for line in lines.dropFirst(3) { XCTAssertTrue(line.hasPrefix("    "), line) }
        let json = try work.memtrace([
            "top", exitSnapshot, "--include", "*sites.c", "--by", "traceback", "--format", "json",
        ]).json()
        let frames = try XCTUnwrap(
            (json["stats"] as? [[String: Any]])?.first?["frames"] as? [[String: Any]])
        XCTAssertEqual(frames.prefix(2).map { $0["function"] as? String }, ["big_blocks", "main"])
    }

    /// `--source` puts each frame's line of source under it, as tracemalloc's
    /// `Traceback.format()` does for Python, read through the compile directory the DWARF names
    /// (memtrace runs in another directory here); libc's sources are not on this machine, so its
    /// frames have none.
    func testTracebackWithSource() throws {
        let result = try runProcess(
            TestPaths.memtrace,
            [
                "top", work.path + "/" + exitSnapshot, "--include", "*sites.c", "--by", "traceback", "--source",
                "--limit", "1",
            ],
            directory: URL(fileURLWithPath: "/"))
        XCTAssertEqual(result.status, 0, result.stderrText)
        let lines = work.strip(result.stdoutText).split(separator: "\n").map(String.init)
        XCTAssertEqual(
            Array(lines.prefix(5)),
            [
                "\(try site("big", "big_blocks")): size=29.3 KiB, count=3, average=10000 B",
                "    \(try site("big", "big_blocks"))",
                "        for (int i = 0; i < 3; i++) keep[kept++] = malloc(10000); /* SITE big */",
                "    sites.c:\(try work.line("sites.c", "CALL big")) in main",
                "        big_blocks(); /* CALL big */",
            ])
        XCTAssertGreaterThan(lines.count, 5)
        for line in lines.dropFirst(5) { XCTAssertTrue(line.hasPrefix("    ") && !line.hasPrefix("        "), line) }

        let bySite = try work.memtrace(["top", exitSnapshot, "--include", "*sites.c", "--source", "--limit", "1"])
        XCTAssertEqual(
            bySite.stdoutLines,
            [
                "\(try site("big", "big_blocks")): size=29.3 KiB, count=3, average=10000 B",
                "    for (int i = 0; i < 3; i++) keep[kept++] = malloc(10000); /* SITE big */",
            ])
        let json = try work.memtrace(["top", exitSnapshot, "--source", "--format", "json"])
        XCTAssertEqual(json.status, 64)
        XCTAssertTrue(json.stderr.contains("--source applies to text output only."), json.stderr)
    }

    func testGroupings() throws {
        // Every frame counts: main holds everything; libc's start-up frames below it too.
        let byFunction = try work.memtrace([
            "top", exitSnapshot, "--include", "*sites.c", "--by", "function", "--cumulative", "--limit",
            "0",
        ])
        XCTAssertEqual(
            byFunction.stdoutLines.filter { $0.hasPrefix("sites.c") },
            [
                "sites.c:0 in main: size=37.5 KiB, count=105, average=366 B",
                "sites.c:0 in big_blocks: size=29.3 KiB, count=3, average=10000 B",
                "sites.c:0 in grown: size=5000 B, count=1, average=5000 B",
                "sites.c:0 in small_blocks: size=2400 B, count=100, average=24 B",
                "sites.c:0 in zeroed: size=1000 B, count=1, average=1000 B",
            ])
        XCTAssertEqual(
            byFunction.stdoutLines.first, "sites.c:0 in main: size=37.5 KiB, count=105, average=366 B")
        let cumulativeLines = try work.memtrace([
            "top", exitSnapshot, "--include", "*sites.c", "--cumulative", "--limit", "0",
        ]).stdoutLines.filter { $0.hasPrefix("sites.c") }
        XCTAssertEqual(
            cumulativeLines.prefix(2),
            [
                "sites.c:\(try work.line("sites.c", "CALL big")) in main: size=29.3 KiB, count=3, average=10000 B",
                "\(try site("big", "big_blocks")): size=29.3 KiB, count=3, average=10000 B",
            ])
        let byFile = try work.memtrace(["top", exitSnapshot, "--include", "*sites.c", "--by", "file"])
        XCTAssertEqual(byFile.stdoutLines, ["sites.c:0: size=37.5 KiB, count=105, average=366 B"])
        let byModule = try work.memtrace([
            "top", exitSnapshot, "--include", "*sites.c", "--by", "module",
        ])
        XCTAssertEqual(byModule.stdoutLines.count, 1)
        XCTAssertTrue(
            byModule.stdoutLines[0].hasSuffix("sites: size=37.5 KiB, count=105, average=366 B"),
            byModule.stdout)
    }

    func testFirstSnapshotHoldsOnlyTheSmallBlocks() throws {
        let top = try work.memtrace(["top", firstSnapshot, "--include", "*sites.c"])
        XCTAssertEqual(
            top.stdoutLines,
            ["\(try site("small", "small_blocks")): size=2400 B, count=100, average=24 B"])
    }

    func testSampledSnapshotsSaySo() throws {
        var snapshot = try SnapshotFile.read(path: work.path + "/" + exitSnapshot)
        snapshot.header.flags |= SnapshotFormat.flagSampled
        snapshot.totals.sampleRate = 512 * 1024
        snapshot.countsTemporary = false  // as the tracer writes a sampled snapshot
        try SnapshotWriter.write(snapshot, to: work.path + "/sampled.snap")
        let top = try work.memtrace(["top", "sampled.snap", "--include", "*sites.c", "--limit", "1"])
        XCTAssertEqual(
            top.stdoutLines,
            [
                "# sampled snapshot (one sample per 512 KiB on average): sizes and counts are estimates scaled up from the sampled blocks",
                "\(try site("big", "big_blocks")): size=29.3 KiB, count=3, average=10000 B",
            ])
        let json = try work.memtrace(["top", "sampled.snap", "--format", "json"]).json()
        XCTAssertEqual(json["sampled"] as? Bool, true)
        XCTAssertEqual(json["sample_rate"] as? Int, 512 * 1024)
        let summary = try work.memtrace(["summary", "sampled.snap"])
        XCTAssertTrue(
            summary.stdout.contains("Sampling: sampled, one sample per 512 KiB on average"),
            summary.stdout)
        let diff = try work.memtrace(["diff", exitSnapshot, "sampled.snap", "--limit", "1"])
        XCTAssertTrue(diff.stdout.hasPrefix("# sampled snapshot"), diff.stdout)
        XCTAssertFalse(summary.stdout.contains("Temporary:"), summary.stdout)
        let temporary = try work.memtrace(["top", "sampled.snap", "--metric", "temporary"])
        XCTAssertEqual(temporary.status, 2)
        XCTAssertEqual(
            temporary.stderrLines,
            [
                "memtrace: sampled.snap: temporary allocations are not counted: the snapshot is sampled (a sampled "
                    + "thread's last recorded block is not its last allocation)"
            ])
    }

    /// A snapshot the metric cannot be drawn from is refused before its modules are looked at:
    /// the error is the only line, not the last after a warning per missing module.
    func testAnUnavailableMetricIsRefusedInOneLine() throws {
        var snapshot = Synthetic.snapshot(
            sites: [Synthetic.Site(function: "leak_step", line: 12)], bytes: [1000], seconds: 1, sequence: 0)
        snapshot.symbols = nil
        snapshot.countsTemporary = false
        snapshot.modules = [
            Snapshot.Module(
                path: "/nonexistent/app", buildID: [1, 2], loadBias: 0,
                segments: [Snapshot.Segment(start: 0, size: 0x10000, fileOffset: 0, flags: 5)])
        ]
        let name = try Synthetic.write(snapshot, "old.snap", in: work.directory)
        let result = try work.memtrace(["top", name, "--metric", "temporary"])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(
            result.stderrLines,
            ["memtrace: old.snap: temporary allocations are not counted: the snapshot has no TEMPORARY section"])
        XCTAssertEqual(try work.memtrace(["top", name]).stderrLines.count, 1, "the warning, without the check")
    }

    func testSummary() throws {
        let summary = try work.memtrace(["summary", exitSnapshot])
        XCTAssertEqual(summary.status, 0, summary.stderr)
        let text = summary.stdout
        XCTAssertTrue(text.contains("Live:      "), text)
        XCTAssertTrue(text.contains("Taken:     at exit"), text)
        // churn's 500 blocks, each freed before the next allocation: 200 + ... + 699 bytes.
        XCTAssertTrue(
            text.contains(
                "Temporary: 500 allocations (82.5%), 219 KiB (224750 B), freed before their thread's next allocation\n"
            ), text)
        XCTAssertTrue(
            text.contains(
                "\nMost temporary allocations (freed before their thread's next allocation):\n  \(try site("churn", "churn")): size=219 KiB, count=500, average=450 B\n\n"
            ), text)
        XCTAssertTrue(
            text.contains(
                "\n  \(try site("big", "big_blocks")): size=29.3 KiB, count=3, average=10000 B\n"), text)
        XCTAssertTrue(
            text.contains(
                "\nMost allocation calls (every allocation, released or not):\n  \(try site("churn", "churn")): size=219 KiB, count=500, average=450 B\n"
            ), text)
        XCTAssertTrue(text.contains("glibc mallinfo2 uordblks + hblkhd:"), text)
        XCTAssertTrue(text.contains("difference:"), text)
        XCTAssertTrue(text.contains("Process:   pid "), text)
        XCTAssertTrue(text.contains(": ./sites\n"), text)
    }
}
