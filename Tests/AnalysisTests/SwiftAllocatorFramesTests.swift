import Analysis
import Symbolizer
import XCTest

/// Swift objects are allocated by the runtime: their sites are the Swift code
/// that created them, not swift_allocObject.
final class SwiftAllocatorFramesTests: XCTestCase {
    func testSwiftRuntimeAllocationFramesAreStripped() {
        let runtime = "/opt/swift/usr/lib/swift/linux/libswiftCore.so"
        let frames = [
            Frame(function: "swift_slowAlloc", file: "", line: 0, module: runtime),
            Frame(function: "swift_allocObject", file: "", line: 0, module: runtime),
            Frame(function: "Inventory.add(_:)", file: "/src/Inventory.swift", line: 12, module: "/src/app"),
            Frame(function: "main", file: "/src/main.swift", line: 3, module: "/src/app"),
        ]
        XCTAssertEqual(AllocatorFrames.strip(frames).map(\.function), ["Inventory.add(_:)", "main"])
    }

    func testOtherRuntimeFunctionsAreKept() {
        let runtime = "/opt/swift/usr/lib/swift/linux/libswiftCore.so"
        let frames = [
            Frame(function: "Swift.Array.append(_:)", file: "", line: 0, module: runtime),
            Frame(function: "main", file: "/src/main.swift", line: 3, module: "/src/app"),
        ]
        XCTAssertEqual(AllocatorFrames.strip(frames).count, 2)
    }
}
