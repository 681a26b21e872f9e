import Foundation
import SnapshotReader
import XCTest
import _MemtraceTestSupport

/// `memtrace run`: exit status, children, C++ operators, signals, `snapshot PID`.
final class RunTests: XCTestCase {
    /// A name that is not UTF-8 (`caf\xe9` in Latin-1) reaches the program run as its bytes, as do
    /// the environment's values; memtrace's own arguments are file names it would read or write
    /// under another name (U+FFFD for the byte), so it refuses them.
    func testBytesThatAreNotUTF8() throws {
        let work = try Workspace("bytes")
        try work.build("sites.c")
        let script = """
            printf 'latin-1\\n' > "$(printf 'caf\\351')"
            LATIN="$(printf 'caf\\351')" "$0" run -o run.%p.snap -- /bin/sh -c \
                'cat "$(printf "caf\\351")"; printf %s "$LATIN" | od -An -c' || exit 1
            "$0" run -o "$(printf 'out\\351.%%p.snap')" -- ./sites 1 1; echo "status $?"
            ls | grep -c '^out' || true
            """
        let result = try runProcess(
            "/bin/sh", ["-c", script, TestPaths.memtrace],
            environment: ["MEMTRACE_LIB": TestPaths.libtrace], directory: work.directory)
        XCTAssertEqual(result.status, 0, result.stderrText)
        XCTAssertEqual(
            result.stdoutText.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) },
            ["latin-1", "c   a   f 351", "status 2", "0"])
        XCTAssertTrue(
            result.stderrText.hasSuffix(
                "memtrace: argument 3 is not UTF-8 (out\\xe9.%p.snap): memtrace takes file names and other text in UTF-8\n"
            ),
            result.stderrText)
    }

    func testExitStatusIsTheProgramsOwn() throws {
        let work = try Workspace("status")
        try work.build("sites.c")
        let run = try work.memtrace(["run", "--", "./sites", "1", "3"])
        XCTAssertEqual(run.status, 3)
        XCTAssertTrue(run.stderrLines.first?.hasSuffix("exited with status 3") == true, run.stderr)
        // A status above 128 that the program chose (the JVM answers SIGTERM with exit(143))
        // is an exit, not a signal.
        let high = try work.memtrace(["run", "--", "./sites", "1", "143"])
        XCTAssertEqual(high.status, 143)
        XCTAssertTrue(high.stderrLines.first?.hasSuffix("exited with status 143") == true, high.stderr)
        let missing = try work.memtrace(["run", "--", "./no-such-program"])
        XCTAssertEqual(missing.status, 127)
        XCTAssertEqual(missing.stderrLines.count, 1, missing.stderr)
        XCTAssertTrue(
            missing.stderr.hasPrefix("memtrace: cannot run ./no-such-program:"), missing.stderr)
    }

    /// A program the dynamic loader does not preload the tracer into is named before it runs,
    /// and as the reason no snapshot came, rather than the ways a traced program ends without one.
    func testProgramsTheLoaderDoesNotPreloadIntoAreNamed() throws {
        let work = try Workspace("unpreloadable")
        try work.build("sites.c")
        let built = try runProcess(
            "/usr/bin/gcc", ["-static", "-O0", "-I", TestPaths.includeDir, "-o", "static-sites", "sites.c"],
            directory: work.directory)
        XCTAssertEqual(built.status, 0, built.stderrText)
        try "#!\(work.path)/static-sites\n".write(
            to: work.directory.appendingPathComponent("script"), atomically: true, encoding: .utf8)
        XCTAssertEqual(chmod(work.directory.appendingPathComponent("script").path, 0o755), 0)
        let reason = "./static-sites is statically linked: no dynamic loader runs in it to preload the tracer"
        let run = try work.memtrace(["run", "-o", "s.%p.snap", "--", "./static-sites"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stderrLines.first, "memtrace: \(reason); it runs untraced")
        XCTAssertTrue(run.stderr.contains("memtrace: no snapshot was written to s.%p.snap (\(reason))"), run.stderr)
        let check = try work.memtrace(["check", "--", "./static-sites"])
        XCTAssertEqual(check.status, 2, check.stderr)
        XCTAssertTrue(check.stderr.hasSuffix("so its leaks could not be checked (\(reason))\n"), check.stderr)
        // (The harness leaves the directory out of paths in the output.)
        let script = try work.memtrace(["run", "-o", "s.%p.snap", "--", "./script"])
        XCTAssertEqual(
            script.stderrLines.first,
            "memtrace: ./script's interpreter static-sites is statically linked: no dynamic loader "
                + "runs in it to preload the tracer; it runs untraced")
        // The same program dynamically linked: nothing said, a snapshot written.
        let dynamic = try work.memtrace(["run", "-o", "d.%p.snap", "--", "./sites"])
        XCTAssertTrue(dynamic.stderrLines.first?.hasPrefix("memtrace: ./sites (pid ") == true, dynamic.stderr)
        // Set-user-ID to another user (root running a program owned by nobody): the loader ignores
        // LD_PRELOAD there.
        guard geteuid() == 0, let nobody = getpwnam("nobody") else { return }
        XCTAssertEqual(chown(work.path + "/sites", nobody.pointee.pw_uid, UInt32.max), 0)
        XCTAssertEqual(chmod(work.path + "/sites", 0o4755), 0)
        let setuid = try work.memtrace(["run", "-o", "u.%p.snap", "--", "./sites"])
        XCTAssertEqual(
            setuid.stderrLines.first,
            "memtrace: ./sites is set-user-ID: the dynamic loader ignores LD_PRELOAD for it; it runs untraced")
        XCTAssertTrue(setuid.stderr.contains("memtrace: no snapshot was written"), setuid.stderr)
    }

    /// A program whose executable brings a malloc of its own (rustc's jemalloc) gets none of its
    /// allocations traced: the tracer says so, the snapshot keeps it (PROCESS own_malloc), `run`
    /// and `summary` repeat it, and `check` refuses to pass a program it saw nothing of.
    func testAProgramWithAnAllocatorOfItsOwn() throws {
        let work = try Workspace("ownmalloc")
        try work.build("ownmalloc.c")
        let said = "./ownmalloc has an allocator of its own: its malloc comes before the tracer's, so no allocation"
        let run = try work.memtrace(["run", "-o", "own.snap", "--", "./ownmalloc"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stdout, "allocated by the program's own malloc\n")
        let lines = run.stderrLines
        XCTAssertEqual(lines.count, 7, run.stderr)
        XCTAssertEqual(lines.first, "memtrace: \(said) is traced")
        XCTAssertTrue(lines.count > 1 && lines[1].hasSuffix(" exited with status 0"), run.stderr)
        XCTAssertEqual(
            Array(lines.dropFirst(2).prefix(2)),
            [
                "memtrace: peak heap 0 B, live at exit 0 B in 0 blocks, 0 allocation calls",
                "memtrace: \(said) was traced",
            ])
        let snapshot = try SnapshotFile.read(path: work.path + "/own.snap")
        XCTAssertEqual(snapshot.process["own_malloc"], "./ownmalloc")
        let summary = try work.memtrace(["summary", "own.snap"])
        XCTAssertTrue(summary.stdout.contains("\nNot traced: \(said) was traced\n"), summary.stdout)
        let check = try work.memtrace(["check", "--", "./ownmalloc"])
        XCTAssertEqual(check.status, 2, check.stderr)
        XCTAssertTrue(check.stderr.hasSuffix("could not be checked: \(said) was traced\n"), check.stderr)
        XCTAssertFalse(check.stderr.contains("passed"), check.stderr)
    }

    /// An allocator preloaded before the tracer (mimalloc, tcmalloc) gets the program's calls; what
    /// it lacks reaches the tracer, which must give its blocks back to it: mimalloc has no nothrow
    /// operator delete, and the tracer's handed mimalloc's blocks to glibc's free, which aborted.
    func testAnAllocatorPreloadedBeforeOrAfterTheTracer() throws {
        let work = try Workspace("firstmalloc")
        try work.build("nothrowdelete.cpp")
        try FileManager.default.copyItem(
            atPath: TestPaths.file("Tests/EndToEndTests/Fixtures/ownmalloc.c"), toPath: work.path + "/ownmalloc.c")
        let library = try runProcess(
            "/usr/bin/gcc", ["-shared", "-fPIC", "-o", "libfirstmalloc.so", "ownmalloc.c"], directory: work.directory)
        XCTAssertEqual(library.status, 0, library.stderrText)
        let first = work.directory.resolvingSymlinksInPath().path + "/libfirstmalloc.so"
        let result = try runProcess(
            work.path + "/nothrowdelete",
            environment: [
                "LD_PRELOAD": "\(first) \(TestPaths.libtrace)",
                "MEMTRACE_OUTPUT": work.path + "/first.snap",
            ], directory: work.directory)
        XCTAssertEqual(result.status, 0, "134: glibc's free aborted; \(result.stderrText)")
        XCTAssertEqual(result.stdoutText, "released\n")
        XCTAssertEqual(
            result.stderrText,
            "memtrace: \(first) has an allocator of its own: its malloc comes before the tracer's, so no allocation "
                + "is traced (preload libtrace.so before it)\n")
        let snapshot = try SnapshotFile.read(path: work.path + "/first.snap")
        XCTAssertEqual(snapshot.process["own_malloc"], first)

        // After the tracer, the same library is the allocator it forwards to: its blocks are traced,
        // and the snapshot names it rather than carry glibc's statistics (mallinfo2 of an arena the
        // program does not use, shown as a difference of the whole heap).
        let after = try runProcess(
            work.path + "/nothrowdelete",
            environment: [
                "LD_PRELOAD": "\(TestPaths.libtrace) \(first)", "MEMTRACE_OUTPUT": work.path + "/after.snap",
            ], directory: work.directory)
        XCTAssertEqual(after.status, 0, after.stderrText)
        XCTAssertEqual(after.stdoutText, "released\n")
        XCTAssertEqual(after.stderrText, "")
        let traced = try SnapshotFile.read(path: work.path + "/after.snap")
        XCTAssertEqual(traced.process["allocator"], first)
        XCTAssertNil(traced.process["own_malloc"])
        XCTAssertEqual(traced.allocator?.kind, .unknown)
        XCTAssertGreaterThanOrEqual(traced.totals.allocCalls, 2, "the two blocks of new (nothrow)")
        let summary = try work.memtrace(["summary", "after.snap"])
        XCTAssertTrue(
            summary.stdout.contains(
                "\nAllocator cross-check:\n  not available: the allocator is libfirstmalloc.so, whose statistics "
                    + "memtrace does not read (only glibc's and jemalloc's)\n"), summary.stdout)
    }

    /// A program run with a clock of its own (faketime) writes snapshots whose times are not the
    /// machine's: `run` took its snapshot for an earlier run's, left it out of its list and, when
    /// it was the only one, said that no snapshot was written.
    func testAProgramWithAClockOfItsOwnHasItsSnapshotsListed() throws {
        let faketime = "/usr/bin/faketime"
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: faketime), "faketime (Debian's faketime)")
        let work = try Workspace("faketime")
        try work.build("sites.c")
        let run = try work.memtrace(["run", "-o", "ft.%p.%n.snap", "--", faketime, "2020-01-01 00:00:00", "./sites"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let written = try FileManager.default.contentsOfDirectory(atPath: work.path).filter {
            $0.hasPrefix("ft.") && $0.hasSuffix(".snap")
        }
        XCTAssertGreaterThanOrEqual(written.count, 2, "faketime's and the program's: \(written)")
        XCTAssertTrue(run.stderr.contains("memtrace: \(written.count) snapshots written:\n"), run.stderr)
        for name in written { XCTAssertTrue(run.stderr.contains("  \(name)\n"), "\(name): \(run.stderr)") }
    }

    /// AddressSanitizer's runtime stops a program unless it is the first library loaded, before the
    /// tracer: `run` and `check` say so before the program runs rather than run it to that end and
    /// then report that no snapshot was written, as if it had been killed.
    func testAnAddressSanitizedProgramIsRefusedWithTheReason() throws {
        let work = try Workspace("asan")
        try FileManager.default.copyItem(
            atPath: TestPaths.file("Tests/EndToEndTests/Fixtures/sites.c"), toPath: work.path + "/sites.c")
        let build = try runProcess(
            "/usr/bin/gcc", ["-g", "-fsanitize=address", "-I", TestPaths.includeDir, "-o", "asan-sites", "sites.c"],
            directory: work.directory)
        try XCTSkipUnless(build.status == 0, "gcc -fsanitize=address: \(build.stderrText)")
        let said =
            "memtrace: ./asan-sites is built with AddressSanitizer, whose runtime stops a program it is not the first "
            + "library of (the tracer is preloaded before it): run it without memtrace (AddressSanitizer reports leaks "
            + "itself, LeakSanitizer being part of it)\n"
        for command in ["run", "check"] {
            let result = try work.memtrace([command, "--", "./asan-sites"])
            XCTAssertEqual(result.status, 2, command)
            XCTAssertEqual(result.stdout, "", command)
            XCTAssertEqual(result.stderr, said, command)
        }
    }

    /// A program that aborts is reported with its heap at that moment; one whose abort came from
    /// glibc's checks while the tracer was in the allocator (a double free) has none, and `run`
    /// says why rather than blaming SIGKILL or a crash.
    func testAnAbortIsReportedWithTheHeapOrWhyNot() throws {
        let work = try Workspace("aborting")
        try work.build("aborting.c")
        let aborted = try work.memtrace(["run", "-o", "abort.snap", "--", "./aborting", "abort"])
        XCTAssertEqual(aborted.status, 128 + SIGABRT, aborted.stderr)
        XCTAssertTrue(
            aborted.stderr.contains(
                " was killed by signal 6 (SIGABRT)\nmemtrace: peak heap 600 B, live when SIGABRT ended it 600 B "
                    + "in 1 blocks, 1 allocation calls\n"), aborted.stderr)
        let snapshot = try SnapshotFile.read(path: work.path + "/abort.snap")
        XCTAssertEqual(snapshot.process["signal"], "SIGABRT")
        let twice = try work.memtrace(["run", "-o", "twice.snap", "--", "./aborting", "doublefree"])
        XCTAssertEqual(twice.status, 128 + SIGABRT, twice.stderr)
        XCTAssertTrue(
            twice.stderr.hasSuffix(
                "memtrace: no snapshot was written to twice.snap (an abort() while the tracer was in the "
                    + "allocator writes none: glibc's checks abort there when they find the heap corrupted (free(): "
                    + "double free…); ask for snapshots with --interval)\n"), twice.stderr)
    }

    /// A full file system: the tracer says "No space left on device", and `run` explained the
    /// missing snapshot with the ways a program can end without one (SIGKILL…).
    func testAFullFileSystemIsNamedAsWhyNoSnapshotCame() throws {
        let work = try Workspace("full")
        try work.build("sites.c")
        let full = work.path + "/full"
        try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
        let mount = try runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "none", full])
        try XCTSkipUnless(mount.status == 0, "mounting a small tmpfs: \(mount.stderrText)")
        defer { _ = try? runProcess("/bin/umount", [full]) }
        let fill = try runProcess("/bin/dd", ["if=/dev/zero", "of=\(full)/fill", "bs=4096", "count=64"])
        XCTAssertNotEqual(fill.status, 0, "64 KiB of tmpfs holds less than 64 pages")
        let run = try work.memtrace(["run", "-o", full + "/%p.snap", "--", "./sites"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("No space left on device"), run.stderr)
        let said = "memtrace: no snapshot was written to full/%p.snap (the file system of full is full)\n"
        XCTAssertTrue(run.stderr.hasSuffix(said), run.stderr)
    }

    func testOptionsReachTheTracer() throws {
        let work = try Workspace("options")
        try work.build("sites.c")
        // No out/ directory: the tracer warns, the program carries on, memtrace says nothing was written.
        let run = try work.memtrace([
            "run", "--output", "out/%e-%n-%p.snap", "--frames", "2", "--", "./sites",
        ])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(
            run.stderr.contains(
                "memtrace: no snapshot was written to out/%e-%n-%p.snap (the tracer cannot write in out: "
                    + "No such file or directory)\n"), run.stderr)
        // An interval the tracer could not use is refused before the program runs.
        for interval in ["0", "inf", "nan"] {
            let bad = try work.memtrace(["run", "--interval=\(interval)", "--", "./sites"])
            XCTAssertEqual(bad.status, 64, interval)
            XCTAssertTrue(bad.stderr.contains("--interval must be a positive number of seconds."), bad.stderr)
        }
        // Settings that ask for no snapshot are named as the reason.
        let atExit = try work.memtrace(["run", "--", "/bin/true"], environment: ["MEMTRACE_AT_EXIT": "off"])
        XCTAssertTrue(
            atExit.stderr.hasSuffix(
                "memtrace: no snapshot was written to memtrace.%e.%p.%n.snap (MEMTRACE_AT_EXIT=off turns the "
                    + "snapshot at exit off; ask for snapshots with --interval, memtrace snapshot PID or "
                    + "memtrace_snapshot())\n"), atExit.stderr)
        // A directory the pattern names per process, and an empty setting (which the tracer reads
        // as none), are no reasons.
        let killed = try work.memtrace(
            ["run", "-o", "out/%e/k.%n.snap", "--", "/bin/sh", "-c", "kill -9 $$"],
            environment: ["MEMTRACE_DISABLE": ""])
        XCTAssertTrue(
            killed.stderr.hasSuffix(
                "memtrace: no snapshot was written to out/%e/k.%n.snap (a program killed by SIGKILL, a crash or a "
                    + "signal that dumps core (but SIGABRT) writes none at exit, nor one that calls _exit() in a "
                    + "signal handler that interrupted an allocation, nor one that ends with the exit_group system "
                    + "call itself, as Go's runtime does; ask for snapshots with --interval)\n"), killed.stderr)
        let disabled = try work.memtrace(["run", "--", "./sites"], environment: ["MEMTRACE_DISABLE": "1"])
        XCTAssertTrue(
            disabled.stderr.hasSuffix(
                "memtrace: no snapshot was written to memtrace.%e.%p.%n.snap (MEMTRACE_DISABLE=1 turns the tracer off)\n"
            ),
            disabled.stderr)
        try FileManager.default.createDirectory(
            at: work.directory.appendingPathComponent("out"), withIntermediateDirectories: true)
        let again = try work.memtrace([
            "run", "--output", "out/%e-%n-%p.snap", "--frames", "2", "--", "./sites",
        ])
        XCTAssertEqual(again.status, 0, again.stderr)
        let files = try FileManager.default.contentsOfDirectory(atPath: work.path + "/out").sorted()
        XCTAssertEqual(files.count, 2, "\(files)")
        XCTAssertTrue(files[0].hasPrefix("sites-0-"), "\(files)")
        let top = try work.memtrace([
            "top", "out/" + files[1], "--by", "traceback", "--include", "*sites.c", "--limit", "1",
        ])
        XCTAssertEqual(top.stdoutLines.count, 3, "two frames kept: \(top.stdout)")
    }

    func testSampleOptionTurnsOnSamplingMode() throws {
        let work = try Workspace("sample")
        try work.build("sites.c")
        let run = try work.memtrace(["run", "--sample", "64k", "--", "./sites"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let files = try work.snapshots()
        XCTAssertFalse(files.isEmpty)
        for file in files {
            let snapshot = try SnapshotFile.read(path: work.path + "/" + file)
            XCTAssertTrue(snapshot.header.isSampled, file)
            XCTAssertEqual(snapshot.totals.sampleRate, 65536, file)
        }
        let bad = try work.memtrace(["run", "--sample", "lots", "--", "./sites"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--sample takes a size in bytes"), bad.stderr)
        XCTAssertEqual(try work.snapshots().count, files.count, "nothing ran")
    }

    func testChildrenWriteTheirOwnSnapshots() throws {
        let work = try Workspace("fork")
        try work.build("forker.c")
        let run = try work.memtrace(["run", "--", "./forker"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let files = try work.snapshots()
        XCTAssertEqual(files.count, 2, "\(files)")
        XCTAssertTrue(run.stderr.contains("memtrace: 2 snapshots written:"), run.stderr)
        for file in files { XCTAssertTrue(run.stderr.contains(file), run.stderr) }
        let tops = try files.map {
            try work.memtrace(["top", $0, "--include", "*forker.c"]).stdoutLines
        }
        let parent =
            "forker.c:\(try work.line("forker.c", "SITE parent")) in main: size=111 B, count=1, average=111 B"
        let child =
            "forker.c:\(try work.line("forker.c", "SITE child")) in main: size=333 B, count=1, average=333 B"
        XCTAssertTrue(tops.contains([parent]), "\(tops)")
        XCTAssertTrue(tops.contains([child, parent]), "the child inherits the parent's block: \(tops)")
    }

    func testNewIsAttributedToTheCallersLine() throws {
        let work = try Workspace("cxx")
        try work.build("widgets.cpp")
        let run = try work.memtrace(["run", "--", "./widgets"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let file = try XCTUnwrap(try work.snapshots().last)
        let top = try work.memtrace(["top", file, "--include", "*widgets.cpp", "--format", "json"])
        let stats = try XCTUnwrap(try top.json()["stats"] as? [[String: Any]])
        XCTAssertEqual(stats.map { $0["size"] as? Int }, [400, 100])
        XCTAssertEqual(stats.map { $0["count"] as? Int }, [10, 1])
        let frames = stats.compactMap { ($0["frames"] as? [[String: Any]])?.first }
        XCTAssertEqual(
            frames.map { $0["line"] as? Int },
            [try work.line("widgets.cpp", "SITE widget"), try work.line("widgets.cpp", "SITE numbers")])
        XCTAssertTrue(
            (frames[0]["function"] as? String)?.hasPrefix("make_widgets") == true, "\(frames)")
        let all = try work.memtrace(["top", file, "--limit", "0"])
        XCTAssertFalse(all.stdout.contains("operator new"), all.stdout)
        // libstdc++'s emergency exception pool (72,704 bytes, allocated at start-up) is released
        // before the exit snapshot, as valgrind and heaptrack release it: live at exit are the
        // program's 11 blocks alone, while the peak still counts the pool.
        let snapshot = try SnapshotFile.read(path: work.path + "/" + file)
        XCTAssertEqual(snapshot.totals.liveBytes, 500)
        XCTAssertEqual(snapshot.totals.liveBlocks, 11)
        XCTAssertEqual(snapshot.totals.peakBytes, 72_704 + 500)
    }

    func testJemallocCrossCheck() throws {
        let work = try Workspace("jemalloc")
        try work.build("sites.c")
        let run = try work.memtrace(["run", "--jemalloc", "--", "./sites"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let file = try XCTUnwrap(try work.snapshots().last)
        let summary = try work.memtrace(["summary", file])
        XCTAssertTrue(summary.stdout.contains("jemalloc stats.allocated:"), summary.stdout)
        let top = try work.memtrace(["top", file, "--include", "*sites.c", "--limit", "1"])
        XCTAssertEqual(
            top.stdoutLines,
            [
                "sites.c:\(try work.line("sites.c", "SITE big")) in big_blocks: size=29.3 KiB, count=3, average=10000 B"
            ])
    }

    /// Started with SIGINT and SIGTERM ignored (`trap '' INT TERM`, a background job of a
    /// script), memtrace run leaves them ignored for the program and forwards nothing: the
    /// program sends both to memtrace and lives on, as it would untraced.
    func testSignalsIgnoredAtTheStartStayIgnored() throws {
        let work = try Workspace("ignored")
        let program = """
            import os, signal, time
            ignored = [signal.getsignal(s) == signal.SIG_IGN for s in (signal.SIGINT, signal.SIGTERM)]
            print("ignored:", ignored, flush=True)
            os.kill(os.getppid(), signal.SIGTERM)
            os.kill(os.getppid(), signal.SIGINT)
            time.sleep(0.3)
            print("survived")
            """
        let result = try runProcess(
            "/bin/sh",
            [
                "-c", "trap '' INT TERM; exec \"$0\" run -o x.snap -- /usr/bin/python3 -c \"$1\"", TestPaths.memtrace,
                program,
            ],
            environment: ["MEMTRACE_LIB": TestPaths.libtrace, "LD_PRELOAD": nil], directory: work.directory)
        XCTAssertEqual(result.status, 0, result.stderrText)
        XCTAssertEqual(result.stdoutText, "ignored: [True, True]\nsurvived\n", result.stderrText)
    }

    /// `memtrace run -- ./waiter pid [MODE]` in `work`, and the waiter's pid once it has written it.
    private func startWaiter(
        _ work: Workspace, _ mode: [String] = [], signal: String? = nil, followFork: String? = nil
    ) throws -> (Process, Pipe, Int32) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestPaths.memtrace)
        process.arguments = ["run", "--", "./waiter", "pid"] + mode
        process.currentDirectoryURL = work.directory
        var environment = ProcessInfo.processInfo.environment
        environment["MEMTRACE_LIB"] = TestPaths.libtrace
        environment["LD_PRELOAD"] = nil
        environment["MEMTRACE_SIGNAL"] = signal
        environment["MEMTRACE_FOLLOW_FORK"] = followFork
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()

        let pidFile = work.directory.appendingPathComponent("pid")
        var pid: Int32 = 0
        for _ in 0..<500 where pid == 0 {
            if let text = try? String(contentsOf: pidFile, encoding: .utf8),
                let value = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                pid = value
            } else {
                usleep(10_000)
            }
        }
        XCTAssertNotEqual(pid, 0, "the waiter did not start")
        return (process, errors, pid)
    }

    /// The names of a process's threads.
    private func threadNames(_ pid: Int32) -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.compactMap { task in
            (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .newlines)
        }.sorted()
    }

    /// `memtrace snapshot PID` fails with `message` and signals nothing: the program lives on.
    private func assertSnapshotRefused(
        _ work: Workspace, _ pid: Int32, _ message: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let refused = try work.memtrace(["snapshot", String(pid), "--timeout", "0.3"])
        XCTAssertEqual(refused.status, 1, file: file, line: line)
        XCTAssertEqual(refused.stderrLines, ["memtrace: " + message], file: file, line: line)
        usleep(100_000)
        XCTAssertEqual(kill(pid, 0), 0, "the program is gone", file: file, line: line)
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: work.path + "/usr2-received"), "it got SIGUSR2", file: file,
            line: line)
    }

    /// `memtrace snapshot PID` on a running program, then SIGTERM to memtrace run reaches the program.
    func testSnapshotOfARunningProcessAndSignalForwarding() throws {
        let work = try Workspace("live")
        try work.build("waiter.c")
        let (process, errors, pid) = try startWaiter(work)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // The tracer's helper thread: its name says the snapshot signal reaches the tracer.
        XCTAssertEqual(threadNames(pid), ["memtrace", "waiter"])

        let snapshot = try work.memtrace(["snapshot", String(pid)])
        XCTAssertEqual(snapshot.status, 0, snapshot.stderr)
        XCTAssertEqual(snapshot.stdoutLines, ["memtrace.waiter.\(pid).0.snap"])
        let top = try work.memtrace(["top", "memtrace.waiter.\(pid).0.snap", "--include", "*waiter.c"])
        XCTAssertEqual(
            top.stdoutLines,
            [
                "waiter.c:\(try work.line("waiter.c", "SITE held")) in main: size=777 B, count=1, average=777 B"
            ])
        let second = try work.memtrace(["snapshot", String(pid)])
        XCTAssertEqual(second.stdoutLines, ["memtrace.waiter.\(pid).1.snap"])

        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 128 + SIGTERM)
        let stderr = work.strip(
            String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        XCTAssertTrue(stderr.contains("(pid \(pid)) was killed by signal 15 (SIGTERM)\n"), stderr)
        // The signal ended the program, and its last snapshot says so.
        XCTAssertTrue(stderr.contains("live when SIGTERM ended it 777 B in 1 blocks"), stderr)
        XCTAssertTrue(stderr.contains("memtrace: 3 snapshots written:"), stderr)
        let last = try SnapshotFile.read(
            path: work.directory.appendingPathComponent("memtrace.waiter.\(pid).2.snap").path)
        XCTAssertEqual(last.header.trigger, .termination)
        XCTAssertEqual(last.process["signal"], "SIGTERM")
    }

    /// A program that sets a disposition of its own for the snapshot signal (nginx upgrades its binary on
    /// SIGUSR2, SIG_DFL would end it) never gets it from `memtrace snapshot`: the tracer moves to SIGRTMIN+6.
    func testSnapshotOfAProgramThatTookTheSignalOver() throws {
        for mode in ["own", "ignore", "default"] {
            let work = try Workspace("taken-" + mode)
            try work.build("waiter.c")
            let (process, _, pid) = try startWaiter(work, [mode])
            defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            // The helper renames itself once woken by the program's signal() call.
            let moved = "memtrace-sig\(__libc_current_sigrtmin() + 6)"
            for _ in 0..<500 where !threadNames(pid).contains(moved) { usleep(10_000) }
            XCTAssertEqual(threadNames(pid), [moved, "waiter"], mode)

            let snapshot = try work.memtrace(["snapshot", String(pid)])
            XCTAssertEqual(snapshot.status, 0, "\(mode): \(snapshot.stderr)")
            XCTAssertEqual(snapshot.stdoutLines, ["memtrace.waiter.\(pid).0.snap"], mode)
            let top = try work.memtrace(["top", "memtrace.waiter.\(pid).0.snap", "--include", "*waiter.c"])
            let held = try work.line("waiter.c", "SITE held")
            XCTAssertEqual(
                top.stdoutLines, ["waiter.c:\(held) in main: size=777 B, count=1, average=777 B"], mode)
            XCTAssertEqual(kill(pid, 0), 0, "\(mode): the waiter is gone")
            XCTAssertFalse(FileManager.default.fileExists(atPath: work.path + "/usr2-received"), mode)
            if mode == "own" {  // SIGUSR2 is the program's: its handler runs, and no snapshot comes
                kill(pid, SIGUSR2)
                for _ in 0..<500 where !FileManager.default.fileExists(atPath: work.path + "/usr2-received") {
                    usleep(10_000)
                }
                XCTAssertTrue(FileManager.default.fileExists(atPath: work.path + "/usr2-received"))
                XCTAssertEqual(try work.snapshots(), ["memtrace.waiter.\(pid).0.snap"])
            }
            // At SIG_DFL, SIGUSR2 ends the program as any terminating signal does: with a last snapshot.
            let ending = mode == "default" ? SIGUSR2 : SIGTERM
            kill(mode == "default" ? pid : process.processIdentifier, ending)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 128 + ending, mode)
            let last = try SnapshotFile.read(path: work.path + "/memtrace.waiter.\(pid).1.snap")
            XCTAssertEqual(last.header.trigger, .termination, mode)
            XCTAssertEqual(last.process["signal"], mode == "default" ? "SIGUSR2" : "SIGTERM", mode)
        }
    }

    /// A program that reads SIGUSR2 from a signalfd (as systemd does) has taken it over as well.
    func testSnapshotOfAProgramThatReadsTheSignalFromASignalfd() throws {
        let work = try Workspace("signalfd")
        try work.build("waiter.c")
        let (process, _, pid) = try startWaiter(work, ["signalfd"])
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let moved = "memtrace-sig\(__libc_current_sigrtmin() + 6)"
        for _ in 0..<500 where !threadNames(pid).contains(moved) { usleep(10_000) }
        XCTAssertEqual(threadNames(pid), [moved, "waiter"])
        let snapshot = try work.memtrace(["snapshot", String(pid)])
        XCTAssertEqual(snapshot.status, 0, snapshot.stderr)
        XCTAssertEqual(snapshot.stdoutLines, ["memtrace.waiter.\(pid).0.snap"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: work.path + "/usr2-received"))
        kill(pid, SIGUSR2)  // the program's: read from its signalfd
        for _ in 0..<500 where !FileManager.default.fileExists(atPath: work.path + "/usr2-received") {
            usleep(10_000)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: work.path + "/usr2-received"))
        XCTAssertEqual(try work.snapshots(), ["memtrace.waiter.\(pid).0.snap"])
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 128 + SIGTERM)
    }

    /// A program that blocks the signal in every thread would keep it pending, or read it: nothing is sent.
    func testSnapshotSendsNothingToAProgramThatBlocksTheSignal() throws {
        let work = try Workspace("blocked")
        try work.build("waiter.c")
        let (process, _, pid) = try startWaiter(work, ["block"])
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        XCTAssertEqual(threadNames(pid), ["memtrace", "waiter"])
        try assertSnapshotRefused(
            work, pid,
            "process \(pid) blocks SIGUSR2 in every thread, so the signal would wait there or go to a signalfd or "
                + "sigwait of the program's: trace it with MEMTRACE_SIGNAL set to a signal it leaves unblocked")
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 128 + SIGTERM)
    }

    /// A program that has taken the spare signals as well gets no signal at all.
    func testSnapshotRefusesWhenTheProgramTookEverySignalOver() throws {
        let work = try Workspace("greedy")
        try work.build("waiter.c")
        let (process, _, pid) = try startWaiter(work, ["greedy"])
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        for _ in 0..<500 where !threadNames(pid).contains("memtrace-nosig") { usleep(10_000) }
        XCTAssertEqual(threadNames(pid), ["memtrace-nosig", "waiter"])
        try assertSnapshotRefused(
            work, pid,
            "process \(pid) has taken SIGUSR2 over (a handler of its own, SIG_IGN or SIG_DFL), and SIGRTMIN+6 to +9 "
                + "too: trace it with MEMTRACE_SIGNAL set to a signal it leaves alone, or, if it takes every signal "
                + "(as Go's runtime does), with memtrace run --interval")
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 128 + SIGTERM)
    }

    /// With another snapshot signal, the program's own SIGUSR2 handler and the tracer's both work.
    func testSnapshotOnAnotherSignalBesideTheProgramsHandler() throws {
        let work = try Workspace("othersig")
        try work.build("waiter.c")
        let (process, _, pid) = try startWaiter(work, ["own"], signal: "RTMIN+6")
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        XCTAssertEqual(threadNames(pid), ["memtrace", "waiter"])
        let snapshot = try work.memtrace(["snapshot", String(pid)])
        XCTAssertEqual(snapshot.status, 0, snapshot.stderr)
        XCTAssertEqual(snapshot.stdoutLines, ["memtrace.waiter.\(pid).0.snap"])
        kill(pid, SIGUSR2)
        for _ in 0..<500 where !FileManager.default.fileExists(atPath: work.path + "/usr2-received") { usleep(10_000) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: work.path + "/usr2-received"))
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }

    /// A forked child the tracer does not follow has its SIGUSR2 at SIG_DFL again: the signal would end it.
    func testSnapshotSendsNothingToAChildThatIsNotTraced() throws {
        let work = try Workspace("unfollowed")
        try work.build("waiter.c")
        let (process, _, pid) = try startWaiter(work, ["fork"], followFork: "0")
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        XCTAssertEqual(threadNames(pid), ["waiter"])
        try assertSnapshotRefused(
            work, pid,
            "process \(pid) runs no memtrace thread to answer SIGUSR2 (a forked child with MEMTRACE_FOLLOW_FORK=0 "
                + "is not traced)")
        kill(pid, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 128 + SIGTERM)
    }

    func testSnapshotErrors() throws {
        let work = try Workspace("snaperr")
        let missing = try work.memtrace(["snapshot", "999999"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.stderrLines, ["memtrace: no process 999999"])
        let untraced = try work.memtrace(["snapshot", String(getpid())])
        XCTAssertEqual(untraced.status, 1)
        XCTAssertEqual(
            untraced.stderrLines,
            ["memtrace: process \(getpid()) is not traced (libtrace.so is not loaded in it)"])
    }
}
