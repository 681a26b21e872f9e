import Foundation
import SnapshotReader
import XCTest
import _MemtraceTestSupport

/// Real Debian programs run untraced and traced: the tracer must not change
/// what they print or how they exit, must stay silent, and every snapshot they
/// leave behind must read back and add up.
///
/// Every run goes through `/usr/bin/timeout`, so a hang fails the test instead
/// of blocking the suite. The tracer is put in place by `/usr/bin/env
/// LD_PRELOAD=…` right under `timeout`: `timeout` and `env` themselves run
/// untraced (their own environment has no `LD_PRELOAD`), and `env` execs the
/// program in its own process, so only the program and what it starts are
/// traced.
final class RealProgramTests: XCTestCase {

    // MARK: - 1. sqlite3

    func testSqlite3InsertsAndAggregates() throws {
        let sqlite = try requireProgram("/usr/bin/sqlite3")
        let sql = """
            create table t(a integer primary key, b text, c real);
            create index t_b on t(b);
            with recursive n(x) as (select 1 union all select x + 1 from n where x < 300000)
            insert into t select x, printf('row%08d', (x * 7919) % 300000), x / 7.0 from n;
            select count(*), sum(a), min(b), max(b), printf('%.3f', sum(c)) from t;
            select substr(b, 1, 5) as p, count(*), max(a) from t group by p order by p;
            select count(*) from t where b between 'row00100000' and 'row00199999';
            select a, b from t order by b desc limit 3;
            """
        let run = try compare(sqlite, [":memory:", sql])
        XCTAssertTrue(run.stdoutText.hasPrefix("300000|45000150000|row00000000|row00299999|"), run.stdoutText)

        let snapshots = try checkSnapshots(in: run.directory, program: sqlite)
        XCTAssertEqual(snapshots.count, 1, names(snapshots))
        let totals = try XCTUnwrap(snapshots.first).totals
        XCTAssertGreaterThan(totals.allocCalls, 300_000)
        XCTAssertGreaterThan(totals.peakBytes, 5 << 20)
    }

    // MARK: - 2. python3, threads and C extensions

    func testPython3ThreadsAndExtensions() throws {
        // Debian's interpreter, not whatever python3 comes first on PATH.
        let python = try requireProgram("/usr/bin/python3")
        let script = """
            import ctypes, decimal, hashlib, json, sqlite3, threading, zlib

            results = [None] * 8

            def work(i):
                d = {}
                for k in range(20000):
                    d["k%d" % k] = [k, str(k * i), {"x": k % 7, "y": "v" * (k % 13)}]
                s = json.dumps(d, sort_keys=True).encode()
                packed = zlib.compress(s)
                results[i] = (len(s), hashlib.sha256(s).hexdigest(), zlib.crc32(zlib.decompress(packed)))

            threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for r in results:
                print(*r)

            decimal.getcontext().prec = 60
            print(decimal.Decimal(1) / decimal.Decimal(7))
            db = sqlite3.connect(":memory:")
            db.execute("create table t(x)")
            db.executemany("insert into t values (?)", [(i,) for i in range(20000)])
            print(db.execute("select sum(x), count(*) from t").fetchone())
            print(ctypes.c_int(42).value, ctypes.sizeof(ctypes.c_double), ctypes.CDLL(None).strlen(b"memtrace"))
            """
        let directory = try makeTemporaryDirectory("memtrace-python")
        defer { try? FileManager.default.removeItem(at: directory) }
        let scriptPath = directory.appendingPathComponent("work.py").path
        try script.write(toFile: scriptPath, atomically: false, encoding: .utf8)
        // The pyenv shims on PATH set these; Debian's interpreter must not see them.
        let environment: [String: String?] = ["PYTHONPATH": nil, "PYTHONHOME": nil, "PYENV_VERSION": nil]
        let run = try compare(python, ["-I", scriptPath], environment: environment)
        XCTAssertEqual(run.stdoutText.split(separator: "\n").count, 8 + 3, run.stdoutText)
        XCTAssertTrue(run.stdoutText.hasSuffix("(199990000, 20000)\n42 8 8\n"), run.stdoutText)

        let snapshots = try checkSnapshots(in: run.directory, program: python)
        XCTAssertEqual(snapshots.count, 1, names(snapshots))
        XCTAssertEqual(snapshots.filter { exeName($0).hasPrefix("python3") }.count, 1, names(snapshots))
        let snapshot = try XCTUnwrap(snapshots.first)
        // The extension modules were loaded (zlib is built into Debian's interpreter) ...
        func module(_ prefix: String) -> Snapshot.Module? {
            snapshot.modules.first { ($0.path as NSString).lastPathComponent.hasPrefix(prefix) }
        }
        for name in ["_json", "_hashlib", "_decimal", "_sqlite3", "_ctypes", "libsqlite3", "libcrypto", "libffi"] {
            XCTAssertNotNil(module(name), "no module \(name) in \(snapshot.modules.map(\.path))")
        }
        // ... and the libraries they brought in, which call malloc directly, are
        // on the recorded stacks.
        for name in ["libsqlite3", "libcrypto"] {
            guard let library = module(name) else { continue }
            let seen = snapshot.stackStats.contains { stat in
                snapshot.stacks[Int(stat.stack)].pcs.contains { pc in library.segments.contains { $0.contains(pc) } }
            }
            XCTAssertTrue(seen, "no allocation from \(library.path)")
        }
        XCTAssertGreaterThan(snapshot.totals.peakBytes, 1 << 20)
    }

    /// Where the tracer stands in for the default action of SIGINT and SIGTERM, python3 still
    /// sees SIG_DFL: its Ctrl-C handler (KeyboardInterrupt) and its own handlers work as untraced,
    /// and a child it starts that SIGTERM ends leaves a termination snapshot.
    func testPython3SignalsKeepTheirMeaning() throws {
        let python = try requireProgram("/usr/bin/python3")
        let script = """
            import os, signal, subprocess, sys, time
            print(signal.getsignal(signal.SIGINT).__name__, signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(10)
                print("no KeyboardInterrupt")
            except KeyboardInterrupt:
                print("KeyboardInterrupt")
            handled = []
            signal.signal(signal.SIGTERM, lambda signum, frame: handled.append(signum))
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.01)
            print("handled", handled)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
            child = subprocess.run([sys.executable, "-I", "-c", "import os, signal; b = bytearray(5555); os.kill(os.getpid(), signal.SIGTERM)"])
            print("child", child.returncode)
            """
        let environment: [String: String?] = ["PYTHONPATH": nil, "PYTHONHOME": nil, "PYENV_VERSION": nil]
        let run = try compare(python, ["-I", "-c", script], environment: environment)
        XCTAssertEqual(
            run.stdoutText,
            "default_int_handler True\nKeyboardInterrupt\nhandled [15]\nTrue\nchild -15\n")
        let snapshots = try checkSnapshots(in: run.directory, program: python, triggers: [.exit, .termination])
        XCTAssertEqual(snapshots.last?.process["signal"], "SIGTERM")
    }

    /// The snapshot signal's handler is hidden as the stand-ins are: python3 sees SIG_DFL for
    /// SIGUSR2, and bash's `trap - USR2`, which puts back what bash found at its start, leaves
    /// the default action, so the SIGUSR2 that follows ends the shell as it does untraced (it
    /// took a snapshot instead while bash could see the handler).
    func testTheSnapshotSignalKeepsItsMeaningForPrograms() throws {
        let bash = try requireProgram("/usr/bin/bash")
        _ = try requireProgram("/usr/bin/python3")
        let script = """
            bash -c 'trap - USR2; kill -USR2 $$; echo survived' 2>/dev/null; echo "status $?"
            /usr/bin/python3 -I -c 'import signal; print(signal.getsignal(signal.SIGUSR2) == signal.SIG_DFL)'
            """
        let run = try compare(bash, ["-c", script])
        XCTAssertEqual(run.stdoutText, "status \(128 + SIGUSR2)\nTrue\n")
        // A child the tracer does not follow (MEMTRACE_FOLLOW_FORK=0) gets the disposition back:
        // SIGUSR2 ends it (it was caught, and ignored, by the handler of a tracer no longer there).
        let child = """
            import os, signal, time
            pid = os.fork()
            if pid == 0:
                os.kill(os.getpid(), signal.SIGUSR2)
                time.sleep(0.5)
                os._exit(0)
            print(os.waitpid(pid, 0)[1])
            """
        let forked = try compare("/usr/bin/python3", ["-I", "-c", child], environment: ["MEMTRACE_FOLLOW_FORK": "0"])
        XCTAssertEqual(forked.stdoutText, "\(SIGUSR2)\n")
    }

    /// A program that takes the snapshot signal over has it (python3's handler runs, no snapshot
    /// comes), and the tracer's handler moves to SIGRTMIN+6, hidden as well: that signal takes
    /// the snapshot.
    func testTheSnapshotSignalMovesWhenTheProgramTakesItOver() throws {
        let python = try requireProgram("/usr/bin/python3")
        let script = """
            import os, signal, time
            signal.signal(signal.SIGUSR2, lambda *a: print("handled"))
            os.kill(os.getpid(), signal.SIGUSR2)
            spare = signal.SIGRTMIN + 6
            print(signal.getsignal(spare) == signal.SIG_DFL)
            if "libtrace" in os.environ.get("LD_PRELOAD", ""):  # a snapshot, please
                os.kill(os.getpid(), spare)
                time.sleep(0.3)
            print("done")
            """
        let run = try compare(python, ["-I", "-c", script])
        XCTAssertEqual(run.stdoutText, "handled\nTrue\ndone\n")
        try checkSnapshots(in: run.directory, program: python, triggers: [.signal, .exit])
    }

    /// Entering a user namespace needs a single-threaded process, so the tracer's helper thread
    /// steps aside for unshare() and setns(): `unshare -r` ran into EINVAL traced. After the call
    /// the helper is back: the program's SIGUSR2 still takes a snapshot.
    func testUnshareIntoAUserNamespace() throws {
        let unshare = try requireProgram("/usr/bin/unshare")
        let python = try requireProgram("/usr/bin/python3")
        guard try runProcess(unshare, ["-r", "true"]).status == 0 else {
            throw XCTSkip("user namespaces are not available here")
        }
        let script = """
            import ctypes, os, signal, time
            libc = ctypes.CDLL(None, use_errno=True)
            print(libc.unshare(0x10000000), ctypes.get_errno())  # CLONE_NEWUSER
            if "libtrace" in os.environ.get("LD_PRELOAD", ""):  # a snapshot, please
                os.kill(os.getpid(), signal.SIGUSR2)
                time.sleep(0.3)
            print("done")
            """
        let run = try compare(unshare, ["-r", "/usr/bin/id", "-u"])
        XCTAssertEqual(run.stdoutText, "0\n")
        // A new pid namespace too: the process that made it may start no thread, and the helper
        // it tried to start again warned "cannot start the snapshot thread: Invalid argument".
        let pid = try compare(unshare, ["-p", "-f", "-r", "/bin/sh", "-c", "echo $$"])
        XCTAssertEqual(pid.stdoutText, "1\n")
        let inProcess = try compare(python, ["-I", "-c", script])
        XCTAssertEqual(inProcess.stdoutText, "0 0\ndone\n")
        try checkSnapshots(in: inProcess.directory, program: python, triggers: [.signal, .exit])
    }

    /// Containers that share a directory for snapshots: the main process of each is pid 1, so
    /// `%p` names them all alike and each snapshot replaced the last; `%h`, the host name of the
    /// process's own UTS namespace (a container's, a pod's), keeps them apart.
    func testTheHostNameKeepsApartTheSnapshotsOfProcessesOfOnePid() throws {
        let unshare = try requireProgram("/usr/bin/unshare")
        guard try runProcess(unshare, ["--uts", "--pid", "--fork", "/bin/true"]).status == 0 else {
            throw XCTSkip("new UTS and pid namespaces are not available here")
        }
        let directory = try makeTemporaryDirectory("memtrace-hosts")
        defer { try? FileManager.default.removeItem(at: directory) }
        for (pattern, host) in [
            ("%p.%n.snap", "box-a"), ("%p.%n.snap", "box-b"), ("%h.%p.%n.snap", "box-a"), ("%h.%p.%n.snap", "box-b"),
        ] {
            // Only the program is traced, pid 1 in its namespaces.
            let script = "hostname \(host) && LD_PRELOAD=\"$0\" MEMTRACE_OUTPUT=\"$1\" exec /bin/true"
            let run = try runProcess(
                unshare,
                [
                    "--uts", "--pid", "--fork", "/bin/sh", "-c", script, TestPaths.libtrace,
                    directory.appendingPathComponent(pattern).path,
                ])
            XCTAssertEqual(run.status, 0, run.stderrText)
            XCTAssertEqual(run.stderrText, "")
        }
        XCTAssertEqual(
            try snapshotFiles(in: directory).map { ($0 as NSString).lastPathComponent },
            [
                "1.0.snap", "box-a.1.0.snap", "box-b.1.0.snap",
            ])
        XCTAssertEqual(
            try SnapshotFile.read(path: directory.appendingPathComponent("box-b.1.0.snap").path).header.pid, 1)
    }

    /// multiprocessing's forked workers end through os._exit(): each still leaves its exit snapshot,
    /// with what it held then.
    func testPython3ForkedWorkersThatEndThroughUnderscoreExit() throws {
        let python = try requireProgram("/usr/bin/python3")
        let script = """
            import multiprocessing as mp, os
            def work(queue):
                global held
                held = bytearray(66666)
                queue.put(len(held))
            if __name__ == "__main__":
                mp.set_start_method("fork")
                queue = mp.Queue()
                worker = mp.Process(target=work, args=(queue,))
                worker.start()
                print(queue.get())
                worker.join()
                print(worker.exitcode)
            """
        let environment: [String: String?] = ["PYTHONPATH": nil, "PYTHONHOME": nil, "PYENV_VERSION": nil]
        let run = try compare(python, ["-I", "-c", script], environment: environment)
        XCTAssertEqual(run.stdoutText, "66666\n0\n")
        let snapshots = try checkSnapshots(in: run.directory, program: python)
        let workers = snapshots.filter { $0.process["exit"] == "_exit" }
        XCTAssertEqual(workers.count, 1, names(snapshots))
        let parent = snapshots.first { $0.process["exit"] == nil }
        XCTAssertEqual(workers.first?.header.ppid, parent?.header.pid)
        // The worker's bytearray (66666 bytes and its terminator) is live in its snapshot only.
        XCTAssertEqual(workers.first?.stackStats.filter { $0.liveBytes == 66667 }.count, 1)
        XCTAssertEqual(parent?.stackStats.filter { $0.liveBytes == 66667 }.count, 0)
    }

    /// python3 forking while a thread walks the module list through ctypes, with a Python callback
    /// that waits for the GIL, and another loads libraries, as periodic snapshots are taken: the
    /// tracer's thread held the snapshot lock while it waited for the loader's lock, which the walk
    /// held while it waited for the GIL, which the fork held while it waited for the snapshot
    /// lock. The module list is now read before the snapshot lock is taken.
    func testPython3ForkingWhileAThreadWalksTheModulesThroughCtypes() throws {
        let python = try requireProgram("/usr/bin/python3")
        let script = """
            import ctypes, os, subprocess, sys, threading
            stop = False
            def load():
                while not stop:
                    for name in ["libz.so.1", "libm.so.6", "libexpat.so.1", "libffi.so.8", "libsqlite3.so.0"]:
                        try: ctypes.CDLL(name)
                        except OSError: pass
            def walk():
                libc = ctypes.CDLL(None)
                visit = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)(
                    lambda info, size, data: len([0] * 50) - 50)
                while not stop:
                    libc.dl_iterate_phdr(visit, None)
            threads = [threading.Thread(target=load), threading.Thread(target=walk)]
            for t in threads: t.start()
            for i in range(150):
                pid = os.fork()
                if pid == 0:
                    held = [str(j) for j in range(1000)]
                    os._exit(0) if i % 2 else sys.exit(0)
                _, status = os.waitpid(pid, 0)
                if status: print("child", i, "status", status)
            print(subprocess.run(["sh", "-c", "echo hi"], capture_output=True, text=True).stdout, end="")
            stop = True
            for t in threads: t.join()
            print("done")
            """
        let environment: [String: String?] = [
            "PYTHONPATH": nil, "PYTHONHOME": nil, "PYENV_VERSION": nil, "MEMTRACE_INTERVAL": "0.01",
        ]
        let run = try compare(python, ["-I", "-c", script], environment: environment)
        XCTAssertEqual(run.stdoutText, "hi\ndone\n")
    }

    /// A signal sent to a child the moment it is started reaches it between fork and exec, often
    /// while it is inside the tracer; it must end the child all the same, as it does untraced, and
    /// not be lost to the exec that follows.
    func testBashKillsWhatItJustStarted() throws {
        let bash = try requireProgram("/usr/bin/bash")
        let script =
            "i=0; while [ $i -lt 20 ]; do sleep 30 & p=$!; kill -TERM $p; wait $p; printf '%s ' $?; i=$((i+1)); done"
        let run = try compare(bash, ["-c", script])
        XCTAssertEqual(run.stdoutText, String(repeating: "143 ", count: 20))
        let snapshots = try snapshotFiles(in: run.directory).map { try SnapshotFile.read(path: $0) }
        XCTAssertEqual(snapshots.filter { $0.header.trigger == .exit }.count, 1, names(snapshots))
        // A child the signal reached before its tracer started (early in exec) had nothing to write.
        let ended = snapshots.filter { $0.header.trigger == .termination }
        XCTAssertTrue((1...20).contains(ended.count), names(snapshots))
        XCTAssertTrue(ended.allSatisfy { $0.process["signal"] == "SIGTERM" }, names(snapshots))
    }

    // MARK: - 3. bash: pipelines, forks, subshells

    func testBashPipelineForksAndSubshells() throws {
        let bash = try requireProgram("/usr/bin/bash")
        for tool in ["/usr/bin/seq", "/usr/bin/sort", "/usr/bin/uniq", "/usr/bin/wc"] { _ = try requireProgram(tool) }
        let script = """
            set -e
            n=$(/usr/bin/seq 1 2000 | /usr/bin/wc -l)
            echo "lines: $n"
            /usr/bin/seq 1 3000 | /usr/bin/sort -r | while read -r x; do echo $(( x % 10 )); done \\
                | /usr/bin/sort | /usr/bin/uniq -c
            ( cd /; total=0; for i in $(/usr/bin/seq 1 50); do total=$(( total + i )); done; echo "subshell: $total" )
            echo "nested: $(echo outer $(echo inner))"
            """
        let run = try compare(bash, ["-c", script])
        XCTAssertTrue(run.stdoutText.hasPrefix("lines: 2000\n    300 0\n"), run.stdoutText)
        XCTAssertTrue(run.stdoutText.hasSuffix("subshell: 1275\nnested: outer inner\n"), run.stdoutText)

        let snapshots = try checkSnapshots(in: run.directory, program: bash)
        let pids = snapshots.map(\.header.pid)
        XCTAssertGreaterThanOrEqual(snapshots.count, 5, names(snapshots))
        XCTAssertEqual(Set(pids).count, pids.count, "one exit snapshot per process: \(names(snapshots))")
        let exes = Set(snapshots.map(exeName))
        for expected in ["bash", "seq", "sort", "uniq", "wc"] {
            XCTAssertTrue(exes.contains(expected), "no snapshot from \(expected) among \(exes.sorted())")
        }
        // Forked subshells have pids of their own and report the bash that forked them as parent.
        let bashes = snapshots.filter { exeName($0) == "bash" }
        XCTAssertGreaterThan(bashes.count, 1, names(snapshots))
        let bashPids = Set(bashes.map(\.header.pid))
        XCTAssertTrue(
            bashes.contains { bashPids.contains($0.header.ppid) }, "no bash child of bash: \(names(snapshots))")
    }

    // MARK: - 4. gcc and the programs it executes

    func testGccCompilesThroughItsSubprocesses() throws {
        let gcc = try requireProgram("/usr/bin/gcc")
        let source = """
            #include <stdio.h>
            #include <stdlib.h>
            #include <string.h>

            static unsigned long fib(unsigned n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

            int main(void) {
                unsigned long *v = malloc(30 * sizeof *v);
                for (unsigned i = 0; i < 30; i++) v[i] = fib(i);
                char *s = strdup("memtrace");
                printf("fib(29) = %lu, %s\\n", v[29], s);
                free(s);
                free(v);
                return 0;
            }
            """
        let work = try makeTemporaryDirectory("memtrace-gcc-src")
        defer { try? FileManager.default.removeItem(at: work) }
        let sourcePath = work.appendingPathComponent("hello.c").path
        try source.write(toFile: sourcePath, atomically: false, encoding: .utf8)
        let untracedBinary = work.appendingPathComponent("hello-untraced").path
        let tracedBinary = work.appendingPathComponent("hello-traced").path

        let run = try compare(
            gcc, ["-O2", "-o", untracedBinary, sourcePath], tracedArguments: ["-O2", "-o", tracedBinary, sourcePath],
            environment: ["TMPDIR": work.path])
        for binary in [untracedBinary, tracedBinary] {
            let result = try runProcess("/usr/bin/timeout", ["-k", "5", "60", binary])
            XCTAssertEqual(result.status, 0, binary)
            XCTAssertEqual(result.stdoutText, "fib(29) = 514229, memtrace\n", binary)
        }

        let snapshots = try checkSnapshots(in: run.directory, program: gcc)
        let exes = snapshots.map(exeName)
        // Names vary with the toolchain (x86_64-linux-gnu-as, x86_64-linux-gnu-ld.bfd,
        // collect2, ...): look for a name component.
        func hasTool(_ tool: String) -> Bool {
            exes.contains { $0.split(whereSeparator: { "-.".contains($0) }).contains { $0 == tool } }
        }
        XCTAssertTrue(exes.contains { $0.hasPrefix("cc1") }, "no cc1 snapshot among \(exes)")
        XCTAssertTrue(hasTool("as"), "no assembler snapshot among \(exes)")
        XCTAssertTrue(hasTool("ld"), "no linker snapshot among \(exes)")
        XCTAssertEqual(Set(snapshots.map(\.header.pid)).count, snapshots.count, "\(exes)")
    }

    // MARK: - 5. sort with threads

    func testParallelSort() throws {
        let sort = try requireProgram("/usr/bin/sort")
        let directory = try makeTemporaryDirectory("memtrace-sort-input")
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("numbers.txt")
        var text = ""
        text.reserveCapacity(300_000 * 8)
        for i in 0..<300_000 {
            text += String((i * 2_654_435_761) % 1_000_003 - 500_000)
            text += "\n"
        }
        try text.write(to: input, atomically: false, encoding: .utf8)

        let run = try compare(sort, ["--parallel=2", "-S", "10M", "-T", directory.path, "-n", input.path])
        let lines = run.stdout.split(separator: UInt8(ascii: "\n"))
        XCTAssertEqual(lines.count, 300_000)
        XCTAssertEqual(lines.first.map { String(decoding: $0, as: UTF8.self) }, "-500000")

        let snapshots = try checkSnapshots(in: run.directory, program: sort)
        XCTAssertEqual(snapshots.count, 1, names(snapshots))
        XCTAssertGreaterThan(try XCTUnwrap(snapshots.first).totals.peakBytes, 1 << 20)
    }

    // MARK: - 6. MEMTRACE_FOLLOW_EXEC

    /// bash starts sqlite3 with `execve` after a fork. By default both are
    /// traced; with MEMTRACE_FOLLOW_EXEC=0 only bash is.
    ///
    /// The command must not be a lone simple command: `bash -c 'CMD'` execs CMD
    /// in place, without forking, and bash would then never exit and never
    /// write a snapshot. The trailing `echo` makes bash fork, wait and exit.
    ///
    /// bash exports its own `getenv`, `setenv` and `unsetenv`, which work on
    /// its shell variables; it builds each child's environment from those
    /// variables, imported from `envp` in `main`. Removing `LD_PRELOAD` for
    /// MEMTRACE_FOLLOW_EXEC=0 therefore has to edit the environment block
    /// itself (libc's `unsetenv`, not whichever one symbol lookup finds first)
    /// before bash's `main` runs.
    func testFollowExecThroughBash() throws {
        let bash = try requireProgram("/usr/bin/bash")
        _ = try requireProgram("/usr/bin/sqlite3")
        let command = #"/usr/bin/sqlite3 :memory: "select 1"; echo "status $?""#

        let followed = try compare(bash, ["-c", command])
        XCTAssertEqual(followed.stdoutText, "1\nstatus 0\n")
        let both = try checkSnapshots(in: followed.directory, program: bash)
        XCTAssertEqual(both.map(exeName).sorted(), ["bash", "sqlite3"], names(both))

        let notFollowed = try compare(bash, ["-c", command], environment: ["MEMTRACE_FOLLOW_EXEC": "0"])
        XCTAssertEqual(notFollowed.stdoutText, "1\nstatus 0\n")
        let bashOnly = try checkSnapshots(in: notFollowed.directory, program: bash)
        XCTAssertEqual(
            bashOnly.map(exeName), ["bash"],
            "MEMTRACE_FOLLOW_EXEC=0, yet the program bash executed was traced: \(names(bashOnly))")
    }

    /// The same through a program that keeps its environment in libc's
    /// `environ` (Python's subprocess builds the child's environment from
    /// `os.environ`, which is read from `environ` at start-up).
    func testFollowExecThroughPython() throws {
        let python = try requireProgram("/usr/bin/python3")
        _ = try requireProgram("/usr/bin/sqlite3")
        let script = #"import subprocess; subprocess.run(["/usr/bin/sqlite3", ":memory:", "select 1"], check=True)"#
        let environment: [String: String?] = ["PYTHONPATH": nil, "PYTHONHOME": nil]

        let followed = try compare(python, ["-I", "-c", script], environment: environment)
        XCTAssertEqual(followed.stdoutText, "1\n")
        let both = try checkSnapshots(in: followed.directory, program: python)
        XCTAssertEqual(
            both.map(exeName).map { $0.hasPrefix("python3") ? "python3" : $0 }.sorted(), ["python3", "sqlite3"])

        var quiet = environment
        quiet["MEMTRACE_FOLLOW_EXEC"] = "0"
        let notFollowed = try compare(python, ["-I", "-c", script], environment: quiet)
        XCTAssertEqual(notFollowed.stdoutText, "1\n")
        let pythonOnly = try checkSnapshots(in: notFollowed.directory, program: python)
        XCTAssertEqual(pythonOnly.count, 1, names(pythonOnly))
        XCTAssertTrue(pythonOnly.allSatisfy { exeName($0).hasPrefix("python3") }, names(pythonOnly))
    }

    // MARK: - 7. allocator statistics: jemalloc and glibc

    /// Allocates and frees a known set of blocks between two API snapshots.
    private static let allocatorFixture = """
        #include <stdio.h>
        #include <stdlib.h>
        #include "memtrace.h"

        enum { SMALL = 1000, BIG = 10 };
        /* The Swift test computes the same sizes: keep the formulas in step. */
        static size_t small_size(long i) { return 1 + (size_t)((i * 7919) % 4000); }
        static size_t big_size(long i) { return 100 * 1024 + (size_t)i * 300 * 1024; }

        static void *small[SMALL], *big[BIG];

        int main(void) {
            if (memtrace_snapshot(NULL) != 0) { perror("memtrace_snapshot"); return 1; }
            /* Nothing but these blocks may be allocated or freed until the next snapshot. */
            for (long i = 0; i < SMALL; i++) small[i] = malloc(small_size(i));
            for (long i = 0; i < BIG; i++) big[i] = malloc(big_size(i));
            for (long i = 0; i < SMALL; i += 3) { free(small[i]); small[i] = NULL; }
            for (long i = 0; i < BIG; i += 3) { free(big[i]); big[i] = NULL; }
            for (long i = 0; i < SMALL; i++) if (small[i]) ((volatile char *)small[i])[0] = 1;
            if (memtrace_snapshot(NULL) != 0) { perror("memtrace_snapshot"); return 1; }
            unsigned long live = 0;
            for (long i = 0; i < SMALL; i++) if (small[i]) live += small_size(i);
            for (long i = 0; i < BIG; i++) if (big[i]) live += big_size(i);
            printf("%lu\\n", live);
            return 0;
        }
        """

    /// The requested bytes the fixture keeps live, by the fixture's formulas.
    private static var fixtureLiveBytes: UInt64 {
        var live: UInt64 = 0
        for i in 0..<1000 where i % 3 != 0 { live += 1 + UInt64((i * 7919) % 4000) }
        for i in 0..<10 where i % 3 != 0 { live += 100 * 1024 + UInt64(i) * 300 * 1024 }
        return live
    }

    private func runAllocatorFixture(
        preload: String, environment: [String: String?] = [:]
    ) throws -> (
        before: Snapshot, after: Snapshot
    ) {
        try requireTracer()
        let build = try makeTemporaryDirectory("memtrace-allocator-fixture")
        defer { try? FileManager.default.removeItem(at: build) }
        let sourcePath = build.appendingPathComponent("allocator.c").path
        try Self.allocatorFixture.write(toFile: sourcePath, atomically: false, encoding: .utf8)
        let binary = try compile(source: sourcePath, output: "allocator", in: build)

        let output = try makeTemporaryDirectory("memtrace-allocator")
        addTeardownBlock { try? FileManager.default.removeItem(at: output) }
        var env = environment
        env["MEMTRACE_OUTPUT"] = output.appendingPathComponent("%e.%p.%n.snap").path
        let result = try runProcess(
            "/usr/bin/timeout", ["-k", "5", "60", "/usr/bin/env", "LD_PRELOAD=\(preload)", binary], environment: env)
        XCTAssertEqual(result.status, 0, result.stderrText)
        XCTAssertEqual(result.stdoutText, "\(Self.fixtureLiveBytes)\n")
        assertNoTracerMessages(result.stderrText, "allocator fixture")

        let snapshots = try checkSnapshots(in: output, program: binary, triggers: [.api, .api, .exit])
        XCTAssertEqual(snapshots.map(\.header.sequence), [0, 1, 2])
        guard snapshots.count == 3 else { throw SupportError("expected 3 snapshots, got \(names(snapshots))") }
        return (snapshots[0], snapshots[1])
    }

    func testJemallocStatisticsMatchTracedBlocks() throws {
        let jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
        guard FileManager.default.fileExists(atPath: jemalloc) else {
            throw XCTSkip("\(jemalloc) is not installed (Debian package libjemalloc2)")
        }
        // jemalloc's thread cache keeps freed blocks, and blocks prefetched in
        // batches, counted in stats.allocated: with it on, stats.allocated
        // moves by whole cache fills and flushes, not by the blocks the
        // program holds (here it was 436,936 bytes above the traced figure).
        // Without it every malloc and free reaches the arena's counters, which
        // count a block's usable size, exactly what malloc_usable_size reports.
        let (before, after) = try runAllocatorFixture(
            preload: "\(TestPaths.libtrace) \(jemalloc)", environment: ["MALLOC_CONF": "tcache:false"])

        for snapshot in [before, after] {
            XCTAssertEqual(snapshot.allocator?.kind, .jemalloc, snapshot.path)
            XCTAssertTrue(snapshot.modules.contains { $0.path.hasSuffix("/libjemalloc.so.2") }, snapshot.path)
        }
        let allocatedBefore = try XCTUnwrap(before.allocator?["stats.allocated"])
        let allocatedAfter = try XCTUnwrap(after.allocator?["stats.allocated"])
        let usableDelta = Int64(after.totals.liveUsableBytes) - Int64(before.totals.liveUsableBytes)
        XCTAssertEqual(usableDelta, Int64(allocatedAfter) - Int64(allocatedBefore))
        XCTAssertEqual(Int64(after.totals.liveBytes) - Int64(before.totals.liveBytes), Int64(Self.fixtureLiveBytes))
        XCTAssertEqual(after.totals.liveBlocks - before.totals.liveBlocks, 666 + 6)
        XCTAssertEqual(after.totals.allocCalls - before.totals.allocCalls, 1010)
        XCTAssertEqual(after.totals.freeCalls - before.totals.freeCalls, 334 + 4)
    }

    func testGlibcStatistics() throws {
        let (before, after) = try runAllocatorFixture(preload: TestPaths.libtrace)
        for snapshot in [before, after] {
            XCTAssertEqual(snapshot.allocator?.kind, .glibc, snapshot.path)
            XCTAssertNotNil(snapshot.allocator?["uordblks"], "\(snapshot.allocator?.values.map(\.name) ?? [])")
        }
        XCTAssertEqual(Int64(after.totals.liveBytes) - Int64(before.totals.liveBytes), Int64(Self.fixtureLiveBytes))
        // glibc's usable size is the request rounded up to its 16-byte chunks, less 8.
        XCTAssertGreaterThanOrEqual(after.totals.liveUsableBytes - before.totals.liveUsableBytes, Self.fixtureLiveBytes)
    }

    // MARK: - 8. linkage

    func testTracerLinksOnlyAgainstLibcAndLibunwind() throws {
        try requireTracer()
        let readelf = try requireProgram("/usr/bin/readelf")
        let dynamic = try runProcess(readelf, ["-d", "-W", TestPaths.libtrace])
        XCTAssertEqual(dynamic.status, 0, dynamic.stderrText)
        let needed = dynamic.stdoutText.split(separator: "\n").filter { $0.contains("(NEEDED)") }.compactMap {
            line -> String? in
            guard let open = line.firstIndex(of: "["), let close = line.lastIndex(of: "]") else { return nil }
            return String(line[line.index(after: open)..<close])
        }
        XCTAssertFalse(needed.isEmpty, dynamic.stdoutText)
        let allowed: Set = ["libc.so.6", "libunwind.so.8", "libdl.so.2", "libpthread.so.0", "ld-linux-x86-64.so.2"]
        XCTAssertTrue(Set(needed).isSubset(of: allowed), "libtrace.so needs \(needed)")
        for forbidden in ["libswiftCore", "libstdc++", "libgcc_s", "libFoundation", "libdispatch"] {
            XCTAssertFalse(needed.contains { $0.contains(forbidden) }, "libtrace.so needs \(forbidden): \(needed)")
        }
        XCTAssertFalse(dynamic.stdoutText.contains("(RUNPATH)"), dynamic.stdoutText)
        XCTAssertFalse(dynamic.stdoutText.contains("(RPATH)"), dynamic.stdoutText)

        let nm = try requireProgram("/usr/bin/nm")
        let tracerSymbols = try definedDynamicSymbols(nm: nm, TestPaths.libtrace)
        for symbol in ["malloc", "free", "calloc", "realloc", "memtrace_impl_snapshot"] {
            XCTAssertTrue(tracerSymbols.contains(symbol), "libtrace.so does not define \(symbol)")
        }
        // The analyser must never trace itself: it may not define the allocator.
        if FileManager.default.fileExists(atPath: TestPaths.memtrace) {
            let symbols = try definedDynamicSymbols(nm: nm, TestPaths.memtrace)
            for symbol in ["malloc", "free", "calloc", "realloc"] {
                XCTAssertFalse(symbols.contains(symbol), "\(TestPaths.memtrace) defines \(symbol)")
            }
        }
    }

    private func definedDynamicSymbols(nm: String, _ path: String) throws -> Set<String> {
        let result = try runProcess(nm, ["-D", "--defined-only", path])
        XCTAssertEqual(result.status, 0, result.stderrText)
        return Set(
            result.stdoutText.split(separator: "\n").compactMap { line in
                line.split(separator: " ").last.map { String($0.split(separator: "@").first ?? $0) }
            })
    }

    // MARK: - running programs

    /// What `compare` found: the traced run's output and the directory holding its snapshots.
    struct Comparison {
        var stdout: Data
        var status: Int32
        var directory: URL
        var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    }

    private static let timeoutSeconds = "120"

    /// Runs `program` untraced, then traced with its snapshots going to a fresh
    /// directory, and checks that tracing changed nothing the program shows.
    private func compare(
        _ program: String, _ arguments: [String], tracedArguments: [String]? = nil,
        environment: [String: String?] = [:], file: StaticString = #filePath, line: UInt = #line
    ) throws -> Comparison {
        try requireTracer()
        let directory = try makeTemporaryDirectory("memtrace-real")
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        let cwd = try makeTemporaryDirectory("memtrace-real-cwd")
        addTeardownBlock { try? FileManager.default.removeItem(at: cwd) }

        let untraced = try runProcess(
            "/usr/bin/timeout", ["-k", "5", Self.timeoutSeconds, program] + arguments, environment: environment,
            directory: cwd)
        var tracedEnvironment = environment
        tracedEnvironment["MEMTRACE_OUTPUT"] = directory.appendingPathComponent("%e.%p.%n.snap").path
        let traced = try runProcess(
            "/usr/bin/timeout",
            ["-k", "5", Self.timeoutSeconds, "/usr/bin/env", "LD_PRELOAD=\(TestPaths.libtrace)", program]
                + (tracedArguments ?? arguments), environment: tracedEnvironment, directory: cwd)

        let what = ([program] + arguments).joined(separator: " ").prefix(200)
        XCTAssertNotEqual(untraced.status, 124, "untraced \(what) timed out", file: file, line: line)
        XCTAssertNotEqual(traced.status, 124, "traced \(what) timed out", file: file, line: line)
        XCTAssertEqual(untraced.status, 0, "untraced \(what): \(untraced.stderrText)", file: file, line: line)
        XCTAssertEqual(traced.status, untraced.status, "exit status of \(what)", file: file, line: line)
        if traced.stdout != untraced.stdout {
            XCTFail(
                """
                traced \(what) printed different output (\(traced.stdout.count) bytes, untraced \(untraced.stdout.count)):
                --- untraced
                \(untraced.stdoutText.prefix(2000))
                --- traced
                \(traced.stdoutText.prefix(2000))
                """, file: file, line: line)
        }
        assertNoTracerMessages(traced.stderrText, String(what), file: file, line: line)
        return Comparison(stdout: traced.stdout, status: traced.status, directory: directory)
    }

    private func assertNoTracerMessages(
        _ stderr: String, _ what: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        let messages = stderr.split(separator: "\n").filter { $0.hasPrefix("memtrace:") }
        XCTAssertTrue(messages.isEmpty, "the tracer complained running \(what):\n\(stderr)", file: file, line: line)
    }

    private func requireProgram(_ path: String) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: path) else { throw XCTSkip("\(path) is not installed") }
        return path
    }

    private func requireTracer() throws {
        guard FileManager.default.fileExists(atPath: TestPaths.libtrace) else {
            throw SupportError("\(TestPaths.libtrace) does not exist: run `make tracer` (or set MEMTRACE_LIB)")
        }
    }

    // MARK: - checking snapshots

    /// Reads every snapshot in `directory` and checks what must hold for any
    /// snapshot; `program` must be among the processes that wrote them, and
    /// `triggers`, when given, lists each snapshot's trigger in file-name order.
    @discardableResult private func checkSnapshots(
        in directory: URL, program: String, triggers: [Snapshot.Trigger]? = nil, file: StaticString = #filePath,
        line: UInt = #line
    ) throws -> [Snapshot] {
        let paths = try snapshotFiles(in: directory).sorted { fileNameOrder($0, $1) }
        XCTAssertFalse(paths.isEmpty, "no snapshot in \(directory.path)", file: file, line: line)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
            !$0.hasSuffix(".snap")
        }
        XCTAssertEqual(leftovers, [], "temporary files left behind", file: file, line: line)
        if let triggers { XCTAssertEqual(paths.count, triggers.count, "\(paths)", file: file, line: line) }

        var snapshots: [Snapshot] = []
        for (index, path) in paths.enumerated() {
            let snapshot = try SnapshotFile.read(path: path)
            let expected = triggers.flatMap { index < $0.count ? $0[index] : nil } ?? .exit
            check(snapshot, trigger: expected, file: file, line: line)
            snapshots.append(snapshot)
        }

        let real = URL(fileURLWithPath: program).resolvingSymlinksInPath().path
        let mine = snapshots.filter { $0.process["exe"] == real }
        XCTAssertFalse(mine.isEmpty, "no snapshot from \(real) among \(names(snapshots))", file: file, line: line)
        if real.hasPrefix("/usr/bin/"), let snapshot = mine.first,
            let module = snapshot.modules.first(where: { $0.path == real }),
            let readelf = try? runProcess("/usr/bin/readelf", ["-n", real])
        {
            XCTAssertTrue(
                readelf.stdoutText.contains("Build ID: \(module.buildIDHex)\n"),
                "build-id \(module.buildIDHex) of \(real) is not the file's:\n\(readelf.stdoutText)", file: file,
                line: line)
        }
        return snapshots
    }

    private func check(_ snapshot: Snapshot, trigger: Snapshot.Trigger, file: StaticString, line: UInt) {
        let name = (snapshot.path as NSString).lastPathComponent
        let header = snapshot.header
        let totals = snapshot.totals
        XCTAssertEqual(header.trigger, trigger, name, file: file, line: line)

        // %e.%p.%n.snap; the executable's name may hold dots (python3.11, ld.bfd).
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count >= 4 {
            XCTAssertEqual(UInt32(parts[parts.count - 3]), header.pid, "pid in \(name)", file: file, line: line)
            XCTAssertEqual(
                UInt64(parts[parts.count - 2]), header.sequence, "sequence in \(name)", file: file, line: line)
            XCTAssertEqual(
                parts[..<(parts.count - 3)].joined(separator: "."), exeName(snapshot), "exe in \(name)", file: file,
                line: line)
        } else {
            XCTFail("unexpected snapshot name \(name)", file: file, line: line)
        }

        XCTAssertLessThanOrEqual(totals.liveBytes, totals.peakBytes, name, file: file, line: line)
        XCTAssertGreaterThanOrEqual(totals.allocCalls, totals.freeCalls, name, file: file, line: line)
        if totals.allocCalls >= totals.freeCalls {
            XCTAssertEqual(
                totals.allocCalls - totals.freeCalls, totals.liveBlocks, "allocations less releases in \(name)",
                file: file, line: line)
        }
        XCTAssertGreaterThanOrEqual(totals.liveUsableBytes, totals.liveBytes, name, file: file, line: line)
        XCTAssertEqual(totals.lostAllocations, 0, name, file: file, line: line)
        XCTAssertEqual(totals.stackCount, UInt64(snapshot.stacks.count), name, file: file, line: line)
        XCTAssertEqual(
            snapshot.stackStats.reduce(0) { $0 + $1.liveBytes }, totals.liveBytes, "stack live bytes in \(name)",
            file: file, line: line)
        XCTAssertEqual(
            snapshot.stackStats.reduce(0) { $0 + $1.liveCount }, totals.liveBlocks, "stack live counts in \(name)",
            file: file, line: line)
        XCTAssertTrue(
            snapshot.stackStats.allSatisfy { Int($0.stack) < snapshot.stacks.count }, "stack ids in \(name)",
            file: file, line: line)

        XCTAssertTrue(header.hasBlocks, name, file: file, line: line)
        if let blocks = snapshot.blocks {
            XCTAssertEqual(UInt64(blocks.count), totals.liveBlocks, "blocks in \(name)", file: file, line: line)
            XCTAssertEqual(
                blocks.reduce(0) { $0 + $1.size }, totals.liveBytes, "block bytes in \(name)", file: file, line: line)
            XCTAssertTrue(
                blocks.allSatisfy { Int($0.stack) < snapshot.stacks.count }, "block stack ids in \(name)", file: file,
                line: line)
        } else {
            XCTFail("no BLOCKS section in \(name)", file: file, line: line)
        }

        let exe = snapshot.process["exe"] ?? ""
        XCTAssertTrue(exe.hasPrefix("/"), "exe \(exe) in \(name)", file: file, line: line)
        if let module = snapshot.modules.first(where: { $0.path == exe }) {
            if exe.hasPrefix("/usr/") {
                XCTAssertFalse(module.buildID.isEmpty, "no build-id for \(exe) in \(name)", file: file, line: line)
            }
            XCTAssertFalse(module.segments.isEmpty, "no segments for \(exe) in \(name)", file: file, line: line)
        } else {
            XCTFail("no module \(exe) in \(name): \(snapshot.modules.map(\.path))", file: file, line: line)
        }
    }

    /// Orders snapshot paths by pid, then by sequence number, numerically.
    private func fileNameOrder(_ a: String, _ b: String) -> Bool {
        func key(_ path: String) -> (Int, Int, String) {
            let parts = (path as NSString).lastPathComponent.split(separator: ".")
            guard parts.count >= 4 else { return (0, 0, path) }
            return (Int(parts[parts.count - 3]) ?? 0, Int(parts[parts.count - 2]) ?? 0, path)
        }
        return key(a) < key(b)
    }

    private func exeName(_ snapshot: Snapshot) -> String {
        ((snapshot.process["exe"] ?? "") as NSString).lastPathComponent
    }

    private func names(_ snapshots: [Snapshot]) -> String {
        snapshots.map { ($0.path as NSString).lastPathComponent }.joined(separator: ", ")
    }
}
