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

    /// A warning stays on one line whatever the file names: a newline in a module path is written `\n`.
    func testWarningsStayOnOneLine() throws {
        var snapshot = try SnapshotFile.read(path: work.path + "/" + good)
        let index = try XCTUnwrap(snapshot.modules.firstIndex { $0.path.hasSuffix("/sites") })
        snapshot.modules[index].path = "/nowhere/x\nmemtrace: fake"
        try SnapshotWriter.write(snapshot, to: work.path + "/newline.snap")
        let result = try work.memtrace(["top", "newline.snap", "--limit", "1"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(
            result.stderrLines,
            ["memtrace: /nowhere/x\\nmemtrace: fake is not on this machine; its frames show as module+offset"])
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
