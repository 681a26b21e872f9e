import Foundation
import XCTest
import _MemtraceTestSupport

/// `memtrace symbolize`: a snapshot that no longer needs the traced binary.
final class SymbolizeTests: XCTestCase {
    func testSymbolizedSnapshotSurvivesTheBinary() throws {
        let work = try Workspace("symbolize")
        let binary = try work.build("sites.c")
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

        let same = try work.memtrace(["symbolize", "s.1.snap", "-o", "s.1.snap"])
        XCTAssertEqual(same.status, 64)
        let missing = try work.memtrace(["symbolize", "absent.snap", "-o", "x.snap"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertEqual(missing.stderrLines, ["memtrace: absent.snap: no such file"])
    }
}
