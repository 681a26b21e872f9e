import Foundation
import SnapshotReader
import XCTest
import _MemtraceTestSupport

/// The tracer started by an allocation made before libc is up (the executable's .preinit_array,
/// where sanitizer runtimes start): it forwards until libc has initialised, then reads its
/// settings and records. It had read no setting (libc had not set `environ` yet), and under
/// ThreadSanitizer its start-up called an interceptor that was not ready and crashed.
final class EarlyStartTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory("memtrace-early")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func testAnAllocationBeforeLibcKeepsTheSettings() throws {
        let exe = try Fixtures.build("preinit")
        let pattern = directory.appendingPathComponent("early.%p.snap").path
        let traced = try runTraced(exe, in: directory, environment: ["MEMTRACE_OUTPUT": pattern])
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(traced.stdoutText, "hello\n")
        let names = try snapshotFiles(in: directory).map { ($0 as NSString).lastPathComponent }
        XCTAssertEqual(names.count, 1, "\(names)")
        XCTAssertTrue(names.allSatisfy { $0.hasPrefix("early.") }, "MEMTRACE_OUTPUT was not read: \(names)")
        let snapshot = try onlySnapshot(in: directory, prefix: "early")
        let line = try Fixtures.line(of: "kept", in: Fixtures.source("preinit"))
        let kept = try XCTUnwrap(site(sites(of: snapshot), file: "preinit.c", line: line))
        XCTAssertEqual([kept.liveBytes, kept.liveCount], [123, 1])

        let disabled = try runTraced(
            exe, in: directory, environment: ["MEMTRACE_OUTPUT": pattern, "MEMTRACE_DISABLE": "1"])
        XCTAssertEqual(disabled.status, 0, disabled.stderrText)
        XCTAssertEqual(try snapshotFiles(in: directory).count, 1, "MEMTRACE_DISABLE=1 was not read")
    }

    /// A sanitized build of the fixture, and its untraced run, or a skip where the sanitizer
    /// cannot run (ThreadSanitizer refuses some address-space layouts). LeakSanitizer ends the
    /// program from an exit handler, before stdio flushes a pipe: its output is compared, not known.
    func sanitized(_ flag: String, expecting status: Int32) throws -> (String, ProcessResult) {
        let exe = try compile(
            source: Fixtures.source("sanitized"), output: "sanitized-\(flag)", in: directory,
            flags: ["-fsanitize=\(flag)"])
        let untraced = try runProcess(exe, directory: directory)
        try XCTSkipUnless(
            untraced.status == status, "-fsanitize=\(flag) does not run here: \(untraced.status) \(untraced.stderrText)"
        )
        return (exe, untraced)
    }

    func testAThreadSanitizedProgramIsTraced() throws {
        let (exe, untraced) = try sanitized("thread", expecting: 0)
        XCTAssertEqual(untraced.stdoutText, "hello\n")
        let traced = try runTraced(exe, in: directory)
        XCTAssertEqual(traced.status, 0, "139: a crash in the tracer's start-up; \(traced.stderrText)")
        XCTAssertEqual(traced.stdoutText, "hello\n")
        let snapshot = try onlySnapshot(in: directory, prefix: "sanitized-thread")
        let line = try Fixtures.line(of: "lost", in: Fixtures.source("sanitized"))
        let lost = try XCTUnwrap(site(sites(of: snapshot), file: "sanitized.c", line: line))
        XCTAssertEqual([lost.liveBytes, lost.liveCount], [123, 1])
    }

    /// LeakSanitizer reads every module's data for pointers: the tracer's held the address of the
    /// first GiB of its heap, where LeakSanitizer's allocator puts its first block, and the leak
    /// came out reachable (no report, status 0 instead of 23).
    func testLeakSanitizerStillFindsTheLeakUnderTheTracer() throws {
        let (exe, untraced) = try sanitized("leak", expecting: 23)
        XCTAssertTrue(untraced.stderrText.contains("SUMMARY: LeakSanitizer"), untraced.stderrText)
        let traced = try runTraced(exe, in: directory)
        XCTAssertEqual(traced.status, 23, traced.stderrText)
        XCTAssertEqual(traced.stdoutText, untraced.stdoutText)
        XCTAssertTrue(traced.stderrText.contains("SUMMARY: LeakSanitizer"), traced.stderrText)
    }
}
