import Foundation
import SnapshotReader
import XCTest
import _MemtraceTestSupport

/// The tracer's reachability scan (MEMTRACE_LEAKS) and the checks of memtrace.h.
final class LeakScanTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: TestPaths.libtrace), "run `make tracer` first")
        directory = try makeTemporaryDirectory("memtrace-leaks")
    }

    override func tearDownWithError() throws {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    /// Kind bits of a block in a scanned snapshot: 0 reachable, 1 definite, 2 indirect, 3 possible.
    private func kind(_ block: Snapshot.Block) -> UInt32 { (block.flags >> 1) & 3 }

    func testEachKindIsClassifiedAsMemcheckDoes() throws {
        let exe = try Fixtures.build("leakkinds")
        let traced = try runTraced(exe, in: directory, environment: ["MEMTRACE_LEAKS": "1"])
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(traced.stdoutText, "done\n")
        let snapshot = try onlySnapshot(in: directory, prefix: "leakkinds")
        XCTAssertEqual(snapshot.header.flags & 0x4, 0x4, "the exit snapshot says it was scanned")
        let blocks = try XCTUnwrap(snapshot.blocks)
        let source = Fixtures.source("leakkinds")
        let lines = innermostLines(of: snapshot)
        func kinds(at marker: String) throws -> [UInt32] {
            let line = try Fixtures.line(of: marker, in: source)
            let found = blocks.filter { lines[$0.stack]?.file == "leakkinds.c" && lines[$0.stack]?.line == line }
            XCTAssertFalse(found.isEmpty, "no block from line \(line)")
            return found.map(kind).sorted()
        }
        XCTAssertEqual(try kinds(at: "list"), [1, 2, 2])
        XCTAssertEqual(try kinds(at: "cycle"), [1, 2])
        XCTAssertEqual(try kinds(at: "global"), [0])
        XCTAssertEqual(try kinds(at: "interior"), [3])
    }

    /// Pointers in the two touched pages of a 512 GiB reservation are found; the scan reads only
    /// the pages that have contents (reading all of it faulted in 128 million zero pages, minutes).
    func testASparseReservationIsScannedWhereItHasPages() throws {
        try assertBlockKinds("sparse", [("inside", 777, 0), ("last", 888, 0), ("lost", 555, 1)])
    }

    /// A JIT's code is memory both writable and executable, mapped so at once or committed page by
    /// page in a reservation without access: pointers there reach their blocks, as for memcheck;
    /// memory that is readable only is not scanned, as for memcheck.
    func testWritableExecutableMemoryIsScanned() throws {
        try assertBlockKinds(
            "jitcode", [("code", 111, 0), ("committed", 222, 0), ("readonly", 333, 1), ("lost", 444, 1)])
    }

    /// Runs `fixture` (which prints "done") with the leak scan, and checks the one block allocated
    /// at each marked line: its size and kind. Within a minute: a scan that read every page of a
    /// large reservation took minutes.
    private func assertBlockKinds(
        _ fixture: String, _ expected: [(marker: String, size: UInt64, kind: UInt32)],
        file: StaticString = #filePath, line testLine: UInt = #line
    ) throws {
        let exe = try Fixtures.build(fixture)
        let traced = try runProcess(
            "/usr/bin/timeout", ["60", exe],
            environment: [
                "LD_PRELOAD": TestPaths.libtrace, "MEMTRACE_LEAKS": "1",
                "MEMTRACE_OUTPUT": directory.appendingPathComponent("%e.%p.%n.snap").path,
            ])
        XCTAssertEqual(
            traced.status, 0, "124: the scan took over a minute. \(traced.stderrText)", file: file, line: testLine)
        XCTAssertEqual(traced.stdoutText, "done\n", file: file, line: testLine)
        let snapshot = try onlySnapshot(in: directory, prefix: fixture)
        let blocks = try XCTUnwrap(snapshot.blocks)
        let lines = innermostLines(of: snapshot)
        let source = Fixtures.source(fixture)
        for (marker, size, expected) in expected {
            let line = try Fixtures.line(of: marker, in: source)
            let found = blocks.filter { lines[$0.stack]?.line == line }
            XCTAssertEqual(found.map(\.size), [size], marker, file: file, line: testLine)
            XCTAssertEqual(found.map(kind), [expected], marker, file: file, line: testLine)
        }
    }

    func testWithoutTheScanNoBlockHasAKind() throws {
        let exe = try Fixtures.build("leakkinds")
        _ = try runTraced(exe, in: directory)
        let snapshot = try onlySnapshot(in: directory, prefix: "leakkinds")
        XCTAssertEqual(snapshot.header.flags & 0x4, 0)
        XCTAssertTrue(try XCTUnwrap(snapshot.blocks).allSatisfy { $0.flags == 0 })
    }

    func testScanWithThreadsBlockedElsewhere() throws {
        // Blocks held only by other threads' stacks and registers must not be leaks.
        let source = directory.appendingPathComponent("threaded.c")
        try """
        #include <pthread.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <unistd.h>
        static pthread_barrier_t ready;
        static void *hold(void *arg) {
            (void)arg;
            volatile char *mine = malloc(4321); /* only this stack points at it */
            mine[0] = 1;
            pthread_barrier_wait(&ready);
            for (;;) pause();
            return (void *)mine;
        }
        int main(void) {
            pthread_barrier_init(&ready, NULL, 3);
            pthread_t a, b;
            pthread_create(&a, NULL, hold, NULL);
            pthread_create(&b, NULL, hold, NULL);
            pthread_barrier_wait(&ready);
            printf("threads parked\\n");
            fflush(stdout);
            exit(0); /* the scan runs while both threads still live */
        }
        """.write(to: source, atomically: false, encoding: .utf8)
        let exe = try compile(source: source.path, output: "threaded", in: directory)
        let traced = try runTraced(
            "/usr/bin/timeout", ["60", exe], in: directory, environment: ["MEMTRACE_LEAKS": "1"])
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        let snapshot = try onlySnapshot(in: directory, prefix: "threaded")
        let held = try XCTUnwrap(snapshot.blocks).filter { $0.size == 4321 }
        XCTAssertEqual(held.count, 2)
        XCTAssertEqual(held.map(kind), [0, 0], "reachable from the parked threads' stacks")
    }

    func testExitFromAWorkerWhileMainIgnoresTheSuspendSignal() throws {
        let exe = try Fixtures.build("exitworker")
        let traced = try runTraced(
            "/usr/bin/timeout", ["60", exe], in: directory, environment: ["MEMTRACE_LEAKS": "1"])
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(traced.stdoutText, "worker exits\n")
        let snapshot = try onlySnapshot(in: directory, prefix: "exitworker")
        let held = try XCTUnwrap(snapshot.blocks).filter { $0.size == 999 }
        XCTAssertEqual(held.map(kind), [0])
    }

    /// A program whose main thread ends with pthread_exit ends with its last thread, with an exit
    /// snapshot; it never ended before (the tracer's helper thread counted as the program's last).
    func testMainThatEndsWithPthreadExit() throws {
        let exe = try Fixtures.build("mainexit")
        for mode in ["alone", "worker"] {
            let run = directory.appendingPathComponent(mode)
            try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
            let traced = try runTraced(
                "/usr/bin/timeout", ["-s", "KILL", "30", exe, mode], in: run, environment: ["MEMTRACE_LEAKS": "1"])
            XCTAssertEqual(traced.status, 0, "\(mode): \(traced.stderrText)")
            let snapshot = try onlySnapshot(in: run, prefix: "mainexit")
            XCTAssertEqual(snapshot.header.trigger, .exit, mode)
            let blocks = try XCTUnwrap(snapshot.blocks)
            if mode == "alone" {
                XCTAssertEqual(blocks.filter { $0.size == 10 }.map(kind), [1], "definitely lost, as memcheck says")
            } else {
                XCTAssertEqual(blocks.filter { $0.size == 30 || $0.size == 20 }.map(kind), [0, 0], "in globals")
            }
        }
    }

    func testRegionIgnoreDisableAndGrowth() throws {
        let exe = try Fixtures.build("checks")
        let plain = try runProcess(exe)
        XCTAssertEqual(
            plain.stdoutText,
            "leaky region: -1\nclean region: -1\ngrowth of a cache: -1\ngrowth per call: -1\nevery thread: -1\nthis thread: -1\n"
        )
        let traced = try runTraced(exe, in: directory)
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        // 3 x 40 bytes leak in the region; the growth per call is 24 bytes of item
        // and 8 bytes of array per iteration, over 5 iterations; the cache fills once. A region
        // of every thread counts another thread's 300 bytes with this one's 40; a region of the
        // calling thread only its 40.
        XCTAssertEqual(
            traced.stdoutText,
            "leaky region: 120\nclean region: 0\ngrowth of a cache: 0\ngrowth per call: 160\nevery thread: 340\nthis thread: 40\n"
        )
        let report = traced.stderrText.split(separator: "\n")
        XCTAssertEqual(
            report.first,
            "memtrace: region \"leaky region\": 120 bytes in 3 blocks allocated in the region are still live")
        XCTAssertTrue(report.contains("    120 bytes in 3 blocks allocated at:"), traced.stderrText)
        XCTAssertTrue(
            report.contains(
                "memtrace: growth check \"per call\": 160 bytes in 2 stacks grew in every one of 5 iterations"),
            traced.stderrText)
        XCTAssertFalse(traced.stderrText.contains("clean region"))
        XCTAssertTrue(
            report.contains(
                "memtrace: region \"every thread\": 340 bytes in 2 blocks allocated in the region are still live"),
            traced.stderrText)
        XCTAssertTrue(
            report.contains(
                "memtrace: region \"this thread\": 40 bytes in 1 blocks allocated in the region are still live"),
            traced.stderrText)
        XCTAssertFalse(traced.stderrText.contains("\"cache\""))
        // The paused allocation was never recorded; the ignored one is flagged.
        let snapshot = try onlySnapshot(in: directory, prefix: "checks")
        let source = Fixtures.source("checks")
        let lines = innermostLines(of: snapshot)
        let pausedLine = try Fixtures.line(of: "paused", in: source)
        let ignoredLine = try Fixtures.line(of: "ignored", in: source)
        XCTAssertFalse(lines.values.contains { $0.file == "checks.c" && $0.line == pausedLine })
        let ignored = try XCTUnwrap(snapshot.blocks).filter { lines[$0.stack]?.line == ignoredLine }
        XCTAssertEqual(ignored.map(\.size), [77])
        XCTAssertEqual(ignored.map(\.flags), [1])
    }
}
