import Analysis
import Foundation
import XCTest

final class OutputPatternTests: XCTestCase {
    func testRelativePatternsBecomeAbsolute() {
        XCTAssertEqual(OutputPattern("a/%p.snap", relativeTo: "/work").pattern, "/work/a/%p.snap")
        XCTAssertEqual(OutputPattern("a.snap", relativeTo: "/work/").pattern, "/work/a.snap")
        XCTAssertEqual(OutputPattern("/tmp/%p.snap", relativeTo: "/work").pattern, "/tmp/%p.snap")
    }

    func testExpand() {
        let pattern = OutputPattern(OutputPattern.defaultPattern, relativeTo: "/w")
        XCTAssertEqual(
            pattern.expand(pid: 42, sequence: 3, executable: "/usr/bin/leaky"),
            "/w/memtrace.leaky.42.3.snap")
        XCTAssertEqual(
            OutputPattern("/w/100%%-%x-%", relativeTo: "/").expand(pid: 1, sequence: 0, executable: "e"),
            "/w/100%-x-%")
        XCTAssertEqual(
            OutputPattern("%h.%p.snap", relativeTo: "/w").expand(pid: 1, sequence: 0, executable: "e", hostname: "a/b"),
            "/w/a_b.1.snap")
    }

    func testMatches() {
        let pattern = OutputPattern(OutputPattern.defaultPattern, relativeTo: "/w")
        XCTAssertTrue(pattern.matches("/w/memtrace.leaky.42.3.snap"))
        XCTAssertTrue(pattern.matches("/w/memtrace.my.prog.42.3.snap"), "%e may hold dots")
        XCTAssertTrue(pattern.matches("/w/memtrace.leaky.42.3.snap", pid: 42))
        XCTAssertFalse(pattern.matches("/w/memtrace.leaky.42.3.snap", pid: 4))
        XCTAssertFalse(
            pattern.matches("/w/memtrace.leaky.42.3.snap.tmp.42"), "temporary files are not snapshots")
        XCTAssertFalse(pattern.matches("/w/memtrace.leaky.x.3.snap"))
        XCTAssertFalse(pattern.matches("/v/memtrace.leaky.42.3.snap"))
        let hosts = OutputPattern("%h.%p.%n.snap", relativeTo: "/w")
        XCTAssertTrue(hosts.matches("/w/pod-7f9c.1.0.snap", pid: 1))
        XCTAssertFalse(hosts.matches("/w/pod-7f9c.1.0.snap", pid: 2))

        // Without %p a forked child appends .PID.
        let plain = OutputPattern("out-%n.snap", relativeTo: "/w")
        XCTAssertTrue(plain.matches("/w/out-0.snap"))
        XCTAssertTrue(plain.matches("/w/out-0.snap.1234"))
        XCTAssertTrue(plain.matches("/w/out-0.snap.1234", pid: 1234))
        XCTAssertFalse(plain.matches("/w/out-0.snap.1234", pid: 99))
        XCTAssertFalse(plain.matches("/w/out-0.snap.tmp.1234"))
    }

    func testExistingFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "memtrace-pattern-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("7"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for name in [
            "memtrace.a.7.0.snap", "memtrace.a.7.1.snap", "memtrace.b.8.0.snap",
            "memtrace.a.7.2.snap.tmp.7",
            "other.snap", "7/x.0.snap",
        ] {
            try Data().write(to: directory.appendingPathComponent(name))
        }
        let pattern = OutputPattern(OutputPattern.defaultPattern, relativeTo: directory.path)
        XCTAssertEqual(
            Set(pattern.existingFiles().map { URL(fileURLWithPath: $0).lastPathComponent }),
            ["memtrace.a.7.0.snap", "memtrace.a.7.1.snap", "memtrace.b.8.0.snap"])
        XCTAssertEqual(pattern.existingFiles(pid: 8).count, 1)
        XCTAssertEqual(pattern.existingFiles(since: UInt64.max), [])
        let nested = OutputPattern("%p/x.%n.snap", relativeTo: directory.path)
        XCTAssertEqual(
            nested.existingFiles(pid: 7), [directory.appendingPathComponent("7/x.0.snap").path])
    }
}
