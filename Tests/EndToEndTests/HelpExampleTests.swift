import Foundation
import XCTest
import _MemtraceTestSupport

/// Every command's --help has examples, and shell completion scripts are generated.
final class HelpExampleTests: XCTestCase {
    func subcommands(_ work: Workspace) throws -> [String] {
        let help = try work.memtrace(["--help"])
        XCTAssertEqual(help.status, 0, help.stderr)
        let lines = help.stdoutLines
        let start = try XCTUnwrap(lines.firstIndex(of: "SUBCOMMANDS:"))
        // Command names start two spaces in; wrapped abstracts are indented further.
        return lines[(start + 1)...].compactMap { line in
            guard line.hasPrefix("  "), !line.hasPrefix("   "), let name = line.split(separator: " ").first
            else { return nil }
            return String(name)
        }.filter { $0 != "help" && $0 != "See" }
    }

    func testEveryCommandHasExamples() throws {
        let work = try Workspace("help")
        let names = try subcommands(work)
        for expected in ["run", "top", "diff", "summary", "export", "trend", "report", "merge"] {
            XCTAssertTrue(names.contains(expected), "\(expected) missing from \(names)")
        }
        for name in names {
            let help = try work.memtrace([name, "--help"])
            XCTAssertEqual(help.status, 0, "\(name): \(help.stderr)")
            XCTAssertTrue(help.stdout.contains("Example"), "\(name) --help has no example:\n\(help.stdout)")
            XCTAssertTrue(help.stdout.contains("\n  memtrace \(name)"), "\(name)'s examples run \(name)")
        }
    }

    func testCompletionScripts() throws {
        let work = try Workspace("completion")
        for shell in ["bash", "zsh", "fish"] {
            let script = try work.memtrace(["--generate-completion-script", shell])
            XCTAssertEqual(script.status, 0, script.stderr)
            for word in ["memtrace", "trend", "export", "report", "merge"] {
                XCTAssertTrue(script.stdout.contains(word), "\(shell) completion lacks \(word)")
            }
        }
    }
}
