import Foundation
import SnapshotReader
import XCTest
import _MemtraceTestSupport

/// `memtrace merge` over two runs of the sites fixture.
final class MergeTests: XCTestCase {
    func testTwoProcessesAddUpAndReadWithoutTheBinary() throws {
        let work = try Workspace("merge")
        try work.build("sites.c")
        for _ in 0..<2 {
            let run = try work.memtrace(["run", "--", "./sites"])
            XCTAssertEqual(run.status, 0, run.stderr)
        }
        let exits = try work.snapshots().filter { $0.hasSuffix(".1.snap") }
        XCTAssertEqual(exits.count, 2)
        let merge = try work.memtrace(["merge"] + exits + ["-o", "fleet.snap"])
        XCTAssertEqual(merge.status, 0, merge.stderr)
        XCTAssertEqual(merge.stdout, "")

        // Symbols are embedded: the merged snapshot reads the same once the program is gone.
        try FileManager.default.removeItem(at: work.directory.appendingPathComponent("sites"))
        let top = try work.memtrace(["top", "fleet.snap", "--include", "*sites.c"])
        XCTAssertEqual(top.status, 0, top.stderr)
        func site(_ marker: String, _ function: String) throws -> String {
            "sites.c:\(try work.line("sites.c", "SITE \(marker)")) in \(function)"
        }
        XCTAssertEqual(
            top.stdoutLines,
            [
                "\(try site("big", "big_blocks")): size=58.6 KiB, count=6, average=10000 B",
                "\(try site("realloc", "grown")): size=10000 B, count=2, average=5000 B",
                "\(try site("small", "small_blocks")): size=4800 B, count=200, average=24 B",
                "\(try site("calloc", "zeroed")): size=2000 B, count=2, average=1000 B",
            ])
        XCTAssertEqual(top.stderr, "")

        // The summary and the report name what it was merged from, not the pid 0 of its header.
        let pids = try exits.map { try XCTUnwrap(Int($0.split(separator: ".").dropLast(2).last ?? "")) }.sorted()
        let merged = "merged from 2 snapshots of 2 processes (pids \(pids.map(String.init).joined(separator: ", ")))"
        let summary = try work.memtrace(["summary", "fleet.snap"])
        XCTAssertEqual(summary.status, 0, summary.stderr)
        XCTAssertTrue(summary.stdoutLines.contains("Process:   \(merged): ./sites"), summary.stdout)
        XCTAssertTrue(
            summary.stdoutLines.contains {
                $0.hasPrefix("Taken:     the latest at exit, ")
                    && $0.hasSuffix(" s after the first process started tracing")
            }, summary.stdout)
        let report = try work.memtrace(["report", "fleet.snap", "-o", "fleet.html"])
        XCTAssertEqual(report.status, 0, report.stderr)
        let html = try String(contentsOf: work.directory.appendingPathComponent("fleet.html"), encoding: .utf8)
        XCTAssertTrue(html.contains("<p class=\"facts\">\(merged) · 1 snapshot · "), String(html.prefix(3000)))
    }

    /// Figures that add up past what a snapshot may hold (only damaged inputs have such) leave no file.
    func testWritesNothingItCouldNotReadBack() throws {
        let work = try Workspace("merge-overflow")
        try work.build("sites.c")
        XCTAssertEqual(try work.memtrace(["run", "--output", "s.%n.snap", "--", "./sites"]).status, 0)
        XCTAssertEqual(try work.memtrace(["run", "--output", "t.%n.snap", "--", "./sites"]).status, 0)
        var snapshot = try SnapshotFile.read(path: work.path + "/t.1.snap")
        let others = snapshot.stackStats.dropFirst().reduce(UInt64(0)) { $0 + $1.liveBytes }
        snapshot.stackStats[0].liveBytes = UInt64(Int64.max) - others
        try SnapshotWriter.write(snapshot, to: work.path + "/huge.snap")
        XCTAssertEqual(try work.memtrace(["top", "huge.snap"]).status, 0)
        let merge = try work.memtrace(["merge", "huge.snap", "s.1.snap", "-o", "both.snap"])
        XCTAssertEqual(merge.status, 2)
        XCTAssertEqual(
            merge.stderrLines,
            [
                "memtrace: both.snap: not written: the snapshots add up to one that cannot be read (section "
                    + "STACK_STATS is malformed: the records' live_bytes add up past 2^63 - 1)"
            ])
        XCTAssertFalse(FileManager.default.fileExists(atPath: work.path + "/both.snap"))
    }

    func testRefusesToOverwriteAnInput() throws {
        let work = try Workspace("merge-self")
        let result = try work.memtrace(["merge", "a.snap", "b.snap", "-o", "a.snap"])
        XCTAssertEqual(result.status, 64)
        XCTAssertTrue(result.stderr.contains("another file"), result.stderr)
    }

    func testSaysWhenASnapshotIsGivenTwice() throws {
        let work = try Workspace("merge-twice")
        try work.build("sites.c")
        XCTAssertEqual(try work.memtrace(["run", "--output", "a.%n.snap", "--", "./sites"]).status, 0)
        let result = try work.memtrace(["merge", "a.0.snap", "./a.0.snap", "-o", "m.snap"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stderrLines, ["memtrace: ./a.0.snap is given twice: it is merged once"])
        let once = try SnapshotFile.read(path: work.path + "/m.snap")
        let alone = try SnapshotFile.read(path: work.path + "/a.0.snap")
        XCTAssertEqual(once.totals.liveBytes, alone.totals.liveBytes)
        XCTAssertEqual(once.process["merged"], "1 snapshot of 1 process")

        // Two snapshots of one process (the one the program asked for, then the exit snapshot):
        // the same heap at two moments, so only the later one is merged.
        let exit = try SnapshotFile.read(path: work.path + "/a.1.snap")
        XCTAssertNotEqual(alone.totals.liveBytes, exit.totals.liveBytes)
        let both = try work.memtrace(["merge", "a.1.snap", "a.0.snap", "-o", "m2.snap"])
        XCTAssertEqual(both.status, 0, both.stderr)
        XCTAssertEqual(
            both.stderrLines,
            [
                "memtrace: only the latest snapshot of each process is merged: 1 earlier one of pid \(exit.header.pid) left out"
            ])
        // A merge that cannot be written says only why: the note on what it left out came first.
        let full = try work.memtrace(["merge", "a.1.snap", "a.0.snap", "-o", "/dev/full"])
        XCTAssertEqual(full.status, 2)
        XCTAssertEqual(full.stderrLines, ["memtrace: /dev/full: cannot write: No space left on device"])
        let latest = try SnapshotFile.read(path: work.path + "/m2.snap")
        XCTAssertEqual(latest.totals.liveBytes, exit.totals.liveBytes)
        XCTAssertEqual(latest.totals.peakBytes, exit.totals.peakBytes)
        // A damaged file given twice: its error alone, on one line.
        try Data("not a snapshot, just text".utf8).write(to: work.directory.appendingPathComponent("bad.snap"))
        let bad = try work.memtrace(["merge", "bad.snap", "bad.snap", "-o", "m2.snap"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertEqual(bad.stderrLines, ["memtrace: bad.snap: not a memtrace snapshot (bad magic)"])
    }
}
