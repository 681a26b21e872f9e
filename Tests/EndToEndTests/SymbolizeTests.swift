import Foundation
import XCTest
import _MemtraceTestSupport

/// `memtrace symbolize`: a snapshot that no longer needs the traced binary.
final class SymbolizeTests: XCTestCase {
    func testSymbolizedSnapshotSurvivesTheBinary() throws {
        let work = try Workspace("symbolize")
        // Compiled as src/sites.c: DWARF names the file relative to the directory it was compiled in.
        try FileManager.default.createDirectory(
            at: work.directory.appendingPathComponent("src"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: TestPaths.file("Tests/EndToEndTests/Fixtures/sites.c"), toPath: work.path + "/src/sites.c")
        let flags = ["-O0", "-g", "-fno-omit-frame-pointer", "-I", TestPaths.includeDir]
        let compiled = try runProcess(
            "/usr/bin/gcc", flags + ["-o", "sites", "src/sites.c"], directory: work.directory)
        XCTAssertEqual(compiled.status, 0, compiled.stderrText)
        let binary = work.path + "/sites"
        XCTAssertEqual(try work.memtrace(["run", "--output", "s.%n.snap", "--", "./sites"]).status, 0)
        let result = try work.memtrace(["symbolize", "s.1.snap", "-o", "portable.snap"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "")
        let expected = try work.memtrace(["top", "s.1.snap"]).stdout
        XCTAssertTrue(expected.contains(" in big_blocks: "), expected)

        try FileManager.default.removeItem(atPath: binary)
        let plain = try work.memtrace(["top", "s.1.snap"])
        XCTAssertFalse(plain.stdout.contains("big_blocks"), plain.stdout)
        XCTAssertTrue(plain.stderr.contains("sites"), "the missing module is reported: \(plain.stderr)")
        let portable = try work.memtrace(["top", "portable.snap"])
        XCTAssertEqual(portable.status, 0, portable.stderr)
        XCTAssertEqual(portable.stdout, expected)
        XCTAssertEqual(portable.stderr, "")

        // Each frame keeps the directory its file was compiled in: its lines of source show from
        // any directory, the binary gone.
        let elsewhere = try makeTemporaryDirectory("memtrace-e2e-elsewhere")
        let source = try runProcess(
            TestPaths.memtrace,
            ["top", work.path + "/portable.snap", "--by", "traceback", "--source", "--include", "*big_blocks*"],
            directory: elsewhere)
        XCTAssertEqual(source.status, 0, source.stderrText)
        let big = try work.line("sites.c", "SITE big")
        XCTAssertEqual(
            Array(source.stdoutText.split(separator: "\n").prefix(3)),
            [
                "src/sites.c:\(big) in big_blocks: size=29.3 KiB, count=3, average=10000 B",
                "    src/sites.c:\(big) in big_blocks",
                "        for (int i = 0; i < 3; i++) keep[kept++] = malloc(10000); /* SITE big */",
            ])

        let same = try work.memtrace(["symbolize", "s.1.snap", "-o", "s.1.snap"])
        XCTAssertEqual(same.status, 64)
        let missing = try work.memtrace(["symbolize", "absent.snap", "-o", "x.snap"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertEqual(missing.stderrLines, ["memtrace: absent.snap: no such file"])
    }
}
