import Foundation
import SnapshotReader
import XCTest
import _MemtraceTestSupport

/// The tracer's table of live blocks, through the blocks and totals it writes:
/// crowded 64 KiB stretches, stretches emptied and refilled, sizes either side of
/// the largest a slot holds (the rest go to a side table) and past 4 GiB,
/// on glibc and on jemalloc (whose 8-byte blocks pack 8192 to a stretch).
final class LiveTableTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: TestPaths.libtrace), "run `make tracer` first")
        directory = try makeTemporaryDirectory("memtrace-livetable")
    }

    override func tearDownWithError() throws {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    func testEveryBlockIsListedOnGlibc() throws {
        try checkLiveTable(environment: [:])
    }

    func testEveryBlockIsListedOnJemalloc() throws {
        let jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
        try XCTSkipUnless(FileManager.default.fileExists(atPath: jemalloc), "libjemalloc2 is not installed")
        try checkLiveTable(environment: ["LD_PRELOAD": "\(TestPaths.libtrace) \(jemalloc)"])
    }

    private func checkLiveTable(environment: [String: String?]) throws {
        let exe = try Fixtures.build("livetable")
        let traced = try runTraced(exe, [directory.path], in: directory, environment: environment)
        XCTAssertEqual(traced.status, 0, traced.stderrText)
        XCTAssertEqual(traced.stdoutText, "huge=1\n", "a 5 GiB malloc is expected to succeed (overcommit)")
        let source = Fixtures.source("livetable")
        let line = { (marker: String) in try Fixtures.line(of: marker, in: source) }
        let (dense, mixed, huge, churn) = (try line("dense"), try line("mixed"), try line("huge"), try line("churn"))
        let (inlineMax, edge, big) = (try line("inline"), try line("edge"), try line("big"))

        // Blocks per source line, as the live table listed them.
        func blocks(_ snapshot: Snapshot) throws -> [Int: [Snapshot.Block]] {
            let lines = innermostLines(of: snapshot)
            let all = try XCTUnwrap(snapshot.blocks, snapshot.path)
            XCTAssertEqual(Set(all.map(\.address)).count, all.count, "an address listed twice in \(snapshot.path)")
            XCTAssertEqual(UInt64(all.count), snapshot.totals.liveBlocks, snapshot.path)
            XCTAssertEqual(all.reduce(0) { $0 + $1.size }, snapshot.totals.liveBytes, snapshot.path)
            return Dictionary(grouping: all.filter { lines[$0.stack]?.file == "livetable.c" }) {
                lines[$0.stack]?.line ?? 0
            }
        }
        let read = { (n: Int) in try SnapshotFile.read(path: self.directory.appendingPathComponent("\(n).snap").path) }

        let first = try blocks(read(1))
        XCTAssertEqual(first[dense]?.count, 100_000)
        XCTAssertTrue(first[dense]?.allSatisfy { $0.size == 8 } ?? false)

        let second = try blocks(read(2))
        XCTAssertEqual(second[dense]?.count, 50_000)
        // The odd-numbered ones stayed: every second block of the first listing.
        let firstAddresses = try XCTUnwrap(first[dense]).map(\.address).sorted()
        let kept = stride(from: 1, to: firstAddresses.count, by: 2).map { firstAddresses[$0] }
        XCTAssertEqual(try XCTUnwrap(second[dense]).map(\.address).sorted(), kept)

        let third = try blocks(read(3))
        XCTAssertEqual(third[dense]?.count ?? 0, 0)
        XCTAssertEqual(third[churn]?.count ?? 0, 0)
        XCTAssertEqual(third[mixed]?.count, 100_000)
        XCTAssertEqual(third[mixed]?.reduce(0) { $0 + $1.size }, 20_000 * (24 + 64 + 104 + 144 + 184))
        XCTAssertEqual(third[huge]?.map(\.size), [5 << 30])
        XCTAssertEqual(third[inlineMax]?.map(\.size), [(64 << 20) - 2])
        XCTAssertEqual(third[edge]?.map(\.size), [(64 << 20) - 1])
        XCTAssertEqual(third[big]?.map(\.size), [64 << 20])

        let fourth = try blocks(read(4))
        XCTAssertTrue(fourth.isEmpty, "still listed: \(fourth.mapValues(\.count))")
        let sitesAtEnd = sites(of: try read(4)).filter { $0.file == "livetable.c" }
        XCTAssertEqual(sitesAtEnd.reduce(0) { $0 + $1.liveCount }, 0)
        XCTAssertEqual(
            sitesAtEnd.filter { $0.line == churn }.reduce(0) { $0 + $1.totalCount }, 300_000)
    }
}
