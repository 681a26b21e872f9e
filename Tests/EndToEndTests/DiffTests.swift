import Foundation
import XCTest
import _MemtraceTestSupport

/// `memtrace diff` within one run and between two runs of the same program.
final class DiffTests: XCTestCase {
    var work: Workspace!

    override func setUpWithError() throws {
        work = try Workspace("diff")
        try work.build("sites.c")
    }

    func site(_ marker: String, _ function: String) throws -> String {
        "sites.c:\(try work.line("sites.c", "SITE \(marker)")) in \(function)"
    }

    /// Runs `./sites SCALE` with its own output pattern; returns its exit snapshot.
    func run(_ label: String, scale: Int) throws -> String {
        let pattern = "\(label).%p.%n.snap"
        let result = try work.memtrace(["run", "--output", pattern, "--", "./sites", String(scale)])
        XCTAssertEqual(result.status, 0, result.stderr)
        return try XCTUnwrap(
            try work.snapshots().first { $0.hasPrefix(label + ".") && $0.hasSuffix(".1.snap") })
    }

    func testDiffWithinOneRun() throws {
        _ = try run("one", scale: 1)
        let files = try work.snapshots().filter { $0.hasPrefix("one.") }
        XCTAssertEqual(files.count, 2)
        let diff = try work.memtrace(["diff", files[0], files[1], "--include", "*sites.c"])
        XCTAssertEqual(diff.status, 0, diff.stderr)
        XCTAssertEqual(
            diff.stdoutLines,
            [
                "\(try site("big", "big_blocks")): size=29.3 KiB (+29.3 KiB), count=3 (+3), average=10000 B",
                "\(try site("realloc", "grown")): size=5000 B (+5000 B), count=1 (+1), average=5000 B",
                "\(try site("calloc", "zeroed")): size=1000 B (+1000 B), count=1 (+1), average=1000 B",
                "\(try site("small", "small_blocks")): size=2400 B (+0 B), count=100 (+0), average=24 B",
            ])
        // Reversed: the blocks vanish.
        let back = try work.memtrace([
            "diff", files[1], files[0], "--include", "*sites.c", "--limit", "2",
        ])
        XCTAssertEqual(
            back.stdoutLines,
            [
                "\(try site("big", "big_blocks")): size=0 B (-29.3 KiB), count=0 (-3)",
                "\(try site("realloc", "grown")): size=0 B (-5000 B), count=0 (-1)",
            ])
    }

    /// Two processes: different pids, different load addresses (PIE + ASLR), same sites.
    func testDiffBetweenTwoRuns() throws {
        let old = try run("a", scale: 1)
        let new = try run("b", scale: 3)
        XCTAssertNotEqual(old.split(separator: ".")[1], new.split(separator: ".")[1], "two pids")
        let diff = try work.memtrace(["diff", old, new, "--include", "*sites.c"])
        XCTAssertEqual(diff.status, 0, diff.stderr)
        XCTAssertEqual(
            diff.stdoutLines,
            [
                "\(try site("small", "small_blocks")): size=7200 B (+4800 B), count=300 (+200), average=24 B",
                "\(try site("big", "big_blocks")): size=29.3 KiB (+0 B), count=3 (+0), average=10000 B",
                "\(try site("realloc", "grown")): size=5000 B (+0 B), count=1 (+0), average=5000 B",
                "\(try site("calloc", "zeroed")): size=1000 B (+0 B), count=1 (+0), average=1000 B",
            ])

        let json = try work.memtrace(["diff", old, new, "--include", "*sites.c", "--format", "json"])
            .json()
        let stats = try XCTUnwrap(json["stats"] as? [[String: Any]])
        XCTAssertEqual(stats.map { $0["size"] as? Int }, [7200, 30000, 5000, 1000])
        XCTAssertEqual(stats.map { $0["size_diff"] as? Int }, [4800, 0, 0, 0])
        XCTAssertEqual(stats.map { $0["count"] as? Int }, [300, 3, 1, 1])
        XCTAssertEqual(stats.map { $0["count_diff"] as? Int }, [200, 0, 0, 0])
        let frame = try XCTUnwrap((stats[0]["frames"] as? [[String: Any]])?.first)
        XCTAssertEqual(frame["function"] as? String, "small_blocks")
        XCTAssertEqual(frame["line"] as? Int, try work.line("sites.c", "SITE small"))
        let total = try XCTUnwrap(json["total"] as? [String: Any])
        XCTAssertEqual(total["size_diff"] as? Int, 4800)

        let traceback = try work.memtrace([
            "diff", old, new, "--include", "*sites.c", "--by", "traceback", "--limit", "1",
        ])
        XCTAssertEqual(
            Array(traceback.stdoutLines.prefix(3)),
            [
                "\(try site("small", "small_blocks")): size=7200 B (+4800 B), count=300 (+200), average=24 B",
                "    \(try site("small", "small_blocks"))",
                "    sites.c:\(try work.line("sites.c", "CALL small")) in main",
            ])
    }

    func testFailOnGrowth() throws {
        let old = try run("a", scale: 1)
        let new = try run("b", scale: 3)
        // Growth after filters is 4800 bytes.
        let fails = try work.memtrace([
            "diff", old, new, "--include", "*sites.c", "--fail-on-growth", "4799",
        ])
        XCTAssertEqual(fails.status, 1)
        XCTAssertEqual(fails.stdoutLines.count, 4, "the report is printed before failing")
        XCTAssertEqual(fails.stderrLines.count, 1, fails.stderr)
        XCTAssertEqual(
            fails.stderrLines, ["memtrace: total growth +4800 B exceeds --fail-on-growth 4799 (4799 B)"])
        let passes = try work.memtrace([
            "diff", old, new, "--include", "*sites.c", "--fail-on-growth", "4800",
        ])
        XCTAssertEqual(passes.status, 0, passes.stderr)
        XCTAssertEqual(
            try work.memtrace(["diff", old, new, "--include", "*sites.c", "--fail-on-growth", "4KiB"])
                .status, 1)
        XCTAssertEqual(
            try work.memtrace(["diff", old, new, "--include", "*sites.c", "--fail-on-growth", "5KB"])
                .status, 0)
        // Excluding the growing site leaves no growth.
        let filtered = try work.memtrace([
            "diff", old, new, "--include", "*sites.c", "--exclude", "small_blocks", "--fail-on-growth",
            "0",
        ])
        XCTAssertEqual(filtered.status, 0, filtered.stderr)
        // Shrinking is not growth.
        XCTAssertEqual(
            try work.memtrace(["diff", new, old, "--fail-on-growth", "0", "--include", "*sites.c"])
                .status, 0)
        // An allocation budget: the larger run allocates 200 more small blocks, 4800 bytes.
        let budget = try work.memtrace([
            "diff", old, new, "--include", "*sites.c", "--metric", "total", "--sort", "count",
            "--fail-on-growth", "4KiB",
        ])
        XCTAssertEqual(budget.status, 1)
        XCTAssertEqual(
            budget.stderrLines,
            ["memtrace: total growth +4800 B of --metric total exceeds --fail-on-growth 4KiB (4096 B)"])
        XCTAssertEqual(
            budget.stdoutLines.prefix(3),
            [
                "# every allocation of the run up to the snapshot, released or not (--metric total)",
                "\(try site("small", "small_blocks")): size=7200 B (+4800 B), count=300 (+200), average=24 B",
                "\(try site("churn", "churn")): size=219 KiB (+0 B), count=500 (+0), average=450 B",
            ])
        let bad = try work.memtrace(["diff", old, new, "--fail-on-growth", "lots"])
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderr.contains("is not a size"), bad.stderr)
    }
}
