import Foundation
import XCTest
import _MemtraceTestSupport

/// `memtrace watch PID`: a running program's top sites, round after round, with their growth since
/// the first round, and the snapshot that ends the program as the last round.
final class WatchTests: XCTestCase {
    /// `memtrace run -- ./grower` in `work`, and the grower's pid once it has written it.
    func startGrower(_ work: Workspace, sampled: Bool = false) throws -> (Process, Int32) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestPaths.memtrace)
        process.arguments = ["run", "--", "./grower"]
        process.currentDirectoryURL = work.directory
        var environment = ProcessInfo.processInfo.environment
        environment["MEMTRACE_LIB"] = TestPaths.libtrace
        environment["LD_PRELOAD"] = nil
        if sampled { environment["MEMTRACE_SAMPLE"] = "4k" }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let pidFile = work.directory.appendingPathComponent("pid")
        try? FileManager.default.removeItem(at: pidFile)  // an earlier grower's
        try process.run()
        for _ in 0..<500 {
            if let text = try? String(contentsOf: pidFile, encoding: .utf8),
                let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                return (process, pid)
            }
            usleep(10_000)
        }
        process.terminate()
        throw SupportError("the grower did not start")
    }

    /// The rounds of watch's output: each a heading and its site lines.
    func rounds(_ lines: [String]) -> [(heading: String, sites: [String])] {
        var rounds: [(heading: String, sites: [String])] = []
        for line in lines where !line.isEmpty {
            if line.hasPrefix("# pid ") {
                rounds.append((line, []))
            } else if !rounds.isEmpty {
                rounds[rounds.count - 1].sites.append(line)
            }
        }
        return rounds
    }

    /// The count of a `SITE: size=… (+…), count=N (+…)…` line.
    func count(_ line: String?) -> Int? {
        guard let line, let range = line.range(of: "count=") else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }

    func testRoundsShowGrowthSinceTheFirstAndTheProgramsEnd() throws {
        let work = try Workspace("watch")
        try work.build("grower.c")
        let grow = "grower.c:\(try work.line("grower.c", "SITE grow")) in main: size="
        let held = "grower.c:\(try work.line("grower.c", "SITE held")) in main: size=500 B (+0 B), count=1 (+0)"
        let (process, pid) = try startGrower(work)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

        let watched = try work.memtrace([
            "watch", String(pid), "--interval", "0.3", "--count", "3", "--include", "*grower.c",
        ])
        XCTAssertEqual(watched.status, 0, watched.stderr)
        let three = rounds(watched.stdoutLines)
        XCTAssertEqual(three.count, 3, watched.stdout)
        for (index, round) in three.enumerated() {
            XCTAssertTrue(round.heading.hasPrefix("# pid \(pid) (./grower), snapshot #\(index) at "), round.heading)
            XCTAssertEqual(round.sites.count, 2, "\(round)")
            XCTAssertTrue(round.sites.contains { $0.hasPrefix(held) }, "\(round)")
        }
        // The first round is the base: nothing changed yet. Then the kept blocks grow.
        XCTAssertTrue(three[0].heading.hasSuffix("(+0 B, +0 in 0.00 s)"), three[0].heading)
        let growth = three.map { round in round.sites.first { $0.hasPrefix(grow) } }
        XCTAssertTrue(growth[0]?.contains("(+0 B), count=") == true, "\(growth)")
        let counts = growth.map(count)
        XCTAssertTrue(counts.allSatisfy { $0 != nil }, "\(growth)")
        XCTAssertLessThan(counts[0]!, counts[1]!, "\(growth)")
        XCTAssertLessThan(counts[1]!, counts[2]!, "\(growth)")
        XCTAssertTrue(growth[2]?.contains("count=\(counts[2]!) (+\(counts[2]! - counts[0]!))") == true, "\(growth)")

        // Until the program ends: its last snapshot, the one SIGTERM left, is the last round.
        let watch = Process()
        watch.executableURL = URL(fileURLWithPath: TestPaths.memtrace)
        watch.arguments = ["watch", String(pid), "--interval", "0.2", "--include", "*grower.c"]
        watch.currentDirectoryURL = work.directory
        let output = Pipe()
        watch.standardOutput = output
        watch.standardError = FileHandle.nullDevice
        try watch.run()
        usleep(500_000)
        kill(process.processIdentifier, SIGTERM)  // memtrace run hands it to the program
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        watch.waitUntilExit()
        XCTAssertEqual(watch.terminationStatus, 0, text)
        let last = try XCTUnwrap(rounds(text.components(separatedBy: "\n")).last, text)
        XCTAssertTrue(last.heading.contains(" (ended by SIGTERM): live "), last.heading)
        XCTAssertTrue(last.sites.contains { $0.contains("/" + held) }, text)

        // On a terminal: each round redraws the screen, in its width and height.
        let (terminalGrower, terminalPid) = try startGrower(work)
        defer { if terminalGrower.isRunning { kill(terminalGrower.processIdentifier, SIGKILL) } }
        let script = try XCTUnwrap(toolOnPath("script"), "script (Debian's bsdutils)")
        let command = "stty cols 50 rows 4; '\(TestPaths.memtrace)' watch \(terminalPid) --interval 0.2 --count 2"
        let screen = try runProcess(script, ["-qec", command, "/dev/null"], directory: work.directory)
        XCTAssertEqual(screen.status, 0, screen.stdoutText)
        let frames = screen.stdoutText.components(separatedBy: "\u{1B}[H\u{1B}[2J")
        XCTAssertEqual(frames.count, 3, screen.stdoutText)
        for frame in frames.dropFirst() {
            let plain = frame.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression)
            let lines = plain.components(separatedBy: "\r\n").filter { !$0.isEmpty }
            XCTAssertEqual(lines.count, 3, plain)
            XCTAssertTrue(lines[0].hasPrefix("# pid \(terminalPid) (./grower)"), plain)
            XCTAssertTrue(lines.allSatisfy { $0.count <= 50 }, plain)
            XCTAssertTrue(lines.allSatisfy { $0.hasSuffix("…") }, plain)
        }
        kill(terminalGrower.processIdentifier, SIGTERM)
        terminalGrower.waitUntilExit()

        // Options that do not apply to the process's snapshots end the watch at its first round.
        let (sampledGrower, sampledPid) = try startGrower(work, sampled: true)
        defer { if sampledGrower.isRunning { kill(sampledGrower.processIdentifier, SIGKILL) } }
        let temporary = try work.memtrace(["watch", String(sampledPid), "--metric", "temporary"])
        XCTAssertEqual(temporary.status, 2, temporary.stdout)
        XCTAssertEqual(temporary.stdout, "")
        XCTAssertEqual(temporary.stderrLines.count, 1, temporary.stderr)
        XCTAssertTrue(temporary.stderr.contains("temporary allocations are not counted: the snapshot is sampled"))
        kill(sampledGrower.processIdentifier, SIGTERM)
        sampledGrower.waitUntilExit()

        // Nothing to watch.
        let gone = try work.memtrace(["watch", String(pid), "--count", "1"])
        XCTAssertEqual(gone.status, 1)
        XCTAssertEqual(gone.stderrLines, ["memtrace: no process \(pid)"])
        let json = try work.memtrace(["watch", "1", "--format", "json"])
        XCTAssertEqual(json.status, 64)
        XCTAssertTrue(json.stderr.contains("watch writes text only (--format text)."), json.stderr)
    }
}
