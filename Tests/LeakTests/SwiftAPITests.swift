import Foundation
import XCTest
import _MemtraceTestSupport

/// MemtraceTesting under the tracer: this test runs the test bundle it belongs to once more, with
/// libtrace.so preloaded, limited to MemtraceTestingTests, and with MEMTRACE_TESTING_TRACED=1 so
/// that those tests fail rather than skip when the tracer is not there. Run plainly, the same
/// tests check that the API explains why it cannot run.
final class SwiftAPITests: XCTestCase {
    /// The running test bundle (an executable on Linux).
    var bundle: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    func run(_ arguments: [String]) throws -> ProcessResult {
        try requireBuiltProducts()
        return try runProcess(
            bundle, arguments,
            environment: [
                "LD_PRELOAD": TestPaths.libtrace, "MEMTRACE_TESTING_TRACED": "1",
                "MEMTRACE_OUTPUT": Builds.directory.path + "/bundle.%p.%n.snap", "MEMTRACE_AT_EXIT": "0",
            ])
    }

    func testXCTestChecksCatchLeaksUnderTheTracer() throws {
        let result = try run(["MemtraceTestingTests.MemtraceTestingXCTests"])
        let output = result.stdoutText + result.stderrText
        XCTAssertEqual(result.status, 0, output)
        XCTAssertTrue(output.contains("Executed 10 tests, with 1 test skipped and 0 failures"), output)
        XCTAssertTrue(output.contains("'MemtraceTestingXCTests.testPlantedLeakIsCaught' passed"), output)
        XCTAssertTrue(output.contains("'MemtraceTestingXCTests.testHeapOverrunsAreCounted' passed"), output)
        XCTAssertTrue(output.contains("'MemtraceTestingXCTests.testMismatchedReleasesAreCounted' passed"), output)
        // The tracer's own report of the planted leak, with its stack.
        XCTAssertTrue(output.contains("memtrace: region \"planted leak\": 4000 bytes in 1 blocks"), output)
    }

    /// Async bodies in a process of their own (see MemtraceTestingAsyncTests).
    func testAsyncXCTestChecksCatchLeaksUnderTheTracer() throws {
        let result = try run(["MemtraceTestingTests.MemtraceTestingAsyncTests"])
        let output = result.stdoutText + result.stderrText
        XCTAssertEqual(result.status, 0, output)
        XCTAssertTrue(output.contains("Executed 1 test, with 0 failures"), output)
        XCTAssertTrue(output.contains("memtrace: region \"async leak\": "), output)
        XCTAssertTrue(output.contains("    777 bytes in 1 blocks allocated at:"), output)
    }

    func testSwiftTestingChecksCatchLeaksUnderTheTracer() throws {
        let result = try run(["--testing-library", "swift-testing", "--filter", "MemtraceTestingSwiftTests"])
        let output = result.stdoutText + result.stderrText
        XCTAssertEqual(result.status, 0, output)
        XCTAssertTrue(output.contains("Test plantedLeakIsCaught() passed"), output)
        XCTAssertTrue(output.contains("Test growthIsCaught() passed"), output)
        XCTAssertTrue(output.contains("Test untracedChecksSayWhy() skipped"), output)
    }
}
