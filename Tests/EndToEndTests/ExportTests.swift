import Foundation
import XCTest
import _MemtraceTestSupport

/// `memtrace export` and the folded formats of `top`/`diff` on the sites fixture,
/// each read back by its consumer: go tool pprof, the speedscope schema, a JSON parser.
final class ExportTests: XCTestCase {
    var work: Workspace!
    var first = ""
    var last = ""

    override func setUpWithError() throws {
        work = try Workspace("export")
        try work.build("sites.c")
        let run = try work.memtrace(["run", "--", "./sites"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let files = try work.snapshots()
        first = try XCTUnwrap(files.first { $0.hasSuffix(".0.snap") })
        last = try XCTUnwrap(files.first { $0.hasSuffix(".1.snap") })
    }

    /// The frames under main, as glibc 2.36 starts a program.
    let startup = "_start;__libc_start_main_impl;__libc_start_call_main;main"

    func testFoldedGolden() throws {
        let export = try work.memtrace([
            "export", last, "--format", "folded", "--include", "*sites.c",
        ])
        XCTAssertEqual(export.status, 0, export.stderr)
        XCTAssertEqual(
            export.stdout,
            """
            \(startup);big_blocks 30000
            \(startup);grown 5000
            \(startup);small_blocks 2400
            \(startup);zeroed 1000

            """)
        // Bytes ever allocated: churn's 500 blocks of 200…699 bytes; grown's malloc(10) and its
        // realloc to 5000 are two stacks that fold to the same names, so they are added up.
        let total = try work.memtrace([
            "top", last, "--format", "folded", "--include", "*sites.c",
        ])
        XCTAssertEqual(total.stdout, export.stdout, "top --format folded is the same as export")
        let allocated = try work.memtrace([
            "export", last, "--format", "folded", "--metric", "total", "--include", "*sites.c",
        ])
        XCTAssertEqual(
            allocated.stdoutLines,
            [
                "\(startup);big_blocks 30000", "\(startup);churn 224750", "\(startup);grown 5010",
                "\(startup);small_blocks 2400", "\(startup);zeroed 1000",
            ])
    }

    func testFoldedDiffGolden() throws {
        let diff = try work.memtrace([
            "diff", first, last, "--format", "folded", "--include", "*sites.c",
        ])
        XCTAssertEqual(diff.status, 0, diff.stderr)
        XCTAssertEqual(
            diff.stdout,
            """
            \(startup);big_blocks 0 30000
            \(startup);grown 0 5000
            \(startup);small_blocks 2400 2400
            \(startup);zeroed 0 1000

            """)
    }

    func testFoldedToFile() throws {
        let export = try work.memtrace([
            "export", last, "--format", "folded", "-o", "live.folded", "--include", "*sites.c",
        ])
        XCTAssertEqual(export.status, 0, export.stderr)
        XCTAssertEqual(export.stdout, "")
        let text = String(decoding: try work.contents("live.folded"), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("\(startup);big_blocks 30000\n"), text)
    }

    func testOutputReplacesAPlantedSymlinkInsteadOfFollowingIt() throws {
        // A link at the temporary name memtrace will use (PATH.tmp.PID: exec keeps the shell's pid).
        let victim = work.directory.appendingPathComponent("victim")
        try Data("precious\n".utf8).write(to: victim)
        let script = #"ln -s "$1" live.folded.tmp.$$ && exec "$2" export "$3" --format folded -o live.folded"#
        let result = try runProcess(
            "/bin/sh", ["-c", script, "sh", victim.path, TestPaths.memtrace, last], directory: work.directory)
        XCTAssertEqual(result.status, 0, result.stderrText)
        XCTAssertEqual(String(decoding: try Data(contentsOf: victim), as: UTF8.self), "precious\n")
        let text = String(decoding: try work.contents("live.folded"), as: UTF8.self)
        XCTAssertTrue(text.contains(";big_blocks 30000\n"), text)
        let left = try FileManager.default.contentsOfDirectory(atPath: work.path).filter { $0.contains(".tmp.") }
        XCTAssertEqual(left, [])
    }

    /// A pipe or a device named as the output is written in place (renaming over it put a file
    /// where the device was: `-o /dev/full` as root replaced the device); a directory is refused;
    /// output that cannot be written to standard output is reported, not lost in silence.
    func testOutputsThatAreNotRegularFiles() throws {
        let script = #"""
            mkfifo pipe.out
            cat pipe.out > from-export.txt & "$1" export "$2" --format folded -o pipe.out; echo "export $?"; wait
            cat pipe.out > from-merge.snap & "$1" merge "$2" -o pipe.out; echo "merge $?"; wait
            test -p pipe.out && echo "still a pipe"
            mkdir dir.out; "$1" report "$2" -o dir.out 2>&1; echo "report $?"
            "$1" merge "$2" -o dir.out 2>&1; echo "merge $?"
            "$1" top "$2" 2>&1 > /dev/full; echo "top $?"
            """#
        let result = try runProcess(
            "/bin/sh", ["-c", script, "sh", TestPaths.memtrace, last], directory: work.directory)
        XCTAssertEqual(
            result.stdoutText,
            """
            export 0
            merge 0
            still a pipe
            memtrace: cannot write dir.out: is a directory
            report 2
            memtrace: dir.out: cannot replace: Is a directory
            merge 2
            memtrace: cannot write standard output: No space left on device
            top 2

            """, result.stderrText)
        let folded = String(decoding: try work.contents("from-export.txt"), as: UTF8.self)
        XCTAssertTrue(folded.contains(";big_blocks 30000\n"), folded)
        XCTAssertEqual(Array(try work.contents("from-merge.snap").prefix(8)), Array("MEMTRACE".utf8))
    }

    /// `/dev/stdout` and the other names of a descriptor are that descriptor (a link to
    /// `/proc/self/fd/1` used to be replaced by a file, the output lost); a link to a file
    /// writes that file and stays a link; `-` is standard output for the snapshot writers too;
    /// no command writes over what it reads, whatever name it is given.
    func testDescriptorsLinksAndInputs() throws {
        let script = #"""
            echo first > appended.txt
            "$1" export "$2" --format folded -o /dev/stdout >> appended.txt; echo "stdout $?"
            "$1" export "$2" --format folded -o /dev/fd/3 3> fd3.txt; echo "fd3 $?"
            "$1" export "$2" --format folded -o /proc/self/fd/1 2>&1 >&-; echo "closed $?"
            ln -s /proc/self/fd/1 out.link; "$1" export "$2" --format folded -o out.link > through-link.txt
            test -L out.link && echo "still a link"
            echo old > target.txt; ln -s target.txt file.link; "$1" export "$2" --format folded -o file.link
            test -L file.link && echo "file link kept"
            umask 022; echo old > private.txt; chmod 600 private.txt; ln -s private.txt private.link
            "$1" export "$2" --format folded -o private.link; stat -c "private %a" private.txt
            "$1" export "$2" --format folded -o /dev/fd/7 2>&1; echo "fd7 not given $?"
            "$1" export "$2" --format folded -o /proc/thread-self/fd/3 3> fd3b.txt; echo "thread-self $?"
            "$1" export "$2" --format folded -o /dev//./fd/3 3> fd3c.txt; echo "slashes $?"
            "$1" merge "$2" "$2" -o - > merged.snap; echo "merge - $?"; test -e ./- || echo "no file named -"
            "$1" symbolize "$2" -o "./$2" 2>&1 | head -1; echo "symbolize"
            "$1" report "$2" -o "$2" 2>&1 | head -1; echo "report"
            """#
        let result = try runProcess(
            "/bin/sh", ["-c", script, "sh", TestPaths.memtrace, last], directory: work.directory)
        XCTAssertEqual(
            result.stdoutText,
            """
            stdout 0
            fd3 0
            memtrace: cannot write /proc/self/fd/1: Bad file descriptor
            closed 2
            still a link
            file link kept
            private 600
            memtrace: cannot write /dev/fd/7: Bad file descriptor
            fd7 not given 2
            thread-self 0
            slashes 0
            merge - 0
            no file named -
            Error: -o must name another file than the snapshot.
            symbolize
            Error: -o must name another file than the snapshots.
            report

            """, result.stderrText)
        let expected = String(decoding: try work.contents("fd3.txt"), as: UTF8.self)
        XCTAssertTrue(expected.contains(";big_blocks 30000\n"), expected)
        XCTAssertEqual(String(decoding: try work.contents("appended.txt"), as: UTF8.self), "first\n" + expected)
        XCTAssertEqual(String(decoding: try work.contents("through-link.txt"), as: UTF8.self), expected)
        XCTAssertEqual(String(decoding: try work.contents("target.txt"), as: UTF8.self), expected)
        XCTAssertEqual(String(decoding: try work.contents("private.txt"), as: UTF8.self), expected)
        XCTAssertEqual(String(decoding: try work.contents("fd3b.txt"), as: UTF8.self), expected)
        XCTAssertEqual(String(decoding: try work.contents("fd3c.txt"), as: UTF8.self), expected)
        XCTAssertEqual(Array(try work.contents("merged.snap").prefix(8)), Array("MEMTRACE".utf8))
        XCTAssertEqual(Array(try work.contents(last).prefix(8)), Array("MEMTRACE".utf8), "the input is untouched")
    }

    /// SIGTERM in the middle of writing an output removes the temporary file before it ends the
    /// command (strace holds the write back for three seconds).
    func testAnInterruptedWriteLeavesNothing() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/strace"), "strace is not installed")
        let probe = try runProcess("/usr/bin/strace", ["-o", "/dev/null", "/bin/true"])
        try XCTSkipUnless(probe.status == 0, "strace cannot trace here: \(probe.stderrText)")
        let script = #"""
            strace -f -o /dev/null -e trace=write -e inject=write:delay_enter=3000000:when=1 \
                "$1" export "$2" --format json -o out.json &
            for i in $(seq 100); do ls out.json.tmp.* >/dev/null 2>&1 && break; sleep 0.1; done
            ls out.json.tmp.* >/dev/null 2>&1 && echo "writing"
            kill -TERM $(pgrep -P $!)
            wait
            ls out.json* 2>/dev/null || echo "nothing left"
            """#
        let result = try runProcess(
            "/bin/sh", ["-c", script, "sh", TestPaths.memtrace, last], directory: work.directory)
        XCTAssertEqual(result.stdoutText, "writing\nnothing left\n", result.stderrText)
    }

    var go: String? {
        ["/usr/bin/go", "/usr/lib/go/bin/go"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    func pprof(_ go: String, _ arguments: [String]) throws -> String {
        let result = try runProcess(go, ["tool", "pprof"] + arguments, directory: work.directory)
        XCTAssertEqual(result.status, 0, result.stderrText)
        return result.stdoutText
    }

    func testPprofOpensInGoToolPprof() throws {
        guard let go else { throw XCTSkip("go is not installed (Debian golang-go)") }
        let export = try work.memtrace(["export", last, "--format", "pprof", "-o", "last.pb.gz"])
        XCTAssertEqual(export.status, 0, export.stderr)
        XCTAssertEqual(Array(try work.contents("last.pb.gz").prefix(2)), [0x1f, 0x8b])

        let top = try pprof(go, ["-top", "last.pb.gz"])
        XCTAssertTrue(top.contains("Type: inuse_space"), top)
        XCTAssertTrue(top.contains("Build ID: "), top)
        func row(_ text: String, _ function: String) -> String? {
            text.split(separator: "\n").map(String.init).first { $0.hasSuffix(" " + function) }
        }
        XCTAssertTrue(try XCTUnwrap(row(top, "big_blocks")).hasPrefix("    30000B "), top)
        XCTAssertTrue(try XCTUnwrap(row(top, "small_blocks")).hasPrefix("     2400B "), top)
        XCTAssertNil(row(top, "malloc"), "allocator frames are dropped")

        let objects = try pprof(go, ["-sample_index=alloc_objects", "-top", "last.pb.gz"])
        XCTAssertTrue(objects.contains("Type: alloc_objects"), objects)
        XCTAssertTrue(try XCTUnwrap(row(objects, "churn")).hasPrefix("       500 "), objects)

        // Source lines come from the profile itself (memtrace symbolized them).
        let lines = try pprof(go, ["-top", "-lines", "last.pb.gz"])
        let bigLine = try work.line("sites.c", "SITE big")
        XCTAssertTrue(lines.contains("big_blocks \(work.path)/sites.c:\(bigLine)\n"), lines)
    }

    /// Valgrind's ms_print reads the Massif file: the graph, the peak's tree and the snapshot's.
    func testMassifReadByMsPrint() throws {
        let msPrint = try XCTUnwrap(toolOnPath("ms_print"), "ms_print (Debian's valgrind)")
        let export = try work.memtrace(["export", last, "--format", "massif", "-o", "massif.out.sites"])
        XCTAssertEqual(export.status, 0, export.stderr)
        let printed = try runProcess(msPrint, ["massif.out.sites"], directory: work.directory)
        XCTAssertEqual(printed.status, 0, printed.stderrText)
        let text = printed.stdoutText
        XCTAssertTrue(text.contains("Command:            ./sites"), text)
        XCTAssertTrue(text.contains(" (peak)"), text)
        // Each detailed tree: the 30,000 bytes of big_blocks under main, at their lines.
        let bigLine = try work.line("sites.c", "SITE big")
        let rows = text.split(separator: "\n").filter { $0.contains("big_blocks (\(work.path)/sites.c:\(bigLine))") }
        XCTAssertEqual(rows.count, 2, text)
        XCTAssertTrue(rows.allSatisfy { $0.contains("(30,000B) big_blocks") }, "\(rows)")
        XCTAssertFalse(text.contains("malloc ("), "the allocator's frames are left out")
    }

    func testPprofDiffBase() throws {
        guard let go else { throw XCTSkip("go is not installed (Debian golang-go)") }
        for (snapshot, output) in [(first, "old.pb.gz"), (last, "new.pb.gz")] {
            let export = try work.memtrace(["export", snapshot, "--format", "pprof", "-o", output])
            XCTAssertEqual(export.status, 0, export.stderr)
        }
        let diff = try pprof(go, ["-top", "-diff_base", "old.pb.gz", "new.pb.gz"])
        let rows = diff.split(separator: "\n").map(String.init)
        XCTAssertTrue(
            rows.contains { $0.hasPrefix("    30000B ") && $0.hasSuffix(" big_blocks") }, diff)
        XCTAssertFalse(rows.contains { $0.hasSuffix(" small_blocks") }, "unchanged: \(diff)")
    }

    func testPprofRefusesATerminalAndFilters() throws {
        let filtered = try work.memtrace([
            "export", last, "--format", "pprof", "-o", "x.pb.gz", "--include", "*sites.c",
        ])
        XCTAssertNotEqual(filtered.status, 0)
        XCTAssertTrue(filtered.stderr.contains("-focus"), filtered.stderr)
    }

    func testSpeedscopeIsValid() throws {
        let export = try work.memtrace([
            "export", last, "--format", "speedscope", "-o", "live.speedscope.json",
        ])
        XCTAssertEqual(export.status, 0, export.stderr)
        let path = work.directory.appendingPathComponent("live.speedscope.json").path
        try assertValidSpeedscope(path)
        let document = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: try work.contents("live.speedscope.json"))
                as? [String: Any])
        let frames = try XCTUnwrap(
            (document["shared"] as? [String: Any])?["frames"] as? [[String: Any]])
        let big = try XCTUnwrap(frames.first { $0["name"] as? String == "big_blocks" })
        XCTAssertEqual(big["line"] as? Int, try work.line("sites.c", "SITE big"))
        XCTAssertTrue((big["file"] as? String ?? "").hasSuffix("sites.c"))
        // One profile per figure; --metric picks the one shown first.
        let temporary = try work.memtrace([
            "export", last, "--format", "speedscope", "--metric", "temporary", "-o", "temporary.speedscope.json",
        ])
        XCTAssertEqual(temporary.status, 0, temporary.stderr)
        try assertValidSpeedscope(work.directory.appendingPathComponent("temporary.speedscope.json").path)
        let second = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: try work.contents("temporary.speedscope.json"))
                as? [String: Any])
        let profiles = try XCTUnwrap(second["profiles"] as? [[String: Any]])
        XCTAssertEqual(
            profiles.map { $0["name"] as? String },
            ["live bytes", "bytes at the peak", "bytes allocated", "bytes allocated temporarily"])
        XCTAssertEqual(second["activeProfileIndex"] as? Int, 3)
    }

    func testJSONExport() throws {
        let export = try work.memtrace(["export", last, "--format", "json", "--include", "*sites.c"])
        XCTAssertEqual(export.status, 0, export.stderr)
        let json = try export.json()
        let stacks = try XCTUnwrap(json["stacks"] as? [[String: Any]])
        XCTAssertEqual(stacks.count, 6, "big, grown's realloc, small, zeroed, grown's malloc, churn")
        XCTAssertEqual(stacks[0]["live_bytes"] as? Int, 30000)
        XCTAssertEqual(stacks[0]["live_count"] as? Int, 3)
        let churn = try XCTUnwrap(
            stacks.first { ($0["frames"] as? [[String: Any]])?.first?["function"] as? String == "churn" })
        XCTAssertEqual(churn["temporary_count"] as? Int, 500)
        XCTAssertEqual(churn["temporary_bytes"] as? Int, 224_750)
        XCTAssertEqual(stacks[0]["temporary_count"] as? Int, 0)
        let frames = try XCTUnwrap(stacks[0]["frames"] as? [[String: Any]])
        XCTAssertEqual(frames.first?["function"] as? String, "big_blocks")
        XCTAssertEqual((json["totals"] as? [String: Any])?["live_bytes"] as? Int, 38400)
        let timeline = try XCTUnwrap(json["timeline"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(timeline.count, 1)
        XCTAssertEqual(timeline.last?["current_bytes"] as? Int, 38400)
        // Every allocation by size class: they add up to the allocation calls and bytes, and the
        // classes run from 0-1 B in powers of two.
        let sizes = try XCTUnwrap(json["sizes"] as? [[String: Any]])
        let totals = try XCTUnwrap(json["totals"] as? [String: Any])
        XCTAssertEqual(sizes.reduce(0) { $0 + ($1["count"] as? Int ?? 0) }, totals["alloc_calls"] as? Int)
        XCTAssertEqual(sizes.reduce(0) { $0 + ($1["bytes"] as? Int ?? 0) }, totals["total_alloc_bytes"] as? Int)
        XCTAssertEqual(sizes.prefix(3).map { [$0["from"] as? Int, $0["to"] as? Int] }, [[0, 1], [2, 3], [4, 7]])
        XCTAssertGreaterThan(sizes.last?["count"] as? Int ?? 0, 0)
        // Written as it is made, to a file as to standard output: the same bytes.
        let file = work.directory.appendingPathComponent("export.json").path
        let written = try work.memtrace(["export", last, "--format", "json", "--include", "*sites.c", "-o", file])
        XCTAssertEqual(written.status, 0, written.stderr)
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), export.rawStdout)
    }
}

/// Validates a speedscope file with the schema check in Tests/RendererTests/Fixtures.
func assertValidSpeedscope(
    _ path: String, file: StaticString = #filePath, line: UInt = #line
)
    throws
{
    let python = "/usr/bin/python3"
    guard FileManager.default.isExecutableFile(atPath: python),
        (try? runProcess(python, ["-c", "import jsonschema"]))?.status == 0
    else {
        throw XCTSkip("python3-jsonschema is not installed (scripts/install-deps installs it)")
    }
    let result = try runProcess(
        python,
        [
            TestPaths.file("Tests/RendererTests/Fixtures/check-speedscope.py"),
            TestPaths.file("Tests/RendererTests/Fixtures/speedscope.schema.json"), path,
        ])
    XCTAssertEqual(result.status, 0, result.stdoutText + result.stderrText, file: file, line: line)
    XCTAssertEqual(result.stdoutText, "OK\n", file: file, line: line)
}
