import Foundation
import SnapshotReader
import Symbolizer
import XCTest
import _MemtraceTestSupport

/// The tracer walks stacks with frame rules of its own and hands libunwind
/// only the frames those rules cannot describe. With MEMTRACE_UNWIND_CHECK=1
/// every walk is compared with libunwind's and the tally is printed at exit:
/// these tests require that no walk ever differs, on real programs and on the
/// cases the rules leave to libunwind.
final class UnwindTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory("memtrace-unwind")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private struct Tally {
        var stacks: Int
        var differ: Int
        var handedOver: Int
        var knownBySite: Int
    }

    /// Every tally line the processes of a run printed.
    private func tallies(_ stderr: String, file: StaticString = #filePath, line: UInt = #line) -> [Tally] {
        stderr.split(separator: "\n").compactMap { text -> Tally? in
            guard text.hasPrefix("memtrace: unwind check:") else { return nil }
            let numbers = text.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            guard numbers.count == 4 else {
                XCTFail("unreadable tally: \(text)", file: file, line: line)
                return nil
            }
            return Tally(stacks: numbers[0], differ: numbers[1], handedOver: numbers[2], knownBySite: numbers[3])
        }
    }

    /// Live blocks and bytes of the stacks whose innermost frame is `file`:`line`, summed by
    /// the function names of their frames as `key` cuts them.
    private func liveFigures(
        _ snapshot: Snapshot, file: String, line: Int, key: ([String]) -> [String]
    ) -> [[String]: [Int]] {
        let symbolizer = Symbolizer(snapshot: snapshot)
        let lines = innermostLines(of: snapshot)
        var found: [[String]: [Int]] = [:]
        for stat in snapshot.stackStats where lines[stat.stack]?.line == line && lines[stat.stack]?.file == file {
            let functions = snapshot.stacks[Int(stat.stack)].pcs.flatMap { symbolizer.frames(for: $0).map(\.function) }
            found[key(functions), default: [0, 0]][0] += Int(stat.liveCount)
            found[key(functions), default: [0, 0]][1] += Int(stat.liveBytes)
        }
        return found
    }

    private func checkedRun(
        _ program: String, _ arguments: [String], frames: Int, environment: [String: String?] = [:]
    ) throws -> (ProcessResult, [Tally]) {
        guard FileManager.default.isExecutableFile(atPath: program) else {
            throw XCTSkip("\(program) is not installed")
        }
        var env = environment
        env["MEMTRACE_UNWIND_CHECK"] = "1"
        env["MEMTRACE_FRAMES"] = String(frames)
        env["MEMTRACE_AT_EXIT"] = "0"
        let run = try runProcess(
            "/usr/bin/timeout",
            ["-k", "5", "300", "/usr/bin/env", "LD_PRELOAD=\(TestPaths.libtrace)", program] + arguments,
            environment: env, directory: directory)
        XCTAssertEqual(run.status, 0, "\(program): \(run.stderrText.suffix(3000))")
        return (run, tallies(run.stderrText))
    }

    /// python3 (threads, C extensions, deep interpreter stacks), sqlite3, gcc
    /// (a driver that forks and execs its compilers) and bash, each with the
    /// default 64 frames (walks that reuse the thread's previous stack) and
    /// with 128 (walks by rules alone).
    func testEveryWalkOfRealProgramsAgreesWithLibunwind() throws {
        let python = """
            import json, threading, zlib
            def work(i):
                d = {"k%d" % k: [k, str(k * i), {"x": k % 7}] for k in range(20000)}
                zlib.compress(json.dumps(d).encode())
            threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
            for t in threads: t.start()
            for t in threads: t.join()
            """
        let sql = """
            create table t(a integer primary key, b text);
            create index t_b on t(b);
            with recursive n(x) as (select 1 union all select x + 1 from n where x < 50000)
            insert into t select x, printf('row%08d', (x * 7919) % 50000) from n;
            select count(*) from t;
            """
        let source = directory.appendingPathComponent("hello.c")
        try "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n".write(
            to: source, atomically: false, encoding: .utf8)
        let programs: [(String, [String], [String: String?])] = [
            ("/usr/bin/python3", ["-c", python], ["PYTHONMALLOC": "malloc"]),
            ("/usr/bin/sqlite3", [":memory:", sql], [:]),
            ("/usr/bin/gcc", ["-O2", "-c", source.path, "-o", directory.appendingPathComponent("hello.o").path], [:]),
            ("/bin/bash", ["-c", "for i in $(seq 1 200); do x=$((i * 2)); done; echo $x | sort | wc -c"], [:]),
        ]
        for frames in [64, 128] {
            for (program, arguments, environment) in programs {
                let (run, tallies) = try checkedRun(program, arguments, frames: frames, environment: environment)
                let what = "\(program) with \(frames) frames"
                XCTAssertFalse(tallies.isEmpty, "\(what) printed no tally: \(run.stderrText.suffix(2000))")
                for tally in tallies {
                    XCTAssertEqual(tally.differ, 0, "\(what): \(run.stderrText.suffix(3000))")
                    XCTAssertEqual(tally.handedOver, 0, "\(what) needed libunwind")
                }
                XCTAssertGreaterThan(tallies.map(\.stacks).reduce(0, +), 200, what)
            }
        }
    }

    /// An allocation in a signal handler goes to libunwind, which walks
    /// through the kernel's signal frame to the code that raised the signal;
    /// one under a variable-length array is walked by rules through rbp; a
    /// library unloaded and loaded again is walked with fresh rules.
    func testSignalFramesVariableLengthArraysAndUnloadedLibraries() throws {
        let exe = try Fixtures.build("unwinding")
        let run = try runTraced(exe, in: directory, environment: ["MEMTRACE_UNWIND_CHECK": "1"])
        XCTAssertEqual(run.status, 0, run.stderrText)
        let tally = try XCTUnwrap(tallies(run.stderrText).first, run.stderrText)
        XCTAssertEqual(tally.differ, 0, run.stderrText)
        XCTAssertEqual(tally.handedOver, 1, "only the walk from the signal handler needs libunwind")

        let snapshot = try onlySnapshot(in: directory, prefix: "unwinding")
        assertConsistent(snapshot)
        let source = Fixtures.source("unwinding")
        let all = sites(of: snapshot)
        let handlerLine = try Fixtures.line(of: "in-handler", in: source)
        let vlaLine = try Fixtures.line(of: "under-vla", in: source)
        let handler = try XCTUnwrap(site(all, file: "unwinding.c", line: handlerLine))
        XCTAssertEqual([handler.liveBytes, handler.liveCount], [77, 1])
        let vla = try XCTUnwrap(site(all, file: "unwinding.c", line: vlaLine))
        XCTAssertEqual([vla.liveBytes, vla.liveCount], [165, 3])

        let symbolizer = Symbolizer(snapshot: snapshot)
        func functions(innermostLine: Int) -> [String] {
            let lines = innermostLines(of: snapshot)
            guard let id = lines.first(where: { $0.value.line == innermostLine && $0.value.file == "unwinding.c" })?.key
            else { return [] }
            return snapshot.stacks[Int(id)].pcs.flatMap { symbolizer.frames(for: $0).map(\.function) }
        }
        let throughSignal = functions(innermostLine: handlerLine)
        XCTAssertEqual(throughSignal.first, "on_signal")
        XCTAssertTrue(throughSignal.contains("raise_from_here"), "\(throughSignal)")
        XCTAssertTrue(throughSignal.contains("main"), "\(throughSignal)")
        XCTAssertEqual(functions(innermostLine: vlaLine).prefix(2), ["under_vla", "main"])
    }

    /// A thread keeps the stacks it walked by their first frame's place (return address and
    /// stack pointer) and takes one again, unwalked, when the stack still holds what the walk
    /// read. Here one allocation site is at the same place under five callers: three whose
    /// frames are the same size, and two whose frame above the site is located through rbp at
    /// different addresses. Each caller's blocks must stay its own, with the stacks known by
    /// place (checked against a walk each time) and without the check. Stacks deeper than the
    /// frames kept are known by place too: ones a walk follows to the end and ones it stops at
    /// its cap, where the word that says the stack goes on is checked as well.
    func testOneCallSiteAtOnePlaceUnderDifferentCallers() throws {
        let exe = try Fixtures.build("callsites")
        let source = Fixtures.source("callsites")
        let siteLine = try Fixtures.line(of: "site", in: source)
        let expected: [[String]: [Int]] = [
            ["site", "caller_a", "main"]: [400, 400 * 16],
            ["site", "caller_b", "main"]: [400, 400 * 24],
            ["site", "caller_c", "main"]: [400, 400 * 40],
            ["site", "under_vla", "shallow", "main"]: [200, 200 * 56],
            ["site", "under_vla", "deep", "main"]: [200, 200 * 72],
            ["site"] + Array(repeating: "nest", count: 63): [600, 200 * (2 * 88 + 104)],
        ]
        for check in [true, false] {
            let out = directory.appendingPathComponent(check ? "checked" : "plain")
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            let run = try runTraced(
                exe, in: out, environment: check ? ["MEMTRACE_UNWIND_CHECK": "1"] : [:])
            XCTAssertEqual(run.status, 0, run.stderrText)
            XCTAssertEqual(run.stdoutText, "same place: callers 1, through the array 1\n")
            if check {
                let tally = try XCTUnwrap(tallies(run.stderrText).first, run.stderrText)
                XCTAssertEqual(tally.differ, 0, run.stderrText)
                // The second call in a row of each of the first three callers and of the
                // deepest stack, at least.
                XCTAssertGreaterThanOrEqual(tally.knownBySite, 4 * 200, run.stderrText)
            } else {
                XCTAssertEqual(run.stderrText, "")
            }
            let snapshot = try onlySnapshot(in: out, prefix: "callsites")
            assertConsistent(snapshot)
            // Cut at the frames up to main; stacks through `nest` are cut at 64 frames, the
            // site and 63 of nest, so both depths are one stack.
            let found = liveFigures(snapshot, file: "callsites.c", line: siteLine) { functions in
                functions.firstIndex(of: "main").map { Array(functions[...$0]) } ?? functions
            }
            XCTAssertEqual(found, expected, check ? "checked" : "plain")
        }
    }

    /// Coroutines (ucontext) switching stacks after every allocation, one stack unmapped and
    /// another mapped (at the same address, most likely) for a coroutine with fewer frames:
    /// each block keeps its own coroutine's stack, down to glibc's `__start_context`.
    func testCoroutinesOnStacksOfTheirOwn() throws {
        let exe = try Fixtures.build("coroutines")
        let run = try runTraced(exe, in: directory, environment: ["MEMTRACE_UNWIND_CHECK": "1"])
        XCTAssertEqual(run.status, 0, run.stderrText)
        XCTAssertTrue(run.stdoutText.hasPrefix("coroutines: 900 blocks"), run.stdoutText)
        let tally = try XCTUnwrap(tallies(run.stderrText).first, run.stderrText)
        XCTAssertEqual(tally.differ, 0, run.stderrText)

        let snapshot = try onlySnapshot(in: directory, prefix: "coroutines")
        assertConsistent(snapshot)
        let siteLine = try Fixtures.line(of: "coroutine-site", in: Fixtures.source("coroutines"))
        // Each coroutine's stack ends in __start_context, which has no name.
        let found = liveFigures(snapshot, file: "coroutines.c", line: siteLine) { functions in
            Array(functions.prefix { !$0.hasPrefix("libc.so") })
        }
        XCTAssertEqual(
            found,
            [
                ["allocate", "deeper", "first"]: [300, 300 * 48],
                ["allocate", "deeper", "second"]: [300, 300 * 80],
                ["allocate", "third"]: [300, 300 * 112],
            ])
    }

    /// Code without unwind information is walked through its frame pointer, read without a
    /// fault, and never by libunwind, which checks addresses by writing them into a pipe it
    /// opens: a program that closed every descriptor and reopened files under those numbers had
    /// its input read and its output overwritten (the copy came out "  H O WORLD"). And a
    /// program that never needs libunwind does not see its pipe: the descriptors it gets are
    /// the ones it would get untraced.
    /// A frame pointer that is no frame, in code without unwind information: on a coroutine's
    /// stack mapped inside the range glibc gives as the main thread's stack, the same with no
    /// stack limit (that range then reaches the heap), and pointing at what looks like a frame
    /// at the top of a stack with inaccessible pages above.  Each once faulted in the tracer.
    func testFramePointersThatAreNoFrames() throws {
        let exe = try Fixtures.build("framepointers")
        let plain = try runProcess(exe, [])
        XCTAssertEqual(plain.status, 0, plain.stderrText)
        XCTAssertEqual(plain.stdoutText, "ok\nok\nok\n")
        for environment in [[:], ["MEMTRACE_SAMPLE": "1"], ["MEMTRACE_UNWIND_CHECK": "1"]] {
            let run = try runTraced(exe, in: directory, environment: environment)
            XCTAssertEqual(run.status, 0, "\(environment): \(run.stderrText)")
            XCTAssertEqual(run.stdoutText, "ok\nok\nok\n", "\(environment)")
        }
    }

    func testCodeWithoutUnwindInformationAndAProgramThatClosesEveryDescriptor() throws {
        let exe = try Fixtures.build("nounwindinfo")
        let input = directory.appendingPathComponent("input.txt")
        let output = directory.appendingPathComponent("output.txt")
        let text = "HELLO WORLD, and a longer line to read back\n"
        try text.write(to: input, atomically: false, encoding: .utf8)
        let expected = "lowest free descriptor: 3\ncopied \(text.utf8.count) bytes\n"
        let plain = try runProcess(exe, [input.path, output.path])
        XCTAssertEqual(plain.stdoutText, expected, plain.stderrText)

        try FileManager.default.removeItem(at: output)
        let run = try runTraced(exe, [input.path, output.path], in: directory)
        XCTAssertEqual(run.status, 0, run.stderrText)
        XCTAssertEqual(run.stdoutText, expected, run.stderrText)
        XCTAssertEqual(try String(contentsOf: output, encoding: .utf8), text)
        XCTAssertEqual(run.stderrText, "")

        let snapshot = try onlySnapshot(in: directory, prefix: "nounwindinfo")
        assertConsistent(snapshot)
        let symbolizer = Symbolizer(snapshot: snapshot)
        // Three calls of 100 freed blocks and 3 of 555 bytes, two from main (the last 3 blocks
        // live at exit) and one from a thread (its 3 live at exit), whose frames the walk reads
        // on that thread's stack.
        let through = snapshot.stackStats.filter { stat in
            snapshot.stacks[Int(stat.stack)].pcs.contains { pc in
                symbolizer.frames(for: pc).contains { $0.function == "allocate_through_it" }
            }
        }
        XCTAssertEqual(through.reduce(0) { $0 + $1.totalCount }, 309)
        XCTAssertEqual(through.reduce(0) { $0 + $1.totalBytes }, 3 * (14_950 + 3 * 555))
        XCTAssertEqual(through.reduce(0) { $0 + $1.liveBytes }, 2 * 3 * 555)
        var callers: [String: UInt64] = [:]
        for stat in through {
            let functions = snapshot.stacks[Int(stat.stack)].pcs.flatMap { symbolizer.frames(for: $0).map(\.function) }
            XCTAssertEqual(Array(functions.prefix(2)), ["alloc_without_unwind_info", "allocate_through_it"])
            callers[functions.count > 2 ? functions[2] : "", default: 0] += stat.totalCount
        }
        XCTAssertEqual(callers, ["main": 206, "in_thread": 103])
    }
}
