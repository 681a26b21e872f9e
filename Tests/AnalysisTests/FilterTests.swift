import Analysis
import SnapshotReader
import Symbolizer
import XCTest

final class FilterTests: XCTestCase {
    /// A library that is no language's standard library: its frames are sites.
    let libxml = "/usr/lib/x86_64-linux-gnu/libxml2.so.2"
    lazy var resolver = TableResolver(table: [
        0x100: [app("make_list", "examples/leaky.c", 12)],
        0x101: [app("make_node", "examples/leaky.c", 20)],
        0x200: [app("parse", "src/parser/parse.c", 40)],
        0x300: [Frame(function: "xmlStrdup", file: "", line: 0, module: libxml, offset: 0x1a)],
        0x900: [app("main", "examples/main.c", 30)],
    ])

    func snapshot() -> TracedSnapshot {
        TracedSnapshot(
            makeSnapshot([
                StackSpec(pcs: [0x100, 0x900], size: 1000, count: 1),
                StackSpec(pcs: [0x101, 0x100, 0x900], size: 500, count: 1),
                StackSpec(pcs: [0x200, 0x900], size: 250, count: 1),
                StackSpec(pcs: [0x300, 0x200, 0x900], size: 125, count: 1),
            ]), resolver: resolver)
    }

    func functions(_ filters: [TraceFilter]) throws -> [String] {
        try snapshot().statistics(StatisticsOptions(filters: filters)).map { $0.frames[0].function }
    }

    func testNoFilterKeepsEverything() throws {
        XCTAssertEqual(try functions([]), ["make_list", "make_node", "parse", "xmlStrdup"])
    }

    func testIncludeGlobOnFile() throws {
        XCTAssertEqual(
            try functions([TraceFilter(inclusive: true, pattern: "examples/*")]),
            ["make_list", "make_node"])
        // `*` crosses directories, as in Python's fnmatch.
        XCTAssertEqual(try functions([TraceFilter(inclusive: true, pattern: "*parse.c")]), ["parse"])
        XCTAssertEqual(try functions([TraceFilter(inclusive: true, pattern: "src/*.c")]), ["parse"])
    }

    func testGlobOnFunctionAndModule() throws {
        XCTAssertEqual(
            try functions([TraceFilter(inclusive: true, pattern: "make_*")]), ["make_list", "make_node"])
        XCTAssertEqual(try functions([TraceFilter(inclusive: true, pattern: "libxml2.so*")]), ["xmlStrdup"])
        XCTAssertEqual(try functions([TraceFilter(inclusive: true, pattern: libxml)]), ["xmlStrdup"])
        XCTAssertEqual(
            try functions([TraceFilter(inclusive: false, pattern: "*/libxml2.so.2")]),
            ["make_list", "make_node", "parse"])
        XCTAssertEqual(
            try functions([TraceFilter(inclusive: true, pattern: "[mp]a*")]),
            ["make_list", "make_node", "parse"])
    }

    func testLine() throws {
        XCTAssertEqual(
            try functions([TraceFilter(parsing: "examples/leaky.c:12", inclusive: true)]), ["make_list"])
        XCTAssertEqual(
            try functions([TraceFilter(parsing: "*.c:20", inclusive: false)]),
            ["make_list", "parse", "xmlStrdup"])
        // With a line the glob is tried on the file only.
        XCTAssertEqual(try functions([TraceFilter(parsing: "make_list:12", inclusive: true)]), [])
        let parsed = TraceFilter(parsing: "leaky.c:12", inclusive: true)
        XCTAssertEqual(parsed, TraceFilter(inclusive: true, pattern: "leaky.c", line: 12))
        XCTAssertEqual(TraceFilter(parsing: "ns::f", inclusive: true).line, nil)
    }

    func testAllFrames() throws {
        // Without all_frames only the innermost frame counts…
        XCTAssertEqual(
            try functions([TraceFilter(inclusive: true, pattern: "make_list")]), ["make_list"])
        XCTAssertEqual(try functions([TraceFilter(inclusive: true, pattern: "*main.c")]), [])
        // …with it, any frame.
        XCTAssertEqual(
            try functions([TraceFilter(inclusive: true, pattern: "make_list", allFrames: true)]),
            ["make_list", "make_node"])
        XCTAssertEqual(
            try functions([TraceFilter(inclusive: false, pattern: "parse", allFrames: true)]),
            ["make_list", "make_node"])
        XCTAssertEqual(
            try functions([TraceFilter(inclusive: true, pattern: "*main.c", allFrames: true)]),
            ["make_list", "make_node", "parse", "xmlStrdup"])
    }

    func testIncludesAreOredExcludesWin() throws {
        let filters = [
            TraceFilter(inclusive: true, pattern: "make_list"),
            TraceFilter(inclusive: true, pattern: "parse"),
            TraceFilter(inclusive: true, pattern: "xmlStrdup"),
            TraceFilter(inclusive: false, pattern: "*parser*"),
        ]
        XCTAssertEqual(try functions(filters), ["make_list", "xmlStrdup"])
        // Exclusions alone keep everything they do not match.
        XCTAssertEqual(
            try functions([TraceFilter(inclusive: false, pattern: "xmlStrdup")]),
            ["make_list", "make_node", "parse"])
    }

    func testStaticKeepsMatchesTheTableDrivenPath() throws {
        let traced = snapshot()
        let filters = [
            TraceFilter(inclusive: true, pattern: "examples/*", allFrames: true),
            TraceFilter(inclusive: false, pattern: "make_node"),
        ]
        let kept = traced.stacks.filter { TraceFilter.keeps($0.frames, filters: filters) }.map {
            $0.frames[0].function
        }
        XCTAssertEqual(kept, ["make_list", "parse", "xmlStrdup"])
        XCTAssertEqual(try functions(filters).sorted(), kept.sorted())
        XCTAssertEqual(traced.total(filters: filters).size, 1000 + 250 + 125)
    }
}
