import Analysis
import SnapshotReader
import Symbolizer
import XCTest

/// A block's site is the program's own line: the standard libraries' frames between it and the
/// allocator (a `std::vector` growing, Rust's `format!`, a Swift `Array`, `strdup`) are passed
/// over, and kept in the stack.
final class LibraryFramesTests: XCTestCase {
    let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
    let libstdcxx = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"
    let swiftCore = "/usr/lib/swift/linux/libswiftCore.so"
    let loader = "/lib64/ld-linux-x86-64.so.2"

    func lib(_ function: String, _ module: String) -> Frame {
        Frame(function: function, file: "", line: 0, module: module)
    }

    /// The start of every process: libc's, then the executable's `_start`.
    var start: [Frame] {
        [
            app("__libc_start_call_main", "../sysdeps/nptl/libc_start_call_main.h", 58, module: libc),
            app("__libc_start_main_impl", "../csu/libc-start.c", 360, module: libc),
            lib("_start", "/bin/app"),
        ]
    }

    func site(_ frames: [Frame]) -> String? {
        LibraryFrames.site(frames).map { "\($0.function) \($0.line)" }
    }

    func testCxxContainersAtTheLineThatUsedThem() {
        // -O2: the allocator's and the vector's code inlined from libstdc++'s headers.
        let vector = [
            app(
                "std::__new_allocator<int>::allocate(unsigned long, void const*)",
                "/usr/include/c++/12/bits/new_allocator.h", 137),
            app(
                "void std::vector<int, std::allocator<int> >::_M_realloc_insert<int const&>(__gnu_cxx::__normal_iterator<int*, std::vector<int, std::allocator<int> > >, int const&)",
                "/usr/lib/gcc/x86_64-linux-gnu/12/../../../../include/c++/12/bits/vector.tcc", 453),
            app("fill_vector", "app.cpp", 11),
            app("main", "app.cpp", 15),
        ]
        XCTAssertEqual(site(vector + start), "fill_vector 11")
        // A string built in libstdc++ itself (no line information there).
        let string = [
            lib(
                "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >::_M_construct(unsigned long, char)",
                libstdcxx),
            app("fill_map", "app.cpp", 12),
        ]
        XCTAssertEqual(site(string + start), "fill_map 12")
        // Without line information in the program either: the names alone.
        let plain = [
            lib("std::vector<int, std::allocator<int> >::_M_default_append(unsigned long)", "/bin/app"),
            lib("__gnu_cxx::__normal_iterator<int*>::base() const", "/bin/app"),
            lib("void std::vector<int, std::allocator<int> >::_M_realloc_insert<int>(int&&)", "/bin/app"),
            lib("fill(int)", "/bin/app"),
        ]
        XCTAssertEqual(LibraryFrames.siteIndex(plain + start), 3)
        // With a file, the file decides: a program's function template returning a std type.
        let own = app("std::vector<int, std::allocator<int> > make<int>(int)", "app.cpp", 7)
        XCTAssertFalse(LibraryFrames.isLibraryFrame(own))
    }

    func testAStrippedProgramsSiteIsTheLibraryFunctionItCalled() {
        let stripped = [
            app("_nl_intern_locale_data", "./locale/loadlocale.c", 156, module: libc),
            app("setlocale", "./locale/setlocale.c", 337, module: libc),
            lib("sleep+0x23b2", "/usr/bin/sleep"),
        ]
        XCTAssertEqual(site(stripped + start), "setlocale 337")
        XCTAssertEqual(site([lib("__strdup", libc), lib("0x401000", "")]), "__strdup 0")
        // A symbol is enough to be the site.
        XCTAssertEqual(site([lib("__strdup", libc), lib("main", "/usr/bin/app")] + start), "main 0")
    }

    func testLibcAtTheLineThatCalledIt() {
        XCTAssertEqual(site([lib("__strdup", libc), app("load_config", "config.c", 40)] + start), "load_config 40")
        // The loader's allocations for a dlopen: at the program's dlopen.
        let opened = [
            lib("_dl_new_object", loader), lib("_dl_map_object", loader), lib("dlopen_implementation", libc),
            lib("___dlopen", libc), app("load_plugin", "plugins.c", 9),
        ]
        XCTAssertEqual(site(opened + start), "load_plugin 9")
    }

    func testRustCollectionsAtTheLineThatUsedThem() {
        let hash = "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860"
        let vector = [
            app("alloc::raw_vec::RawVecInner<A>::finish_grow", hash + "/library/alloc/src/raw_vec/mod.rs", 555),
            app("alloc::vec::Vec<T,A>::push", hash + "/library/alloc/src/vec/mod.rs", 992),
            app("r::fill", "/tmp/r.rs", 4),
            app("r::main", "/tmp/r.rs", 9),
        ]
        XCTAssertEqual(site(vector), "r::fill 4")
        let map = [
            app("hashbrown::raw::alloc::inner::do_alloc", "/rust/deps/hashbrown-0.16.1/src/raw/alloc.rs", 19),
            app(
                "std::collections::hash::map::HashMap<K,V,S,A>::insert",
                hash + "/library/std/src/collections/hash/map.rs", 1296),
            app("r::fill", "/tmp/r.rs", 6),
        ]
        XCTAssertEqual(site(map), "r::fill 6")
        // The precompiled std names its sources relative to the rust tree.
        let formatted = [
            app("<alloc::string::String>::with_capacity", "library/alloc/src/string.rs", 485),
            app("alloc::fmt::format::format_inner", "library/alloc/src/fmt.rs", 652),
            app("r::fill", "/tmp/r.rs", 7),
        ]
        XCTAssertEqual(site(formatted), "r::fill 7")
        // A program's own crate named like the standard library's is the program's.
        XCTAssertEqual(
            site([app("mylibrary::alloc::grow", "/src/mylibrary/alloc/src/lib.rs", 3)]), "mylibrary::alloc::grow 3")
    }

    func testSwiftCollectionsAtTheLineThatUsedThem() {
        let array = [
            lib(
                "Swift._ContiguousArrayBuffer.init(_uninitializedCount: Swift.Int, minimumCapacity: Swift.Int) -> Swift._ContiguousArrayBuffer<A>",
                swiftCore),
            app(
                "generic specialization <Swift.Int> of static Swift.Array._allocateUninitialized(Swift.Int) -> (Swift.Array<A>, Swift.UnsafeMutablePointer<A>)",
                "/tmp/s.swift", 0),
            app(
                "generic specialization <Swift.Int> of Swift.Array.init(repeating: A, count: Swift.Int) -> Swift.Array<A>",
                "/<compiler-generated>", 0),
            app("s.Node.init() -> s.Node", "/tmp/s.swift", 1),
        ]
        XCTAssertEqual(site(array + start), "s.Node.init() -> s.Node 1")
        // Nested specializations, and a closure type's arrow inside the brackets.
        XCTAssertTrue(
            LibraryFrames.isLibraryFrame(
                app(
                    "function signature specialization <Arg[0] = Owned> of generic specialization <(Swift.Int) -> ()> of Swift.Array.append(__owned A) -> ()",
                    "/<compiler-generated>", 0)))
        XCTAssertFalse(
            LibraryFrames.isLibraryFrame(app("Swiftly.Array.append(Swift.Int) -> ()", "/src/Swiftly.swift", 4)))
        XCTAssertFalse(
            LibraryFrames.isLibraryFrame(
                app("generic specialization <Swift.Int> of app.Stack.push(A) -> ()", "/src/Stack.swift", 9)))
    }

    func testStackWithoutAProgramFrameKeepsItsInnermost() {
        // libstdc++ starting up: every frame is a library's up to _start.
        let startUp = [
            lib("std::locale::_Impl::_Impl(unsigned long)", libstdcxx), lib("call_init", loader),
            lib("_dl_init", loader),
            lib("_start", "/lib64/ld-linux-x86-64.so.2"),
        ]
        XCTAssertEqual(LibraryFrames.siteIndex(startUp), 0)
        XCTAssertEqual(LibraryFrames.siteIndex([lib("_IO_file_doallocate", libc), lib("puts", libc)] + start), 0)
        // Rust's runtime starting: the frame past its std is the compiler's `main`.
        let runtime = [
            app(
                "alloc::collections::btree::node::LeafNode<K,V>::new", "library/alloc/src/collections/btree/node.rs", 87
            ),
            app("std::rt::lang_start_internal", "library/std/src/rt.rs", 171),
            lib("main", "/bin/r"),
        ]
        XCTAssertEqual(LibraryFrames.siteIndex(runtime + start), 0)
        // A thread's first frames are libc's too.
        XCTAssertEqual(LibraryFrames.siteIndex([lib("start_thread", libc), lib("clone3", libc)]), 0)
        XCTAssertEqual(LibraryFrames.siteIndex([]), 0)
        XCTAssertNil(LibraryFrames.site([]))
    }

    /// What `top` ranks and `--include` tests is the site; `--by traceback` still shows every frame.
    func testStatisticsGroupAndFilterBySiteAndKeepTheStack() throws {
        let resolver = TableResolver(table: [
            0x10: [
                app(
                    "std::__new_allocator<int>::allocate(unsigned long, void const*)",
                    "/usr/include/c++/12/bits/new_allocator.h", 137)
            ],
            0x11: [lib("std::__cxx11::basic_string<char>::_M_construct(unsigned long, char)", libstdcxx)],
            0x12: [lib("__strdup", libc)],
            0x20: [app("fill_vector", "src/app.cpp", 11)],
            0x21: [app("fill_names", "src/app.cpp", 20)],
            0x90: [app("main", "src/app.cpp", 30)],
        ])
        let traced = TracedSnapshot(
            makeSnapshot([
                StackSpec(pcs: [0x10, 0x20, 0x90], size: 4096, count: 1),
                StackSpec(pcs: [0x11, 0x21, 0x90], size: 300, count: 3),
                StackSpec(pcs: [0x12, 0x21, 0x90], size: 20, count: 2),
                StackSpec(pcs: [0x11, 0x12, 0x90], size: 7, count: 1),
            ]), resolver: resolver)
        let lines = try traced.statistics(StatisticsOptions())
        XCTAssertEqual(
            lines.map { "\($0.frames[0].function) \($0.size) \($0.count)" },
            ["fill_vector 4096 1", "fill_names 320 5", "main 7 1"])
        let included = try traced.statistics(
            StatisticsOptions(filters: [TraceFilter(parsing: "src/*", inclusive: true)]))
        XCTAssertEqual(included.map(\.size), [4096, 320, 7])
        let excluded = try traced.statistics(
            StatisticsOptions(filters: [TraceFilter(parsing: "libc.so*", inclusive: false)]))
        XCTAssertEqual(excluded.map(\.size), [4096, 320, 7], "a library is never a site")
        let byModule = try traced.statistics(StatisticsOptions(groupBy: .module))
        XCTAssertEqual(byModule.map { "\($0.frames[0].module) \($0.size)" }, ["/bin/app 4423"])
        let stacks = try traced.statistics(StatisticsOptions(groupBy: .traceback))
        XCTAssertEqual(stacks.first?.frames.map(\.line), [137, 11, 30])
        XCTAssertEqual(
            TextFormat.render(Array(stacks.prefix(1)), traceback: true).split(separator: "\n").first,
            "src/app.cpp:11 in fill_vector: size=4096 B, count=1, average=4096 B")
    }
}
