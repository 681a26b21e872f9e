import Foundation
import SnapshotReader
import XCTest
import _MemtraceTestSupport

/// `memtrace trend`: exact output on written snapshots, and the leak and the
/// cache of the trend fixture told apart in a real traced run.
final class TrendTests: XCTestCase {
    func testGoldenText() throws {
        let work = try Workspace("trend-golden")
        let sites = [
            Synthetic.Site(function: "leak_step", line: 12), Synthetic.Site(function: "cache_put", line: 20),
            Synthetic.Site(function: "drain", line: 30), Synthetic.Site(function: "config", line: 40),
        ]
        let series: [[UInt64]] = [
            [1000, 2000, 3000, 4000, 5000, 6000], [0, 4000, 8000, 8000, 8000, 8000],
            [5000, 5000, 5000, 5000, 3000, 1000], [700, 700, 700, 700, 700, 700],
        ]
        var names: [String] = []
        // Written in an order that sorts badly by name: trend orders by time.
        for step in [5, 0, 3, 1, 4, 2] {
            names.append(
                try Synthetic.write(
                    Synthetic.snapshot(
                        sites: sites, bytes: series.map { $0[step] }, seconds: 1 + Double(step), sequence: UInt64(step)),
                    "app.\(step * 5).snap", in: work.directory))
        }
        let text = try work.memtrace(["trend"] + names + ["--by", "lineno"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertEqual(
            text.stdout,
            """
            # 6 snapshots of pid 4242 over 5.00 s; slope of live bytes by least squares
            grows     app.c:12 in leak_step: +1000 B/s (R²=1.00, last third +1000 B/s), size=6000 B (+5000 B), count=60 (+50)
            plateaus  app.c:20 in cache_put: +1486 B/s (R²=0.69, last third +0 B/s), size=8000 B (+8000 B), count=80 (+80)

            """)
        XCTAssertEqual(text.stderr, "")

        let all = try work.memtrace(["trend"] + names + ["--all"])
        XCTAssertEqual(
            all.stdout,
            """
            # 6 snapshots of pid 4242 over 5.00 s; slope of live bytes by least squares
            grows     app.c:12 in leak_step: +1000 B/s (R²=1.00, last third +1000 B/s), size=6000 B (+5000 B), count=60 (+50)
                app.c:12 in leak_step
                app.c:90 in main
            plateaus  app.c:20 in cache_put: +1486 B/s (R²=0.69, last third +0 B/s), size=8000 B (+8000 B), count=80 (+80)
                app.c:20 in cache_put
                app.c:90 in main
            shrinks   app.c:30 in drain: -743 B/s (R²=0.69, last third -2000 B/s), size=1000 B (-4000 B), count=10 (-40)
                app.c:30 in drain
                app.c:90 in main
            steady    app.c:40 in config: +0 B/s (R²=1.00, last third +0 B/s), size=700 B (+0 B), count=7 (+0)
                app.c:40 in config
                app.c:90 in main

            """)

        let json = try work.memtrace(["trend"] + names + ["--format", "json", "--limit", "1"])
        let object = try json.json()
        XCTAssertEqual(object["group_by"] as? String, "traceback")
        XCTAssertEqual(object["sampled"] as? Bool, false)
        XCTAssertEqual(object["sample_rate"] as? Int, 0)
        let snapshots = try XCTUnwrap(object["snapshots"] as? [[String: Any]])
        XCTAssertEqual(snapshots.map { $0["path"] as? String }, (0..<6).map { "app.\($0 * 5).snap" })
        XCTAssertEqual(snapshots.map { $0["time_s"] as? Double }, [0, 1, 2, 3, 4, 5])
        let trends = try XCTUnwrap(object["trends"] as? [[String: Any]])
        XCTAssertEqual(trends.count, 1)
        XCTAssertEqual(trends[0]["kind"] as? String, "grows")
        XCTAssertEqual(trends[0]["slope"] as? Double, 1000)
        XCTAssertEqual(trends[0]["sizes"] as? [Int], [1000, 2000, 3000, 4000, 5000, 6000])
    }

    /// The exit snapshot of a program that freed its heap as it ended, the latest given: a line
    /// through it says nothing grew, so trend and report say to leave it out; without it the
    /// leak shows.
    func testAnExitSnapshotAfterTheHeapWasFreedIsPointedOut() throws {
        let work = try Workspace("trend-exit")
        let site = Synthetic.Site(function: "leak_step", line: 12)
        var names: [String] = []
        for step in 0..<6 {
            var snapshot = Synthetic.snapshot(
                sites: [site], bytes: [step == 5 ? 100 : UInt64(10_000 * (step + 1))], seconds: Double(step),
                sequence: UInt64(step))
            if step == 5 { snapshot.header.trigger = .exit }
            names.append(try Synthetic.write(snapshot, "app.\(step).snap", in: work.directory))
        }
        let warning =
            "memtrace: warning: the latest snapshot, app.5.snap, was taken at exit, with 100 B live where an "
            + "earlier one had 48.8 KiB: leave it out to see what grew while the program ran\n"
        let all = try work.memtrace(["trend"] + names)
        XCTAssertEqual(all.status, 0, all.stderr)
        XCTAssertEqual(all.stderr, warning)
        XCTAssertTrue(all.stdout.contains("# no group of live bytes grew"), all.stdout)
        let report = try work.memtrace(["report"] + names + ["-o", "r.html"])
        XCTAssertEqual(report.stderr, warning)
        let periodic = try work.memtrace(["trend"] + names.dropLast())
        XCTAssertEqual(periodic.stderr, "")
        XCTAssertTrue(periodic.stdout.contains("grows "), periodic.stdout)
    }

    /// Sampled snapshots say so, as top and diff do; snapshots of many processes (a shell's loop
    /// forks a process a command) are named in a short list, and trend and report warn of them.
    func testSampledSnapshotsAndManyProcessesSaySo() throws {
        let work = try Workspace("trend-sampled")
        let site = Synthetic.Site(function: "leak_step", line: 12)
        var names: [String] = []
        for step in 0..<8 {
            var snapshot = Synthetic.snapshot(
                sites: [site], bytes: [UInt64(1000 * (step + 1))], seconds: Double(step), sequence: UInt64(step),
                pid: UInt32(100 + step))
            snapshot.header.flags |= SnapshotFormat.flagSampled
            snapshot.totals.sampleRate = 4096
            names.append(try Synthetic.write(snapshot, "app.\(step).snap", in: work.directory))
        }
        let text = try work.memtrace(["trend"] + names)
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertEqual(
            Array(text.stdoutLines.prefix(2)),
            [
                "# sampled snapshot (one sample per 4096 B on average): sizes and counts are estimates scaled up from "
                    + "the sampled blocks",
                "# 8 snapshots of pids 100, 101, 102, 103, 104, … (8 processes) over 7.00 s; slope of live bytes by "
                    + "least squares",
            ])
        XCTAssertEqual(
            text.stderr, "memtrace: warning: the snapshots come from more than one process; trend expects one run\n")
        let object = try work.memtrace(["trend"] + names + ["--format", "json"]).json()
        XCTAssertEqual(object["sampled"] as? Bool, true)
        XCTAssertEqual(object["sample_rate"] as? Int, 4096)
        let report = try work.memtrace(["report"] + names + ["-o", "r.html"])
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertEqual(
            report.stderr,
            "memtrace: warning: the snapshots come from more than one process; the report's timeline, growth and "
                + "trends expect one run\n")
        let html = try String(contentsOf: work.directory.appendingPathComponent("r.html"), encoding: .utf8)
        XCTAssertTrue(html.contains("<p class=\"facts\">pids 100, 101, 102, 103, 104, … (8 processes) · "), html)
    }

    /// Colour on a terminal only, and never with NO_COLOR: run under script(1), which gives a pty.
    func testColourOnlyOnATerminal() throws {
        let work = try Workspace("trend-colour")
        let sites = [Synthetic.Site(function: "leak_step", line: 12)]
        var names: [String] = []
        for step in 0..<3 {
            names.append(
                try Synthetic.write(
                    Synthetic.snapshot(
                        sites: sites, bytes: [UInt64(step + 1) * 1000], seconds: Double(step), sequence: UInt64(step)),
                    "c.\(step).snap", in: work.directory))
        }
        let command = ([TestPaths.memtrace, "trend"] + names).joined(separator: " ")
        func underTerminal(_ environment: [String: String?]) throws -> String {
            try runProcess(
                "/usr/bin/script", ["-qec", command, "/dev/null"], environment: environment,
                directory: work.directory
            ).stdoutText
        }
        let coloured = try underTerminal(["TERM": "xterm", "NO_COLOR": nil])
        XCTAssertTrue(coloured.contains("\u{1B}[31mgrows    \u{1B}[0m app.c:12 in leak_step"), coloured)
        let plain = try underTerminal(["TERM": "xterm", "NO_COLOR": "1"])
        XCTAssertTrue(plain.contains("grows     app.c:12 in leak_step"), plain)
        XCTAssertFalse(plain.contains("\u{1B}["), plain)
        let piped = try work.memtrace(["trend"] + names, environment: ["TERM": "xterm", "NO_COLOR": nil])
        XCTAssertFalse(piped.rawStdout.contains("\u{1B}["), piped.rawStdout)
    }

    func testTooFewSnapshots() throws {
        let work = try Workspace("trend-few")
        let result = try work.memtrace(["trend", "a.snap", "b.snap"])
        XCTAssertEqual(result.status, 64)
        XCTAssertTrue(result.stderr.contains("at least 3 snapshots"), result.stderr)
    }

    /// Two snapshots given three times are not a trend of three steps.
    func testTheSameSnapshotTwice() throws {
        let work = try Workspace("trend-twice")
        try work.build("sites.c")
        XCTAssertEqual(try work.memtrace(["run", "--output", "t.%n.snap", "--", "./sites"]).status, 0)
        XCTAssertEqual(try work.memtrace(["run", "--output", "u.%n.snap", "--", "./sites"]).status, 0)
        let result = try work.memtrace(["trend", "t.0.snap", "u.0.snap", "./u.0.snap"])
        XCTAssertEqual(result.status, 64)
        XCTAssertTrue(
            result.stderr.contains("./u.0.snap is given twice: each snapshot is one step of the run."), result.stderr)
    }

    /// Snapshots that cannot make a trend (all taken at one moment) are refused like bad input:
    /// one line, status 2.
    func testSnapshotsOfOneMoment() throws {
        let work = try Workspace("trend-moment")
        let site = Synthetic.Site(function: "leak_step", line: 12)
        let names = try ["app.0.snap", "app.1.snap", "app.2.snap"].map {
            try Synthetic.write(
                Synthetic.snapshot(sites: [site], bytes: [1000], seconds: 1, sequence: 0), $0, in: work.directory)
        }
        let result = try work.memtrace(["trend"] + names)
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(
            result.stderr,
            "memtrace: the snapshots were all taken at the same moment: no time to measure growth over\n")
    }

    func testLeakAndCacheOfARealRun() throws {
        let work = try Workspace("trend-real")
        try work.build("trend.c")
        let run = try work.memtrace(["run", "--", "./trend", "12", "20"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let files = try work.snapshots()
        XCTAssertEqual(files.count, 13, "one snapshot per step and one at exit")
        let text = try work.memtrace(["trend"] + files + ["--by", "lineno", "--include", "*trend.c"])
        XCTAssertEqual(text.status, 0, text.stderr)
        let lines = text.stdoutLines
        XCTAssertEqual(lines.count, 3, text.stdout)
        XCTAssertTrue(lines[0].hasPrefix("# 13 snapshots of pid "), lines[0])
        let leak = "trend.c:\(try work.line("trend.c", "SITE leak")) in leak_step: "
        let cache = "trend.c:\(try work.line("trend.c", "SITE cache")) in cache_put: "
        XCTAssertTrue(lines[1].hasPrefix("grows     \(leak)"), lines[1])
        XCTAssertTrue(lines[1].hasSuffix(", size=24.0 KiB (+22.0 KiB), count=12 (+11)"), lines[1])
        XCTAssertTrue(lines[2].hasPrefix("plateaus  \(cache)"), lines[2])
        XCTAssertTrue(lines[2].hasSuffix("last third +0 B/s), size=64.0 KiB (+48.0 KiB), count=64 (+48)"), lines[2])
        XCTAssertFalse(text.stdout.contains("\u{1B}["), "no colour into a pipe")

        let json = try work.memtrace(["trend"] + files + ["--by", "lineno", "--format", "json"])
        let trends = try XCTUnwrap(try json.json()["trends"] as? [[String: Any]])
        let leakTrend = try XCTUnwrap(
            trends.first { ($0["frames"] as? [[String: Any]])?.first?["function"] as? String == "leak_step" })
        XCTAssertGreaterThan(try XCTUnwrap(leakTrend["r_squared"] as? Double), 0.9)
        XCTAssertGreaterThan(try XCTUnwrap(leakTrend["slope"] as? Double), 0)

        // The snapshots of one process share its modules, read once: a module gone from the
        // machine is said once, not once a snapshot, and the ranking is the same by offsets.
        try FileManager.default.moveItem(
            at: work.directory.appendingPathComponent("trend"), to: work.directory.appendingPathComponent("trend.gone"))
        let gone = try work.memtrace(["trend"] + files + ["--by", "lineno"])
        XCTAssertEqual(gone.status, 0, gone.stderr)
        XCTAssertEqual(gone.stderrLines.filter { $0.contains("trend is not on this machine") }.count, 1, gone.stderr)
        XCTAssertEqual(gone.stdoutLines.count, 3, gone.stdout)
        XCTAssertTrue(gone.stdoutLines[1].hasPrefix("grows     trend+0x"), gone.stdout)
        XCTAssertTrue(gone.stdoutLines[2].hasPrefix("plateaus  trend+0x"), gone.stdout)
    }
}
