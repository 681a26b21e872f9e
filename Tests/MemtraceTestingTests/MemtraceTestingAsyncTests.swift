import MemtraceTesting
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// MemtraceTesting's async checks, in a class of their own: XCTest's machinery for async tests
/// leaves the dispatch runtime arming timers on its own thread afterwards, and a region counts
/// every thread's allocations, so LeakTests.SwiftAPITests runs this class in a process of its own
/// and the exact figures of MemtraceTestingXCTests are not disturbed.
final class MemtraceTestingAsyncTests: XCTestCase {
    func testAsyncBodies() async throws {
        try XCTSkipUnless(Memtrace.isTracing, Memtrace.notTracingReason ?? "")
        var kept: UnsafeMutableRawPointer?
        do {
            // The first await sets up the concurrency runtime's executor for good: warm it up.
            var runs = 0
            try await expectNoLeaks("async leak", warmup: 1) {
                await Task.yield()
                runs += 1
                if runs == 2 { kept = malloc(777) }
            }
            XCTFail("the leak went unnoticed")
        } catch let error as MemtraceError {
            // The region also counts what the concurrency runtime keeps for a resumed task on its
            // own threads, so the figure is at least the planted block, not exactly it.
            guard case .leaked(let bytes) = error.kind else { return XCTFail("\(error)") }
            XCTAssertGreaterThanOrEqual(bytes, 777)
        }
        free(kept)
    }
}
