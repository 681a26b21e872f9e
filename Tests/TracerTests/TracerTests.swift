import Foundation
import SnapshotReader
import Symbolizer
import XCTest
import _MemtraceTestSupport

/// The tracer on programs written for the purpose: every entry point, threads,
/// fork, signals, timers, the public header, and failure to write.
final class TracerTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: TestPaths.libtrace), "run `make tracer` first")
        directory = try makeTemporaryDirectory("memtrace-tracer")
    }

    override func tearDownWithError() throws {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    func testEveryAllocatorEntryPointIsRecordedAtItsCallSite() throws {
        let exe = try Fixtures.build("family")
        let plain = try runProcess(exe)
        let traced = try runTraced(exe, in: directory)
        XCTAssertEqual(traced.status, 0, traced.stdoutText + traced.stderrText)
        XCTAssertEqual(traced.stdout, plain.stdout)
        XCTAssertEqual(traced.stderrText, "")

        let snapshot = try onlySnapshot(in: directory, prefix: "family")
        assertConsistent(snapshot)
        XCTAssertEqual(snapshot.header.trigger, .exit)
        let all = sites(of: snapshot)
        let source = Fixtures.source("family")
        func at(_ marker: String) throws -> Site? {
            site(all, file: "family.c", line: try Fixtures.line(of: marker, in: source))
        }
        // (marker, live bytes, live blocks, bytes ever allocated there)
        let expected: [(String, UInt64, UInt64, UInt64)] = [
            ("malloc", 1001, 1, 1001),
            ("calloc", 1001, 1, 1001),
            ("realloc-new", 0, 0, 1003),
            ("realloc-grow", 5003, 1, 5003),
            ("reallocarray", 1008, 1, 1008),
            ("posix_memalign", 1005, 1, 1005),
            ("aligned_alloc", 1024, 1, 1024),
            ("memalign", 1007, 1, 1007),
            ("valloc", 1008, 1, 1008),
            ("pvalloc", 4096, 1, 4096),  // pvalloc rounds the request up to a page
            ("freed", 0, 0, 2222),
            ("realloc-shrink-origin", 0, 0, 3000),
        ]
        for (marker, live, count, total) in expected {
            let s = try XCTUnwrap(try at(marker), marker)
            XCTAssertEqual(s.function, "main", marker)
            XCTAssertEqual(s.liveBytes, live, marker)
            XCTAssertEqual(s.liveCount, count, marker)
            XCTAssertEqual(s.totalBytes, total, marker)
            XCTAssertEqual(s.totalCount, 1, marker)
        }
        XCTAssertEqual(snapshot.totals.reallocCalls, 3)
        XCTAssertEqual(snapshot.totals.untrackedFrees, 0)
    }

    /// Threads that each hold less than a thread's publishing step make a peak together: the
    /// snapshot's peak and its site's figures at the peak are all four threads' blocks.
    func testThreadsHoldingBlocksAtOnceMakeOnePeak() throws {
        let exe = try Fixtures.build("peakthreads")
        for sampled in [false, true] {
            let traced = try runTraced(exe, in: directory, environment: sampled ? ["MEMTRACE_SAMPLE": "8k"] : [:])
            XCTAssertEqual(traced.status, 0, traced.stderrText)
            XCTAssertEqual(traced.stdoutText, "done\n")
            let snapshot = try onlySnapshot(in: directory, prefix: "peakthreads")
            try FileManager.default.removeItem(atPath: snapshot.path)
            if sampled {  // estimates: only the order of magnitude is sure
                XCTAssertGreaterThan(snapshot.totals.peakBytes, 500 << 10)
                continue
            }
            XCTAssertGreaterThanOrEqual(snapshot.totals.peakBytes, 800 << 10)
            XCTAssertLessThan(snapshot.totals.peakBytes, 808 << 10, "the blocks, the threads' TLS vectors")
            let held = try XCTUnwrap(
                site(
                    sites(of: snapshot), file: "peakthreads.c",
                    line: try Fixtures.line(of: "held", in: Fixtures.source("peakthreads"))))
            XCTAssertEqual([held.liveBytes, held.totalBytes, held.peakBytes], [0, 800 << 10, 800 << 10])
        }
    }

    func testThreadsByTheThousand() throws {
        let exe = try Fixtures.build("threads")
        let traced = try runTraced(exe, in: directory)
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(traced.stdoutText, "threads: 2002 threads done\n")
        let snapshot = try onlySnapshot(in: directory, prefix: "threads")
        assertConsistent(snapshot)
        let all = sites(of: snapshot)
        let source = Fixtures.source("threads")
        let kept = try XCTUnwrap(site(all, file: "threads.c", line: try Fixtures.line(of: "thread-kept", in: source)))
        XCTAssertEqual(kept.function, "worker")
        XCTAssertEqual(kept.liveCount, 2000)
        XCTAssertEqual(kept.liveBytes, 2000 * 24)
        let left = try XCTUnwrap(site(all, file: "threads.c", line: try Fixtures.line(of: "left", in: source)))
        XCTAssertEqual([left.liveBytes, left.liveCount], [111, 1])
        let right = try XCTUnwrap(site(all, file: "threads.c", line: try Fixtures.line(of: "right", in: source)))
        XCTAssertEqual([right.liveBytes, right.liveCount], [222, 1])
        // 2000 workers x 101 allocations, plus 2 x 20001 in the concurrent pair.
        XCTAssertGreaterThanOrEqual(snapshot.totals.allocCalls, 2000 * 101 + 2 * 20001)
        // Every block freed right away is a temporary allocation, counted by each thread and
        // kept when the thread ends: 2000 x (32 + ... + 131) bytes, 20000 x 64, 20000 x 80.
        let temporary = temporaryByLine(snapshot)
        XCTAssertEqual(
            try ["thread-temporary", "left-temporary", "right-temporary"].map {
                temporary[try Fixtures.line(of: $0, in: source)]
            },
            [
                Temporary(count: 2000 * 100, bytes: 2000 * 8150), Temporary(count: 20000, bytes: 20000 * 64),
                Temporary(count: 20000, bytes: 20000 * 80),
            ])
    }

    func testTemporaryAllocations() throws {
        let exe = try Fixtures.build("temporary")
        let source = Fixtures.source("temporary")
        let traced = try runTraced(exe, in: directory)
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        let snapshot = try onlySnapshot(in: directory, prefix: "temporary")
        XCTAssertTrue(snapshot.countsTemporary)
        let temporary = temporaryByLine(snapshot)
        // Freed before anything else was allocated: alone, second (freed after first, but nothing
        // was allocated in between), the realloc'd block, the calloc'd one.  Not first (second was
        // allocated after it), nor the block realloc moved (realloc is not free), nor the kept one,
        // nor a block followed by an allocation made while recording was paused (not recorded, but
        // an allocation all the same), nor blocks of a thread freed by another: the request (freed by
        // the worker), the worker's reply at the request's address (once counted against main, whose
        // last block had that address) and the block after it.
        let expected: [String: Temporary?] = [
            "alone": Temporary(count: 100, bytes: 3200), "first": nil, "second": Temporary(count: 50, bytes: 800),
            "grown": nil, "regrown": Temporary(count: 10, bytes: 40960), "kept": nil, "paused": nil,
            "zeroed": Temporary(count: 1, bytes: 100), "request": nil, "reply": nil, "more": nil,
        ]
        for (marker, figures) in expected {
            XCTAssertEqual(temporary[try Fixtures.line(of: marker, in: source)], figures, marker)
        }
        XCTAssertEqual(temporary.values.reduce(0) { $0 + $1.count }, 161, "\(temporary)")
        // Re-encoded, the TEMPORARY section comes out byte for byte.
        let path = try snapshotFiles(in: directory)[0]
        XCTAssertEqual(
            SnapshotWriter.encode(snapshot), Array(try Data(contentsOf: URL(fileURLWithPath: path))))

        // Sampling records too few allocations to know which came last: no TEMPORARY section.
        let sampledDirectory = directory.appendingPathComponent("sampled")
        try FileManager.default.createDirectory(at: sampledDirectory, withIntermediateDirectories: true)
        _ = try runTraced(exe, in: sampledDirectory, environment: ["MEMTRACE_SAMPLE": "1"])
        let sampled = try onlySnapshot(in: sampledDirectory, prefix: "temporary")
        XCTAssertTrue(sampled.header.isSampled)
        XCTAssertFalse(sampled.countsTemporary)
        XCTAssertEqual(sampled.stackStats.map(\.temporaryCount).max(), 0)
    }

    /// A thread whose first allocation happens inside pthread_getattr_np (as in every thread
    /// Rust starts) once hung: describing the new thread for the leak scan called
    /// pthread_getattr_np again, which waited for the lock the outer call held.
    func testThreadsWithSmallStacksFirstAllocatingInsidePthreadGetattrNp() throws {
        let exe = try Fixtures.build("smallstack")
        let traced = try runProcess(
            "/usr/bin/timeout", ["-k", "5", "60", "/usr/bin/env", "LD_PRELOAD=\(TestPaths.libtrace)", exe],
            environment: [
                "MEMTRACE_OUTPUT": directory.appendingPathComponent("%e.%p.%n.snap").path, "MEMTRACE_LEAKS": "1",
            ], directory: directory)
        XCTAssertEqual(traced.status, 0, "124 is a hang: \(traced.stderrText)")
        XCTAssertEqual(traced.stdoutText, "smallstack: 8 threads done\n")
        let snapshot = try onlySnapshot(in: directory, prefix: "smallstack")
        assertConsistent(snapshot)
        let line = try Fixtures.line(of: "small-stack", in: Fixtures.source("smallstack"))
        let kept = try XCTUnwrap(site(sites(of: snapshot), file: "smallstack.c", line: line))
        XCTAssertEqual(kept.function, "worker")
        XCTAssertEqual([kept.liveBytes, kept.liveCount], [8 * 48, 8])
    }

    func testForkedChildWritesItsOwnSnapshotAndSpawnedProgramsAreTraced() throws {
        let exe = try Fixtures.build("forks")
        let traced = try runTraced(exe, in: directory)
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(traced.stdoutText, "forks: done\n")
        let files = try snapshotFiles(in: directory)
        let forkFiles = files.filter { ($0 as NSString).lastPathComponent.hasPrefix("forks.") }
        let trueFiles = files.filter { ($0 as NSString).lastPathComponent.hasPrefix("true.") }
        XCTAssertEqual(forkFiles.count, 2, "parent and forked child: \(files)")
        XCTAssertEqual(trueFiles.count, 2, "vfork+exec and posix_spawn children: \(files)")
        let snapshots = try forkFiles.map { try SnapshotFile.read(path: $0) }
        let source = Fixtures.source("forks")
        let parentLine = try Fixtures.line(of: "parent", in: source)
        let childLine = try Fixtures.line(of: "child", in: source)
        let child = try XCTUnwrap(snapshots.first { s in snapshots.contains { $0.header.pid == s.header.ppid } })
        let parent = try XCTUnwrap(snapshots.first { $0.header.pid == child.header.ppid })
        XCTAssertTrue(forkFiles.contains { $0.hasSuffix("forks.\(child.header.pid).0.snap") })
        let parentSites = sites(of: parent)
        let childSites = sites(of: child)
        XCTAssertEqual(site(parentSites, file: "forks.c", line: parentLine)?.liveBytes, 3000)
        XCTAssertFalse(parentSites.contains { $0.line == childLine && $0.file == "forks.c" })
        XCTAssertEqual(site(childSites, file: "forks.c", line: parentLine)?.liveBytes, 3000)
        XCTAssertEqual(site(childSites, file: "forks.c", line: childLine)?.liveBytes, 4000)
        for path in trueFiles { assertConsistent(try SnapshotFile.read(path: path)) }
    }

    /// MEMTRACE_FOLLOW_FORK=0 stops a forked child's recording (no snapshot of its own) but not
    /// the tracing of what it execs: LD_PRELOAD is inherited, so a shell's commands are traced
    /// without each forked child starting the tracer's thread first (docs/performance.md).
    func testAChildNotFollowedStillTracesWhatItExecs() throws {
        let exe = try Fixtures.build("forks")
        // MEMTRACE_FOLLOW_FORK, the fixture's arguments, the snapshots of forks and of true
        let cases: [(String, [String], Int, Int)] = [
            ("0", [], 1, 2), ("0", ["exec"], 1, 3), ("1", ["exec"], 1, 3), ("1", [], 2, 2),
        ]
        for (follow, arguments, forks, trues) in cases {
            let label = "MEMTRACE_FOLLOW_FORK=\(follow) \(arguments)"
            let run = directory.appendingPathComponent("follow-\(follow)-\(arguments.count)")
            try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
            let traced = try runTraced(exe, arguments, in: run, environment: ["MEMTRACE_FOLLOW_FORK": follow])
            XCTAssertEqual(traced.status, 0, "\(label): \(traced.stderrText)")
            XCTAssertEqual(traced.stdoutText, "forks: done\n", label)
            let files = try snapshotFiles(in: run)
            let names = files.map { ($0 as NSString).lastPathComponent }
            XCTAssertEqual(names.filter { $0.hasPrefix("forks.") }.count, forks, "\(label): \(names)")
            XCTAssertEqual(names.filter { $0.hasPrefix("true.") }.count, trues, "\(label): \(names)")
            for path in files { assertConsistent(try SnapshotFile.read(path: path)) }
        }
    }

    /// MEMTRACE_OUTPUT=/dev/null throws the snapshots away, a forked child's too: the child added
    /// `.PID` to the name, as for a file, and warned that it could not create /dev/null.PID (root
    /// could, and filled /dev with snapshots).
    func testSnapshotsToADeviceStayThereInForkedChildren() throws {
        let exe = try Fixtures.build("forks")
        let before = try FileManager.default.contentsOfDirectory(atPath: "/dev").filter { $0.hasPrefix("null.") }
        let traced = try runTraced(exe, in: directory, environment: ["MEMTRACE_OUTPUT": "/dev/null"])
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(traced.stdoutText, "forks: done\n")
        XCTAssertEqual(traced.stderrText, "")
        let after = try FileManager.default.contentsOfDirectory(atPath: "/dev").filter { $0.hasPrefix("null.") }
        XCTAssertEqual(after, before)
    }

    /// Start-up checks glibc's chunk layout on a few blocks, one of them of 64 MiB, which glibc
    /// maps and, told to fill what it hands out (MALLOC_PERTURB_), wrote: every traced process
    /// peaked at 67 MB (1 MB untraced) and took 35 ms more.
    func testStartUpTouchesNoLargeBlockWhenGlibcFillsThem() throws {
        let exe = try Fixtures.build("peakrss")
        for environment in [["MALLOC_PERTURB_": "165"], ["GLIBC_TUNABLES": "glibc.malloc.perturb=165"]] {
            let traced = try runTraced(exe, in: directory, environment: environment)
            XCTAssertEqual(traced.status, 0, traced.stderrText)
            let kilobytes = try XCTUnwrap(Int(traced.stdoutText.trimmingCharacters(in: .newlines)), traced.stdoutText)
            XCTAssertLessThan(kilobytes, 16 * 1024, "\(environment)")
        }
    }

    /// Under a file size limit the snapshot's write fails with EFBIG and the tracer says so on
    /// standard error; when that is a file, the warning reached the limit too, and its SIGXFSZ
    /// ended a program that never writes that far (status 153).
    func testAWarningPastTheFileSizeLimitDoesNotEndTheProgram() throws {
        let exe = try Fixtures.build("peakrss")
        let errors = directory.appendingPathComponent("errors.txt").path
        let traced = try runTraced(
            "/usr/bin/prlimit", ["--fsize=100", "--", "/bin/sh", "-c", "exec \"$0\" 2>\"$1\"", exe, errors],
            in: directory)
        XCTAssertEqual(traced.status, 0, "153: SIGXFSZ; \(traced.stderrText)")
        let said = try String(contentsOfFile: errors, encoding: .utf8)
        XCTAssertTrue(said.hasPrefix("memtrace: cannot write snapshot "), said)
        XCTAssertEqual(said.utf8.count, 100, said)
    }

    /// A service under systemd's SystemCallFilter=@system-service runs in a seccomp filter that
    /// kills the process on a system call it leaves out, mincore among them: the tracer used it
    /// for the stack's pages and its own resident memory, and the program died (SIGSYS) at exit.
    func testAServiceSeccompFilterWithoutMincoreLetsTheProgramLive() throws {
        let launcher = try Fixtures.build("nomincore")
        let exe = try Fixtures.build("forks")
        let traced = try runTraced(launcher, [exe], in: directory, environment: ["MEMTRACE_LEAKS": "1"])
        XCTAssertEqual(traced.status, 0, "159: SIGSYS; \(traced.stderrText)")
        XCTAssertEqual(traced.stdoutText, "forks: done\n")
        let names = try snapshotFiles(in: directory).map { ($0 as NSString).lastPathComponent }
        XCTAssertEqual(names.filter { $0.hasPrefix("forks.") }.count, 2, "parent and forked child: \(names)")
        let parent = try SnapshotFile.read(path: try snapshotFiles(in: directory).first { $0.contains("forks.") }!)
        XCTAssertGreaterThan(parent.totals.tracerOverheadBytes, 0)
    }

    /// The exit snapshot is written on the stack of the thread that calls exit(), which may be as
    /// small as glibc allows (16 KiB): the writer's frames alone took 27 KiB (SIGSEGV).
    func testExitFromAThreadOfTheSmallestStackWritesTheSnapshot() throws {
        let exe = try Fixtures.build("exitstack")
        let traced = try runTraced(exe, in: directory)
        XCTAssertEqual(traced.status, 0, "139: SIGSEGV; \(traced.stderrText)")
        XCTAssertEqual(traced.stdoutText, "worker exiting\n")
        let snapshot = try onlySnapshot(in: directory, prefix: "exitstack")
        let line = try Fixtures.line(of: "kept", in: Fixtures.source("exitstack"))
        let kept = try XCTUnwrap(site(sites(of: snapshot), file: "exitstack.c", line: line))
        XCTAssertEqual([kept.liveBytes, kept.liveCount], [100, 1])
    }

    /// The helper thread's warnings go to the program's standard error through the program's own
    /// open file: reopened with O_APPEND, a file the program writes at its own offset (`2>log`)
    /// had the program's next line written over the warning.
    func testAHelperWarningIsNotWrittenOverByTheProgram() throws {
        let exe = try Fixtures.build("laterwords")
        let errors = directory.appendingPathComponent("errors.txt").path
        let missing = directory.appendingPathComponent("missing/%p.%n.snap").path
        let traced = try runTraced(
            "/bin/sh", ["-c", "exec \"$0\" 2>\"$1\"", exe, errors], in: directory,
            environment: ["MEMTRACE_OUTPUT": missing, "MEMTRACE_INTERVAL": "0.05"])
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        let lines = try String(contentsOfFile: errors, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 3, "\(lines)")
        XCTAssertEqual(lines.first, "program: start")
        XCTAssertTrue(lines.count == 3 && lines[1].hasPrefix("memtrace: cannot write snapshot "), "\(lines)")
        XCTAssertTrue(lines.last?.hasPrefix("program: end") == true, "\(lines)")
    }

    /// exec ends the helper thread wherever it stands: once, a snapshot it was writing stayed
    /// behind as `NAME.tmp.PID`. The fixture execs as soon as that file appears, through each
    /// of libc's exec functions (which call each other's internal names, not the wrappers),
    /// after a vfork child's exec (which must leave its parent's snapshot lock alone).
    func testExecWaitsForTheSnapshotUnderWay() throws {
        let exe = try Fixtures.build("execsnap")
        let line = try Fixtures.line(of: "kept", in: Fixtures.source("execsnap"))
        for how in ["execl", "execv", "execvp", "execve", "execle", "execlp"] {
            let run = directory.appendingPathComponent(how)
            try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
            let traced = try runTraced(exe, [run.path, how], in: run)
            XCTAssertEqual(traced.status, 0, "\(how): \(traced.stderrText)")
            let names = try FileManager.default.contentsOfDirectory(atPath: run.path).sorted()
            XCTAssertFalse(names.contains { $0.contains(".tmp.") }, "\(how): \(names)")
            let snapshot = try onlySnapshot(in: run, prefix: "execsnap")
            XCTAssertEqual(snapshot.header.trigger, .signal, how)
            assertConsistent(snapshot)
            let kept = try XCTUnwrap(site(sites(of: snapshot), file: "execsnap.c", line: line), how)
            XCTAssertEqual([kept.liveBytes, kept.liveCount], [300_000 * 40, 300_000], how)
            XCTAssertEqual(names.filter { $0.hasPrefix("true.") }.count, 2, "\(how): \(names)")
        }
    }

    /// exec holds the snapshot lock while it runs, and glibc's execvp searches PATH inside it; a
    /// signal handler that interrupted it and then exited, forked or exec'd waited for that lock
    /// on its own thread for good, and a signal that ended the program waited 2 s for a helper
    /// that waited for the lock, and ended without a snapshot. Now the thread that holds it for
    /// exec goes on without it, or gives it up as the process ends. Each mode ends as untraced,
    /// with its snapshots.
    func testASignalHandlerDuringExecNeitherHangsNorLosesTheSnapshot() throws {
        let exe = try Fixtures.build("execsignal")
        // mode, exit status (or the signal), output, the snapshots' executables
        let cases: [(String, Int32, String, [String])] = [
            ("exit", 7, "", ["execsignal"]), ("_exit", 7, "", ["execsignal"]),
            ("fork", 0, "", ["execsignal", "execsignal"]), ("exec", 0, "execed\n", ["echo"]),
            ("none", 128 + SIGALRM, "", ["execsignal"]),
        ]
        for (mode, status, output, names) in cases {
            let run = directory.appendingPathComponent(mode)
            try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
            let traced = try runProcess(
                "/usr/bin/timeout",
                ["-s", "KILL", "20", "/usr/bin/env", "LD_PRELOAD=\(TestPaths.libtrace)", exe, mode],
                environment: ["MEMTRACE_OUTPUT": run.appendingPathComponent("%e.%p.%n.snap").path], directory: run)
            XCTAssertEqual(traced.status, status, "\(mode): 137 is a hang; \(traced.stderrText)")
            XCTAssertEqual(traced.stdoutText, output, mode)
            let files = try snapshotFiles(in: run)
            let executables = files.map { ($0 as NSString).lastPathComponent.components(separatedBy: ".")[0] }
            XCTAssertEqual(executables.sorted(), names, "\(mode): with none, the 2 s wait for the helper ran out")
            for path in files { assertConsistent(try SnapshotFile.read(path: path)) }
        }
    }

    /// 200 forks while the helper records the timeline, then while it writes a snapshot every
    /// 2 ms, on glibc and on jemalloc. jemalloc's fork handler takes all of jemalloc's locks, and
    /// a snapshot under way asks jemalloc for sizes: once the tracer waited for the snapshot in a
    /// fork handler that ran after jemalloc's, and the program hung at its first fork; and the
    /// helper, waiting for glibc's statistics from the forking thread, cost each fork 50 ms.
    func testForkWhileTheHelperThreadWorksNeverHangsTheChild() throws {
        let exe = try Fixtures.build("forkstorm")
        let jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
        var runs: [(String, [String: String?])] = [
            ("timeline", ["MEMTRACE_TIMELINE": "0.0001", "MEMTRACE_AT_EXIT": "0"]),
            ("snapshots", ["MEMTRACE_INTERVAL": "0.002", "MEMTRACE_AT_EXIT": "0"]),
        ]
        if FileManager.default.fileExists(atPath: jemalloc) {
            runs.append(
                (
                    "snapshots under jemalloc",
                    [
                        "MEMTRACE_INTERVAL": "0.002", "MEMTRACE_AT_EXIT": "0",
                        "LD_PRELOAD": "\(TestPaths.libtrace) \(jemalloc)",
                    ]
                ))
        }
        for (label, environment) in runs {
            let out = directory.appendingPathComponent(label.replacingOccurrences(of: " ", with: "-"))
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            // timeout(1) ends a hang with SIGKILL instead of blocking the suite.
            let traced = try runTraced(
                "/usr/bin/timeout", ["-s", "KILL", "60", exe], in: out, environment: environment)
            XCTAssertEqual(traced.status, 0, "\(label): \(traced.stderrText)")
            XCTAssertEqual(traced.stdoutText, "forkstorm: 200 children\n", label)
            for path in try snapshotFiles(in: out) { assertConsistent(try SnapshotFile.read(path: path)) }
        }
    }

    /// A fork while the loader's module list is walked (another thread's dl_iterate_phdr, or the
    /// forking thread's own callback): glibc leaves the child's copy of the loader's write lock
    /// held by a thread that is not there, and the child hung for good on its first module walk
    /// (the unwinder's, or the exit snapshot's module list; libunwind's, for a signal handler's
    /// allocation, is not made there).
    func testAForkWhileTheModuleListIsWalkedNeverHangsTheChild() throws {
        let exe = try Fixtures.build("forkloader")
        let line = try Fixtures.line(of: "child", in: Fixtures.source("forkloader"))
        for mode in ["other", "self", "signal"] {
            let out = directory.appendingPathComponent(mode)
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            let traced = try runTraced("/usr/bin/timeout", ["-s", "KILL", "30", exe, mode], in: out)
            XCTAssertEqual(traced.status, 0, "\(mode): \(traced.stderrText)")
            XCTAssertEqual(traced.stdoutText, "child allocated 100\nchild exited 0\n", mode)
            let paths = try snapshotFiles(in: out).filter {
                ($0 as NSString).lastPathComponent.hasPrefix("forkloader.")
            }
            XCTAssertEqual(paths.count, 2, "\(mode): \(paths)")
            // The child's: the block it allocated, symbolized through the modules it listed.
            let child = try paths.map { try SnapshotFile.read(path: $0) }.filter {
                sites(of: $0).contains { $0.function == "child_work" }
            }
            XCTAssertEqual(child.count, 1, mode)
            let found = child.first.map { sites(of: $0).filter { $0.function == "child_work" && $0.line == line } }
            XCTAssertEqual(found?.map(\.liveBytes), [100], mode)
        }
    }

    /// libc's daemon() forks without the fork the tracer replaces, so the tracer's fork handlers
    /// do the waiting: they must run before jemalloc's (which lock jemalloc) and after them in the
    /// child. Registered before jemalloc's, they waited for a snapshot that waited inside jemalloc,
    /// and the chain of daemons stopped within a few links two runs out of three.
    func testDaemonsForkingWhileTheHelperWritesSnapshotsUnderJemalloc() throws {
        let jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
        try XCTSkipUnless(FileManager.default.fileExists(atPath: jemalloc), "\(jemalloc) is not installed")
        let exe = try Fixtures.build("daemons")
        let done = directory.appendingPathComponent("done.txt").path
        defer { _ = try? runProcess("/usr/bin/pkill", ["-KILL", "-f", exe]) }
        let traced = try runTraced(
            exe, [done], in: directory,
            environment: [
                "LD_PRELOAD": "\(TestPaths.libtrace) \(jemalloc)", "MEMTRACE_INTERVAL": "0.002",
                "MEMTRACE_AT_EXIT": "0",
            ])
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        // The last link runs on its own: wait for its file, a minute at most.
        for _ in 0..<600 where !FileManager.default.fileExists(atPath: done) { usleep(100_000) }
        XCTAssertEqual(try? String(contentsOfFile: done, encoding: .utf8), "done\n")
    }

    /// The files the tracer opens (the timeline's /proc/self/statm, snapshots) go above the
    /// program's descriptors: a program that closes its standard output and puts it back keeps it,
    /// and no snapshot lands there. One that was opened in the gap had taken number 1, the
    /// program's dup2 replaced it, and the tracer's close closed the program's output.
    func testTheTracersFilesStayOutOfTheProgramsDescriptors() throws {
        let exe = try Fixtures.build("fdshuffle")
        let traced = try runTraced(
            "/usr/bin/timeout", ["-s", "KILL", "60", exe], in: directory,
            environment: ["MEMTRACE_TIMELINE": "0.0002", "MEMTRACE_INTERVAL": "0.002"])
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(traced.stdoutText, "fdshuffle: 0 lost\n")
        XCTAssertEqual(traced.stderrText, "")
    }

    func testPublicHeaderWithoutTheTracer() throws {
        let exe = try Fixtures.build("api")
        let plain = try runProcess(exe, [directory.appendingPathComponent("x.snap").path])
        XCTAssertEqual(plain.status, 0)
        XCTAssertEqual(plain.stdoutText, "tracing=0 get=-1\nsnapshot=-1 errno=ENOSYS\n")
        XCTAssertEqual(try snapshotFiles(in: directory), [])
    }

    func testPublicHeaderUnderTheTracer() throws {
        let exe = try Fixtures.build("api")
        let explicit = directory.appendingPathComponent("explicit.snap").path
        let traced = try runTraced(exe, [explicit], in: directory)
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(
            traced.stdoutText,
            "tracing=1 get=0\ngrew=1000 peak_grew=1\nreset_peak_is_current=1\nsnapshot=0 errno=0\n")
        let snapshot = try SnapshotFile.read(path: explicit)
        XCTAssertEqual(snapshot.header.trigger, .api)
        XCTAssertEqual(snapshot.header.sequence, 0)
        // After reset_peak the peak is what was live then: the 1000-byte block, not the 500000 one.
        XCTAssertLessThan(snapshot.totals.peakBytes, 500_000)
        let all = sites(of: snapshot)
        let small = try XCTUnwrap(
            site(all, file: "api.c", line: try Fixtures.line(of: "small", in: Fixtures.source("api"))))
        XCTAssertEqual([small.liveBytes, small.liveCount, small.peakBytes], [1000, 1, 1000])
        let big = try XCTUnwrap(
            site(all, file: "api.c", line: try Fixtures.line(of: "big", in: Fixtures.source("api"))))
        XCTAssertEqual([big.liveBytes, big.totalBytes, big.peakBytes], [0, 500_000, 0])
        let attributes = try FileManager.default.attributesOfItem(atPath: explicit)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        // The exit snapshot follows with the next sequence number.
        let exitSnapshot = try onlySnapshot(in: directory, prefix: "api")
        XCTAssertEqual(exitSnapshot.header.sequence, 1)
    }

    func testPeakRecordsEachSitesBytesAtTheGlobalPeak() throws {
        let exe = try Fixtures.build("api")
        _ = try runTraced(
            exe, [directory.appendingPathComponent("e.snap").path], in: directory,
            environment: ["MEMTRACE_OUTPUT": directory.appendingPathComponent("exit.snap").path])
        // Without reset_peak the story would differ; with it, the exit snapshot's
        // peak is the moment after reset, when only the small block was live.
        let snapshot = try SnapshotFile.read(path: directory.appendingPathComponent("exit.snap").path)
        XCTAssertEqual(snapshot.totals.liveBytes, 0)
        XCTAssertEqual(snapshot.stackStats.reduce(0) { $0 + $1.peakBytes }, snapshot.totals.peakBytes)
    }

    func testFramesLimitKeepsTheInnermostFramesAndTheTrueDepth() throws {
        let exe = try Fixtures.build("deep")
        let line = try Fixtures.line(of: "deep", in: Fixtures.source("deep"))
        for (limit, expectTruncated) in [(5, true), (64, false)] {
            let dir = directory.appendingPathComponent("limit\(limit)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let traced = try runTraced(exe, in: dir, environment: ["MEMTRACE_FRAMES": String(limit)])
            XCTAssertEqual(traced.status, 0)
            let snapshot = try onlySnapshot(in: dir, prefix: "deep")
            XCTAssertEqual(snapshot.header.framesLimit, UInt32(limit))
            let stat = try XCTUnwrap(snapshot.stackStats.first { $0.liveBytes == 777 })
            let stack = snapshot.stacks[Int(stat.stack)]
            // descend(0) ... descend(40), main, and the C runtime's frames below main.
            XCTAssertGreaterThanOrEqual(stack.trueDepth, 42)
            if expectTruncated {
                XCTAssertEqual(stack.pcs.count, limit)
                // stdio's buffer, allocated deep inside printf, is cut too.
                XCTAssertGreaterThanOrEqual(snapshot.totals.truncatedStacks, 1)
            } else {
                XCTAssertEqual(UInt32(stack.pcs.count), stack.trueDepth)
            }
            XCTAssertEqual(sites(of: snapshot).first { $0.liveBytes == 777 }?.line, line)
        }
    }

    /// Starts the waiter fixture (or another that says "ready" and waits for stdin) under the tracer and
    /// returns it with its input pipe once it said "ready".
    private func startWaiter(
        _ fixture: String = "waiter", arguments: [String] = [], environment: [String: String]
    ) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Fixtures.build(fixture))
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["LD_PRELOAD"] = TestPaths.libtrace
        env["MEMTRACE_OUTPUT"] = directory.appendingPathComponent("%e.%p.%n.snap").path
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let ready = output.fileHandleForReading.availableData
        XCTAssertEqual(String(decoding: ready, as: UTF8.self), "ready\n")
        return (process, input)
    }

    private func waitForSnapshots(_ count: Int, timeout: TimeInterval = 10) throws -> [String] {
        let deadline = Date().addingTimeInterval(timeout)
        var files: [String] = []
        while Date() < deadline {
            files = try snapshotFiles(in: directory)
            if files.count >= count { return files }
            usleep(20_000)
        }
        return files
    }

    func testSignalAsksForASnapshot() throws {
        let (process, input) = try startWaiter(environment: [:])
        kill(process.processIdentifier, SIGUSR2)
        XCTAssertEqual(try waitForSnapshots(1).count, 1)
        kill(process.processIdentifier, SIGUSR2)
        XCTAssertEqual(try waitForSnapshots(2).count, 2)
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 0)
        let snapshots = try snapshotFiles(in: directory).map { try SnapshotFile.read(path: $0) }
            .sorted { $0.header.sequence < $1.header.sequence }
        XCTAssertEqual(snapshots.map(\.header.trigger), [.signal, .signal, .exit])
        XCTAssertEqual(snapshots.map(\.header.sequence), [0, 1, 2])
        let waiting = try Fixtures.line(of: "waiting", in: Fixtures.source("waiter"))
        XCTAssertEqual(site(sites(of: snapshots[0]), file: "waiter.c", line: waiting)?.liveBytes, 7777)
    }

    func testSignalCanBeChangedAndTurnedOff() throws {
        let (process, input) = try startWaiter(environment: ["MEMTRACE_SIGNAL": "USR1"])
        kill(process.processIdentifier, SIGUSR1)
        XCTAssertEqual(try waitForSnapshots(1).count, 1)
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)

        try FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let (quiet, quietInput) = try startWaiter(environment: ["MEMTRACE_SIGNAL": "off"])
        // With the signal off, SIGUSR2 keeps its default action: it ends the program, which leaves
        // a termination snapshot as for any signal that ends it.
        kill(quiet.processIdentifier, SIGUSR2)
        quiet.waitUntilExit()
        try? quietInput.fileHandleForWriting.close()
        XCTAssertEqual(quiet.terminationReason, .uncaughtSignal)
        XCTAssertEqual(quiet.terminationStatus, SIGUSR2)
        let ended = try snapshotFiles(in: directory).map { try SnapshotFile.read(path: $0) }
        XCTAssertEqual(ended.map(\.header.trigger), [.termination])
        XCTAssertEqual(ended.first?.process["signal"], "SIGUSR2")
    }

    /// Waits for a process a signal should end, killing it if it is still there after `timeout`.
    private func waitForEnd(_ process: Process, timeout: TimeInterval = 20) {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            XCTFail("the process did not end")
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
    }

    func testSignalsThatEndTheProgramLeaveASnapshotAndTheirStatus() throws {
        let waiting = try Fixtures.line(of: "waiting", in: Fixtures.source("waiter"))
        let signals = [
            (SIGTERM, "SIGTERM"), (SIGINT, "SIGINT"), (SIGHUP, "SIGHUP"), (SIGALRM, "SIGALRM"), (SIGUSR1, "SIGUSR1"),
            (SIGVTALRM, "SIGVTALRM"), (SIGPROF, "SIGPROF"),
        ]
        for (signal, name) in signals {
            try FileManager.default.removeItem(at: directory)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let (process, input) = try startWaiter(environment: [:])
            kill(process.processIdentifier, signal)
            waitForEnd(process)
            try? input.fileHandleForWriting.close()
            // Ended by the signal, as it would have been untraced ...
            XCTAssertEqual(process.terminationReason, .uncaughtSignal, name)
            XCTAssertEqual(process.terminationStatus, signal, name)
            // ... after the tracer wrote what was live then.
            let files = try snapshotFiles(in: directory)
            let snapshots = try files.map { try SnapshotFile.read(path: $0) }
            XCTAssertEqual(snapshots.map(\.header.trigger), [.termination], name)
            guard let snapshot = snapshots.first else { continue }
            XCTAssertEqual(snapshot.process["signal"], name)
            // The reader keeps all of it: written again, the file is the tracer's byte for byte.
            XCTAssertEqual(SnapshotWriter.encode(snapshot), Array(try Data(contentsOf: URL(fileURLWithPath: files[0]))))
            XCTAssertEqual(snapshot.header.pid, UInt32(process.processIdentifier))
            XCTAssertEqual(site(sites(of: snapshot), file: "waiter.c", line: waiting)?.liveBytes, 7777, name)
        }
    }

    func testWritingIntoAClosedPipeLeavesASnapshot() throws {
        let exe = try Fixtures.build("terminate")
        let piped = try Fixtures.line(of: "piped", in: Fixtures.source("terminate"))
        let traced = try runTraced(exe, ["pipe"], in: directory)
        XCTAssertEqual(traced.status, 128 + SIGPIPE, traced.stderrText)
        XCTAssertEqual(traced.stdoutText, "")
        let snapshots = try snapshotFiles(in: directory).map { try SnapshotFile.read(path: $0) }
        XCTAssertEqual(snapshots.map(\.header.trigger), [.termination])
        XCTAssertEqual(snapshots.first?.process["signal"], "SIGPIPE")
        XCTAssertEqual(
            snapshots.first.flatMap { site(sites(of: $0), file: "terminate.c", line: piped)?.liveBytes }, 2424)
    }

    /// abort() (a failed assertion, C++'s uncaught bad_alloc, Rust's failed allocation) leaves a
    /// snapshot of the heap at that moment, and the program still ends by SIGABRT. It had left
    /// none: a signal whose default action dumps core ended the process on the spot.
    func testAbortLeavesASnapshotOfTheHeapAtThatMoment() throws {
        let exe = try Fixtures.build("aborts", cplusplus: true)
        let kept = try Fixtures.line(of: "kept", in: TestPaths.file("Tests/TracerTests/Fixtures/aborts.cpp"))
        let traced = try runTraced(exe, ["main"], in: directory)
        XCTAssertEqual(traced.status, 128 + SIGABRT, traced.stderrText)
        XCTAssertEqual(traced.stderrText, "")
        let snapshots = try snapshotFiles(in: directory).map { try SnapshotFile.read(path: $0) }
        XCTAssertEqual(snapshots.map(\.header.trigger), [.termination])
        XCTAssertEqual(snapshots.first?.process["signal"], "SIGABRT")
        XCTAssertEqual(snapshots.first.flatMap { site(sites(of: $0), file: "aborts.cpp", line: kept)?.liveBytes }, 5151)
    }

    /// A C++ program out of memory under an address-space limit: operator new throws bad_alloc,
    /// nothing catches it, std::terminate aborts. The snapshot holds what filled the memory.
    func testAnUncaughtBadAllocLeavesTheHeapThatFilledTheMemory() throws {
        let exe = try Fixtures.build("aborts", cplusplus: true)
        let arrays = try Fixtures.line(of: "arrays", in: TestPaths.file("Tests/TracerTests/Fixtures/aborts.cpp"))
        let traced = try runProcess(
            "/bin/sh", ["-c", "ulimit -v 1000000; exec \"$0\" badalloc", exe],
            environment: [
                "LD_PRELOAD": TestPaths.libtrace,
                "MEMTRACE_OUTPUT": directory.appendingPathComponent("%e.%p.%n.snap").path,
            ])
        XCTAssertEqual(traced.status, 128 + SIGABRT, traced.stderrText)
        XCTAssertTrue(traced.stderrText.contains("std::bad_alloc"), traced.stderrText)
        let snapshot = try onlySnapshot(in: directory, prefix: "aborts")
        XCTAssertEqual(snapshot.header.trigger, .termination)
        let held = try XCTUnwrap(site(sites(of: snapshot), file: "aborts.cpp", line: arrays))
        // Every array the limit let through: a gigabyte's worth but what the program's and the
        // tracer's mappings take.
        XCTAssertEqual(held.liveBytes % (64 << 20), 0)
        XCTAssertEqual(held.liveBytes / (64 << 20), held.liveCount)
        XCTAssertGreaterThanOrEqual(held.liveCount, 10)
        XCTAssertLessThanOrEqual(held.liveCount, 15)
    }

    /// The core a traced abort leaves is the aborting thread's, as untraced: that thread ends the
    /// process once the snapshot is written, not the tracer's helper thread, whose stack a
    /// debugger would otherwise have shown as the one that died.
    func testTheCoreOfAnAbortShowsTheAbortingThread() throws {
        let pattern = (try? String(contentsOfFile: "/proc/sys/kernel/core_pattern", encoding: .utf8)) ?? "|"
        guard !pattern.hasPrefix("|"), !pattern.contains("/") else {
            throw XCTSkip("cores are not written into the working directory here (core_pattern \(pattern))")
        }
        let exe = try Fixtures.build("aborts", cplusplus: true)
        let source = TestPaths.file("Tests/TracerTests/Fixtures/aborts.cpp")
        let traced = try runProcess(
            "/bin/sh", ["-c", "ulimit -c unlimited; exec \"$0\" thread", exe],
            environment: [
                "LD_PRELOAD": TestPaths.libtrace,
                "MEMTRACE_OUTPUT": directory.appendingPathComponent("%e.%p.%n.snap").path,
            ], directory: directory)
        XCTAssertEqual(traced.status, 128 + SIGABRT, traced.stderrText)
        let thread = try XCTUnwrap(
            traced.stdoutText.split(separator: " ").last.flatMap { UInt32($0.trimmingCharacters(in: .newlines)) },
            traced.stdoutText)
        let snapshot = try onlySnapshot(in: directory, prefix: "aborts")
        let all = sites(of: snapshot)
        XCTAssertEqual(site(all, file: "aborts.cpp", line: try Fixtures.line(of: "worker", in: source))?.liveBytes, 777)
        XCTAssertEqual(site(all, file: "aborts.cpp", line: try Fixtures.line(of: "kept", in: source))?.liveBytes, 5151)
        let cores = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("core") }
        guard let core = cores.first else { throw XCTSkip("no core was written (\(pattern))") }
        XCTAssertEqual(try firstThreadOfCore(directory.appendingPathComponent(core).path), thread)
    }

    /// Under an address-space limit (`ulimit -v`) the tracer's reservations, which count against
    /// it though mostly unused, take an eighth of it: a program that allocates 400 MiB under a
    /// 600 MB limit runs as untraced (it got a MemoryError, or the tracer gave up, when the stack
    /// table reserved a gigabyte), and the snapshot has its peak.
    func testAnAddressSpaceLimitLeavesTheProgramItsRoom() throws {
        let python = "/usr/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else { throw XCTSkip("no \(python)") }
        // Under 60 MB, the 16 MiB tables of the records kept in blocks took most of the room.
        for (limit, mebibytes, prefix) in [(600_000, 400, "limited"), (60_000, 20, "small")] {
            let script = "ulimit -v \(limit); exec \"$0\" -c 'x = bytearray(\(mebibytes) << 20); print(len(x))'"
            let traced = try runProcess(
                "/bin/sh", ["-c", script, python],
                environment: [
                    "LD_PRELOAD": TestPaths.libtrace,
                    "MEMTRACE_OUTPUT": directory.appendingPathComponent("\(prefix).%p.%n.snap").path,
                ])
            XCTAssertEqual(traced.status, 0, traced.stderrText)
            XCTAssertEqual(traced.stdoutText, "\(mebibytes << 20)\n")
            XCTAssertEqual(traced.stderrText, "")
            let snapshot = try onlySnapshot(in: directory, prefix: prefix)
            XCTAssertGreaterThanOrEqual(snapshot.totals.peakBytes, UInt64(mebibytes << 20))
        }
    }

    /// A program that lowers its own address-space limit after the tracer reserved its tables
    /// (Python's resource.setrlimit, a script's `ulimit -v`) keeps its room too: the stack table
    /// gives back what it reserved beyond an eighth of the new limit. It had held a gigabyte,
    /// so that every later mapping failed (MemoryError; bash: "xrealloc: cannot allocate").
    func testAnAddressSpaceLimitSetByTheProgramLeavesItItsRoom() throws {
        let python = "/usr/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else { throw XCTSkip("no \(python)") }
        let environment = [
            "LD_PRELOAD": TestPaths.libtrace,
            "MEMTRACE_OUTPUT": directory.appendingPathComponent("lowered.%p.%n.snap").path,
        ]
        let lowered = try runProcess(
            python,
            [
                "-c",
                "import resource; resource.setrlimit(resource.RLIMIT_AS, (800 << 20, 800 << 20)); "
                    + "x = bytearray(300 << 20); print(len(x))",
            ], environment: environment)
        XCTAssertEqual(lowered.status, 0, lowered.stderrText)
        XCTAssertEqual(lowered.stdoutText, "\(300 << 20)\n")
        XCTAssertEqual(lowered.stderrText, "")
        let snapshot = try onlySnapshot(in: directory, prefix: "lowered")
        XCTAssertGreaterThanOrEqual(snapshot.totals.peakBytes, 300 << 20)
        let script = "ulimit -v 400000; x=$(head -c 3000000 /dev/zero | tr '\\0' a); echo ${#x}"
        let shell = try runProcess("/bin/bash", ["-c", script], environment: environment)
        XCTAssertEqual(shell.status, 0, shell.stderrText)
        XCTAssertEqual(shell.stdoutText, "3000000\n")
    }

    /// A vfork child that lowers its own limit shares its parent's memory: the parent's stack
    /// table keeps what it reserved (it had been cut to an eighth of the child's 64 MiB, and the
    /// parent's later stacks went uncounted).
    func testAVforkChildsLimitLeavesTheParentsTables() throws {
        let exe = try Fixtures.build("vforklimit")
        let traced = try runTraced(exe, in: directory)
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        let fields = traced.stdoutText.split(separator: " ")
        XCTAssertEqual(fields.count, 3, traced.stdoutText)
        XCTAssertEqual(fields.last, "unlimited\n")
        let before = Int(fields[0]) ?? 0
        let after = Int(fields[1]) ?? 0
        XCTAssertGreaterThan(before, 1 << 20, "the table's gigabyte is reserved")
        XCTAssertGreaterThan(after, before - (1 << 16), traced.stdoutText)
    }

    /// A signal handler that releases blocks while the program allocates in a loop often
    /// interrupts the tracer, where the release cannot be recorded on the spot: it is held back
    /// until the thread leaves the tracer. Let through unrecorded, some 280 of the 300 blocks
    /// stayed live in the snapshot (and the leak check called them lost).
    func testReleasesFromASignalHandlerThatInterruptedTheTracer() throws {
        let exe = try Fixtures.build("handlerfree")
        let poolLine = try Fixtures.line(of: "pool", in: Fixtures.source("handlerfree"))
        let traced = try runTraced(exe, in: directory)
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(traced.stdoutText, "pool released\n")
        let snapshot = try onlySnapshot(in: directory, prefix: "handlerfree")
        assertConsistent(snapshot)
        let pool = try XCTUnwrap(site(sites(of: snapshot), file: "handlerfree.c", line: poolLine))
        XCTAssertEqual([pool.totalCount, pool.totalBytes, pool.liveCount, pool.liveBytes], [300, 300 * 48, 0, 0])
        XCTAssertEqual(snapshot.totals.untrackedFrees, 0)
    }

    /// The tracer's one-line warning goes to a standard error whose reader is gone: the program,
    /// which never writes there itself, must not die of the SIGPIPE.
    func testAWarningIntoABrokenPipeDoesNotEndTheProgram() throws {
        let exe = try Fixtures.build("terminate")
        let script = "\"$0\" quiet 2>&1 | true; echo ${PIPESTATUS[0]}"
        let traced = try runProcess(
            "/usr/bin/bash", ["-c", script, exe],
            environment: ["LD_PRELOAD": TestPaths.libtrace, "MEMTRACE_OUTPUT": "/nonexistent-dir/%p.snap"])
        XCTAssertEqual(traced.stdoutText, "0\n", traced.stderrText)
    }

    /// A child made by vfork() shares the parent's memory, the tracer's state included, but not its
    /// dispositions: a signal that ends it must not end the parent.
    func testASignalEndingAVforkChildLeavesItsParentAlone() throws {
        let exe = try Fixtures.build("terminate")
        let plain = try runProcess(exe, ["vfork"])
        let traced = try runTraced(exe, ["vfork"], in: directory)
        XCTAssertEqual(plain.stdoutText, "child killed by 15\n")
        XCTAssertEqual(traced.stdoutText, plain.stdoutText, traced.stderrText)
        XCTAssertEqual(traced.status, 0)
        let snapshots = try snapshotFiles(in: directory).map { try SnapshotFile.read(path: $0) }
        XCTAssertEqual(snapshots.map(\.header.trigger), [.exit])
    }

    func testProgramsSeeTheDefaultActionWhereTheTracerStandsIn() throws {
        let exe = try Fixtures.build("terminate")
        let plain = try runProcess(exe, ["query"])
        let traced = try runTraced(exe, ["query"], in: directory)
        let expected = """
            Hangup: default, flags 0
            Interrupt: default, flags 0
            Terminated: default, flags 0
            signal(own) was default
            signal(default) was own
            signal(default) was default
            sigaction(own) was default
            now own
            sigaction(ignore) was default
            now ignore

            """
        XCTAssertEqual(plain.stdoutText, expected)
        XCTAssertEqual(traced.stdoutText, expected)
        XCTAssertEqual(traced.status, 0, traced.stderrText)
    }

    func testProgramsKeepTheirOwnChoiceForTheseSignals() throws {
        let kept = try Fixtures.line(of: "kept", in: Fixtures.source("terminate"))
        func run(_ mode: String, environment: [String: String] = [:]) throws -> (Process, [Snapshot]) {
            try FileManager.default.removeItem(at: directory)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let (process, input) = try startWaiter("terminate", arguments: [mode], environment: environment)
            kill(process.processIdentifier, SIGTERM)
            if mode == "ignore" {
                usleep(200_000)
                XCTAssertTrue(process.isRunning, "an ignored SIGTERM ended the program")
                try input.fileHandleForWriting.close()
            }
            waitForEnd(process)
            try? input.fileHandleForWriting.close()
            let snapshots = try snapshotFiles(in: directory).map { try SnapshotFile.read(path: $0) }
            return (process, snapshots)
        }

        // Its own handler runs, and the program ends as it chooses: an exit snapshot.
        let (own, ownSnapshots) = try run("own")
        XCTAssertEqual(own.terminationReason, .exit)
        XCTAssertEqual(own.terminationStatus, 3)
        XCTAssertEqual(ownSnapshots.map(\.header.trigger), [.exit])

        // A handler installed and then taken back: the default action again, and the tracer with it.
        let (restored, restoredSnapshots) = try run("restore")
        XCTAssertEqual(restored.terminationReason, .uncaughtSignal)
        XCTAssertEqual(restored.terminationStatus, SIGTERM)
        XCTAssertEqual(restoredSnapshots.map(\.header.trigger), [.termination])
        XCTAssertEqual(
            restoredSnapshots.first.flatMap { site(sites(of: $0), file: "terminate.c", line: kept)?.liveBytes }, 4242)

        // Ignored stays ignored.
        let (ignored, ignoredSnapshots) = try run("ignore")
        XCTAssertEqual(ignored.terminationReason, .exit)
        XCTAssertEqual(ignored.terminationStatus, 0)
        XCTAssertEqual(ignoredSnapshots.map(\.header.trigger), [.exit])

        // No exit snapshot wanted: the signal's plain default action.
        let (plain, plainSnapshots) = try run("default", environment: ["MEMTRACE_AT_EXIT": "0"])
        XCTAssertEqual(plain.terminationReason, .uncaughtSignal)
        XCTAssertEqual(plain.terminationStatus, SIGTERM)
        XCTAssertEqual(plainSnapshots.count, 0)
    }

    func testExitThroughUnderscoreExitLeavesASnapshot() throws {
        let exe = try Fixtures.build("quickexit")
        let source = Fixtures.source("quickexit")
        let kept = try Fixtures.line(of: "kept", in: source)
        // mode, exit status, the live blocks of each process's snapshot (by line), first the program's.
        let cases: [(String, Int32, [[Int: UInt64]])] = [
            ("_exit", 7, [[kept: 7777]]), ("_Exit", 5, [[kept: 7777]]),
            ("thread", 6, [[kept: 7777, try Fixtures.line(of: "thread", in: source): 4242]]),
            ("handler", 9, [[kept: 7777]]),
            ("fork", 4, [[kept: 7777], [kept: 7777, try Fixtures.line(of: "child", in: source): 3333]]),
            // The vfork child shares the parent's memory: it writes nothing, the parent exits normally.
            ("vfork", 0, [[kept: 7777]]),
        ]
        for (mode, status, expected) in cases {
            try FileManager.default.removeItem(at: directory)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let traced = try runTraced(exe, [mode], in: directory)
            XCTAssertEqual(traced.status, status, "\(mode): \(traced.stderrText)")
            XCTAssertEqual(traced.stderrText, "", mode)
            let files = try snapshotFiles(in: directory)
            let snapshots = try files.map { try SnapshotFile.read(path: $0) }
                .sorted { $0.header.pid < $1.header.pid }
            XCTAssertEqual(snapshots.count, expected.count, "\(mode): \(files)")
            for (snapshot, live) in zip(snapshots, expected) {
                XCTAssertEqual(snapshot.header.trigger, .exit, mode)
                var byLine: [Int: UInt64] = [:]
                let lines = innermostLines(of: snapshot)
                for stat in snapshot.stackStats where stat.liveBytes > 0 && lines[stat.stack]?.file == "quickexit.c" {
                    byLine[lines[stat.stack]!.line, default: 0] += stat.liveBytes
                }
                XCTAssertEqual(byLine, live, mode)
            }
            // Written while the caller waits, as for a terminating signal: no allocator statistics.
            let last = snapshots.last { $0.process["exit"] == "_exit" }
            XCTAssertEqual(last?.allocator?.kind, mode == "vfork" ? nil : .unknown, mode)
            if mode == "vfork" {
                XCTAssertNil(snapshots.first?.process["exit"])
                XCTAssertEqual(snapshots.first?.allocator?.kind, .glibc)
            }
        }
        // None without the helper thread that writes it.
        try FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let helperless = try runTraced(
            exe, ["_exit"], in: directory, environment: ["MEMTRACE_SIGNAL": "off", "MEMTRACE_TIMELINE": "0"])
        XCTAssertEqual(helperless.status, 7)
        XCTAssertEqual(try snapshotFiles(in: directory), [])
    }

    /// With the leak scan (memtrace check), a program that ends through _exit is judged too, as
    /// memcheck judges it, with its stacks and registers where _exit was called; a forked child's
    /// _exit is not (its parent's other threads, and what only they held, stayed behind).
    func testExitThroughUnderscoreExitIsScannedForLeaks() throws {
        let exe = try Fixtures.build("quickexit")
        let kept = try Fixtures.line(of: "kept", in: Fixtures.source("quickexit"))
        for (mode, status) in [("_exit", Int32(7)), ("handler", 9), ("fork", 4)] {
            try FileManager.default.removeItem(at: directory)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let traced = try runTraced(exe, [mode], in: directory, environment: ["MEMTRACE_LEAKS": "1"])
            XCTAssertEqual(traced.status, status, "\(mode): \(traced.stderrText)")
            let snapshots = try snapshotFiles(in: directory).map { try SnapshotFile.read(path: $0) }
            XCTAssertEqual(snapshots.count, 1, mode)
            let snapshot = try XCTUnwrap(snapshots.first, mode)
            XCTAssertEqual(snapshot.header.trigger, .exit, mode)
            XCTAssertTrue(snapshot.header.isLeakScanned, mode)
            XCTAssertEqual(snapshot.process["exit"], mode == "fork" ? nil : "_exit", mode)
            let blocks = try XCTUnwrap(snapshot.blocks, mode)
            let keptBlock = try XCTUnwrap(
                blocks.first { block in
                    innermostLines(of: snapshot)[block.stack].map { $0.file == "quickexit.c" && $0.line == kept }
                        ?? false
                }, mode)
            XCTAssertEqual(keptBlock.size, 7777, mode)
            XCTAssertEqual(keptBlock.kind, .reachable, mode)
            XCTAssertFalse(blocks.contains { $0.size == 3333 }, "\(mode): the child's block, the child's snapshot")
        }
    }

    func testTimelineFollowsASmallHeap() throws {
        // The waiter holds 7777 bytes (and stdio's buffer) while it waits, far below what a thread
        // keeps to itself before publishing its changes: the timeline must count those too.
        let (process, input) = try startWaiter(environment: ["MEMTRACE_TIMELINE": "0.01"])
        usleep(200_000)
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let snapshot = try onlySnapshot(in: directory, prefix: "waiter")
        let points = try XCTUnwrap(snapshot.timeline)
        XCTAssertGreaterThanOrEqual(points.count, 5, "a point every 10 ms for 200 ms")
        // Every point the helper took while the program waited (all but the first and the final
        // one, taken when the snapshot was written) holds the block.
        let waiting = points.dropFirst().dropLast()
        XCTAssertFalse(waiting.isEmpty)
        XCTAssertTrue(waiting.allSatisfy { $0.currentBytes >= 7777 }, "\(points.map(\.currentBytes))")
        XCTAssertEqual(points.last?.currentBytes, snapshot.totals.liveBytes)
        // The final point is the snapshot's moment, not the end of its write (a snapshot of millions
        // of blocks ended its timeline 50 ms after its own time), and no point comes after it.
        XCTAssertEqual(points.last?.timeNs, snapshot.header.snapshotTimeNs)
        XCTAssertTrue(points.allSatisfy { $0.timeNs <= snapshot.header.snapshotTimeNs })
    }

    /// A point's peak is the peak so far, never below the point's own live bytes, which are read
    /// after it while the heap grows (half of python3's points were below, its heap growing).
    func testTimelinePeakIsNeverBelowItsLiveBytes() throws {
        let exe = try Fixtures.build("growing")
        let traced = try runTraced(exe, in: directory, environment: ["MEMTRACE_TIMELINE": "0.005"])
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(traced.stdoutText, "grew\n")
        let points = try XCTUnwrap(try onlySnapshot(in: directory, prefix: "growing").timeline)
        XCTAssertGreaterThanOrEqual(points.count, 10, "a point every 5 ms for 300 ms")
        let below = points.filter { $0.peakBytes < $0.currentBytes }
        XCTAssertEqual(below.count, 0, "\(below.map { ($0.currentBytes, $0.peakBytes) })")
    }

    /// A program of one thread keeps glibc's single-thread malloc while the helper runs, records
    /// without shard locks, and every snapshot the helper writes meanwhile is whole; its first
    /// thread of its own makes it two for glibc, takes over the recording without locks, and the
    /// snapshots written while it allocates are whole too.
    func testOneThreadStaysOneWhileTheHelperWritesSnapshots() throws {
        let exe = try Fixtures.build("onethread")
        let plain = try runProcess(exe)
        XCTAssertEqual(plain.stdoutText, "single=1 threads=1\nsingle=1\nsingle=0\n")
        let traced = try runTraced(exe, ["signal"], in: directory, environment: ["MEMTRACE_INTERVAL": "0.005"])
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(traced.stderrText, "")
        XCTAssertEqual(traced.stdoutText, "single=1 threads=2\nsingle=1\nsingle=0\n", "the helper is the second")

        let snapshots = try snapshotFiles(in: directory).map { try SnapshotFile.read(path: $0) }
            .sorted { $0.header.sequence < $1.header.sequence }
        XCTAssertGreaterThanOrEqual(snapshots.filter { $0.header.trigger == .signal }.count, 1)
        XCTAssertGreaterThanOrEqual(snapshots.filter { $0.header.trigger == .interval }.count, 3)
        let source = Fixtures.source("onethread")
        let keptLine = try Fixtures.line(of: "kept", in: source)
        var lastKept: UInt64 = 0
        for snapshot in snapshots {
            assertConsistent(snapshot)
            let kept = sites(of: snapshot).filter { $0.file == "onethread.c" && $0.line == keptLine }
            let count = kept.reduce(UInt64(0)) { $0 + $1.liveCount }
            XCTAssertGreaterThanOrEqual(count, lastKept, "snapshot \(snapshot.header.sequence)")
            lastKept = count
        }
        let last = try XCTUnwrap(snapshots.last)
        XCTAssertEqual(last.header.trigger, .exit)
        let all = sites(of: last)
        let kept = try XCTUnwrap(site(all, file: "onethread.c", line: keptLine))
        XCTAssertEqual([kept.liveCount, kept.liveBytes, kept.totalCount], [20000, 640_000, 20000])
        let churn = try XCTUnwrap(site(all, file: "onethread.c", line: try Fixtures.line(of: "churn", in: source)))
        XCTAssertEqual([churn.liveCount, churn.totalCount], [0, 800_000])
        let worker = try XCTUnwrap(site(all, file: "onethread.c", line: try Fixtures.line(of: "worker", in: source)))
        XCTAssertEqual([worker.liveCount, worker.liveBytes], [300, 14400])
        let workerChurn = try XCTUnwrap(
            site(all, file: "onethread.c", line: try Fixtures.line(of: "worker-churn", in: source)))
        XCTAssertEqual([workerChurn.liveCount, workerChurn.totalCount], [0, 300_000])
        // Freed by the worker while they still waited outside the live table.
        let handed = try XCTUnwrap(site(all, file: "onethread.c", line: try Fixtures.line(of: "handed", in: source)))
        XCTAssertEqual([handed.liveCount, handed.totalCount, handed.totalBytes], [0, 100, 7200])
        XCTAssertEqual(last.totals.untrackedFrees, 0)
    }

    /// While glibc believes the program has one thread, its malloc takes no lock, so the helper
    /// must not read the allocator's statistics (reading them raced with the program's malloc:
    /// crashes, aborts). It asks the program's thread, which reads them at its next record, before
    /// the helper locks the live table; while the program sleeps nobody reads them, and its
    /// snapshots go without. Under jemalloc the flag stays clear (jemalloc's mutexes are glibc's,
    /// which skip their atomics while it is set: a hang), and the helper reads them itself, also
    /// with the live table still: every periodic snapshot agrees with `stats.allocated` as the
    /// exit snapshot does, give or take the one block being recorded (at most 2,048 bytes here, or
    /// stdout's buffer, 4,096 bytes and the tracer's 8 in jemalloc's class of 5,120, when a
    /// snapshot reads the statistics just as printf allocates it: seen once in a few runs of this test).
    /// Under a timeout.
    func testSnapshotsOfAProgramOfOneThreadReadTheAllocatorOnItsThread() throws {
        let exe = try Fixtures.build("unlocked")
        let jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
        var allocators: [(String, Snapshot.AllocatorStats.Kind)] = [(TestPaths.libtrace, .glibc)]
        if FileManager.default.fileExists(atPath: jemalloc) {
            allocators.append(("\(TestPaths.libtrace) \(jemalloc)", .jemalloc))
        }
        for (preload, kind) in allocators {
            let run = try makeTemporaryDirectory("memtrace-unlocked")
            defer { try? FileManager.default.removeItem(at: run) }
            let traced = try runTraced(
                "/usr/bin/timeout", ["-s", "KILL", "120", exe, "300"], in: run,
                environment: ["LD_PRELOAD": preload, "MEMTRACE_INTERVAL": "0.002", "MALLOC_CONF": "tcache:false"])
            XCTAssertEqual(traced.status, 0, "\(kind): \(traced.stderrText)")
            XCTAssertEqual(traced.stdoutText, "unlocked: 1500000 operations\n")
            let snapshots = try snapshotFiles(in: run).filter { $0.contains("/unlocked.") }
                .map { try SnapshotFile.read(path: $0) }.sorted { $0.header.sequence < $1.header.sequence }
            for snapshot in snapshots { assertConsistent(snapshot) }
            let exit = try XCTUnwrap(snapshots.last)
            XCTAssertEqual(exit.header.trigger, .exit)
            XCTAssertEqual(exit.allocator?.kind, kind)
            let periodic = snapshots.filter { $0.header.trigger == .interval }
            let read = periodic.filter { $0.allocator?.kind == kind }
            XCTAssertGreaterThanOrEqual(read.count, 3, "\(kind)")
            // Under glibc, those written while the program slept have none (the one under way when
            // it exits may have them: the exiting thread answers as it waits to write its own
            // snapshot). jemalloc's the helper reads itself: glibc locks as for any program of two
            // threads there.
            XCTAssertEqual(
                Set(periodic.map { $0.allocator?.kind }), kind == .glibc ? [kind, .unknown] : [kind], "\(kind)")
            guard kind == .jemalloc else { continue }
            func untraced(_ snapshot: Snapshot) throws -> Int64 {
                Int64(try XCTUnwrap(snapshot.allocator?["stats.allocated"])) - Int64(snapshot.totals.liveUsableBytes)
            }
            let base = try untraced(exit)
            for snapshot in read {
                let extra = try untraced(snapshot) - base
                XCTAssertTrue((0...5120).contains(extra), "snapshot \(snapshot.header.sequence): \(extra) bytes")
            }
        }
    }

    /// A program of one thread that walks and loads modules between allocations (each takes the
    /// loader's lock, which glibc takes without atomics while it believes the program has one
    /// thread), snapshots every 2 ms: the helper once read the module list under that lock as
    /// well, and the program hung or aborted within a second. Now the program's thread reads the
    /// list with the allocator's statistics, and the snapshots written while it sleeps carry the
    /// list read last.
    func testSnapshotsOfAProgramOfOneThreadLeaveTheLoaderLockToIt() throws {
        let exe = try Fixtures.build("loaderlock")
        let run = try makeTemporaryDirectory("memtrace-loaderlock")
        defer { try? FileManager.default.removeItem(at: run) }
        let traced = try runTraced(
            "/usr/bin/timeout", ["-s", "KILL", "120", exe, "300"], in: run,
            environment: ["LD_PRELOAD": TestPaths.libtrace, "MEMTRACE_INTERVAL": "0.002"])
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(traced.stdoutText, "loaderlock: 200000 rounds, 2000 loads\n")
        let snapshots = try snapshotFiles(in: run).filter { $0.contains("/loaderlock.") }
            .map { try SnapshotFile.read(path: $0) }.sorted { $0.header.sequence < $1.header.sequence }
        for snapshot in snapshots {
            assertConsistent(snapshot)
            let paths = snapshot.modules.map(\.path)
            XCTAssertEqual(paths.first, exe, "snapshot \(snapshot.header.sequence)")
            XCTAssertTrue(
                paths.contains { $0.hasSuffix("/libc.so.6") }, "snapshot \(snapshot.header.sequence): \(paths)")
        }
        XCTAssertEqual(snapshots.last?.header.trigger, .exit)
        let periodic = snapshots.filter { $0.header.trigger == .interval }
        XCTAssertGreaterThanOrEqual(periodic.filter { $0.allocator?.kind == .glibc }.count, 3)
        // Written while the program slept, unanswered: no statistics, the list read last.
        XCTAssertGreaterThanOrEqual(periodic.filter { $0.allocator?.kind == .unknown }.count, 1)
    }

    /// Blocks made in one thread and freed in another while both record and the helper writes a
    /// snapshot every 2 ms: the thread recording without locks changes hands until every thread
    /// locks, and every snapshot is whole (a thread that waited for a shard lock while another
    /// took ownership once went on under it, and the live table came apart; the changes of hands
    /// all happen early, so the program runs several times).
    func testThreadsHandingBlocksOverWhileSnapshotsAreWritten() throws {
        let exe = try Fixtures.build("handoff")
        let source = Fixtures.source("handoff")
        for run in 0..<6 {
            let out = directory.appendingPathComponent("run\(run)")
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            let traced = try runTraced(exe, ["50000"], in: out, environment: ["MEMTRACE_INTERVAL": "0.002"])
            XCTAssertEqual(traced.status, 0, traced.stderrText)
            XCTAssertEqual(traced.stdoutText, "handed 50000 blocks\n")
            XCTAssertEqual(traced.stderrText, "")
            let snapshots = try snapshotFiles(in: out).map { try SnapshotFile.read(path: $0) }
                .sorted { $0.header.sequence < $1.header.sequence }
            for snapshot in snapshots { assertConsistent(snapshot) }
            let last = try XCTUnwrap(snapshots.last)
            XCTAssertEqual(last.header.trigger, .exit)
            XCTAssertEqual(last.totals.untrackedFrees, 0)
            let all = sites(of: last)
            for (marker, total) in [("handed", 50000), ("producer-own", 50000), ("consumer-own", 50000), ("kept", 1)] {
                let found = try XCTUnwrap(site(all, file: "handoff.c", line: try Fixtures.line(of: marker, in: source)))
                XCTAssertEqual([found.liveCount, found.totalCount], [0, UInt64(total)], marker)
            }
        }
    }

    /// Blocks that carry their record in their last 8 bytes (inblock.c): the program writes all
    /// malloc_usable_size allows, grows blocks, takes a snapshot (which moves the records into the
    /// live table) and frees blocks from both sides of it; every figure stays exact.
    func testRecordsKeptInTheBlocksSurviveTheProgramAndSnapshots() throws {
        try checkRecordsKeptInTheBlocks(arguments: [])
    }

    /// The same once threads have taken turns until nobody owns the
    /// lock-free sections: every thread's blocks keep their records, under
    /// the shard locks, and other threads free them.
    func testRecordsKeptInTheBlocksOfEveryThreadOnceNobodyOwns() throws {
        try checkRecordsKeptInTheBlocks(arguments: ["turns"])
        let last = try onlySnapshot(in: directory, prefix: "inblock")
        let line = try Fixtures.line(of: "turn", in: Fixtures.source("inblock"))
        let turn = try XCTUnwrap(site(sites(of: last), file: "inblock.c", line: line))
        XCTAssertEqual([turn.liveCount, turn.totalCount, turn.totalBytes], [0, 20, 320])
    }

    /// The bits that say which blocks carry a record are the tracer's memory
    /// too: a thousand blocks far apart (farapart.c) take a page of them each,
    /// and the snapshot's figure of the tracer's own memory counts them.
    func testTracerMemoryCountsTheBitsOfRecordsInBlocks() throws {
        let exe = try Fixtures.build("farapart")
        let before = directory.appendingPathComponent("before.snap").path
        let with = directory.appendingPathComponent("with.snap").path
        let traced = try runTraced(exe, [before, with], in: directory, environment: ["MEMTRACE_AT_EXIT": "0"])
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(traced.stdoutText, "done\n")
        let first = try SnapshotFile.read(path: before)
        let second = try SnapshotFile.read(path: with)
        let line = try Fixtures.line(of: "far", in: Fixtures.source("farapart"))
        let far = try XCTUnwrap(site(sites(of: second), file: "farapart.c", line: line))
        XCTAssertEqual([far.liveCount, far.liveBytes], [1000, 1000 << 18])
        let grown = Int64(second.totals.tracerOverheadBytes) - Int64(first.totals.tracerOverheadBytes)
        XCTAssertGreaterThanOrEqual(grown, 1000 * Int64(sysconf(Int32(_SC_PAGESIZE))))
    }

    /// Every allocation is counted by size class (sizes.c: known sizes between two snapshots),
    /// exactly, and a sampled run's estimates add up to about the same.
    func testAllocationsAreCountedBySizeClass() throws {
        let exe = try Fixtures.build("sizes")
        func classes(_ environment: [String: String?]) throws -> [Int: Snapshot.SizeClass] {
            let before = directory.appendingPathComponent("before.snap").path
            let after = directory.appendingPathComponent("after.snap").path
            var env = environment
            env["MEMTRACE_AT_EXIT"] = "0"
            let traced = try runTraced(exe, [before, after], in: directory, environment: env)
            XCTAssertEqual(traced.status, 0, traced.stderrText)
            let first = try SnapshotFile.read(path: before).sizeClasses ?? []
            let second = try XCTUnwrap(try SnapshotFile.read(path: after).sizeClasses)
            var grown: [Int: Snapshot.SizeClass] = [:]
            for (index, sizeClass) in second.enumerated() {
                let old = index < first.count ? first[index] : Snapshot.SizeClass(count: 0, bytes: 0)
                if sizeClass != old {
                    grown[index] = Snapshot.SizeClass(
                        count: sizeClass.count - old.count, bytes: sizeClass.bytes - old.bytes)
                }
            }
            return grown
        }
        XCTAssertEqual(
            try classes([:]),
            [
                0: .init(count: 1, bytes: 1), 4: .init(count: 3, bytes: 72), 6: .init(count: 4, bytes: 400),
                9: .init(count: 1, bytes: 1000), 12: .init(count: 1, bytes: 5000),
                20: .init(count: 1, bytes: 1 << 20),
            ])
        XCTAssertEqual(Snapshot.SizeClass.range(0), 0...1)
        XCTAssertEqual(Snapshot.SizeClass.range(12), 4096...8191)
        XCTAssertEqual(Snapshot.SizeClass.range(63), (1 << 63)...UInt64.max)
        // Sampling at 1 KiB: the 1 MiB block is sampled surely and stands for itself.
        let sampled = try classes(["MEMTRACE_SAMPLE": "1k"])
        XCTAssertEqual(sampled[20], .init(count: 1, bytes: 1 << 20))
    }

    /// Snapshots read the records kept in the blocks where they are; one that a byte past the
    /// end has changed goes into the live table there, counted as an overrun once, not once a
    /// snapshot.
    func testSnapshotsCountAnOverrunOnceAndKeepItsBlock() throws {
        let exe = try Fixtures.build("overrunsnap")
        let line = try Fixtures.line(of: "overrun", in: Fixtures.source("overrunsnap"))
        let traced = try runTraced(exe, in: directory)
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        let snapshots = try snapshotFiles(in: directory).sorted().map { try SnapshotFile.read(path: $0) }
            .sorted { $0.header.sequence < $1.header.sequence }
        XCTAssertEqual(snapshots.map(\.header.trigger), [.api, .api, .exit])
        for (index, snapshot) in snapshots.enumerated() {
            assertConsistent(snapshot)
            XCTAssertEqual(snapshot.totals.overrunBlocks, index < 2 ? 1 : 2, "snapshot \(index)")
            let kept = try XCTUnwrap(site(sites(of: snapshot), file: "overrunsnap.c", line: line))
            XCTAssertEqual([kept.liveBytes, kept.liveCount, kept.totalCount], [32, 1, index < 2 ? 1 : 2])
            XCTAssertEqual(snapshot.totals.untrackedFrees, 0)
        }
    }

    /// A byte written one past the end of a block whose size leaves no slack (overrun.c: a
    /// 32-character name copied into malloc(32)) lands on the lowest byte of the record kept
    /// after the block. The tracer reads the record all the same: every figure stays right (the
    /// build before counted the ten released blocks live for good and their releases untracked),
    /// the snapshot counts the blocks by stack, the end of a checked region names the overrun
    /// made in it, and at exit the tracer prints where every such block was allocated.
    func testABytePastTheEndOfABlockIsReportedAndTheFiguresStayRight() throws {
        let exe = try Fixtures.build("overrun")
        let source = Fixtures.source("overrun")
        let traced = try runTraced(exe, in: directory)
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(traced.stdoutText, "region: 0\noverruns: 12\nabcd\n")
        let last = try onlySnapshot(in: directory, prefix: "overrun")
        assertConsistent(last)
        XCTAssertEqual(
            [last.totals.overrunBlocks, last.totals.untrackedFrees, last.totals.lostAllocations], [12, 0, 0])
        let shortLine = try Fixtures.line(of: "short", in: source)
        let short = try XCTUnwrap(site(sites(of: last), file: "overrun.c", line: shortLine))
        XCTAssertEqual([short.liveCount, short.liveBytes, short.totalCount, short.totalBytes], [1, 32, 12, 384])
        let right = try XCTUnwrap(
            site(sites(of: last), file: "overrun.c", line: try Fixtures.line(of: "right", in: source)))
        XCTAssertEqual([right.liveCount, right.totalCount, right.totalBytes], [0, 6, 198])

        // Three stacks end at the short copy's line: the loop's, the one kept and the region's.
        // The OVERRUNS section has them with their counts.
        let innermost = innermostLines(of: last)
        let shortStacks = last.stackStats.map(\.stack).filter { innermost[$0]?.line == shortLine }
        XCTAssertEqual(shortStacks.count, 3)
        let overrun = last.stackStats.filter { $0.overrunCount != 0 }
        XCTAssertEqual(Set(overrun.map(\.stack)), Set(shortStacks))
        XCTAssertEqual(overrun.map(\.overrunCount).sorted(), [1, 1, 10])
        XCTAssertEqual(overrun.reduce(0) { $0 + $1.overrunBytes }, 384)
        let region = try XCTUnwrap(overrun.first { $0.overrunCount == 1 && $0.liveCount == 0 })

        // On standard error: the region's report (its one stack), then the one at exit (all
        // three), each stack innermost frame first as the snapshot has it: told apart by the
        // caller's frame, #1.
        func callers(_ lines: ArraySlice<Substring>) -> [UInt64] {
            lines.filter { $0.hasPrefix("        #1 0x") }.compactMap {
                UInt64($0.dropFirst("        #1 0x".count).prefix { $0.isHexDigit }, radix: 16)
            }
        }
        let lines = traced.stderrText.split(separator: "\n")
        let exit = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("memtrace: heap overrun:") }, traced.stderrText)
        XCTAssertEqual(
            lines.first,
            "memtrace: region \"copies\": the program wrote one byte past the end of 1 block during the region (a heap overrun), allocated at:"
        )
        XCTAssertEqual(callers(lines[..<exit]), [last.stacks[Int(region.stack)].pcs[1]], traced.stderrText)
        XCTAssertEqual(
            lines[exit], "memtrace: heap overrun: the program wrote one byte past the end of 12 blocks, allocated at:")
        XCTAssertEqual(lines[exit...].filter { $0 == "    and at:" }.count, 2, traced.stderrText)
        XCTAssertEqual(
            Set(callers(lines[exit...])), Set(shortStacks.map { last.stacks[Int($0)].pcs[1] }), traced.stderrText)

        // MEMTRACE_OVERRUN_REPORT=0: no report at exit; the snapshot counts them all the same.
        let quiet = try runTraced(exe, in: directory, environment: ["MEMTRACE_OVERRUN_REPORT": "0"])
        XCTAssertEqual(quiet.status, 0, quiet.stderrText)
        XCTAssertFalse(quiet.stderrText.contains("memtrace: heap overrun:"), quiet.stderrText)
        XCTAssertTrue(quiet.stderrText.hasPrefix("memtrace: region \"copies\""), "a region's end still reports")

        // Untraced, the program runs the same (the region's end answers -1: no tracer) and
        // nothing is said.
        let plain = try runProcess(exe, [])
        XCTAssertEqual([plain.stdoutText, plain.stderrText], ["region: -1\noverruns: -1\nabcd\n", ""])
    }

    private func checkRecordsKeptInTheBlocks(arguments: [String]) throws {
        let exe = try Fixtures.build("inblock")
        let source = Fixtures.source("inblock")
        let plain = try runProcess(exe, ["/dev/null"] + arguments)
        XCTAssertEqual(plain.status, 0, plain.stderrText)
        let mid = directory.appendingPathComponent("mid.snap").path
        let traced = try runTraced(exe, [mid] + arguments, in: directory)
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(traced.stderrText, "")
        // The 8 bytes the tracer adds to a block are not the program's, but
        // the next size class is: a padded 24-byte block has 32 usable bytes.
        XCTAssertEqual(plain.stdoutText.split(separator: "\n").last, "usable24=24")
        XCTAssertEqual(traced.stdoutText, plain.stdoutText.replacingOccurrences(of: "usable24=24", with: "usable24=32"))
        XCTAssertTrue(traced.stdoutText.hasPrefix("short=0 "), traced.stdoutText)

        func size(_ i: Int) -> UInt64 { i < 256 ? UInt64(i + 1) : UInt64(4096) << ((i - 256) % 8) }
        let all = (0..<300).reduce(UInt64(0)) { $0 + size($1) }
        let odd = stride(from: 1, to: 300, by: 2).reduce(UInt64(0)) { $0 + size($1) }
        let lateKept = (0..<300).filter { $0 % 3 != 0 }.reduce(UInt64(0)) { $0 + size($1) }
        func figures(_ snapshot: Snapshot, _ marker: String) throws -> [UInt64] {
            let found = try XCTUnwrap(
                site(sites(of: snapshot), file: "inblock.c", line: try Fixtures.line(of: marker, in: source)))
            return [found.liveCount, found.liveBytes, found.totalCount]
        }

        let middle = try SnapshotFile.read(path: mid)
        assertConsistent(middle)
        XCTAssertEqual(try figures(middle, "kept"), [300, all, 300])
        XCTAssertEqual(try figures(middle, "freed"), [150, odd, 300])
        XCTAssertEqual(try figures(middle, "grown"), [300, all, 300])
        XCTAssertEqual(try figures(middle, "zeroed"), [300, all, 300])

        let last = try onlySnapshot(in: directory, prefix: "inblock")
        assertConsistent(last)
        XCTAssertEqual(last.header.trigger, .exit)
        XCTAssertEqual([last.totals.untrackedFrees, last.totals.lostAllocations], [0, 0])
        XCTAssertEqual(try figures(last, "kept"), [300, all, 300])
        XCTAssertEqual(try figures(last, "freed"), [0, 0, 300])
        XCTAssertEqual(try figures(last, "grown-first"), [0, 0, 300])
        XCTAssertEqual(try figures(last, "grown"), [300, all, 300])
        XCTAssertEqual(try figures(last, "zeroed"), [0, 0, 300])
        XCTAssertEqual(try figures(last, "late"), [200, lateKept, 300])
    }

    func testIntervalSnapshots() throws {
        let (process, input) = try startWaiter(environment: ["MEMTRACE_INTERVAL": "0.1"])
        XCTAssertGreaterThanOrEqual(try waitForSnapshots(3).count, 3)
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let snapshots = try snapshotFiles(in: directory).map { try SnapshotFile.read(path: $0) }
            .sorted { $0.header.sequence < $1.header.sequence }
        XCTAssertEqual(snapshots.last?.header.trigger, .exit)
        let periodic = snapshots.dropLast()
        XCTAssertGreaterThanOrEqual(periodic.count, 3)
        XCTAssertTrue(periodic.allSatisfy { $0.header.trigger == .interval })
        XCTAssertEqual(snapshots.map(\.header.sequence), (0..<UInt64(snapshots.count)).map { $0 })
        let times = snapshots.map(\.header.snapshotTimeNs)
        XCTAssertEqual(times, times.sorted())
    }

    func testUnwritableOutputWarnsOnceAndTheProgramCarriesOn() throws {
        let exe = try Fixtures.build("api")
        let plain = try runProcess(exe, ["/nonexistent-dir/a.snap"])
        let traced = try runTraced(
            exe, ["/nonexistent-dir/a.snap"], in: directory,
            environment: ["MEMTRACE_OUTPUT": "/nonexistent-dir/%p.snap"])
        XCTAssertEqual(traced.status, 0)
        // The API call reports the failure to the program; the output otherwise matches.
        XCTAssertEqual(
            traced.stdoutText,
            "tracing=1 get=0\ngrew=1000 peak_grew=1\nreset_peak_is_current=1\nsnapshot=-1 errno=other\n")
        XCTAssertNotEqual(plain.stdoutText, "")
        let lines = traced.stderrText.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, traced.stderrText)
        XCTAssertTrue(
            lines.first?.hasPrefix("memtrace: cannot write snapshot /nonexistent-dir/a.snap: No such file or directory")
                ?? false, traced.stderrText)
    }

    func testFullDiskWarnsOnceAndLeavesNoTemporaryFile() throws {
        try XCTSkipUnless(getuid() == 0, "mounting a small tmpfs needs root")
        let mountPoint = directory.appendingPathComponent("small")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        let mounted = try runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=16k", "tmpfs", mountPoint.path])
        try XCTSkipUnless(mounted.status == 0, "cannot mount tmpfs here: \(mounted.stderrText)")
        defer { _ = try? runProcess("/bin/umount", [mountPoint.path]) }
        let leaky = TestPaths.file(".build/examples/leaky")
        let exe = FileManager.default.fileExists(atPath: leaky) ? leaky : try Fixtures.build("threads")
        let plain = try runProcess(exe)
        let traced = try runTraced(
            exe, in: directory, environment: ["MEMTRACE_OUTPUT": mountPoint.appendingPathComponent("%n.snap").path])
        XCTAssertEqual(traced.status, plain.status)
        XCTAssertEqual(traced.stdout, plain.stdout)
        let warnings = traced.stderrText.split(separator: "\n")
        XCTAssertEqual(warnings.count, 1, traced.stderrText)
        XCTAssertTrue(warnings.first?.contains("No space left on device") ?? false, traced.stderrText)
        let left = try FileManager.default.contentsOfDirectory(atPath: mountPoint.path)
        XCTAssertFalse(left.contains { $0.contains(".tmp.") }, "temporary files left behind: \(left)")
    }

    func testSnapshotReplacesASymlinkInsteadOfFollowingIt() throws {
        let exe = try Fixtures.build("api")
        let victim = directory.appendingPathComponent("victim.txt")
        try Data("precious\n".utf8).write(to: victim)
        let link = directory.appendingPathComponent("link.snap")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: victim)
        let traced = try runTraced(exe, [link.path], in: directory)
        XCTAssertEqual(traced.status, 0)
        XCTAssertEqual(try String(contentsOf: victim, encoding: .utf8), "precious\n")
        let attributes = try FileManager.default.attributesOfItem(atPath: link.path)
        XCTAssertEqual(attributes[.type] as? FileAttributeType, .typeRegular)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        XCTAssertNoThrow(try SnapshotFile.read(path: link.path))
    }

    /// MEMTRACE_OUTPUT=/dev/null keeps no snapshot: a device, or a pipe, is written into, never
    /// renamed over (/dev/null had become a regular file, and every program opening it failed);
    /// a directory is refused with one warning.
    func testSnapshotIntoADeviceOrAPipeLeavesItInPlace() throws {
        let null = directory.appendingPathComponent("null").path
        let made = try runProcess("/usr/bin/mknod", ["-m", "666", null, "c", "1", "3"])
        try XCTSkipUnless(made.status == 0, "mknod needs root: \(made.stderrText)")
        var traced = try runTraced("/bin/true", in: directory, environment: ["MEMTRACE_OUTPUT": null])
        XCTAssertEqual(traced.status, 0)
        XCTAssertEqual(traced.stderrText, "")
        let attributes = try FileManager.default.attributesOfItem(atPath: null)
        XCTAssertEqual(attributes[.type] as? FileAttributeType, .typeCharacterSpecial)

        let pipe = directory.appendingPathComponent("pipe").path
        XCTAssertEqual(mkfifo(pipe, 0o600), 0)
        // The reader is open before the program starts (a pipe without one is refused: ENXIO).
        let reader = open(pipe, O_RDONLY | O_NONBLOCK)
        XCTAssertGreaterThanOrEqual(reader, 0)
        defer { close(reader) }
        traced = try runTraced("/bin/true", in: directory, environment: ["MEMTRACE_OUTPUT": pipe])
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while case let got = read(reader, &buffer, buffer.count), got > 0 {
            received.append(contentsOf: buffer[0..<got])
        }
        let copy = directory.appendingPathComponent("received.snap")
        try received.write(to: copy)
        XCTAssertNoThrow(try SnapshotFile.read(path: copy.path))
        XCTAssertEqual(
            (try FileManager.default.attributesOfItem(atPath: pipe))[.type] as? FileAttributeType, .typeUnknown)

        traced = try runTraced("/bin/true", in: directory, environment: ["MEMTRACE_OUTPUT": directory.path])
        XCTAssertEqual(traced.status, 0)
        XCTAssertTrue(
            traced.stderrText.contains("cannot write snapshot \(directory.path): Is a directory"), traced.stderrText)
    }

    /// A snapshot name of 250 bytes is a valid name, NAME.tmp.PID is not: the temporary file keeps
    /// what fits of the name, and the snapshot lands under the name asked for.
    func testSnapshotNamedNearTheLengthLimit() throws {
        let name = String(repeating: "s", count: 245) + ".snap"
        let target = directory.appendingPathComponent(name).path
        let traced = try runTraced("/bin/true", in: directory, environment: ["MEMTRACE_OUTPUT": target])
        XCTAssertEqual(traced.status, 0)
        XCTAssertEqual(traced.stderrText, "")
        XCTAssertNoThrow(try SnapshotFile.read(path: target))
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("sss") }, [name])
    }

    /// MEMTRACE_OUTPUT=/dev/stdout writes into the program's standard output; where the program
    /// closed it before the end (`echo` does), nothing: /dev/stdout, a link the system keeps, had
    /// been replaced by a regular file for every program on the machine.
    func testSnapshotToStandardOutputLeavesDevStdoutInPlace() throws {
        let traced = try runTraced("/bin/true", in: directory, environment: ["MEMTRACE_OUTPUT": "/dev/stdout"])
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertTrue(traced.stdout.starts(with: Data("MEMTRACE".utf8)))
        let echoed = try runTraced("/bin/echo", ["hi"], in: directory, environment: ["MEMTRACE_OUTPUT": "/dev/stdout"])
        XCTAssertEqual(echoed.status, 0, echoed.stderrText)
        XCTAssertEqual(echoed.stdoutText, "hi\n")
        let link = try FileManager.default.attributesOfItem(atPath: "/dev/stdout")
        XCTAssertEqual(link[.type] as? FileAttributeType, .typeSymbolicLink)
    }

    func testCodeLoadedWithDlopenIsAttributedToItsModule() throws {
        let exe = try Fixtures.build("dlopener")
        let traced = try runTraced(exe, in: directory)
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        let snapshot = try onlySnapshot(in: directory, prefix: "dlopener")
        assertConsistent(snapshot)
        let sqlite = try XCTUnwrap(snapshot.modules.first { $0.path.contains("libsqlite3.so") })
        XCTAssertFalse(sqlite.buildID.isEmpty)
        let fromSqlite = snapshot.stackStats.filter { stat in
            guard let pc = snapshot.stacks[Int(stat.stack)].pcs.first else { return false }
            return sqlite.segments.contains { $0.contains(pc) }
        }
        XCTAssertFalse(fromSqlite.isEmpty)
        XCTAssertGreaterThan(fromSqlite.reduce(0) { $0 + $1.liveBytes }, 0)
    }

    /// A library's destructor runs after the tracer's library's in the loader's order (cmake's
    /// gnutls frees 700 blocks there): the exit snapshot, an exit handler registered for no
    /// library, comes after every destructor.
    func testExitSnapshotComesAfterTheDestructorsOfLibraries() throws {
        let source = Fixtures.source("libexit")
        let library = try compile(
            source: source, output: "libexit.so", in: directory, flags: ["-DLIBRARY", "-shared", "-fPIC"])
        let exe = try compile(
            source: source, output: "libexit", in: directory, flags: [library, "-Wl,-rpath," + directory.path])
        let traced = try runTraced(exe, in: directory)
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(traced.stdoutText, "libexit: done\n")
        let snapshot = try onlySnapshot(in: directory, prefix: "libexit")
        assertConsistent(snapshot)
        let all = sites(of: snapshot)
        for (marker, bytes, live) in [("loaded", 1000, 0), ("called", 2000, 0), ("kept", 3000, 3000)] {
            let found = try XCTUnwrap(
                site(all, file: "libexit.c", line: try Fixtures.line(of: marker, in: source)), marker)
            XCTAssertEqual([found.liveBytes, found.totalBytes], [UInt64(live), UInt64(bytes)], marker)
        }
    }

    func testExitSnapshotComesAfterAtexitHandlersAndStaticDestructors() throws {
        let exe = try Fixtures.build("statics", cplusplus: true)
        let traced = try runTraced(exe, in: directory)
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(traced.stdoutText, "statics: 1000 values\nstatics: destructor ran\n")
        let snapshot = try onlySnapshot(in: directory, prefix: "statics")
        let source = TestPaths.file("Tests/TracerTests/Fixtures/statics.cpp")
        let all = sites(of: snapshot)
        let atexitSite = try XCTUnwrap(
            site(all, file: "statics.cpp", line: try Fixtures.line(of: "atexit", in: source)))
        XCTAssertEqual([atexitSite.liveBytes, atexitSite.totalBytes], [0, 5555])
        // The vector's buffer is allocated inside std::allocator, below the constructor's line.
        XCTAssertFalse(all.contains { $0.liveBytes == 8000 }, all.map(\.description).joined(separator: "\n"))
        XCTAssertTrue(all.contains { $0.totalBytes == 8000 && $0.liveBytes == 0 })
    }

    /// Blocks released otherwise than allocated (mismatch.cpp: new[] by free, by delete and by
    /// realloc, malloc by delete, new by delete[], new by free on another thread, and a Derived
    /// deleted as its Base, whose sized delete names the wrong size), counted
    /// by both stacks and both ways in the MISMATCHES section and named on standard error;
    /// every pair released the right way (aligned and nothrow forms included) counts nothing.
    func testMismatchedReleasesAreCountedByBothStacks() throws {
        let exe = try Fixtures.build("mismatch", cplusplus: true)
        let source = TestPaths.file("Tests/TracerTests/Fixtures/mismatch.cpp")
        let traced = try runTraced(exe, in: directory)
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(traced.stdoutText, "mismatches: 13\n", "memtrace_mismatches()")
        let snapshot = try onlySnapshot(in: directory, prefix: "mismatch")
        assertConsistent(snapshot)
        XCTAssertEqual([snapshot.totals.mismatchBlocks, snapshot.totals.untrackedFrees], [13, 0])

        // Each stack's first frame in mismatch.cpp (an allocation's stack starts in the
        // tracer's operator new).
        let symbolizer = Symbolizer(snapshot: snapshot)
        func line(_ stack: UInt32) -> Int? {
            for pc in snapshot.stacks[Int(stack)].pcs {
                if let frame = symbolizer.frames(for: pc).first, frame.file.hasSuffix("mismatch.cpp") {
                    return frame.line
                }
            }
            return nil
        }
        struct Seen: Hashable {
            var allocatedBy: String, releasedBy: String, allocLine: Int?, releaseLine: Int?, count: UInt64,
                bytes: UInt64
        }
        let seen = Set(
            snapshot.mismatches.map {
                Seen(
                    allocatedBy: $0.allocatedBy.name, releasedBy: $0.releasedHow, allocLine: line($0.allocStack),
                    releaseLine: line($0.releaseStack), count: $0.count, bytes: $0.bytes)
            })
        func at(_ marker: String) throws -> Int { try Fixtures.line(of: marker, in: source) }
        let newArray = try at("newarray")
        let expected: Set<Seen> = [
            Seen(
                allocatedBy: "new[]", releasedBy: "free", allocLine: newArray, releaseLine: try at("free"), count: 3,
                bytes: 48),
            Seen(
                allocatedBy: "new[]", releasedBy: "delete", allocLine: try at("newlong"), releaseLine: try at("delete"),
                count: 1, bytes: 24),
            Seen(
                allocatedBy: "malloc", releasedBy: "delete", allocLine: try at("malloc"),
                releaseLine: try at("deletemalloc"), count: 1, bytes: 40),
            Seen(
                allocatedBy: "new", releasedBy: "delete[]", allocLine: try at("new"),
                releaseLine: try at("deletearray"), count: 1, bytes: 1),
            Seen(
                allocatedBy: "new[]", releasedBy: "realloc", allocLine: try at("newchars"),
                releaseLine: try at("realloc"), count: 1, bytes: 10),
            Seen(
                allocatedBy: "new", releasedBy: "free", allocLine: try at("shared"), releaseLine: try at("thread"),
                count: 5, bytes: 20),
            // Deleted as a Base: the sized delete names 4 bytes of the 40 allocated.
            Seen(
                allocatedBy: "new", releasedBy: "delete of 4 bytes", allocLine: try at("derived"),
                releaseLine: try at("base"), count: 1, bytes: 40),
        ]
        XCTAssertEqual(seen, expected, snapshot.mismatches.map { "\($0)" }.joined(separator: "\n"))

        // On standard error at exit: the count, then each group's two stacks by address.
        let lines = traced.stderrText.split(separator: "\n")
        XCTAssertEqual(
            lines.first, "memtrace: mismatched release: 13 blocks released otherwise than allocated:", traced.stderrText
        )
        XCTAssertTrue(lines.contains("    3 blocks allocated with new[] and released with free, allocated at:"))
        XCTAssertEqual(lines.filter { $0 == "    released at:" }.count, 4, traced.stderrText)  // the first four groups
    }

    func testDisabledTracerWritesNothing() throws {
        let exe = try Fixtures.build("family")
        let traced = try runTraced(exe, in: directory, environment: ["MEMTRACE_DISABLE": "1"])
        XCTAssertEqual(traced.status, 0)
        XCTAssertEqual(traced.stderrText, "")
        XCTAssertEqual(try snapshotFiles(in: directory), [])
        // A value that is not a spelling of 0 or 1 disables it too, with a word why.
        let two = try runTraced(exe, in: directory, environment: ["MEMTRACE_DISABLE": "2"])
        XCTAssertEqual(two.status, 0)
        XCTAssertEqual(
            two.stderrText, "memtrace: MEMTRACE_DISABLE=2: not 0 or 1 (no/yes, off/on, false/true); using 1\n")
        XCTAssertEqual(try snapshotFiles(in: directory), [])
    }
}
