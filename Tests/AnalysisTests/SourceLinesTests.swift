import Analysis
import Foundation
import SnapshotReader
import Symbolizer
import XCTest
import _MemtraceTestSupport

/// `--source`: each frame's line of source, read from the file the frame names.
final class SourceLinesTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory("memtrace-source")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("src"), withIntermediateDirectories: true)
        try "int main(void) {\n    char *p = malloc(64);   \n\t \n    return use(p);\n}"
            .write(to: directory.appendingPathComponent("src/app.c"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func frame(_ file: String, _ line: Int, in directory: String = "") -> Frame {
        Frame(function: "main", file: file, line: line, module: "/bin/app", directory: directory)
    }

    func testALineIsFoundThroughTheCompileDirectoryOrAnAbsolutePath() {
        let source = SourceLines()
        XCTAssertEqual(source.text(of: frame("src/app.c", 2, in: directory.path)), "char *p = malloc(64);")
        XCTAssertEqual(source.text(of: frame("src/app.c", 2, in: directory.path + "/")), "char *p = malloc(64);")
        XCTAssertEqual(source.text(of: frame(directory.path + "/src/app.c", 4, in: "/elsewhere")), "return use(p);")
        XCTAssertEqual(source.text(of: frame("src/app.c", 5, in: directory.path)), "}")
    }

    func testNoLineWhereThereIsNone() {
        let source = SourceLines()
        XCTAssertNil(source.text(of: frame("src/app.c", 3, in: directory.path)), "white space only")
        XCTAssertNil(source.text(of: frame("src/app.c", 6, in: directory.path)), "past the end")
        XCTAssertNil(source.text(of: frame("src/app.c", 0, in: directory.path)), "line unknown")
        XCTAssertNil(source.text(of: frame("src/missing.c", 1, in: directory.path)))
        XCTAssertNil(source.text(of: frame("", 1, in: directory.path)))
        XCTAssertNil(source.text(of: frame(directory.path + "/src", 1)), "a directory")
        // A FIFO (or /dev/stdin) would wait for a writer, or for input: only regular files are read.
        let fifo = directory.appendingPathComponent("src/fifo.c").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertNil(source.text(of: frame(fifo, 1)), "a FIFO")
    }

    func testOnlySourceIsRead() throws {
        // What a hostile snapshot could name to copy this machine's secrets into a report.
        for name in ["netrc", ".netrc", "id_ed25519", "env.txt", "key.pem", "include/.hidden"] {
            let url = directory.appendingPathComponent("src/" + name)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try "secret\n".write(to: url, atomically: true, encoding: .utf8)
            XCTAssertNil(SourceLines().text(of: frame(url.path, 1)), name)
        }
        XCTAssertNil(SourceLines().text(of: frame("/proc/self/environ", 1)))
        XCTAssertNil(SourceLines().text(of: frame("/proc/self/status", 1)))
        // Neither through `..` nor through a link with a source's name.
        XCTAssertNil(SourceLines().text(of: frame("/usr/include/../../proc/self/environ", 1)))
        XCTAssertNil(SourceLines().text(of: frame(directory.path + "/src/../src/netrc", 1)))
        let link = directory.appendingPathComponent("src/vector.h").path
        XCTAssertEqual(symlink(directory.appendingPathComponent("src/id_ed25519").path, link), 0)
        XCTAssertNil(SourceLines().text(of: frame(link, 1)), "a link to a key")
        XCTAssertNil(SourceLines().text(of: frame("/dev/shm/../stdin", 1)))
        // What compilers read: source endings, and the extensionless headers of include directories.
        for name in [
            "a.cpp", "b.H", "c.swift", "d.rs", "include/c++/14/vector", "e.S", "f.inc", "g.yy", "h.cu", "i.ixx",
        ] {
            let url = directory.appendingPathComponent("src/" + name)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try "code\n".write(to: url, atomically: true, encoding: .utf8)
            XCTAssertEqual(SourceLines().text(of: frame(url.path, 1)), "code", name)
        }
    }

    func testALinkBetweenSourcesAndABuildInSharedMemoryAreRead() throws {
        let link = directory.appendingPathComponent("src/linked.c").path
        XCTAssertEqual(symlink(directory.appendingPathComponent("src/app.c").path, link), 0)
        XCTAssertEqual(SourceLines().text(of: frame(link, 4)), "return use(p);")
        XCTAssertEqual(SourceLines().text(of: frame("src/../src/app.c", 4, in: directory.path)), "return use(p);")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: "/dev/shm"), "no /dev/shm")
        let shared = URL(fileURLWithPath: "/dev/shm/memtrace-source-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: shared, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: shared) }
        try "int shm;\n".write(to: shared.appendingPathComponent("shm.c"), atomically: true, encoding: .utf8)
        XCTAssertEqual(SourceLines().text(of: frame(shared.path + "/shm.c", 1)), "int shm;")
    }

    func testControlCharactersOfALineAreEscapedAndItsTabsKept() throws {
        try "\tputs(\"\u{1b}]0;owned\u{07}\");\tx();\n".write(
            to: directory.appendingPathComponent("src/esc.c"), atomically: true, encoding: .utf8)
        XCTAssertEqual(
            SourceLines().text(of: frame("src/esc.c", 1, in: directory.path)), "puts(\"\\x1b]0;owned\\x07\");\tx();")
        try "if (admin) { /* \u{202e} } \u{2066} */\n".write(
            to: directory.appendingPathComponent("src/bidi.c"), atomically: true, encoding: .utf8)
        XCTAssertEqual(
            SourceLines().text(of: frame("src/bidi.c", 1, in: directory.path)),
            "if (admin) { /* \\u{202e} } \\u{2066} */")
        // The line and paragraph separators break a line where a terminal or an editor shows it.
        try "f(); /* \u{2028}x(); \u{2029} */\n".write(
            to: directory.appendingPathComponent("src/separators.c"), atomically: true, encoding: .utf8)
        XCTAssertEqual(
            SourceLines().text(of: frame("src/separators.c", 1, in: directory.path)),
            "f(); /* \\u{2028}x(); \\u{2029} */")
    }

    /// A file whose name has control or bidirectional characters is shown under its escaped name,
    /// which is what the text output gives back: its lines are found all the same.
    func testAFileNamedWithControlCharactersIsFound() throws {
        let name = "odd\nname\u{202E}x\u{1B}.c"
        try "int f(void) {\n    return g();\n}\n".write(
            to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        let shown = (directory.path + "/" + name).escapingControlCharacters
        XCTAssertTrue(shown.hasSuffix("odd\\nname\\u{202e}x\\x1b.c"), shown)
        let source = SourceLines()
        XCTAssertEqual(source.text(of: frame(shown, 2)), "return g();")
        XCTAssertEqual(SourceLines.unescapingControlCharacters("a\\qb\\x4\\u{zz}"), "a\\qb\\x4\\u{zz}")
    }

    func testFramesDifferingOnlyInTheirDirectoryAreEqual() {
        XCTAssertEqual(frame("src/app.c", 2, in: "/a"), frame("src/app.c", 2, in: "/b"))
        XCTAssertEqual(Set([frame("src/app.c", 2, in: "/a"), frame("src/app.c", 2, in: "/b")]).count, 1)
        XCTAssertEqual(frame("src/app.c", 2, in: "/a").sourcePath, "/a/src/app.c")
        XCTAssertEqual(frame("src/app.c", 2).sourcePath, "src/app.c")
        XCTAssertNil(frame("", 2, in: "/a").sourcePath)
    }

    func testTextOutputPutsEachLineUnderItsFrame() {
        let frames = [
            frame("src/app.c", 2, in: directory.path),
            Frame(function: "__libc_start_main", file: "../csu/libc-start.c", line: 360, module: "libc.so.6"),
        ]
        let stat = Statistic(frames: frames, size: 640, count: 10)
        XCTAssertEqual(
            TextFormat.render([stat], traceback: true, source: SourceLines()),
            """
            src/app.c:2 in main: size=640 B, count=10, average=64 B
                src/app.c:2 in main
                    char *p = malloc(64);
                ../csu/libc-start.c:360 in __libc_start_main

            """)
        XCTAssertEqual(
            TextFormat.render([Statistic(frames: [frames[0]], size: 640, count: 10)], source: SourceLines()),
            "src/app.c:2 in main: size=640 B, count=10, average=64 B\n    char *p = malloc(64);\n")
        XCTAssertEqual(
            TextFormat.render([stat], traceback: true),
            """
            src/app.c:2 in main: size=640 B, count=10, average=64 B
                src/app.c:2 in main
                ../csu/libc-start.c:360 in __libc_start_main

            """)
    }
}
