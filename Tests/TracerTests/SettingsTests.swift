import Foundation
import SnapshotReader
import XCTest
import _MemtraceTestSupport

/// Settings the tracer cannot use, and limits and habits of the program it runs in (its umask, a
/// file size limit, cancellation, an ignored snapshot signal): each costs at most a line on
/// standard error, never the program.
final class SettingsTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: TestPaths.libtrace), "run `make tracer` first")
        directory = try makeTemporaryDirectory("memtrace-settings")
    }

    override func tearDownWithError() throws {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    func testValuesTheTracerCannotUseAreNamedAndTheDefaultsKept() throws {
        let exe = try Fixtures.build("api")
        let traced = try runTraced(
            exe, [directory.appendingPathComponent("api.snap").path], in: directory,
            environment: [
                "MEMTRACE_FRAMES": "abc", "MEMTRACE_SIGNAL": "SEGV", "MEMTRACE_INTERVAL": "5s",
                "MEMTRACE_AT_EXIT": "nope", "MEMTRACE_SAMPLE": "lots", "MEMTRACE_TIMELINE": "fast",
                "MEMTRACE_SAMPLE_SEED": "1.5",
            ])
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(
            traced.stdoutText,
            "tracing=1 get=0\ngrew=1000 peak_grew=1\nreset_peak_is_current=1\nsnapshot=0 errno=0\n")
        XCTAssertEqual(
            traced.stderrText.split(separator: "\n").map(String.init),
            [
                "memtrace: MEMTRACE_FRAMES=abc: not a number of frames from 1 to 256; using 64",
                "memtrace: MEMTRACE_SIGNAL=SEGV: cannot ask for snapshots (it cannot be caught, a fault or abort "
                    + "raises it, or libc keeps it); using USR2",
                "memtrace: MEMTRACE_INTERVAL=5s: not a number of seconds; no periodic snapshots",
                "memtrace: MEMTRACE_TIMELINE=fast: not a number of seconds; a point every 0.1 s",
                "memtrace: MEMTRACE_AT_EXIT=nope: not 0 or 1 (no/yes, off/on, false/true); using 1",
                "memtrace: MEMTRACE_SAMPLE=lots: not a number of bytes (524288, 512k, 1M...); recording every "
                    + "allocation",
                "memtrace: MEMTRACE_SAMPLE_SEED=1.5: not a whole number from 1 to 18446744073709551615; using 1",
            ])
        let snapshot = try SnapshotFile.read(path: directory.appendingPathComponent("api.snap").path)
        XCTAssertEqual(snapshot.header.framesLimit, 64)
        XCTAssertFalse(snapshot.header.isSampled)
        // MEMTRACE_AT_EXIT kept its default: the exit snapshot is there too.
        XCTAssertEqual(try snapshotNames().filter { $0.hasPrefix("api.") && $0 != "api.snap" }.count, 1)
    }

    func testEverySpellingOfAUsableValueIsTakenSilently() throws {
        let exe = try Fixtures.build("api")
        for (variable, value) in [
            ("MEMTRACE_SIGNAL", "SIGRTMIN+3"), ("MEMTRACE_SIGNAL", "rtmax-2"), ("MEMTRACE_SIGNAL", "40"),
            ("MEMTRACE_SIGNAL", "off"), ("MEMTRACE_SAMPLE", "512KiB"), ("MEMTRACE_SAMPLE", "1.5M"),
            ("MEMTRACE_AT_EXIT", "yes"), ("MEMTRACE_FRAMES", "256"), ("MEMTRACE_INTERVAL", "0"),
            ("MEMTRACE_SAMPLE_SEED", "18446744073709551615"), ("MEMTRACE_SIGNAL", "RTMAX-0"),
            ("MEMTRACE_SIGNAL", "SIGPOLL"),
            ("MEMTRACE_SIGNAL", "cld"), ("MEMTRACE_SIGNAL", "STKFLT"),
        ] {
            let traced = try runTraced(
                exe, [directory.appendingPathComponent("quiet.snap").path], in: directory,
                environment: [variable: value])
            XCTAssertEqual(traced.status, 0, "\(variable)=\(value)")
            XCTAssertEqual(traced.stderrText, "", "\(variable)=\(value)")
        }
        for value in [
            "KILL", "9", "32", "RTMIN+99", "RTMAX-1x", "BOGUS", "IOT", "+12", " 12", "RTMIN+ 3", "RTMIN+-1",
            "RTMIN+2147483647", "RTMAX-99999999999999999999",
        ] {
            let traced = try runTraced(
                exe, [directory.appendingPathComponent("loud.snap").path], in: directory,
                environment: ["MEMTRACE_SIGNAL": value])
            XCTAssertEqual(traced.status, 0, value)
            XCTAssertTrue(traced.stderrText.hasPrefix("memtrace: MEMTRACE_SIGNAL=\(value): "), traced.stderrText)
            XCTAssertTrue(traced.stderrText.hasSuffix("; using USR2\n"), traced.stderrText)
        }
    }

    func testSnapshotsAreReadableByTheirOwnerWhateverTheUmask() throws {
        let exe = try Fixtures.build("api")
        let path = directory.appendingPathComponent("private.snap").path
        let traced = try runTraced(
            "/bin/sh", ["-c", "umask 0777; exec \"$0\" \"$1\"", exe, path], in: directory)
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(traced.stderrText, "")
        for name in try snapshotNames() {
            let attributes = try FileManager.default.attributesOfItem(
                atPath: directory.appendingPathComponent(name).path)
            XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600, name)
        }
        XCTAssertNoThrow(try SnapshotFile.read(path: path))
    }

    func testAFileSizeLimitFailsTheSnapshotNotTheProgram() throws {
        let exe = try Fixtures.build("api")
        let path = directory.appendingPathComponent("limited.snap").path
        // bash's ulimit -f counts 1024-byte blocks: a snapshot never fits in one.
        let traced = try runTraced(
            "/bin/bash", ["-c", "ulimit -f 1; exec \"$0\" \"$1\"", exe, path], in: directory,
            environment: ["MEMTRACE_OUTPUT": directory.appendingPathComponent("exit.snap").path])
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(
            traced.stdoutText,
            "tracing=1 get=0\ngrew=1000 peak_grew=1\nreset_peak_is_current=1\nsnapshot=-1 errno=other\n")
        XCTAssertEqual(
            traced.stderrText,
            "memtrace: cannot write snapshot \(path): File too large (the program continues; further warnings "
                + "of this kind are not shown)\n")
        XCTAssertEqual(try snapshotNames(), [], "nothing written, no temporary file left")
    }

    func testACancelledSnapshotReleasesWhatItHeld() throws {
        let exe = try Fixtures.build("cancelled")
        let traced = try runProcess(
            "/usr/bin/timeout", ["60", exe, directory.path],
            environment: [
                "LD_PRELOAD": TestPaths.libtrace,
                "MEMTRACE_OUTPUT": directory.appendingPathComponent("exit.snap").path,
            ])
        XCTAssertEqual(traced.status, 0, "124: the snapshot after a cancelled one waited for ever")
        XCTAssertEqual(traced.stdoutText, "last=0\n")
        XCTAssertEqual(traced.stderrText, "")
        XCTAssertEqual(try snapshotNames(), ["exit.snap", "last.snap", "thread.snap"])
        let last = try SnapshotFile.read(path: directory.appendingPathComponent("last.snap").path)
        let kept = try Fixtures.line(of: "kept", in: Fixtures.source("cancelled"))
        XCTAssertTrue(
            sites(of: last).contains { $0.line == kept && $0.liveBytes == 4321 && $0.liveCount == 1 },
            "\(sites(of: last))")
    }

    func testAnIgnoredSnapshotSignalStaysIgnoredInTheProgramsItExecs() throws {
        // USR2 ignored by the launcher (nohup's way); the traced shell execs one that sends itself
        // USR2: untraced it survives, and so it must traced, whether or not the exec is traced.
        let script = "kill -USR2 $$; echo survived"
        for followExec in ["1", "0"] {
            let launcher =
                "trap '' USR2; exec env LD_PRELOAD=\"$0\" MEMTRACE_FOLLOW_EXEC=\(followExec) "
                + "MEMTRACE_OUTPUT=\"$1\" /bin/sh -c 'exec /bin/sh -c \"\(script)\"'"
            let traced = try runProcess(
                "/bin/bash", ["-c", launcher, TestPaths.libtrace, directory.appendingPathComponent("%p.snap").path])
            XCTAssertEqual(traced.status, 0, "MEMTRACE_FOLLOW_EXEC=\(followExec): \(traced.stderrText)")
            XCTAssertEqual(traced.stdoutText, "survived\n", "MEMTRACE_FOLLOW_EXEC=\(followExec)")
        }
    }

    /// The same through python3's subprocess (vfork, then exec in the child), os.posix_spawn (whose
    /// child execs inside libc), os.system and os.popen (libc's own posix_spawn), each starting an
    /// untraced shell that sends itself USR2.
    func testAnIgnoredSnapshotSignalStaysIgnoredInWhatPythonSpawns() throws {
        let python = """
            import os, subprocess, sys
            script = 'kill -USR2 $$; echo survived'
            r = subprocess.run(['/bin/sh', '-c', script], env={})
            print('subprocess', r.returncode, flush=True)
            pid = os.posix_spawn('/bin/sh', ['/bin/sh', '-c', script], {})
            print('posix_spawn', os.waitpid(pid, 0)[1], flush=True)
            os.environ.pop('LD_PRELOAD')
            print('system', os.system(script), flush=True)
            with os.popen(script) as f:
                print('popen', f.read().strip(), flush=True)
            """
        let launcher = "trap '' USR2; exec env LD_PRELOAD=\"$0\" MEMTRACE_OUTPUT=\"$1\" /usr/bin/python3 -c \"$2\""
        let traced = try runProcess(
            "/bin/bash",
            ["-c", launcher, TestPaths.libtrace, directory.appendingPathComponent("%p.snap").path, python])
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(
            traced.stdoutText, "survived\nsubprocess 0\nsurvived\nposix_spawn 0\nsurvived\nsystem 0\npopen survived\n",
            traced.stderrText)
    }

    /// A container's entrypoint: as PID 1, a signal whose action is the default one is ignored by
    /// the kernel. The tracer stood in for SIGTERM's default action there, caught what the program
    /// never sees, and wrote termination snapshots in a loop it could not end (`docker stop`).
    func testAsPIDOneASignalWithTheDefaultActionStaysIgnored() throws {
        let probe = try runProcess("/usr/bin/unshare", ["-fp", "--mount-proc", "/bin/true"])
        try XCTSkipUnless(probe.status == 0, "no PID namespace here: \(probe.stderrText)")
        let exe = try Fixtures.build("selfterm")
        let untraced = try runProcess("/usr/bin/timeout", ["20", "/usr/bin/unshare", "-fp", "--mount-proc", exe])
        XCTAssertEqual(untraced.status, 3)
        XCTAssertEqual(untraced.stdoutText, "alive as pid 1\n")
        let traced = try runProcess(
            "/usr/bin/timeout",
            [
                "20", "/usr/bin/unshare", "-fp", "--mount-proc", "/usr/bin/env", "LD_PRELOAD=" + TestPaths.libtrace,
                "MEMTRACE_OUTPUT=" + directory.appendingPathComponent("%p.%n.snap").path, exe,
            ])
        XCTAssertEqual(traced.status, 3, traced.stderrText)
        XCTAssertEqual(traced.stdoutText, "alive as pid 1\n")
        XCTAssertEqual(try snapshotNames(), ["1.0.snap"], "the exit snapshot, and no termination snapshots")
        let snapshot = try SnapshotFile.read(path: directory.appendingPathComponent("1.0.snap").path)
        XCTAssertEqual(snapshot.header.trigger, .exit)
        // Its forked child is not PID 1: SIGTERM ends it, with a termination snapshot as anywhere else.
        let children = directory.appendingPathComponent("children")
        try FileManager.default.createDirectory(at: children, withIntermediateDirectories: true)
        let forked = try runProcess(
            "/usr/bin/timeout",
            [
                "20", "/usr/bin/unshare", "-fp", "--mount-proc", "/usr/bin/env", "LD_PRELOAD=" + TestPaths.libtrace,
                "MEMTRACE_OUTPUT=" + children.appendingPathComponent("%p.%n.snap").path, exe, "child",
            ])
        XCTAssertEqual(forked.status, 3, forked.stderrText)
        // The child's pid: 3, the tracer's thread in PID 1 took 2.
        let pid = forked.stdoutText.split(separator: " ").dropFirst(2).first.map(String.init) ?? "?"
        XCTAssertEqual(forked.stdoutText, "child pid \(pid) ended by signal 15\nalive as pid 1\n")
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: children.path).sorted(), ["1.0.snap", "\(pid).0.snap"])
        let child = try SnapshotFile.read(path: children.appendingPathComponent("\(pid).0.snap").path)
        XCTAssertEqual(child.header.trigger, .termination)
        let line = try Fixtures.line(of: "child", in: Fixtures.source("selfterm"))
        XCTAssertEqual(sites(of: child).filter { $0.line == line }.map(\.liveBytes), [3333])
    }

    func testWarningsNeverLandInAFileTheProgramOpenedAsDescriptorTwo() throws {
        let exe = try Fixtures.build("stderrfile")
        let environment = ["MEMTRACE_OUTPUT": "/nonexistent-dir/x.snap"]
        let data = directory.appendingPathComponent("data.txt")
        let traced = try runTraced(exe, [data.path], in: directory, environment: environment)
        XCTAssertEqual(traced.status, 0)
        XCTAssertEqual(traced.stdoutText, "fd=2\n")
        XCTAssertEqual(String(decoding: try Data(contentsOf: data), as: UTF8.self), "program data\n")
        // A log the program made its standard error (opened for appending) gets the warning.
        let log = directory.appendingPathComponent("daemon.log")
        let logged = try runTraced(exe, [log.path, "log"], in: directory, environment: environment)
        XCTAssertEqual(logged.status, 0)
        let lines = String(decoding: try Data(contentsOf: log), as: UTF8.self).split(separator: "\n")
        XCTAssertEqual(lines.count, 2, "\(lines)")
        XCTAssertEqual(lines.first, "program data")
        XCTAssertTrue(lines.last?.hasPrefix("memtrace: cannot write snapshot /nonexistent-dir/x.snap: ") ?? false)
        // And so does the tracer's own thread, which writes the snapshots a signal asks for.
        let helperLog = directory.appendingPathComponent("helper.log")
        let signalled = try runTraced(
            exe, [helperLog.path, "log", "signal"], in: directory,
            environment: environment.merging(["MEMTRACE_AT_EXIT": "0"]) { $1 })
        XCTAssertEqual(signalled.status, 0)
        let helperLines = String(decoding: try Data(contentsOf: helperLog), as: UTF8.self).split(separator: "\n")
        XCTAssertEqual(helperLines.count, 2, "\(helperLines)")
        XCTAssertTrue(
            helperLines.last?.hasPrefix("memtrace: cannot write snapshot /nonexistent-dir/x.snap: ") ?? false)
    }

    /// exit() from seventeen threads at once: a later one ended the process while the first wrote
    /// the exit snapshot (no snapshot, an empty temporary file left, in about one run in ten).
    func testExitFromManyThreadsAtOnceLeavesOneWholeSnapshot() throws {
        let exe = try Fixtures.build("exitmany")
        for round in 0..<20 {
            let output = directory.appendingPathComponent("round\(round)")
            try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
            let traced = try runTraced(exe, in: output)
            XCTAssertEqual(traced.status, 7, "round \(round): \(traced.stderrText)")
            let names = try FileManager.default.contentsOfDirectory(atPath: output.path)
            XCTAssertEqual(names.count, 1, "round \(round): \(names)")
            let snapshot = try onlySnapshot(in: output, prefix: "exitmany")
            XCTAssertEqual(snapshot.header.trigger, .exit, "round \(round)")
        }
    }

    /// An exit handler that joins a thread which calls exit(): that thread's exit() goes on at once
    /// (no snapshot is being written), runs the handlers left, the tracer's too, and ends the
    /// process with its status and a whole exit snapshot.
    func testAnExitHandlerJoiningAThreadThatCallsExit() throws {
        let exe = try Fixtures.build("exitjoin")
        let line = try Fixtures.line(of: "kept", in: Fixtures.source("exitjoin"))
        for ending in ["exit", "return"] {
            let output = directory.appendingPathComponent(ending)
            try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
            let traced = try runTraced(exe, [ending], in: output)
            XCTAssertEqual(traced.status, 3, "\(ending): \(traced.stderrText)")
            XCTAssertEqual(traced.stderrText, "", ending)
            let snapshot = try onlySnapshot(in: output, prefix: "exitjoin")
            XCTAssertEqual(snapshot.header.trigger, .exit, ending)
            let kept = sites(of: snapshot).filter { $0.function == "main" && $0.line == line }
            XCTAssertEqual(kept.map(\.liveBytes), [1234], ending)
            XCTAssertEqual(kept.map(\.liveCount), [1], ending)
        }
    }

    /// A vfork child's exit() runs its parent's exit handlers, the tracer's too, which the parent
    /// then never runs: the exit snapshot of the heap they share is written by the child, under its
    /// pid, and the parent goes on untouched.
    func testAVforkChildsExitWritesTheExitSnapshot() throws {
        let exe = try Fixtures.build("vforkexit")
        let traced = try runTraced(exe, in: directory)
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        let child = traced.stdoutText.split(separator: " ").dropFirst().first.map(String.init) ?? "?"
        XCTAssertEqual(traced.stdoutText, "child \(child) exited 3\n")
        XCTAssertEqual(try snapshotNames(), ["vforkexit.\(child).0.snap"])
        let snapshot = try SnapshotFile.read(path: directory.appendingPathComponent("vforkexit.\(child).0.snap").path)
        XCTAssertEqual(snapshot.header.trigger, .exit)
        let line = try Fixtures.line(of: "kept", in: Fixtures.source("vforkexit"))
        XCTAssertEqual(sites(of: snapshot).filter { $0.function == "main" && $0.line == line }.map(\.liveBytes), [1000])
    }

    /// A thread whose cancellation is pending, waiting for the tracer's locks while periodic
    /// snapshots are written, must not be cancelled there: the wait slept in nanosleep, a
    /// cancellation point, and the thread ended inside malloc.
    func testAThreadWaitingForTheTracerIsNotCancelledThere() throws {
        let exe = try Fixtures.build("cancelwait")
        let traced = try runTraced(
            exe, in: directory, environment: ["MEMTRACE_INTERVAL": "0.01", "MEMTRACE_AT_EXIT": "0"])
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(traced.stdoutText, "cancelled=1 reached_end=1\n")
    }

    func testAWarningAboutAVeryLongPathStaysOneWholeLine() throws {
        let exe = try Fixtures.build("api")
        let long = "/nonexistent/" + String(repeating: "d", count: 1500) + "/x.snap"
        let traced = try runTraced(exe, [long], in: directory, environment: ["MEMTRACE_AT_EXIT": "0"])
        XCTAssertEqual(traced.status, 0)
        XCTAssertEqual(
            traced.stderrText,
            "memtrace: cannot write snapshot ..." + String(long.suffix(600))
                + ": No such file or directory (the program continues; further warnings of this kind are not shown)\n")
    }

    private func snapshotNames() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }
}
