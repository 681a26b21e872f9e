import Foundation
import XCTest
import _MemtraceTestSupport

/// `memtrace check`: reports, thresholds, kinds, suppressions, exit statuses, several processes.
final class CheckTests: XCTestCase {
    var list: String!

    override func setUpWithError() throws {
        try requireBuiltProducts()
        list = try Builds.build(CorpusProgram.directory + "/list.c")
    }

    func line(_ marker: String, in file: String) throws -> Int {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let lines = text.components(separatedBy: "\n")
        guard let index = lines.firstIndex(where: { $0.contains("SITE \(marker) ") }) else {
            throw SupportError("no SITE \(marker) in \(file)")
        }
        return index + 1
    }

    func testTextReportReadsLikeMemcheck() throws {
        let run = try memtrace(["check", "--", list])
        XCTAssertEqual(run.status, 23, run.stderrText)
        let text = run.stderrText
        let head = try line("head", in: CorpusProgram.directory + "/list.c")
        let node = try line("node", in: CorpusProgram.directory + "/list.c")
        XCTAssertTrue(text.contains("64 bytes in 2 blocks are indirectly lost in loss record 1 of 2\n"), text)
        XCTAssertTrue(text.contains("list.c:\(node) in make_list\n"), text)
        XCTAssertTrue(text.contains("32 bytes in 1 blocks are definitely lost in loss record 2 of 2\n"), text)
        XCTAssertTrue(text.contains("list.c:\(head) in make_list\n"), text)
        XCTAssertTrue(text.contains("   definitely lost: 32 bytes in 1 blocks\n"), text)
        XCTAssertTrue(text.contains("   indirectly lost: 64 bytes in 2 blocks\n"), text)
        XCTAssertTrue(text.contains("              lost: 96 (32 direct, 64 indirect) bytes in 3 blocks\n"), text)
        XCTAssertTrue(
            text.hasSuffix(
                "memtrace: FAILED: 96 bytes in 3 blocks leaked (definite, indirect) in 1 process, more than the 0 bytes allowed\n"
            ), text)
        XCTAssertEqual(run.stdoutText, "", "the report goes to standard error")

        // --source: each frame's line of source under it.
        let sourced = try memtrace(["check", "--source", "--", list]).stderrText
        XCTAssertTrue(
            sourced.contains(
                "list.c:\(node) in make_list\n        tail->next = calloc(1, sizeof *tail); /* SITE node */\n"), sourced
        )
        XCTAssertTrue(
            sourced.contains(
                "list.c:\(head) in make_list\n        struct node *head = calloc(1, sizeof *head); /* SITE head */\n"),
            sourced)
        let json = try memtrace(["check", "--source", "--format", "json", "--", list])
        XCTAssertEqual(json.status, 64)
        XCTAssertTrue(json.stderrText.contains("--source applies to the text report only."), json.stderrText)
    }

    func testJSONReportHasTheIssuesShape() throws {
        let run = try memtrace(["check", "--format", "json", "--report-file", "-", "--", list])
        XCTAssertEqual(run.status, 23, run.stderrText)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: run.stdout) as? [String: Any])
        let leaks = try XCTUnwrap(object["leaks"] as? [[String: Any]])
        XCTAssertEqual(leaks.map { $0["kind"] as? String }, ["indirect", "definite"])
        XCTAssertEqual(leaks.map { $0["size"] as? Int }, [64, 32])
        XCTAssertEqual(leaks.map { $0["count"] as? Int }, [2, 1])
        let frame = try XCTUnwrap((leaks[1]["frames"] as? [[String: Any]])?.first)
        XCTAssertEqual(frame["function"] as? String, "make_list")
        XCTAssertEqual(frame["line"] as? Int, try line("head", in: CorpusProgram.directory + "/list.c"))
        XCTAssertTrue((frame["file"] as? String)?.hasSuffix("/list.c") == true, "\(frame)")
        XCTAssertTrue((frame["module"] as? String)?.hasSuffix("/list") == true, "\(frame)")
        let summary = try XCTUnwrap(object["summary"] as? [String: Any])
        XCTAssertEqual(summary["definite"] as? [String: Int], ["size": 32, "count": 1])
        XCTAssertEqual(summary["indirect"] as? [String: Int], ["size": 64, "count": 2])
        XCTAssertEqual(summary["leaked"] as? [String: Int], ["size": 96, "count": 3])
        XCTAssertEqual(summary["failed"] as? Bool, true)
        // The snapshot went to a directory that is gone: no path to it.
        let process = try XCTUnwrap((object["processes"] as? [[String: Any]])?.first)
        XCTAssertTrue(process["snapshot"] is NSNull, "\(process)")
    }

    func testThresholdsAndKinds() throws {
        XCTAssertEqual(try memtrace(["check", "--max-leak", "96", "--", list]).status, 0)
        XCTAssertEqual(try memtrace(["check", "--max-leak", "95", "--", list]).status, 23)
        XCTAssertEqual(try memtrace(["check", "--max-leak", "1KiB", "--", list]).status, 0)
        XCTAssertEqual(try memtrace(["check", "--kinds", "definite", "--max-leak", "32", "--", list]).status, 0)
        XCTAssertEqual(try memtrace(["check", "--kinds", "possible,reachable", "--", list]).status, 0)
        XCTAssertEqual(try memtrace(["check", "--exit-code", "9", "--", list]).status, 9)
        let interior = try Builds.build(CorpusProgram.directory + "/interior.c")
        XCTAssertEqual(try memtrace(["check", "--", interior]).status, 0, "possible leaks do not count by default")
        XCTAssertEqual(try memtrace(["check", "--kinds", "possible", "--", interior]).status, 23)
        let global = try Builds.build(CorpusProgram.directory + "/global.c")
        XCTAssertEqual(try memtrace(["check", "--", global]).status, 0)
        XCTAssertEqual(try memtrace(["check", "--kinds", "all", "--", global]).status, 23)
        let bad = try memtrace(["check", "--kinds", "lost", "--", list])
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderrText.contains("unknown kind \"lost\""), bad.stderrText)
        XCTAssertEqual(try memtrace(["check", "--max-leak", "lots", "--", list]).status, 64)
    }

    func testTheProgramsOwnFailureWins() throws {
        let exits = try Builds.fixture("exits.c")
        XCTAssertEqual(try memtrace(["check", "--", exits]).status, 23, "a clean exit with a leak")
        let failing = try memtrace(["check", "--", exits, "status", "3"])
        XCTAssertEqual(failing.status, 3)
        XCTAssertTrue(failing.stderrText.contains("500 bytes in 1 blocks are definitely lost"), failing.stderrText)
        XCTAssertTrue(failing.stderrText.contains("exited with status 3: its status wins"), failing.stderrText)
        let aborted = try memtrace(["check", "--", exits, "abort"])
        XCTAssertEqual(aborted.status, 128 + SIGABRT)
        XCTAssertTrue(
            aborted.stderrText.contains("was killed by signal 6 (SIGABRT): its status wins"), aborted.stderrText)
        let high = try memtrace(["check", "--", exits, "status", "134"])
        XCTAssertEqual(high.status, 134)
        XCTAssertTrue(high.stderrText.contains("exited with status 134: its status wins"), high.stderrText)
        let quick = try memtrace(["check", "--", exits, "underscore"])
        XCTAssertEqual(quick.status, 23, "_exit is judged too")
        XCTAssertTrue(quick.stderrText.contains("500 bytes in 1 blocks are definitely lost"), quick.stderrText)
        let quiet = try memtrace(["check", "--", exits, "exit_group"])
        XCTAssertEqual(quiet.status, 2)
        XCTAssertTrue(
            quiet.stderrText.contains(
                "wrote no exit snapshot, so its leaks could not be checked (a program that makes the exit_group"),
            quiet.stderrText)
        let nowhere = try memtrace(["check", "--output", "/nonexistent/x.%p.snap", "--", exits])
        XCTAssertEqual(nowhere.status, 2)
        XCTAssertTrue(
            nowhere.stderrText.hasSuffix(
                "wrote no exit snapshot, so its leaks could not be checked (the tracer cannot write in /nonexistent: No such file or directory)\n"
            ), nowhere.stderrText)
        let missing = try memtrace(["check", "--", "./no-such-program"])
        XCTAssertEqual(missing.status, 127)
    }

    func testEveryProcessIsReported() throws {
        let forks = try Builds.fixture("forks.c")
        let run = try CheckRun([], [forks])
        XCTAssertEqual(run.status, 23, run.stderr)
        let processes = try XCTUnwrap(run.report["processes"] as? [[String: Any]])
        XCTAssertEqual(processes.count, 2, "the parent and the child that exited normally: \(processes)")
        XCTAssertEqual(
            Set(processes.compactMap { ($0["definite"] as? [String: Int])?["size"] }), [50, 70])
        XCTAssertEqual(run.total("definite"), Count(bytes: 120, blocks: 2))
        XCTAssertEqual(Set(run.leaks.compactMap { $0["pid"] as? Int }).count, 2)
    }

    func testSuppressionFiles() throws {
        let file = Builds.directory.appendingPathComponent("list.supp").path
        try "# the list is known\nleak:make_list\n".write(toFile: file, atomically: false, encoding: .utf8)
        let run = try memtrace(["check", "--suppressions", file, "--", list])
        XCTAssertEqual(run.status, 0, run.stderrText)
        XCTAssertTrue(run.stderrText.contains("        suppressed: 96 bytes in 3 blocks\n"), run.stderrText)
        XCTAssertTrue(
            run.stderrText.contains("        3         96  leak:make_list (\(file):2)\n"), run.stderrText)
        for pattern in ["list.c", "/list$", "^lose_l*t$", "lose_list"] {
            try "leak:\(pattern)\n".write(toFile: file, atomically: false, encoding: .utf8)
            XCTAssertEqual(try memtrace(["check", "--suppressions", file, "--", list]).status, 0, pattern)
        }
        try "leak:^make_node$\n".write(toFile: file, atomically: false, encoding: .utf8)
        XCTAssertEqual(try memtrace(["check", "--suppressions", file, "--", list]).status, 23)
        let json = try CheckRun(["--suppressions", file], [list])
        XCTAssertEqual(json.total("suppressed"), Count(bytes: 0, blocks: 0))

        // A bad file stops the check before the program runs.
        let marker = Builds.directory.appendingPathComponent("ran").path
        try "leak:ok\nrace:foo\n".write(toFile: file, atomically: false, encoding: .utf8)
        let bad = try memtrace(["check", "--suppressions", file, "--", "/usr/bin/touch", marker])
        XCTAssertEqual(bad.status, 2)
        XCTAssertEqual(
            bad.stderrText,
            "memtrace: \(file):2: unsupported suppression type \"race\" (memtrace reads only leak:PATTERN lines)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
    }

    /// Programs that leak nothing report nothing with the built-in suppressions, and the report
    /// says which rules hid what; without them, libc's and the loader's blocks show.
    func testCleanProgramsAreClean() throws {
        let script = Data("create table t(a, b);\ninsert into t values (1, 2);\nselect * from t;\n".utf8)
        let sqlite = try memtrace(["check", "--kinds", "all", "--", "/usr/bin/sqlite3", ":memory:"], stdin: script)
        XCTAssertEqual(sqlite.status, 0, sqlite.stderrText)
        XCTAssertEqual(sqlite.stdoutText, "1|2\n")
        XCTAssertTrue(sqlite.stderrText.contains("no leaks of the kinds checked"), sqlite.stderrText)
        XCTAssertTrue(sqlite.stderrText.contains("leak:_IO_file_doallocate"), sqlite.stderrText)
        // Python keeps pointers to its objects in pools it maps itself (threading's and
        // subprocess's objects among them): roots as for memcheck.
        let python = try CheckRun(
            ["--kinds", "definite,indirect,possible"], ["/usr/bin/python3", "-c", "import threading, subprocess"])
        XCTAssertEqual(python.status, 0, python.stderr)
        XCTAssertEqual(python.leaks.count, 0, "\(python.leaks)")

        let clean = try Builds.build(CorpusProgram.directory + "/clean-libc.c")
        let raw = try CheckRun(["--kinds", "all", "--no-builtin-suppressions"], [clean])
        XCTAssertEqual(raw.status, 23)
        XCTAssertEqual(raw.total("suppressed"), Count(bytes: 0, blocks: 0))
        let functions = raw.leaks.flatMap {
            ($0["frames"] as? [[String: Any]] ?? []).compactMap { $0["function"] as? String }
        }
        XCTAssertTrue(functions.contains("setlocale"), "\(functions)")
        let suppressed = try CheckRun(["--kinds", "all"], [clean])
        XCTAssertEqual(suppressed.status, 0, suppressed.stderr)
        let used =
            (suppressed.report["processes"] as? [[String: Any]])?.first?["suppressions"] as? [[String: Any]] ?? []
        XCTAssertTrue(
            used.contains { $0["rule"] as? String == "leak:setlocale" && $0["origin"] as? String == "built-in" })
        XCTAssertEqual(
            suppressed.total("suppressed").bytes,
            used.reduce(0) { $0 + ($1["size"] as? Int ?? 0) }, "the rules account for everything hidden")
    }

    func testSnapshotsAreKeptOnlyWhenAsked() throws {
        let directory = try makeTemporaryDirectory("memtrace-check-output")
        let run = try memtrace(["check", "--output", directory.path + "/%e.%p.snap", "--", list])
        XCTAssertEqual(run.status, 23)
        let files = try snapshotFiles(in: directory)
        XCTAssertEqual(files.count, 1, "\(files)")
        let top = try memtrace(["top", files[0], "--include", "*list.c"])
        XCTAssertTrue(top.stdoutText.contains("in make_list: size=64 B, count=2"), top.stdoutText)
        let json = try memtrace([
            "check", "--output", directory.path + "/kept.%p.snap", "--format", "json", "--report-file", "-", "--", list,
        ])
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])
        let kept = try XCTUnwrap((object["processes"] as? [[String: Any]])?.first?["snapshot"] as? String)
        XCTAssertTrue(FileManager.default.fileExists(atPath: kept), kept)
        let before = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())
            .filter { $0.hasPrefix("memtrace-check.") }
        _ = try memtrace(["check", "--", list])
        let after = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())
            .filter { $0.hasPrefix("memtrace-check.") }
        XCTAssertEqual(Set(after), Set(before), "the scratch directory is removed")
    }

    /// Three blocks written one byte past their end and released: no leak, but the check fails
    /// (as memcheck's errors fail a run) unless told to allow overruns; either way the report
    /// names the site.
    func testHeapOverrunsFailTheCheckUnlessAllowed() throws {
        let program = try Builds.fixture("overruns.c")
        let site = try line("overrun", in: TestPaths.file("Tests/LeakTests/Fixtures/overruns.c"))
        let run = try memtrace(["check", "--", program])
        XCTAssertEqual(run.status, 23, run.stderrText)
        let text = run.stderrText
        let record = try XCTUnwrap(
            text.range(of: "96 bytes in 3 blocks were written one byte past their end in overrun record 1 of 1\n"), text
        )
        XCTAssertTrue(text[record.upperBound...].hasPrefix("    /"), text)
        XCTAssertTrue(
            text[record.upperBound...].split(separator: "\n").first?.hasSuffix("/overruns.c:\(site) in copy") == true,
            text)
        XCTAssertTrue(text.contains("\n     heap overruns: 3 blocks written one byte past their end\n"), text)
        XCTAssertFalse(text.contains("memtrace: heap overrun:"), "the tracer's own report by address is turned off")
        XCTAssertTrue(
            text.hasSuffix(
                "memtrace: FAILED: 3 blocks written one byte past their end (heap overruns); 0 bytes in 0 blocks leaked (definite, indirect) in 1 process, at most 0 bytes allowed\n"
            ), text)

        let allowed = try memtrace(["check", "--allow-overruns", "--exit-code", "9", "--", program])
        XCTAssertEqual(allowed.status, 0, allowed.stderrText)
        XCTAssertTrue(allowed.stderrText.hasSuffix("(heap overruns, allowed)\n"), allowed.stderrText)

        let json = try memtrace(["check", "--format", "json", "--report-file", "-", "--", program])
        XCTAssertEqual(json.status, 23, json.stderrText)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])
        let overruns = try XCTUnwrap(object["overruns"] as? [[String: Any]])
        XCTAssertEqual(overruns.map { $0["count"] as? Int }, [3])
        XCTAssertEqual(overruns.map { $0["size"] as? Int }, [96])
        let frame = try XCTUnwrap((overruns[0]["frames"] as? [[String: Any]])?.first)
        XCTAssertEqual(frame["function"] as? String, "copy")
        XCTAssertEqual(frame["line"] as? Int, site)
        XCTAssertEqual((object["summary"] as? [String: Any])?["overrun_blocks"] as? Int, 3)
        XCTAssertEqual((object["summary"] as? [String: Any])?["leaked"] as? [String: Int], ["size": 0, "count": 0])
    }

    /// Two arrays of new[] released with delete: no leak, but the check fails (as memcheck's
    /// "Mismatched free() / delete / delete []" and AddressSanitizer's alloc-dealloc-mismatch
    /// do) unless told to allow mismatches; the report names both sites.
    func testMismatchedReleasesFailTheCheckUnlessAllowed() throws {
        let program = try Builds.fixture("mismatches.cpp")
        let source = TestPaths.file("Tests/LeakTests/Fixtures/mismatches.cpp")
        let (allocation, release) = (try line("allocation", in: source), try line("release", in: source))
        let run = try memtrace(["check", "--", program])
        XCTAssertEqual(run.status, 23, run.stderrText)
        let text = run.stderrText
        let record = try XCTUnwrap(
            text.range(
                of: "48 bytes in 2 blocks allocated with new[] were released with delete in mismatch record 1 of 1\n"),
            text)
        let lines = text[record.upperBound...].split(separator: "\n")
        XCTAssertTrue(lines.first?.hasSuffix("/mismatches.cpp:\(allocation) in make") == true, text)
        let released = try XCTUnwrap(lines.firstIndex(of: "  released at:"), text)
        XCTAssertTrue(lines[released + 1].hasSuffix("/mismatches.cpp:\(release) in drop"), text)
        XCTAssertTrue(text.contains("\n        mismatched: 2 blocks released otherwise than allocated\n"), text)
        XCTAssertFalse(
            text.contains("memtrace: mismatched release:"), "the tracer's own report by address is turned off")
        XCTAssertTrue(
            text.hasSuffix(
                "memtrace: FAILED: 2 blocks released otherwise than allocated (mismatched free / delete / delete[]); 0 bytes in 0 blocks leaked (definite, indirect) in 1 process, at most 0 bytes allowed\n"
            ), text)

        let allowed = try memtrace(["check", "--allow-mismatches", "--", program])
        XCTAssertEqual(allowed.status, 0, allowed.stderrText)
        XCTAssertTrue(
            allowed.stderrText.hasSuffix(
                "memtrace: passed: 0 bytes in 0 blocks leaked (definite, indirect) in 1 process, at most 0 bytes allowed; 2 blocks released otherwise than allocated (mismatched free / delete / delete[], allowed)\n"
            ), allowed.stderrText)

        let json = try memtrace(["check", "--format", "json", "--report-file", "-", "--", program])
        XCTAssertEqual(json.status, 23, json.stderrText)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])
        let mismatches = try XCTUnwrap(object["mismatches"] as? [[String: Any]])
        XCTAssertEqual(mismatches.count, 1)
        XCTAssertEqual(mismatches[0]["allocated_by"] as? String, "new[]")
        XCTAssertEqual(mismatches[0]["released_by"] as? String, "delete")
        XCTAssertEqual([mismatches[0]["count"] as? Int, mismatches[0]["size"] as? Int], [2, 48])
        let allocated = try XCTUnwrap((mismatches[0]["allocation"] as? [[String: Any]])?.first)
        XCTAssertEqual(
            [allocated["function"] as? String, "\(allocated["line"] ?? "")"], ["make", "\(allocation)"])
        let releasedAt = try XCTUnwrap((mismatches[0]["release"] as? [[String: Any]])?.first)
        XCTAssertEqual(
            [releasedAt["function"] as? String, "\(releasedAt["line"] ?? "")"], ["drop", "\(release)"])
        let summary = try XCTUnwrap(object["summary"] as? [String: Any])
        XCTAssertEqual(summary["mismatch_blocks"] as? Int, 2)
        XCTAssertEqual(summary["mismatches_fail"] as? Bool, true)
    }
}
