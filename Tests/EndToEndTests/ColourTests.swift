import Foundation
import XCTest
import _MemtraceTestSupport

/// Colour only on a terminal (script(1) provides one), never with NO_COLOR or into a pipe.
final class ColourTests: XCTestCase {
    func testDiffColoursChangesOnATerminalOnly() throws {
        let work = try Workspace("colour")
        let sites = [Synthetic.Site(function: "grows", line: 1), Synthetic.Site(function: "shrinks", line: 2)]
        try Synthetic.write(
            Synthetic.snapshot(sites: sites, bytes: [1000, 3000], seconds: 1, sequence: 0), "old.snap",
            in: work.directory)
        try Synthetic.write(
            Synthetic.snapshot(sites: sites, bytes: [4000, 1000], seconds: 2, sequence: 1), "new.snap",
            in: work.directory)
        func underTerminal(_ environment: [String: String?]) throws -> String {
            try runProcess(
                "/usr/bin/script", ["-qec", "\(TestPaths.memtrace) diff old.snap new.snap", "/dev/null"],
                environment: environment, directory: work.directory
            ).stdoutText
        }
        let coloured = try underTerminal(["TERM": "xterm", "NO_COLOR": nil])
        XCTAssertTrue(coloured.contains("size=4000 B (\u{1B}[31m+3000 B\u{1B}[0m)"), coloured)
        XCTAssertTrue(coloured.contains("size=1000 B (\u{1B}[32m-2000 B\u{1B}[0m)"), coloured)
        for environment: [String: String?] in [["TERM": "xterm", "NO_COLOR": "1"], ["TERM": "dumb", "NO_COLOR": nil]] {
            let plain = try underTerminal(environment)
            XCTAssertTrue(plain.contains("size=4000 B (+3000 B)"), plain)
            XCTAssertFalse(plain.contains("\u{1B}["), "\(environment): \(plain)")
        }
        let piped = try work.memtrace(
            ["diff", "old.snap", "new.snap"], environment: ["TERM": "xterm", "NO_COLOR": nil])
        XCTAssertEqual(
            piped.stdoutLines,
            [
                "app.c:1 in grows: size=4000 B (+3000 B), count=40 (+30), average=100 B",
                "app.c:2 in shrinks: size=1000 B (-2000 B), count=10 (-20), average=100 B",
            ])
    }
}
