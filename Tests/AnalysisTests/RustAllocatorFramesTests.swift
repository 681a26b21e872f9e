import Analysis
import Symbolizer
import XCTest

/// Rust's allocations pass through its global allocator layer and its `Box::new`: their sites are
/// the Rust code that asked, as a C++ `new`'s is; a collection's own functions stay.
final class RustAllocatorFramesTests: XCTestCase {
    let exe = "/src/target/debug/app"

    func frame(_ function: String, _ file: String = "", _ line: Int = 0) -> Frame {
        Frame(function: function, file: file, line: line, module: exe)
    }

    func testGlobalAllocatorLayerAndBoxNewAreStripped() {
        let frames = [
            frame("__rustc::__rdl_alloc"),
            frame("__rust_alloc"),
            frame("alloc", "/rustc/1234/library/alloc/src/alloc.rs", 95),
            frame("<alloc::alloc::Global as core::alloc::Allocator>::allocate", "library/alloc/src/alloc.rs", 241),
            frame("alloc::alloc::exchange_malloc", "/usr/src/rustc-1.63.0/library/alloc/src/alloc.rs", 320),
            frame("<alloc::boxed::Box<app::Node>>::new", "/usr/src/rustc-1.63.0/library/alloc/src/boxed.rs", 215),
            frame("app::make_list", "/src/main.rs", 27),
            frame("app::main", "/src/main.rs", 43),
        ]
        XCTAssertEqual(AllocatorFrames.strip(frames).map(\.function), ["app::make_list", "app::main"])
    }

    func testWithoutDebugInformationTheNamesAlone() {
        let frames = [
            frame("<std::alloc::System as core::alloc::global::GlobalAlloc>::alloc"),
            frame("alloc::alloc::alloc"),
            frame("<alloc::raw_vec::RawVecInner>::try_allocate_in"),
            frame("app::main", "/src/main.rs", 3),
        ]
        XCTAssertEqual(
            AllocatorFrames.strip(frames).map(\.function),
            ["<alloc::raw_vec::RawVecInner>::try_allocate_in", "app::main"])
    }

    func testTheProgramsOwnFunctionsNamedLikeTheAllocatorStay() {
        // Only the standard library's sources and names count: a program's own `alloc` or `new`.
        let frames = [
            frame("app::pool::alloc", "/src/pool.rs", 10),
            frame("<app::Pool>::new", "/src/pool.rs", 20),
        ]
        XCTAssertEqual(AllocatorFrames.strip(frames).count, 2)
        XCTAssertEqual(AllocatorFrames.lastPathComponent("<alloc::boxed::Box<T>>::new"), "new")
        XCTAssertEqual(AllocatorFrames.lastPathComponent("new_uninit_in<u8, alloc::alloc::Global>"), "new_uninit_in")
    }

    /// Swift: a class's allocating initializer is the compiler's `new` for it.
    func testSwiftAllocatingInitializersAreStripped() {
        let frames = [
            frame(
                "swiftsites.Node.__allocating_init(value: Swift.Int, next: Swift.Optional<swiftsites.Node>) -> "
                    + "swiftsites.Node",
                "/src/main.swift", 0),
            frame("swiftsites.makeList(Swift.Int) -> Swift.Optional<swiftsites.Node>", "/src/main.swift", 26),
        ]
        XCTAssertEqual(AllocatorFrames.strip(frames).map(\.line), [26])
        // A convenience initializer is compiled only as the allocating one: its body is the program's.
        let convenience = [
            frame("s.Holder.__allocating_init(bytes: Swift.Int) -> s.Holder", "/src/s.swift", 6),
            frame("s.make() -> s.Holder", "/src/s.swift", 10),
        ]
        XCTAssertEqual(AllocatorFrames.strip(convenience).map(\.line), [6, 10])
    }
}
