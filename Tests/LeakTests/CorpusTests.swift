import Foundation
import XCTest
import _MemtraceTestSupport

/// The leak corpus: every kind, with the tracer's exact figures, and valgrind memcheck's agreement.
final class CorpusTests: XCTestCase {
    override func setUpWithError() throws {
        try requireBuiltProducts()
    }

    /// The tracer's classification of each program's own blocks, exactly as its EXPECT lines say;
    /// programs marked clean report nothing of any kind.
    func testTracerClassifiesTheCorpus() throws {
        let programs = try CorpusProgram.all()
        XCTAssertGreaterThanOrEqual(programs.count, 9)
        for program in programs {
            let run = try CheckRun(["--kinds", "all"], [try Builds.build(program.source)])
            if program.isClean {
                XCTAssertEqual(run.status, 0, "\(program.name): \(run.stderr)")
                XCTAssertEqual(run.leaks.count, 0, "\(program.name): \(run.leaks)")
            } else {
                XCTAssertEqual(run.counts(inFile: program.fileName), program.expected, program.name)
                XCTAssertEqual(run.status, 23, program.name)
            }
        }
    }

    /// memcheck finds the same kinds, bytes and blocks (its own figures where a MEMCHECK line
    /// says they differ: memtrace_ignore means nothing to valgrind).
    func testMemcheckAgrees() throws {
        try XCTSkipUnless(Memcheck.isInstalled, "valgrind is not installed")
        for program in try CorpusProgram.all() {
            let executable = try Builds.build(program.source)
            let memcheck = try Memcheck.counts(executable, file: program.fileName)
            if program.isClean {
                // memcheck keeps what libc and libstdc++ hold for good with the program's frames
                // under it (still reachable); nothing may be lost.
                XCTAssertEqual(memcheck.filter { $0.key != "reachable" }, [:], program.name)
                continue
            }
            XCTAssertEqual(memcheck, program.memcheck, program.name)
            if program.memcheck == program.expected {
                let traced = try CheckRun(["--kinds", "all"], [executable]).counts(inFile: program.fileName)
                XCTAssertEqual(traced, memcheck, "\(program.name): memtrace and memcheck disagree")
            }
        }
    }

    /// Threads that never call the allocator are not among those the tracer knows, yet their
    /// stacks hold pointers: they are stopped and scanned from their stack pointers all the
    /// same. Under jemalloc too, where no anonymous memory is scanned (the held block had come
    /// out definitely lost), and under glibc, where the whole of their stack mappings had been
    /// (the dropped one had come out reachable).
    func testThreadsThatNeverAllocatedUnderJemalloc() throws {
        let jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
        try XCTSkipUnless(FileManager.default.fileExists(atPath: jemalloc), "\(jemalloc) is not installed")
        for file in ["idlethreads.c", "heapstack.c"] {
            let program = try CorpusProgram(file: file)
            let run = try CheckRun(["--kinds", "all", "--jemalloc"], [try Builds.build(program.source)])
            XCTAssertEqual(run.counts(inFile: program.fileName), program.expected, file)
            XCTAssertEqual(run.status, 23, file)
        }
    }

    func testMemcheckXMLFiguresAreTheRecordsOwnBytes() {
        XCTAssertEqual(Memcheck.ownBytes("96 (32 direct, 64 indirect) bytes in 1 blocks are definitely lost"), 32)
        XCTAssertEqual(Memcheck.ownBytes("1,064 bytes in 2 blocks are indirectly lost in loss record 1 of 2"), 1064)
    }
}
