import Inventory
import MemtraceTesting
import Testing
import XCTest

/// XCTest: `try expectNoLeaks { … }` fails the test when the body leaves memory behind.
final class InventoryXCTests: XCTestCase {
    override func setUpWithError() throws {
        // Without the tracer, say so and skip rather than pass silently.
        try XCTSkipUnless(Memtrace.isTracing, Memtrace.notTracingReason ?? "")
    }

    func testStockingLeavesNothingBehind() throws {
        // One warm-up run: Swift builds type metadata on first use and keeps it.
        let count = try expectNoLeaks(warmup: 1) { stockedCount(["bolts", "nuts", "washers"]) }
        XCTAssertEqual(count, 3)
    }
}

/// Swift Testing: the same check; `.serialized` because a checked region counts every thread.
@Suite(.serialized, .enabled(if: Memtrace.isTracing, "needs the memtrace tracer: memtrace run -- swift test"))
struct InventoryTests {
    @Test func stockingLeavesNothingBehind() throws {
        let count = try expectNoLeaks(warmup: 1) { stockedCount(["bolts", "nuts"]) }
        #expect(count == 2)
    }

    @Test func stockingDoesNotGrowPerCall() throws {
        try expectNoGrowth(iterations: 5) { _ = stockedCount(["bolts"]) }
    }
}
