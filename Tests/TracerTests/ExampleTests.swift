import Foundation
import SnapshotReader
import XCTest
import _MemtraceTestSupport

/// The programs under examples/ show their planted leak and growth at the right lines.
final class ExampleTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: TestPaths.libtrace), "run `make tracer` first")
        directory = try makeTemporaryDirectory("memtrace-examples")
    }

    override func tearDownWithError() throws {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    /// Builds an example, runs it plain and traced, and returns its four snapshots (three rounds and exit).
    private func run(_ file: String, cplusplus: Bool) throws -> [Snapshot] {
        let name = (file as NSString).deletingPathExtension
        let exe = try compile(
            source: TestPaths.file("examples/\(file)"), output: name, in: directory, cplusplus: cplusplus)
        let plain = try runProcess(exe)
        let traced = try runTraced(exe, in: directory)
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(traced.stdout, plain.stdout)
        let snapshots = try snapshotFiles(in: directory).map { try SnapshotFile.read(path: $0) }
            .sorted { $0.header.sequence < $1.header.sequence }
        XCTAssertEqual(snapshots.map(\.header.trigger), [.api, .api, .api, .exit])
        snapshots.forEach { assertConsistent($0) }
        return snapshots
    }

    func testCExampleLeakAndGrowth() throws {
        let snapshots = try run("leaky.c", cplusplus: false)
        let source = TestPaths.file("examples/leaky.c")
        let leakLine = try Fixtures.line(containing: "/* the leak */", in: source)
        let growthLine = try Fixtures.line(containing: "/* the growth */", in: source)
        let final = sites(of: snapshots[3])
        let leak = try XCTUnwrap(site(final, file: "leaky.c", line: leakLine))
        XCTAssertEqual(leak.function, "make_list")
        XCTAssertEqual([leak.liveBytes, leak.liveCount], [64_000, 1000])
        let growth = try XCTUnwrap(site(final, file: "leaky.c", line: growthLine))
        XCTAssertEqual(growth.function, "record_event")
        XCTAssertEqual([growth.liveBytes, growth.liveCount], [14_400, 300])
        // The growth, round by round: 100 records of 48 bytes each time.
        let perRound = try snapshots.prefix(3).map { snapshot in
            try XCTUnwrap(site(sites(of: snapshot), file: "leaky.c", line: growthLine)).liveBytes
        }
        XCTAssertEqual(perRound, [4800, 9600, 14_400])
        // churn leaves nothing.
        let churnLine = try Fixtures.line(containing: "malloc(100 + i % 50)", in: source)
        let churn = try XCTUnwrap(site(final, file: "leaky.c", line: churnLine))
        XCTAssertEqual([churn.liveBytes, churn.totalCount], [0, 1000])
    }

    func testCPlusPlusExampleLeakAndGrowthThroughNew() throws {
        let snapshots = try run("leaky.cpp", cplusplus: true)
        let source = TestPaths.file("examples/leaky.cpp")
        let leakLine = try Fixtures.line(containing: "// the leak", in: source)
        let growthLine = try Fixtures.line(containing: "// the growth", in: source)
        let final = sites(of: snapshots[3])
        let leak = try XCTUnwrap(site(final, file: "leaky.cpp", line: leakLine))
        XCTAssertEqual(leak.function, "Tree::grow(int)")
        XCTAssertEqual([leak.liveBytes, leak.liveCount], [16_000, 500])
        let growth = try XCTUnwrap(site(final, file: "leaky.cpp", line: growthLine))
        XCTAssertEqual(growth.function, "Journal::append(int)")
        XCTAssertEqual([growth.liveBytes, growth.liveCount], [12_000, 300])
        let perRound = try snapshots.prefix(3).map { snapshot in
            try XCTUnwrap(site(sites(of: snapshot), file: "leaky.cpp", line: growthLine)).liveBytes
        }
        XCTAssertEqual(perRound, [4000, 8000, 12_000])
    }

    func testCPlusPlusNewIsTracedOnTopOfJemalloc() throws {
        let jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
        try XCTSkipUnless(FileManager.default.fileExists(atPath: jemalloc), "libjemalloc2 is not installed")
        let exe = try compile(
            source: TestPaths.file("examples/leaky.cpp"), output: "leaky-cpp", in: directory, cplusplus: true)
        let traced = try runTraced(exe, in: directory, environment: ["LD_PRELOAD": "\(TestPaths.libtrace) \(jemalloc)"])
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        let snapshots = try snapshotFiles(in: directory).map { try SnapshotFile.read(path: $0) }
            .sorted { $0.header.sequence < $1.header.sequence }
        let final = try XCTUnwrap(snapshots.last)
        XCTAssertEqual(final.allocator?.kind, .jemalloc)
        let leakLine = try Fixtures.line(containing: "// the leak", in: TestPaths.file("examples/leaky.cpp"))
        let leak = try XCTUnwrap(site(sites(of: final), file: "leaky.cpp", line: leakLine))
        XCTAssertEqual([leak.liveBytes, leak.liveCount], [16_000, 500])
    }
}
