import Foundation
import SnapshotReader
import XCTest
import _MemtraceTestSupport

/// Damaged, missing and foreign files: one line on stderr naming the file, status 2, for every command.
final class BadInputTests: XCTestCase {
    var work: Workspace!
    var good = ""

    override func setUpWithError() throws {
        work = try Workspace("bad")
        try work.build("sites.c")
        XCTAssertEqual(
            try work.memtrace(["run", "--output", "good.%n.snap", "--", "./sites"]).status, 0)
        good = "good.1.snap"
    }

    func write(_ name: String, _ bytes: Data) throws -> String {
        try bytes.write(to: work.directory.appendingPathComponent(name))
        return name
    }

    /// Every command that reads a snapshot fails the same way on `file`.
    func assertRejected(_ file: String, _ problem: String, line: UInt = #line) throws {
        for arguments in [
            ["top", file], ["top", file, "--format", "json"], ["diff", file, good], ["diff", good, file],
            ["summary", file],
        ] {
            let result = try work.memtrace(arguments)
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.stderr)", line: line)
            XCTAssertEqual(result.stdout, "", "\(arguments)", line: line)
            XCTAssertEqual(
                result.stderrLines, ["memtrace: \(file): \(problem)"], "\(arguments)", line: line)
        }
    }

    func testMissingFile() throws {
        try assertRejected("absent.snap", "no such file")
    }

    func testDirectory() throws {
        try FileManager.default.createDirectory(
            at: work.directory.appendingPathComponent("dir.snap"), withIntermediateDirectories: true)
        try assertRejected("dir.snap", "is a directory")
    }

    func testEmptyFile() throws {
        try assertRejected(try write("empty.snap", Data()), "empty file (not a memtrace snapshot)")
    }

    func testNotASnapshot() throws {
        try assertRejected(
            try write("text.snap", Data("hello, this is not a snapshot at all, just some text\n".utf8)),
            "not a memtrace snapshot (bad magic)")
    }

    /// An empty -o names no file: refused before anything is read or run. It had made
    /// `.tmp.PID` in the current directory and then failed as `cannot rename .tmp.PID to :`.
    func testAnEmptyOutputNameIsRefused() throws {
        for arguments in [
            ["export", good, "--format", "folded", "-o", ""], ["symbolize", good, "-o", ""], ["merge", good, "-o", ""],
            ["report", good, "-o", ""], ["run", "-o", "", "--", "/bin/true"], ["check", "-o", "", "--", "/bin/true"],
        ] {
            let result = try work.memtrace(arguments)
            XCTAssertEqual(result.status, 64, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.hasPrefix("Error: -o needs a name.\n"), "\(arguments): \(result.stderr)")
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: work.path).filter { $0.contains(".tmp.") }
        XCTAssertEqual(left, [])
    }

    func testTruncated() throws {
        let bytes = try work.contents(good)
        let name = try write("truncated.snap", bytes.prefix(bytes.count / 2))
        let result = try work.memtrace(["top", name])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.stderrLines.count, 1, result.stderr)
        XCTAssertTrue(result.stderr.hasPrefix("memtrace: truncated.snap: truncated"), result.stderr)
        let header = try write("header.snap", bytes.prefix(30))
        let short = try work.memtrace(["summary", header])
        XCTAssertEqual(short.status, 2)
        XCTAssertEqual(short.stderrLines.count, 1, short.stderr)
        XCTAssertTrue(short.stderr.hasPrefix("memtrace: header.snap: truncated"), short.stderr)
    }

    func testCorrupted() throws {
        var bytes = try work.contents(good)
        bytes[bytes.count / 2] ^= 0x5a
        try assertRejected(try write("corrupt.snap", bytes), "checksum mismatch (file corrupted)")
    }

    func testWrongVersion() throws {
        var bytes = try work.contents(good)
        bytes[8] = 7  // version, little-endian u32 at offset 8
        try assertRejected(
            try write("future.snap", bytes),
            "unsupported format version 7 (this memtrace reads versions 1 to 2)")
    }

    /// A pipe's size is not known: reading stops once its first bytes say it is no snapshot (a
    /// version 0, a header size 0) or once every section it declares has come, where a header
    /// followed by endless zeros was read until memory ran out.
    func testAPipeIsReadAsFarAsItsHeaderSays() throws {
        func piped(_ producer: String, _ command: String = "top") throws -> ProcessResult {
            try runProcess(
                "/usr/bin/timeout",
                [
                    "-s", "KILL", "60", "/bin/sh", "-c", "(\(producer)) | \"$0\" \(command) /dev/stdin",
                    TestPaths.memtrace,
                ],
                directory: work.directory)
        }
        // The good file's header, saying 2^32 - 1 sections; then saying its first is 2^36 bytes long.
        var header = try work.contents(good).prefix(SnapshotFormat.headerSize + SnapshotFormat.sectionHeaderSize)
        let declaredSections = header[60..<64]
        header.replaceSubrange(60..<64, with: [0xff, 0xff, 0xff, 0xff])
        let many = try write("many.bin", header.prefix(SnapshotFormat.headerSize))
        header.replaceSubrange(60..<64, with: declaredSections)
        header.replaceSubrange(72..<80, with: [0, 0, 0, 0, 0x10, 0, 0, 0])
        let long = try write("long.bin", header)
        for (producer, problem) in [
            ("printf MEMTRACE; cat /dev/zero", "unsupported format version 0 (this memtrace reads versions 1 to 2)"),
            ("printf 'MEMTRACE\\2\\0\\0\\0'; cat /dev/zero", "bad header size 0 (at least 64 expected)"),
            ("cat \(many) /dev/zero", "duplicate section tag 0"),
            ("cat \(long) /dev/zero", "truncated: section PROCESS needs 68719476736 bytes at offset 80, file has "),
            ("cat \(good); printf junk", "4 bytes after the END section"),
            ("cat \(good); sleep 1; printf junk", "4 bytes after the END section"),
        ] {
            let result = try piped(producer)
            XCTAssertEqual(result.status, 2, "\(producer): \(result.stderrText)")
            // (as much of the file as came before reading stopped: the pipe's chunks decide)
            XCTAssertTrue(result.stderrText.hasPrefix("memtrace: /dev/stdin: \(problem)"), result.stderrText)
            XCTAssertEqual(result.stderrText.split(separator: "\n").count, 1, result.stderrText)
        }
        // Endless bytes after END: as many as came before reading stopped.
        let endless = try piped("cat \(good); cat /dev/zero")
        XCTAssertEqual(endless.status, 2, endless.stderrText)
        XCTAssertTrue(endless.stderrText.hasPrefix("memtrace: /dev/stdin: "), endless.stderrText)
        XCTAssertTrue(endless.stderrText.hasSuffix(" bytes after the END section\n"), endless.stderrText)
        let whole = try piped("cat \(good)", "summary")
        XCTAssertEqual(whole.status, 0, whole.stderrText)
        XCTAssertTrue(whole.stdoutText.hasPrefix("Snapshot:  /dev/stdin\n"), whole.stdoutText)
    }

    /// A large file that is no snapshot is told apart by its first bytes, not read whole: a sparse
    /// file of 5 GiB of zeros was, and under a limit of 4 GB memtrace died failing to allocate it.
    func testALargeFileThatIsNoSnapshotIsNotReadWhole() throws {
        let name = "zeros.snap"
        let url = work.directory.appendingPathComponent(name)
        XCTAssertTrue(FileManager.default.createFile(atPath: url.path, contents: nil))
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: 5 << 30)
        try handle.close()
        let result = try runProcess(
            "/usr/bin/prlimit", ["--as=4000000000", "--", TestPaths.memtrace, "summary", name],
            directory: work.directory)
        XCTAssertEqual(result.status, 2, result.stderrText)
        XCTAssertEqual(result.stderrText, "memtrace: \(name): not a memtrace snapshot (bad magic)\n")
    }

    /// Snapshots whose modules all differ (a program that loads a library between each) get a
    /// symbolizer each, and each closes the files it opened once it has resolved its addresses:
    /// they were all held to the end, and 40 such snapshots under a limit of 32 open files lost
    /// their frames ("Too many open files"; with debug information, they took 17 MB each).
    func testSnapshotsWithModulesOfTheirOwnDoNotKeepTheirFilesOpen() throws {
        let original = try SnapshotFile.read(path: work.path + "/" + good)
        var names: [String] = []
        for index in 0..<40 {
            var snapshot = original
            snapshot.header.sequence = UInt64(index)
            snapshot.header.snapshotTimeNs += UInt64(index) * 1_000_000
            snapshot.modules.append(
                Snapshot.Module(
                    path: "/nowhere/libplugin\(index).so", buildID: [], loadBias: UInt64(index) << 40, segments: []))
            names.append("plugin.\(index).snap")
            try SnapshotWriter.write(snapshot, to: work.path + "/" + names[index])
        }
        let result = try runProcess(
            "/usr/bin/prlimit", ["--nofile=32", "--", TestPaths.memtrace, "trend", "--all"] + names,
            directory: work.directory)
        XCTAssertEqual(result.status, 0, result.stderrText)
        XCTAssertEqual(result.stderrText, "")
        XCTAssertTrue(result.stdoutText.contains("sites.c:"), result.stdoutText)
    }

    /// A warning stays on one line whatever the file names: a newline in a module path is written `\n`.
    func testWarningsStayOnOneLine() throws {
        var snapshot = try SnapshotFile.read(path: work.path + "/" + good)
        let index = try XCTUnwrap(snapshot.modules.firstIndex { $0.path.hasSuffix("/sites") })
        snapshot.modules[index].path = "/nowhere/x\nmemtrace: fake"
        try SnapshotWriter.write(snapshot, to: work.path + "/newline.snap")
        for arguments in [
            ["top", "newline.snap", "--limit", "1"], ["symbolize", "newline.snap", "-o", "symbolized.snap"],
            ["merge", "newline.snap", "-o", "merged.snap"],
        ] {
            let result = try work.memtrace(arguments)
            XCTAssertEqual(result.status, 0, "\(arguments): \(result.stderr)")
            XCTAssertEqual(
                Set(result.stderrLines),
                ["memtrace: /nowhere/x\\nmemtrace: fake is not on this machine; its frames show as module+offset"],
                "\(arguments)")
        }
    }

    /// Damaged symbols whose every address is 256 inlined calls with 60 KB names: a stack of
    /// 256 such addresses is cut to its innermost 1024 frames, each name to 1 KiB, and every
    /// renderer walks and prints it (a report used to recurse 65,536 deep and crash, an export
    /// to build a 4 GiB string).
    func testDamagedSymbolsExpandToBoundedStacks() throws {
        var snapshot = try SnapshotFile.read(path: work.path + "/" + good)
        var stat = snapshot.stackStats[0]
        let pc = snapshot.stacks[Int(stat.stack)].pcs[0]
        let name = String(repeating: "n", count: 60_000)
        snapshot.stacks.append(Snapshot.Stack(pcs: Array(repeating: pc, count: 256), trueDepth: 256))
        stat.stack = UInt32(snapshot.stacks.count - 1)
        snapshot.stackStats = [stat]
        snapshot.blocks = nil
        snapshot.symbols = [
            pc: (0..<256).map {
                Snapshot.SymbolFrame(
                    function: name + "\($0)", file: "deep.c", line: $0 + 1, module: "/bin/deep", isInlined: $0 < 255)
            }
        ]
        try SnapshotWriter.write(snapshot, to: work.path + "/deep.snap")
        let cut = String(repeating: "n", count: 1021) + "…"
        let folded = try work.memtrace(["export", "deep.snap", "--format", "folded"])
        XCTAssertEqual(folded.status, 0, folded.stderr)
        XCTAssertEqual(folded.stdoutLines.count, 1)
        let line = try XCTUnwrap(folded.stdoutLines.first)
        XCTAssertEqual(line.split(separator: ";").count, 1024)
        XCTAssertTrue(line.hasSuffix(" \(stat.liveBytes)"), String(line.suffix(40)))
        XCTAssertEqual(line.components(separatedBy: cut).count - 1, 1024)
        XCTAssertLessThan(line.utf8.count, 1024 * 1100)
        let top = try work.memtrace(["top", "deep.snap", "--by", "traceback"])
        XCTAssertEqual(top.status, 0, top.stderr)
        // The site's line, then the stack's 1024 frames: the 256 of each of four addresses.
        XCTAssertEqual(top.stdoutLines.count, 1025)
        XCTAssertTrue(top.stdoutLines[0].hasPrefix("deep.c:1 in \(cut): size="), top.stdoutLines[0])
        XCTAssertEqual(top.stdoutLines[1], "    deep.c:1 in \(cut)")
        XCTAssertEqual(top.stdoutLines[1024], "    deep.c:256 in \(cut)")
        let report = try work.memtrace(["report", "deep.snap", "-o", "deep.html"])
        XCTAssertEqual(report.status, 0, report.stderr)
        for format in ["json", "speedscope"] {
            let export = try work.memtrace(["export", "deep.snap", "--format", format, "-o", "deep.\(format)"])
            XCTAssertEqual(export.status, 0, "\(format): \(export.stderr)")
        }
    }

    func testUsageErrorsAreNotBadInput() throws {
        let result = try work.memtrace(["top", good, "--by", "colour"])
        XCTAssertEqual(result.status, 64)
        let cumulative = try work.memtrace(["top", good, "--by", "traceback", "--cumulative"])
        XCTAssertEqual(cumulative.status, 64)
        XCTAssertTrue(
            cumulative.stderr.contains("--cumulative cannot be combined with --by traceback"),
            cumulative.stderr)
    }

    /// A negative number is the option's value, refused by its own check, not "Missing value"
    /// (an argument starting with "-" is an option to the parser unless it is told otherwise).
    func testNegativeNumbersReachTheirOptionsCheck() throws {
        for (arguments, message) in [
            (["run", "--interval", "-1", "--", "./sites"], "--interval must be a positive number of seconds."),
            (["run", "--frames", "-3", "--", "./sites"], "--frames must be between 1 and 256."),
            (["run", "--sample", "-5", "--", "./sites"], "--sample takes a size in bytes"),
            (["top", good, "--limit", "-1"], "--limit must be 0 (all) or more."),
            (["trend", good, "--limit", "-2"], "--limit must be 0 (all) or more."),
            (["summary", good, "--top", "-1"], "--top must be 1 or more."),
            (["summary", good, "--top", "0"], "--top must be 1 or more."),
            (["report", good, "-o", "r.html", "--top", "-1"], "--top must be 1 or more."),
            (["diff", good, good, "--fail-on-growth", "-1"], "--fail-on-growth: '-1' is not a size"),
            (["check", "--max-leak", "-1", "--", "./sites"], "--max-leak: '-1' is not a size"),
            (["check", "--exit-code", "-1", "--", "./sites"], "--exit-code must be between 1 and 255."),
            // Once a crash: a timeout too long for a deadline in nanoseconds.
            (["snapshot", "1", "--timeout", "inf"], "--timeout must be a positive number of seconds."),
            (["snapshot", "1", "--timeout", "1e30"], "--timeout must be a positive number of seconds."),
            (["snapshot", "1", "--timeout", "nan"], "--timeout must be a positive number of seconds."),
            (["snapshot", "1", "--timeout", "-2"], "--timeout must be a positive number of seconds."),
        ] {
            let result = try work.memtrace(arguments)
            XCTAssertEqual(result.status, 64, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.hasPrefix("Error: \(message)"), "\(arguments): \(result.stderr)")
        }
    }
}

/// Every command documents itself with an example.
final class HelpTests: XCTestCase {
    func testEveryCommandHasHelpWithAnExample() throws {
        try requireBuiltProducts()
        for command in ["run", "top", "diff", "summary", "snapshot", "symbolize"] {
            let result = try runProcess(TestPaths.memtrace, [command, "--help"])
            XCTAssertEqual(result.status, 0, command)
            XCTAssertTrue(
                result.stdoutText.contains("Example"), "\(command) --help:\n\(result.stdoutText)")
            XCTAssertTrue(
                result.stdoutText.contains("memtrace \(command)"),
                "\(command) --help:\n\(result.stdoutText)")
        }
        let root = try runProcess(TestPaths.memtrace, ["--help"])
        XCTAssertEqual(root.status, 0)
        for command in ["run", "top", "diff", "summary", "snapshot"] {
            XCTAssertTrue(root.stdoutText.contains("  \(command) "), root.stdoutText)
        }
    }
}
