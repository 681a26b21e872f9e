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

    func testBlocksFreedByAnotherThreadLeaveTheFilter() throws {
        let exe = try Fixtures.build("sampledthreads")
        let source = Fixtures.source("sampledthreads")
        for run in 0..<3 {
            let dir = directory.appendingPathComponent("threads\(run)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let traced = try runTraced(exe, in: dir, environment: ["MEMTRACE_SAMPLE": "1k"])
            XCTAssertEqual(traced.status, 0, traced.stderrText)
            // The arenas lie in at least two regions of the filter (four when
            // glibc spaces them 64 MiB apart, two at 128 MiB).
            let regions = traced.stdoutText.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            XCTAssertGreaterThanOrEqual(regions, 2, traced.stdoutText)
            let snapshot = try onlySnapshot(in: dir, prefix: "sampledthreads")
            XCTAssertTrue(snapshot.header.isSampled)
            let all = sites(of: snapshot)
            let handed = try XCTUnwrap(
                site(all, file: "sampledthreads.c", line: try Fixtures.line(of: "handed", in: source)))
            let kept = try XCTUnwrap(
                site(all, file: "sampledthreads.c", line: try Fixtures.line(of: "kept", in: source)))
            // Every 64 KiB block is sampled with a weight of one, and each
            // freed one was found by the filter, whichever thread freed it.
            XCTAssertEqual(handed.totalCount, 4 * 200, "run \(run)")
            XCTAssertEqual(handed.totalBytes, 4 * 200 * 65536, "run \(run)")
            XCTAssertEqual(handed.liveCount, 0, "run \(run)")
            XCTAssertEqual(handed.liveBytes, 0, "run \(run)")
            XCTAssertEqual(kept.liveCount, 4 * 20, "run \(run)")
            XCTAssertEqual(kept.liveBytes, 4 * 20 * 65536, "run \(run)")
            let keptBlocks = snapshot.blocks?.filter { $0.size == 65536 }.count
            XCTAssertEqual(keptBlocks, 80, "run \(run)")
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
