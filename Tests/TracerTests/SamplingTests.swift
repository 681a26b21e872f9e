import Foundation
import SnapshotReader
import XCTest
import _MemtraceTestSupport

/// MEMTRACE_SAMPLE: Poisson sampling by bytes gives unbiased estimates.
final class SamplingTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: TestPaths.libtrace), "run `make tracer` first")
        directory = try makeTemporaryDirectory("memtrace-sampling")
    }

    override func tearDownWithError() throws {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    private func assertWithin(
        _ estimate: UInt64, _ truth: UInt64, _ tolerance: Double, _ what: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        let error = abs(Double(estimate) - Double(truth)) / Double(truth)
        XCTAssertLessThanOrEqual(
            error, tolerance, "\(what): estimated \(estimate), true \(truth)", file: file, line: line)
    }

    func testEstimatesOfAKnownDistributionAreWithinTenPercent() throws {
        let exe = try Fixtures.build("sampled")
        let source = Fixtures.source("sampled")
        // Three seeds: each run samples different blocks; each must estimate well.
        for seed in ["1", "2", "3"] {
            let dir = directory.appendingPathComponent("seed\(seed)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let traced = try runTraced(
                exe, in: dir, environment: ["MEMTRACE_SAMPLE": "8k", "MEMTRACE_SAMPLE_SEED": seed])
            XCTAssertEqual(traced.status, 0, traced.stderrText)
            XCTAssertEqual(traced.stdoutText, "sampled: done\n")
            let snapshot = try onlySnapshot(in: dir, prefix: "sampled")
            XCTAssertTrue(snapshot.header.isSampled)
            XCTAssertEqual(snapshot.totals.sampleRate, 8192)
            let all = sites(of: snapshot)
            let small = try XCTUnwrap(site(all, file: "sampled.c", line: try Fixtures.line(of: "small", in: source)))
            let medium = try XCTUnwrap(site(all, file: "sampled.c", line: try Fixtures.line(of: "medium", in: source)))
            let large = try XCTUnwrap(site(all, file: "sampled.c", line: try Fixtures.line(of: "large", in: source)))
            let transient = try XCTUnwrap(
                site(all, file: "sampled.c", line: try Fixtures.line(of: "transient", in: source)))
            assertWithin(small.liveBytes, 100_000 * 64, 0.10, "64-byte site bytes, seed \(seed)")
            assertWithin(small.liveCount, 100_000, 0.10, "64-byte site blocks, seed \(seed)")
            assertWithin(medium.liveBytes, 2000 * 4000, 0.10, "4000-byte site bytes, seed \(seed)")
            assertWithin(medium.liveCount, 2000, 0.10, "4000-byte site blocks, seed \(seed)")
            // Blocks much larger than the rate are always sampled, with weight one.
            XCTAssertEqual(large.liveBytes, 10 << 20)
            XCTAssertEqual(large.liveCount, 10)
            XCTAssertEqual(transient.liveBytes, 0)
            assertWithin(transient.totalBytes, 200_000 * 128, 0.10, "freed site total bytes, seed \(seed)")
            // 10 MB allocated while paused: counted down past, never recorded.
            let pausedLine = try Fixtures.line(of: "paused", in: source)
            XCTAssertEqual(all.filter { $0.file == "sampled.c" && $0.line == pausedLine }, [])
            // Far fewer blocks are recorded than exist.
            XCTAssertLessThan(snapshot.blocks?.count ?? .max, 5000)
            XCTAssertEqual(
                snapshot.stackStats.reduce(UInt64(0)) { $0 + $1.liveBytes }, snapshot.totals.liveBytes)
        }
    }

    func testSamplingIsDeterministicForAGivenSeed() throws {
        let exe = try Fixtures.build("sampled")
        var estimates: [UInt64] = []
        for run in 0..<2 {
            let dir = directory.appendingPathComponent("run\(run)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            _ = try runTraced(exe, in: dir, environment: ["MEMTRACE_SAMPLE": "8k", "MEMTRACE_SAMPLE_SEED": "7"])
            estimates.append(try onlySnapshot(in: dir, prefix: "sampled").totals.liveBytes)
        }
        XCTAssertEqual(estimates[0], estimates[1])
    }
}
