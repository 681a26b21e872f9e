import Foundation
import XCTest
import _MemtraceTestSupport

/// Programs written in C++, Rust and Swift, traced end to end: their sites at their own lines,
/// under their own names (Rust's v0 names and Swift's demangled), past the allocation layers of
/// their standard libraries (Rust's `alloc::alloc`, Swift's allocating initializers and runtime)
/// and the standard libraries' containers (`std::vector`, `Vec`, `Array`).
final class LanguageTests: XCTestCase {
    /// One group of `top --by traceback --format json`: its figures and the frames in `file`.
    struct Group {
        var size: Int
        var count: Int
        var frames: [(function: String, file: String, line: Int)]

        func own(_ file: String) -> [String] {
            frames.filter { $0.file == file }.map { "\($0.function) \($0.line)" }
        }
    }

    func groups(_ work: Workspace, _ snapshot: String, metric: String = "live") throws -> [Group] {
        let top = try work.memtrace([
            "top", snapshot, "--by", "traceback", "--metric", metric, "--limit", "0", "--format", "json",
        ])
        XCTAssertEqual(top.status, 0, top.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(top.stdout.utf8)) as? [String: Any])
        let stats = try XCTUnwrap(object["stats"] as? [[String: Any]])
        return stats.map { stat in
            let frames = (stat["frames"] as? [[String: Any]] ?? []).map {
                ($0["function"] as? String ?? "", $0["file"] as? String ?? "", $0["line"] as? Int ?? 0)
            }
            return Group(size: stat["size"] as? Int ?? -1, count: stat["count"] as? Int ?? -1, frames: frames)
        }
    }

    /// Builds the fixture `source`, runs it under `memtrace run`, and gives its exit snapshot.
    func traced(_ source: String) throws -> (Workspace, String) {
        let name = String(source[..<source.lastIndex(of: ".")!])
        let work = try Workspace(name)
        try work.build(source)
        let run = try work.memtrace(["run", "--", "./" + name])
        XCTAssertEqual(run.status, 0, run.stderr)
        return (work, try XCTUnwrap(try work.snapshots().last))
    }

    /// A program linked from gcc's objects (with .debug_aranges) and a clang object (without):
    /// libdw's table gives the clang function's address to the gcc unit before it, which has no
    /// line for it; the units' own ranges name the right one.
    func testProgramOfGccAndClangObjects() throws {
        let clang = try XCTUnwrap(toolOnPath("clang"), "clang (it comes with the Swift toolchain)")
        let work = try Workspace("mixed")
        let sources = [
            "a.c": """
            #include <stdlib.h>
            void *from_clang(int n);
            void *keep[2];
            __attribute__((noinline)) void *from_gcc(int n) { return malloc(n); }
            int main(void) { keep[0] = from_gcc(100); keep[1] = from_clang(200); return 0; }
            """,
            "b.c": """
            #include <stdlib.h>
            __attribute__((noinline)) void *from_clang(int n) {
                return malloc(n);
            }
            """,
            "c.c": "int later(int x) { return x * 3; }\n",
        ]
        for (name, text) in sources {
            try text.write(to: work.directory.appendingPathComponent(name), atomically: false, encoding: .utf8)
            let compiler = name == "b.c" ? clang : "/usr/bin/gcc"
            let built = try runProcess(
                compiler, ["-g", "-O1", "-fno-optimize-sibling-calls", "-c", name], directory: work.directory)
            XCTAssertEqual(built.status, 0, built.stderrText)
        }
        let linked = try runProcess("/usr/bin/gcc", ["-o", "mixed", "a.o", "b.o", "c.o"], directory: work.directory)
        XCTAssertEqual(linked.status, 0, linked.stderrText)
        let run = try work.memtrace(["run", "--", "./mixed"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let top = try work.memtrace(["top", try XCTUnwrap(try work.snapshots().last), "--include", "*.c"])
        XCTAssertEqual(
            top.stdoutLines,
            [
                "b.c:3 in from_clang: size=200 B, count=1, average=200 B",
                "a.c:4 in from_gcc: size=100 B, count=1, average=100 B",
            ])
    }

    /// C++ containers, strings and `strdup` are at the program's lines, not at libstdc++'s headers
    /// (`new_allocator.h`, inlined at -O2) or its library, and their stacks keep those frames.
    func testCxxContainersAtTheProgramsLines() throws {
        let work = try Workspace("containers")
        func line(_ marker: String) throws -> Int { try work.line("containers.cpp", marker) }
        func withoutParameters(_ line: String) -> String {
            line.replacingOccurrences(of: " in fill(Kept*): ", with: " in fill: ")
        }
        func site(_ marker: String, _ function: String, _ figures: String) throws -> String {
            "containers.cpp:\(try line("SITE " + marker)) in \(function): \(figures)"
        }
        let expected = [
            try site("reserve", "fill", "size=4000 B, count=1, average=4000 B"),
            try site("grow", "fill", "size=512 B, count=1, average=512 B"),
            try site("strings", "fill", "size=505 B, count=5, average=101 B"),
            try site("map", "fill", "size=480 B, count=10, average=48 B"),
            try site("names", "fill", "size=160 B, count=1, average=160 B"),
            try site("kept", "main", "size=144 B, count=1, average=144 B"),
            try site("shared", "fill", "size=48 B, count=1, average=48 B"),
            try site("strdup", "fill", "size=13 B, count=1, average=13 B"),
        ]
        try work.build("containers.cpp")
        // -O2 inlines the containers' code from the headers into fill, and fill into main.
        let optimized = try runProcess(
            "/usr/bin/g++", ["-O2", "-g", "-o", "containers-O2", "containers.cpp"], directory: work.directory)
        XCTAssertEqual(optimized.status, 0, optimized.stderrText)
        for program in ["containers", "containers-O2"] {
            let run = try work.memtrace(["run", "-o", program + ".snap", "--", "./" + program])
            XCTAssertEqual(run.status, 0, run.stderr)
            let top = try work.memtrace(["top", program + ".snap", "--limit", "0", "--include", "*containers.cpp"])
            XCTAssertEqual(top.status, 0, top.stderr)
            // A function is named with its parameters from its symbol, without from its inlined copy.
            XCTAssertEqual(top.stdoutLines.map(withoutParameters), expected, program)
        }
        // Every block of the run has a site of the program's, and the vector's stack starts in libstdc++.
        let all = try work.memtrace(["top", "containers.snap", "--limit", "0"])
        XCTAssertEqual(all.stdoutLines.count, expected.count, all.stdout)
        let stack = try work.memtrace([
            "top", "containers.snap", "--by", "traceback", "--limit", "1", "--include",
            "*containers.cpp:\(try line("SITE reserve"))",
        ])
        XCTAssertEqual(stack.stdoutLines.first.map(withoutParameters), expected[0], stack.stdout)
        XCTAssertTrue(stack.stdoutLines.dropFirst().first?.hasPrefix("    /usr/include/c++/") == true, stack.stdout)
        // JSON says which of a whole stack's frames is the site, in top and in export.
        for arguments in [
            ["top", "containers.snap", "--by", "traceback", "--limit", "0", "--format", "json"],
            ["export", "containers.snap", "--format", "json"],
        ] {
            let json = try work.memtrace(arguments)
            XCTAssertEqual(json.status, 0, json.stderr)
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            let stacks = try XCTUnwrap((object["stats"] ?? object["stacks"]) as? [[String: Any]])
            let reserve = try XCTUnwrap(
                stacks.first { ($0["size"] ?? $0["live_bytes"]) as? Int == 4000 }, "\(arguments)")
            let frames = try XCTUnwrap(reserve["frames"] as? [[String: Any]])
            let site = try XCTUnwrap(reserve["site"] as? Int, "\(reserve)")
            XCTAssertEqual(frames[site]["line"] as? Int, try line("SITE reserve"), "\(arguments)")
            XCTAssertEqual(frames[site + 1]["function"] as? String, "main", "\(arguments)")
            XCTAssertTrue((frames[0]["file"] as? String)?.hasPrefix("/usr/include/c++/") == true, "\(frames[0])")
        }
    }

    func testRustProgram() throws {
        try XCTSkipUnless(Workspace.rustc != nil, "rustc is not installed")
        let (work, snapshot) = try traced("rustsites.rs")
        func line(_ marker: String) throws -> Int { try work.line("rustsites.rs", marker) }

        let live = try groups(work, snapshot)
        let kept = live.filter { $0.size == 4000 && $0.count == 1 }
        XCTAssertEqual(
            kept.map { $0.own("rustsites.rs") },
            [["rustsites::make_buffer \(try line("SITE buffer"))", "rustsites::main \(try line("CALL kept"))"]])
        let kept300 = live.filter { $0.size == 300 && $0.count == 1 }
        XCTAssertEqual(
            kept300.map { $0.own("rustsites.rs") },
            [["rustsites::main::{closure#1} \(try line("SITE closure"))", "rustsites::main \(try line("CALL keep"))"]])

        let total = try groups(work, snapshot, metric: "total")
        let nodes = total.filter { $0.own("rustsites.rs").first?.hasPrefix("rustsites::make_list ") == true }
        XCTAssertEqual(nodes.map(\.size), [1600])
        XCTAssertEqual(nodes.map(\.count), [100])
        XCTAssertEqual(
            nodes.first?.own("rustsites.rs"),
            ["rustsites::make_list \(try line("SITE node"))", "rustsites::main \(try line("CALL list"))"])
        // Box::new is Rust's `new`: the nodes' site is the line that called it. A Vec's and a
        // String's buffers are at the lines that made them, past RawVec and the String's own
        // functions, and the thread's handle and packet at the line that spawned it.
        let sites = try work.memtrace(["top", snapshot, "--metric", "total", "--include", "*rustsites.rs"])
        XCTAssertEqual(sites.status, 0, sites.stderr)
        let spawn = "rustsites.rs:\(try line("CALL lost")) in rustsites::main: "
        let lines = sites.stdoutLines.filter { !$0.hasPrefix(spawn) }
        XCTAssertEqual(
            lines,
            [
                "# every allocation of the run up to the snapshot, released or not (--metric total)",
                "rustsites.rs:\(try line("SITE buffer")) in rustsites::make_buffer: size=5000 B, count=2, average=2500 B",
                "rustsites.rs:\(try line("SITE node")) in rustsites::make_list: size=1600 B, count=100, average=16 B",
                // The String of 300 bytes, and the Vec it is pushed to growing to 4 Strings.
                "rustsites.rs:\(try line("SITE closure")) in rustsites::main::{closure#1}: size=396 B, count=2, average=198 B",
            ])
        XCTAssertEqual(sites.stdoutLines.count, lines.count + 1, "the thread's allocations at its spawn")
        // Every name demangled; no site inside the global allocator layer (alloc::alloc, __rust_alloc).
        for group in total {
            XCTAssertFalse(group.frames.contains { $0.function.hasPrefix("_R") || $0.function.hasPrefix("_ZN") })
            let first = try XCTUnwrap(group.frames.first)
            XCTAssertFalse(first.file.hasSuffix("library/alloc/src/alloc.rs"), "\(first)")
            XCTAssertFalse(first.function.hasPrefix("__rust_") || first.function.hasPrefix("__rdl_"), "\(first)")
        }

        // The buffer lost on a thread of its own is definitely lost, as memcheck says.
        let check = try work.memtrace(["check", "--", "./rustsites"])
        XCTAssertEqual(check.status, 23, check.stderr)
        let report = check.stdout + check.stderr
        XCTAssertTrue(report.contains("1000 bytes in 1 blocks are definitely lost"), report)
        XCTAssertTrue(
            report.contains("    rustsites.rs:\(try line("SITE buffer")) in rustsites::make_buffer\n"), report)
        XCTAssertTrue(
            report.contains("    rustsites.rs:\(try line("CALL lost")) in rustsites::main::{closure#0}\n"), report)
        XCTAssertTrue(report.contains("definitely lost: 1000 bytes in 1 blocks"), report)
    }

    func testSwiftProgram() throws {
        let (work, snapshot) = try traced("swiftsites.swift")
        func line(_ marker: String) throws -> Int { try work.line("swiftsites.swift", marker) }

        // swiftc writes no .debug_aranges: lines come from the units' own ranges. The objects'
        // site is their creation, past swift_allocObject and the class's allocating initializer.
        // The array's buffer is at the line that made it, past the standard library (libswiftCore
        // and its specializations); with it, what the runtime allocated for the first Array<Int>
        // (its metadata caches), whose sizes are the runtime's.
        let top = try work.memtrace(["top", snapshot, "--include", "*swiftsites.swift"])
        XCTAssertEqual(top.status, 0, top.stderr)
        XCTAssertEqual(
            Array(top.stdoutLines.prefix(2)),
            [
                "swiftsites.swift:\(try line("SITE buffer")) in swiftsites.makeBuffer(Swift.Int) -> "
                    + "Swift.UnsafeMutableRawPointer: size=3000 B, count=1, average=3000 B",
                "swiftsites.swift:\(try line("SITE node")) in swiftsites.makeList(Swift.Int) -> "
                    + "Swift.Optional<swiftsites.Node>: size=1600 B, count=50, average=32 B",
            ])
        XCTAssertEqual(top.stdoutLines.count, 3, top.stdout)
        XCTAssertTrue(
            top.stdoutLines.last?.hasPrefix(
                "swiftsites.swift:\(try line("SITE table")) in swiftsites.makeTable(Swift.Int) -> Swift.Array<Swift.Int>: size="
            )
                == true, top.stdout)
        let live = try groups(work, snapshot)
        XCTAssertEqual(
            live.filter { $0.size == 1600 }.map { $0.own("swiftsites.swift") },
            [
                [
                    "swiftsites.makeList(Swift.Int) -> Swift.Optional<swiftsites.Node> \(try line("SITE node"))",
                    "main \(try line("CALL list"))",
                ]
            ])
        let table = live.filter { $0.size == 832 }
        XCTAssertEqual(
            table.map { $0.own("swiftsites.swift") },
            [
                [
                    "swiftsites.makeTable(Swift.Int) -> Swift.Array<Swift.Int> \(try line("SITE table"))",
                    "main \(try line("CALL table"))",
                ]
            ])
        XCTAssertEqual(table.first?.count, 1)
        XCTAssertNotEqual(table.first?.frames.first?.file, "swiftsites.swift", "the stack keeps the library's frames")
    }
}
