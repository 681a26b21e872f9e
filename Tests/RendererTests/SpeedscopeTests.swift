import Analysis
import Foundation
import Renderers
import XCTest
import _MemtraceTestSupport

/// speedscope JSON: exact text, and validation against the format's schema.
final class SpeedscopeTests: XCTestCase {
    func testExactDocument() {
        let json = SpeedscopeFormat.render(traced(programSnapshot()), name: "prog.snap")
        XCTAssertEqual(
            json,
            #"{"$schema":"https://www.speedscope.app/file-format-schema.json","shared":{"frames":["#
                + #"{"name":"main","file":"app.c","line":30},{"name":"work","file":"app.c","line":20},"#
                + #"{"name":"leak_one","file":"app.c","line":5},{"name":"work","file":"app.c","line":21},"#
                + #"{"name":"helper","file":"app.c","line":12},{"name":"cache_put","file":"app.c","line":8}]},"#
                + #""profiles":[{"type":"sampled","name":"live bytes","unit":"bytes","startValue":0,"endValue":5000,"#
                + #""samples":[[0,1,2],[0,3,4,5]],"weights":[4000,1000]},"#
                + #"{"type":"sampled","name":"bytes at the peak","unit":"bytes","startValue":0,"endValue":4000,"#
                + #""samples":[[0,1,2],[0,3,4,5]],"weights":[3000,1000]},"#
                + #"{"type":"sampled","name":"bytes allocated","unit":"bytes","startValue":0,"endValue":7500,"#
                + #""samples":[[0,1,2],[0,3,4,5],[0]],"weights":[6000,1000,500]}],"#
                + #""name":"prog.snap","activeProfileIndex":0,"exporter":"memtrace"}"# + "\n")
    }

    func testActiveProfileFollowsMetric() {
        let json = SpeedscopeFormat.render(traced(programSnapshot()), name: "x", metric: .total)
        XCTAssertTrue(json.contains(#""activeProfileIndex":2"#))
    }

    func testValidAgainstSchema() throws {
        let directory = try makeTemporaryDirectory("speedscope")
        let file = directory.appendingPathComponent("prog.speedscope.json")
        try SpeedscopeFormat.render(traced(programSnapshot()), name: "prog").write(
            to: file, atomically: false, encoding: .utf8)
        try assertValidSpeedscope(file.path)
    }
}

/// Runs the schema check of Fixtures/check-speedscope.py (Debian's python3-jsonschema) on `path`.
func assertValidSpeedscope(
    _ path: String, file: StaticString = #filePath, line: UInt = #line
)
    throws
{
    let python = "/usr/bin/python3"
    guard FileManager.default.isExecutableFile(atPath: python),
        (try? run(python, ["-c", "import jsonschema"]))?.status == 0
    else {
        throw XCTSkip("python3-jsonschema is not installed (scripts/install-deps installs it)")
    }
    let result = try run(
        python,
        [
            TestPaths.file("Tests/RendererTests/Fixtures/check-speedscope.py"),
            TestPaths.file("Tests/RendererTests/Fixtures/speedscope.schema.json"), path,
        ])
    XCTAssertEqual(result.status, 0, result.output + result.error, file: file, line: line)
    XCTAssertEqual(result.output, "OK\n", file: file, line: line)
}
