import Foundation
import XCTest
import _MemtraceTestSupport

/// The examples of docs/leaks.md, run as a CI job would: each fails on its planted leak and
/// passes once it is fixed.
final class LeakExampleTests: XCTestCase {
    /// examples/ctest: a region check inside a ctest test, and `memtrace check` around it.
    func testCTestExampleFailsOnTheLeakAndPassesWhenFixed() throws {
        try requireBuiltProducts()
        for tool in ["/usr/bin/cmake", "/usr/bin/ctest"] {
            try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: tool), "\(tool) is not installed")
        }
        let build = try makeTemporaryDirectory("memtrace-ctest")
        defer { try? FileManager.default.removeItem(at: build) }
        func configure(fixed: Bool) throws {
            let result = try runProcess(
                "/usr/bin/cmake",
                [
                    "-S", TestPaths.file("examples/ctest"), "-B", build.path, "-DMEMTRACE_LIB=\(TestPaths.libtrace)",
                    "-DMEMTRACE=\(TestPaths.memtrace)", "-DFIX_LEAK=\(fixed ? "ON" : "OFF")",
                ])
            XCTAssertEqual(result.status, 0, result.stderrText)
            let compiled = try runProcess("/usr/bin/cmake", ["--build", build.path])
            XCTAssertEqual(compiled.status, 0, compiled.stdoutText + compiled.stderrText)
        }
        try configure(fixed: false)
        let leaky = try runProcess("/usr/bin/ctest", ["--test-dir", build.path, "--output-on-failure"])
        let output = leaky.stdoutText + leaky.stderrText
        XCTAssertNotEqual(leaky.status, 0, output)
        XCTAssertTrue(output.contains("0% tests passed, 2 tests failed out of 2"), output)
        XCTAssertTrue(
            output.contains(
                "memtrace: region \"config_parse\": 4 bytes in 2 blocks allocated in the region are still live"),
            output)
        XCTAssertTrue(output.contains("4 bytes in 2 blocks are definitely lost in loss record 1 of 1"), output)
        XCTAssertTrue(output.contains("examples/ctest/config.c:"), output)

        try configure(fixed: true)
        let fixed = try runProcess("/usr/bin/ctest", ["--test-dir", build.path, "--output-on-failure"])
        XCTAssertEqual(fixed.status, 0, fixed.stdoutText + fixed.stderrText)
        XCTAssertTrue(fixed.stdoutText.contains("100% tests passed, 0 tests failed out of 2"), fixed.stdoutText)
    }

    /// examples/swift-package: XCTest and Swift Testing checks with MemtraceTesting. Building a
    /// second package takes about a minute (and resolves its dependencies), so this runs only with
    /// MEMTRACE_SWIFT_EXAMPLE=1.
    func testSwiftPackageExampleFailsOnTheLeakAndPassesWhenFixed() throws {
        try XCTSkipUnless(
            ProcessInfo.processInfo.environment["MEMTRACE_SWIFT_EXAMPLE"] == "1",
            "set MEMTRACE_SWIFT_EXAMPLE=1 to build and run examples/swift-package")
        try requireBuiltProducts()
        let package = TestPaths.file("examples/swift-package")
        func test(fixed: Bool) throws -> ProcessResult {
            let environment: [String: String?] = ["INVENTORY_FIX_LEAK": fixed ? "1" : nil]
            let built = try runProcess(
                "/usr/bin/env", ["swift", "build", "--build-tests", "--package-path", package], environment: environment
            )
            XCTAssertEqual(built.status, 0, built.stdoutText + built.stderrText)
            return try runProcess(
                TestPaths.memtrace,
                [
                    "run", "--lib", TestPaths.libtrace, "--", "/usr/bin/env", "swift", "test", "--skip-build",
                    "--package-path", package,
                ],
                environment: ["INVENTORY_FIX_LEAK": fixed ? "1" : nil, "MEMTRACE_AT_EXIT": "0"])
        }
        let leaky = try test(fixed: false)
        let output = leaky.stdoutText + leaky.stderrText
        XCTAssertEqual(leaky.status, 1, output)
        XCTAssertTrue(output.contains("InventoryXCTests.testStockingLeavesNothingBehind' failed"), output)
        XCTAssertTrue(output.contains("Test stockingLeavesNothingBehind() failed"), output)
        XCTAssertTrue(output.contains("Test stockingDoesNotGrowPerCall() failed"), output)
        let fixed = try test(fixed: true)
        XCTAssertEqual(fixed.status, 0, fixed.stdoutText + fixed.stderrText)
        XCTAssertTrue(fixed.stdoutText.contains("Test run with 2 tests in 1 suite passed"), fixed.stdoutText)
    }
}
