import Foundation
import SnapshotReader
import Symbolizer
import XCTest
import _MemtraceTestSupport

final class SymbolizerTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory("memtrace-symbolizer")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func cFixture(flags: [String] = []) throws -> Fixture {
        try Fixture(source: Fixture.cSource, name: "fixture", in: directory, flags: flags)
    }

    /// The frames the C fixture's two call sites must give with full DWARF.
    func assertDWARFFrames(_ fixture: Fixture, file: StaticString = #filePath, line: UInt = #line) throws {
        let exe = fixture.executable
        let symbolizer = Symbolizer(snapshot: Fixture.snapshot(modules: fixture.modules))
        XCTAssertEqual(
            symbolizer.frames(for: try fixture.pc("inlined")),
            [
                Frame(
                    function: "leaf_helper", file: fixture.source, line: try fixture.line("leaf"), module: exe,
                    isInlined: true),
                Frame(
                    function: "middle_helper", file: fixture.source, line: try fixture.line("middle"), module: exe,
                    isInlined: true),
                Frame(function: "outer_function", file: fixture.source, line: try fixture.line("outer"), module: exe),
            ], file: file, line: line)
        XCTAssertEqual(
            symbolizer.frames(for: try fixture.pc("plain")),
            [Frame(function: "plain_function", file: fixture.source, line: try fixture.line("plain"), module: exe)],
            file: file, line: line)
        XCTAssertEqual(symbolizer.warnings, [], file: file, line: line)
    }

    // MARK: DWARF

    func testInlinedFramesFileAndLineInPIE() throws {
        let fixture = try cFixture()
        XCTAssertNotEqual(try fixture.module(fixture.executable).loadBias, 0)
        try assertDWARFFrames(fixture)
    }

    func testInlinedFramesFileAndLineInNonPIE() throws {
        let fixture = try cFixture(flags: ["-no-pie"])
        XCTAssertEqual(try fixture.module(fixture.executable).loadBias, 0)
        try assertDWARFFrames(fixture)
    }

    /// LLVM (clang, swiftc) writes no `.debug_aranges`, where libdw 0.188 looks up an address's
    /// compile unit: the unit is found from the units' own ranges.
    func testInlinedFramesFileAndLineBuiltByClang() throws {
        let clang = try XCTUnwrap(toolOnPath("clang"), "clang (it comes with the Swift toolchain)")
        let fixture = try Fixture(source: Fixture.cSource, name: "fixture", in: directory, compiler: clang)
        let sections = try runProcess("/usr/bin/readelf", ["-S", "-W", fixture.executable]).stdoutText
        XCTAssertTrue(sections.contains(".debug_info"))
        XCTAssertFalse(sections.contains(".debug_aranges"))
        try assertDWARFFrames(fixture)
    }

    func testSeparateDebugInfoFoundByBuildID() throws {
        let fixture = try cFixture()
        let module = try fixture.module(fixture.executable)
        let hex = module.buildIDHex
        let debugDirectory = path("debug/.build-id/\(hex.prefix(2))")
        try FileManager.default.createDirectory(atPath: debugDirectory, withIntermediateDirectories: true)
        let debugFile = "\(debugDirectory)/\(hex.dropFirst(2)).debug"
        try runChecked("/usr/bin/objcopy", ["--only-keep-debug", fixture.executable, debugFile])
        try runChecked("/usr/bin/strip", ["--strip-all", fixture.executable])

        // Without the directory: the stripped file alone knows nothing but its segments.
        let bare = Symbolizer(snapshot: Fixture.snapshot(modules: fixture.modules))
        let fileAddress = try fixture.pc("plain") - module.loadBias
        XCTAssertEqual(
            bare.frames(for: try fixture.pc("plain")),
            [
                Frame(
                    function: "fixture+0x\(String(fileAddress, radix: 16))", file: "", line: 0,
                    module: fixture.executable)
            ]
        )

        let symbolizer = Symbolizer(
            snapshot: Fixture.snapshot(modules: fixture.modules),
            options: Symbolizer.Options(debugDirectories: [path("debug")]))
        XCTAssertEqual(
            symbolizer.frames(for: try fixture.pc("inlined")).map(\.function),
            ["leaf_helper", "middle_helper", "outer_function"])
        XCTAssertEqual(
            symbolizer.frames(for: try fixture.pc("plain")),
            [
                Frame(
                    function: "plain_function", file: fixture.source, line: try fixture.line("plain"),
                    module: fixture.executable)
            ])
    }

    func testModuleFileMissingUsesDebugFileOfItsBuildID() throws {
        let fixture = try cFixture()
        let module = try fixture.module(fixture.executable)
        let hex = module.buildIDHex
        let debugDirectory = path("debug/.build-id/\(hex.prefix(2))")
        try FileManager.default.createDirectory(atPath: debugDirectory, withIntermediateDirectories: true)
        try runChecked(
            "/usr/bin/objcopy",
            ["--only-keep-debug", fixture.executable, "\(debugDirectory)/\(hex.dropFirst(2)).debug"])
        try FileManager.default.removeItem(atPath: fixture.executable)
        let symbolizer = Symbolizer(
            snapshot: Fixture.snapshot(modules: fixture.modules),
            options: Symbolizer.Options(debugDirectories: [path("debug")]))
        XCTAssertEqual(
            symbolizer.frames(for: try fixture.pc("plain")),
            [
                Frame(
                    function: "plain_function", file: fixture.source, line: try fixture.line("plain"),
                    module: fixture.executable)
            ])
        XCTAssertEqual(symbolizer.warnings, [])
    }

    func testCPlusPlusNamesAreDemangled() throws {
        let fixture = try Fixture(source: Fixture.cppSource, name: "shapes", in: directory, cplusplus: true)
        let symbolizer = Symbolizer(snapshot: Fixture.snapshot(modules: fixture.modules))
        let exe = fixture.executable
        XCTAssertEqual(
            symbolizer.frames(for: try fixture.pc("grow")),
            [
                Frame(
                    function: "void* shapes::twice<int>(int)", file: fixture.source, line: try fixture.line("twice"),
                    module: exe, isInlined: true),
                Frame(
                    function: "shapes::Circle::grow(int)", file: fixture.source, line: try fixture.line("grow"),
                    module: exe),
            ])

        // From the symbol table alone, the same names.
        try runChecked("/usr/bin/strip", ["--strip-debug", exe])
        let bare = Symbolizer(snapshot: Fixture.snapshot(modules: fixture.modules))
        let frame = bare.frames(for: try fixture.pc("grow"))
        XCTAssertEqual(frame.map(\.function), ["shapes::Circle::grow(int)"])
        XCTAssertEqual(frame.first?.file, "")
        XCTAssertNotNil(frame.first?.offset)
    }

    // MARK: Fallbacks

    func testSymbolAndOffsetWithoutDWARF() throws {
        let fixture = try cFixture()
        try runChecked("/usr/bin/strip", ["--strip-debug", fixture.executable])
        let symbolizer = Symbolizer(snapshot: Fixture.snapshot(modules: fixture.modules))
        let exe = fixture.executable
        XCTAssertEqual(
            symbolizer.frames(for: try fixture.pc("inlined")),
            [
                Frame(
                    function: "outer_function", file: "", line: 0, module: exe,
                    offset: try fixture.pc("inlined") - fixture.pc("outer_function"))
            ])
        XCTAssertEqual(
            symbolizer.frames(for: try fixture.pc("plain")),
            [
                Frame(
                    function: "plain_function", file: "", line: 0, module: exe,
                    offset: try fixture.pc("plain") - fixture.pc("plain_function"))
            ])
        XCTAssertEqual(symbolizer.warnings, [])
    }

    func testModuleAndOffsetWithoutSymbols() throws {
        let fixture = try cFixture()
        try runChecked("/usr/bin/strip", ["--strip-all", fixture.executable])
        let module = try fixture.module(fixture.executable)
        let symbolizer = Symbolizer(snapshot: Fixture.snapshot(modules: fixture.modules))
        let fileAddress = try fixture.pc("inlined") - module.loadBias
        XCTAssertEqual(
            symbolizer.frames(for: try fixture.pc("inlined")),
            [
                Frame(
                    function: "fixture+0x\(String(fileAddress, radix: 16))", file: "", line: 0,
                    module: fixture.executable)
            ])
    }

    func testBuildIDMismatchIsReported() throws {
        let fixture = try cFixture()
        var modules = fixture.modules
        let index = modules.firstIndex { $0.path == fixture.executable }!
        modules[index].buildID = modules[index].buildID.map { $0 ^ 0xff }
        let symbolizer = Symbolizer(snapshot: Fixture.snapshot(modules: modules))
        // Another build's names at these offsets could be wrong: the frames show module offsets.
        let pc = try fixture.pc("plain")
        let offset = pc - modules[index].loadBias
        XCTAssertEqual(
            symbolizer.frames(for: pc),
            [Frame(function: "fixture+0x\(String(offset, radix: 16))", file: "", line: 0, module: fixture.executable)])
        XCTAssertEqual(
            symbolizer.warnings,
            [
                "\(fixture.executable) is not the build that ran (its build-id differs: rebuilt since?); "
                    + "its frames show as module+offset"
            ])
        _ = symbolizer.frames(for: try fixture.pc("inlined"))
        XCTAssertEqual(symbolizer.warnings.count, 1)
    }

    func testMissingModuleFile() {
        let module = Snapshot.Module(
            path: "/nonexistent/libgone.so", buildID: [1, 2, 3], loadBias: 0x7000_0000,
            segments: [Snapshot.Segment(start: 0x7000_0000, size: 0x1000, fileOffset: 0, flags: 5)])
        let symbolizer = Symbolizer(snapshot: Fixture.snapshot(modules: [module]))
        XCTAssertEqual(
            symbolizer.frames(for: 0x7000_0123),
            [Frame(function: "libgone.so+0x123", file: "", line: 0, module: "/nonexistent/libgone.so")])
        XCTAssertEqual(
            symbolizer.warnings, ["/nonexistent/libgone.so is not on this machine; its frames show as module+offset"])
    }

    /// A module path is the snapshot's say-so: one naming a FIFO (no writer) hung the symbolizer
    /// in open(); it is not opened, and its addresses show as module+offset.
    func testAModulePathThatIsNotARegularFileIsNotOpened() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("memtrace-fifo-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = directory.appendingPathComponent("libfifo.so").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let module = Snapshot.Module(
            path: fifo, buildID: [], loadBias: 0x7000_0000,
            segments: [Snapshot.Segment(start: 0x7000_0000, size: 0x1000, fileOffset: 0, flags: 5)])
        let symbolizer = Symbolizer(snapshot: Fixture.snapshot(modules: [module]))
        XCTAssertEqual(
            symbolizer.frames(for: 0x7000_0123), [Frame(function: "libfifo.so+0x123", file: "", line: 0, module: fifo)])
    }

    func testGarbagePCsNeverCrashAndNeverVanish() throws {
        let fixture = try cFixture()
        let module = try fixture.module(fixture.executable)
        let symbolizer = Symbolizer(snapshot: Fixture.snapshot(modules: fixture.modules))
        func only(_ pc: UInt64) -> String? {
            let frames = symbolizer.frames(for: pc)
            XCTAssertEqual(frames.count, 1)
            return frames.first?.function
        }
        XCTAssertEqual(symbolizer.frames(for: 0), [Frame(function: "0x0", file: "", line: 0, module: "")])
        XCTAssertEqual(only(UInt64.max), "0xffffffffffffffff")
        XCTAssertEqual(only(0x1234_5678), "0x12345678")
        // The writable segment holds data, no function.
        let data = module.segments.last!
        XCTAssertEqual(data.flags, 6)
        XCTAssertEqual(only(data.start), "fixture+0x\(String(data.start - module.loadBias, radix: 16))")
        // The first byte of the file: the ELF header, no function either.
        XCTAssertEqual(only(module.loadBias), "fixture+0x0")
        // Random addresses in and around every module.
        var generator = SystemRandomNumberGenerator()
        for module in fixture.modules {
            for segment in module.segments {
                for _ in 0..<200 {
                    let pc = segment.start &+ UInt64.random(in: 0..<(segment.size + 0x2000), using: &generator)
                    XCTAssertFalse(symbolizer.frames(for: pc).isEmpty)
                }
            }
        }
    }

    func testVDSO() throws {
        let fixture = try cFixture()
        let vdso = try fixture.module("linux-vdso.so.1")
        let pc = try fixture.pc("vdso_clock_gettime")
        // Same kernel, same build-id: the vDSO of this process stands in for the traced one's.
        let symbolizer = Symbolizer(snapshot: Fixture.snapshot(modules: [vdso]))
        XCTAssertEqual(
            symbolizer.frames(for: pc + 4),
            [Frame(function: "__vdso_clock_gettime", file: "", line: 0, module: "linux-vdso.so.1", offset: 4)])
        XCTAssertEqual(symbolizer.warnings, [])

        // Another kernel's vDSO (or none recorded): module+offset, and no warning, nothing is missing.
        var foreign = vdso
        foreign.path = "[vdso]"
        foreign.buildID = []
        let other = Symbolizer(snapshot: Fixture.snapshot(modules: [foreign]))
        XCTAssertEqual(
            other.frames(for: pc + 4),
            [
                Frame(
                    function: "[vdso]+0x\(String(pc + 4 - vdso.loadBias, radix: 16))", file: "", line: 0,
                    module: "[vdso]")
            ])
        XCTAssertEqual(other.warnings, [])
    }

    func testSystemLibraryWithDebugPackage() throws {
        let fixture = try cFixture()
        let libc = try XCTUnwrap(fixture.modules.first { $0.path.hasSuffix("/libc.so.6") })
        let hex = libc.buildIDHex
        try XCTSkipUnless(
            FileManager.default.fileExists(
                atPath: "/usr/lib/debug/.build-id/\(hex.prefix(2))/\(hex.dropFirst(2)).debug"),
            "libc6-dbg is not installed")
        let symbolizer = Symbolizer(snapshot: Fixture.snapshot(modules: [libc]))
        let frames = symbolizer.frames(for: try fixture.pc("malloc"))
        XCTAssertEqual(frames.map(\.function), ["__libc_malloc"])
        XCTAssertEqual(frames.first?.file.hasSuffix("/malloc/malloc.c"), true, "\(frames)")
        XCTAssertGreaterThan(frames.first?.line ?? 0, 0)
        XCTAssertEqual(symbolizer.warnings, [])
    }

    // MARK: A real snapshot

    func testSnapshotFromTheTracer() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: TestPaths.libtrace), "run `make tracer` first")
        let source = path("traced.c")
        try """
        #include <stdlib.h>
        #include <string.h>
        static inline __attribute__((always_inline)) char *make(int n) {
            return malloc(n); /* MARK:make */
        }
        __attribute__((noinline)) char *build(int i) {
            char *p = make(100 + i); /* MARK:build */
            memset(p, 1, 10);
            return p;
        }
        int main(void) {
            static char *keep[50];
            for (int i = 0; i < 50; i++) keep[i] = build(i); /* MARK:main */
            for (int i = 0; i < 25; i++) free(keep[i]);
            return 0;
        }
        """.write(toFile: source, atomically: false, encoding: .utf8)
        let exe = try compile(
            source: source, output: "traced", in: directory, flags: ["-O2", "-fno-optimize-sibling-calls"])
        let output = path("traced.snap")
        let run = try runProcess(
            exe, environment: ["LD_PRELOAD": TestPaths.libtrace, "MEMTRACE_OUTPUT": output, "MEMTRACE_BLOCKS": "1"])
        XCTAssertEqual(run.status, 0, run.stderrText)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: output)))
        let snapshot = try SnapshotFile.read(path: output)
        // The writer reproduces the tracer's file byte for byte.
        XCTAssertEqual(SnapshotWriter.encode(snapshot), bytes)

        let stat = try XCTUnwrap(snapshot.stackStats.first { $0.liveCount == 25 })
        XCTAssertEqual(stat.totalCount, 50)
        XCTAssertEqual(stat.liveBytes, (25..<50).reduce(0) { $0 + 100 + UInt64($1) })
        let pcs = snapshot.stacks[Int(stat.stack)].pcs
        XCTAssertGreaterThanOrEqual(pcs.count, 3)
        let symbolizer = Symbolizer(snapshot: snapshot)
        func line(_ mark: String) throws -> Int {
            let lines = try String(contentsOfFile: source, encoding: .utf8).split(
                separator: "\n", omittingEmptySubsequences: false)
            return try XCTUnwrap(lines.firstIndex { $0.contains("MARK:\(mark) ") }) + 1
        }
        XCTAssertEqual(
            symbolizer.frames(for: pcs[0]),
            [
                Frame(function: "make", file: source, line: try line("make"), module: exe, isInlined: true),
                Frame(function: "build", file: source, line: try line("build"), module: exe),
            ])
        XCTAssertEqual(
            symbolizer.frames(for: pcs[1]), [Frame(function: "main", file: source, line: try line("main"), module: exe)]
        )
        XCTAssertEqual(symbolizer.warnings, [])
    }

    // MARK: Embedded symbols

    func testEmbeddedSymbolsReplaceTheBinaries() throws {
        let fixture = try cFixture()
        let pcs = [try fixture.pc("inlined"), try fixture.pc("plain"), 0x42]
        var snapshot = Fixture.snapshot(modules: fixture.modules, pcs: pcs)
        let table = Symbolizer(snapshot: snapshot).symbolTable()
        XCTAssertEqual(table.count, 3)
        XCTAssertEqual(table[try fixture.pc("inlined")]?.map(\.isInlined), [true, true, false])

        // Through a file, onto a "machine" without the executable.
        snapshot.symbols = table
        let file = path("symbolized.snap")
        try SnapshotWriter.write(snapshot, to: file)
        try FileManager.default.removeItem(atPath: fixture.executable)
        let readBack = try SnapshotFile.read(path: file)
        let symbolizer = Symbolizer(snapshot: readBack)
        XCTAssertEqual(
            symbolizer.frames(for: try fixture.pc("inlined")).map(\.function),
            ["leaf_helper", "middle_helper", "outer_function"])
        XCTAssertEqual(
            symbolizer.frames(for: try fixture.pc("plain")),
            [
                Frame(
                    function: "plain_function", file: fixture.source, line: try fixture.line("plain"),
                    module: fixture.executable)
            ])
        XCTAssertEqual(symbolizer.frames(for: 0x42), [Frame(function: "0x42", file: "", line: 0, module: "")])
        XCTAssertEqual(symbolizer.warnings, [])

        // Asked not to, it goes to the (now missing) binary.
        let ignoring = Symbolizer(snapshot: readBack, options: Symbolizer.Options(useEmbeddedSymbols: false))
        let fileAddress = try fixture.pc("plain") - fixture.module(fixture.executable).loadBias
        XCTAssertEqual(
            ignoring.frames(for: try fixture.pc("plain")).map(\.function),
            ["fixture+0x\(String(fileAddress, radix: 16))"])
        XCTAssertEqual(
            ignoring.warnings, ["\(fixture.executable) is not on this machine; its frames show as module+offset"])
    }

    func testProgressIsReported() throws {
        let fixture = try cFixture()
        let plain = try fixture.pc("plain")
        let pcs = (0..<1000).map { plain &+ UInt64($0) }
        let symbolizer = Symbolizer(snapshot: Fixture.snapshot(modules: fixture.modules, pcs: pcs + pcs))
        var calls: [(Int, Int)] = []
        symbolizer.resolveAll { done, total in calls.append((done, total)) }
        XCTAssertEqual(calls.first?.0, 0)
        XCTAssertEqual(calls.last?.0, 1000)
        XCTAssertTrue(calls.allSatisfy { $0.1 == 1000 })
        XCTAssertEqual(calls.count, 5)  // 0, 256, 512, 768, then done
        // All cached now: nothing left to do.
        calls = []
        symbolizer.resolveAll { done, total in calls.append((done, total)) }
        XCTAssertEqual(calls.map(\.0), [0])
        // Under a test runner standard error is a file or a pipe: no progress line.
        if isatty(2) == 0 { XCTAssertNil(Symbolizer.terminalProgress()) }
    }

    // MARK: Demangling

    /// Every v0 name of a real Rust program (its own functions, closures, and the generics of the
    /// standard library it instantiates) reads as binutils' c++filt reads it, less the crates' hashes.
    func testRustV0NamesReadAsCppfiltReadsThem() throws {
        let rustc = try XCTUnwrap(
            FileManager.default.isExecutableFile(atPath: "/usr/bin/rustc") ? "/usr/bin/rustc" : toolOnPath("rustc"),
            "rustc (Debian's rustc package)")
        let source = TestPaths.file("Tests/EndToEndTests/Fixtures/rustsites.rs")
        let exe = path("rustsites")
        let built = try runProcess(rustc, ["-g", "-C", "symbol-mangling-version=v0", "-o", exe, source])
        XCTAssertEqual(built.status, 0, built.stderrText)
        let names = try runProcess("/usr/bin/nm", [exe]).stdoutText.split(separator: "\n").compactMap {
            $0.split(separator: " ").last.map(String.init)
        }.filter { $0.hasPrefix("_R") }
        XCTAssertGreaterThan(names.count, 50)
        let filtered = try runProcess(
            "/usr/bin/c++filt", [], stdin: Data((names.joined(separator: "\n") + "\n").utf8))
        let expected = filtered.stdoutText.split(separator: "\n", omittingEmptySubsequences: false).prefix(names.count)
            .map {  // a crate's hash follows its name; `[f64]` is a slice
                let hash = "(?<=[A-Za-z0-9_])\\[[0-9a-f]{1,16}\\]"
                return $0.replacingOccurrences(of: hash, with: "", options: .regularExpression)
            }
        XCTAssertEqual(expected.count, names.count)
        for (name, readable) in zip(names, expected) {
            XCTAssertEqual(Demangler.demangle(name), readable, name)
        }
        XCTAssertTrue(expected.contains("rustsites::main::{closure#0}"))
    }

    /// Compilers name headers through the directories they searched: one file, one name.
    func testFilePathsAreNormalized() throws {
        XCTAssertEqual(
            Symbolizer.lexicallyNormalized(
                "/usr/lib/gcc/x86_64-linux-gnu/12/../../../../include/c++/12/bits/new_allocator.h"),
            "/usr/include/c++/12/bits/new_allocator.h")
        XCTAssertEqual(Symbolizer.lexicallyNormalized("/src//app/./main.c"), "/src/app/main.c")
        XCTAssertEqual(Symbolizer.lexicallyNormalized("/../x.c"), "/x.c")
        XCTAssertEqual(Symbolizer.lexicallyNormalized("../sysdeps/x86/foo.c"), "../sysdeps/x86/foo.c")
        XCTAssertEqual(Symbolizer.lexicallyNormalized("/src/.hidden/a.c"), "/src/.hidden/a.c")

        // A program compiled from a path with `..` in it.
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("sub"), withIntermediateDirectories: true)
        let fixture = try Fixture(
            source: Fixture.cSource, name: "fixture", in: directory, compiledAs: directory.path + "/sub/../fixture.c")
        let frames = Symbolizer(snapshot: Fixture.snapshot(modules: fixture.modules)).frames(
            for: try fixture.pc("plain"))
        XCTAssertEqual(frames.map(\.file), [fixture.source])
    }

    func testDemangler() {
        XCTAssertEqual(Demangler.demangle("_ZN6shapes6Circle4growEi"), "shapes::Circle::grow(int)")
        XCTAssertEqual(
            Demangler.demangle("_ZNSt6vectorIiSaIiEE9push_backERKi"),
            "std::vector<int, std::allocator<int> >::push_back(int const&)")
        XCTAssertEqual(
            Demangler.demangle("$sSi1poiyS2i_SitFZ"), "static Swift.Int.+ infix(Swift.Int, Swift.Int) -> Swift.Int")
        XCTAssertEqual(
            Demangler.demangle("_ZN4core3fmt9Formatter3pad17h0123456789abcdefE"), "core::fmt::Formatter::pad")
        // The suffix LLVM adds to a function it made local (`.llvm.` and a hash): Rust's without it,
        // C++'s as the clone `__cxa_demangle` names.
        XCTAssertEqual(
            Demangler.demangle(
                "_ZN3std2rt10lang_start28_$u7b$$u7b$closure$u7d$$u7d$17h20f120b73f0a8c94E.llvm.15611416675954873183"),
            "std::rt::lang_start::{{closure}}")
        XCTAssertEqual(
            Demangler.demangle(
                "_ZN66_$LT$alloc..vec..Vec$LT$T$GT$$u20$as$u20$core..ops..drop..Drop$GT$4drop17h0123456789abcdefE.llvm.9"
            ),
            "<alloc::vec::Vec<T> as core::ops::drop::Drop>::drop")
        XCTAssertEqual(Demangler.demangle("_ZN3foo3barEv.llvm.123"), "foo::bar() [clone .llvm.123]")
        XCTAssertEqual(Demangler.demangle("_ZN3foo3bar17h0123456789abcdefE.cold"), "foo::bar")
        XCTAssertEqual(
            Demangler.demangle(
                "_ZN66_$LT$alloc..vec..Vec$LT$T$GT$$u20$as$u20$core..ops..drop..Drop$GT$4drop17h0123456789abcdefE"),
            "<alloc::vec::Vec<T> as core::ops::drop::Drop>::drop")
        // Rust v0: trait objects, const generics, tuples and raw pointers, references to slices.
        XCTAssertEqual(
            Demangler.demangle(
                "_RNvXs1_NtCsgEmfK2I1SDS_4core3anyDNtB5_3AnyNtNtB7_6marker4SyncNtBG_4SendEL_NtNtB7_3fmt5Debug3fmt"),
            "<dyn core::any::Any + core::marker::Sync + core::marker::Send as core::fmt::Debug>::fmt")
        XCTAssertEqual(
            Demangler.demangle("_RINvNtCsgEmfK2I1SDS_4core6escape14escape_unicodeKja_ECsgY6Mt91CT9J_14rustc_demangle"),
            "core::escape::escape_unicode::<10: usize>")
        XCTAssertEqual(
            Demangler.demangle(
                "_RNvYNCNvNvMs6_NtNtCsgEmfK2I1SDS_4core4task4wakeNtBc_5Waker11from_fn_ptr6VTABLE0INtNtNtBg_3ops8"
                    + "function6FnOnceTPuEE9call_onceBg_"),
            "<<core::task::wake::Waker>::from_fn_ptr::VTABLE::{closure#0} as core::ops::function::FnOnce<(*const (),)>>"
                + "::call_once")
        XCTAssertEqual(
            Demangler.demangle("_RNvXs1h_NtCsgEmfK2I1SDS_4core3fmtQShNtB6_5Debug3fmtCsgY6Mt91CT9J_14rustc_demangle"),
            "<&mut [u8] as core::fmt::Debug>::fmt")
        // A vendor suffix is dropped; a name that does not parse (a back-reference forward) stays as it is.
        XCTAssertEqual(Demangler.demangle("_RNvCs1234_7mycrate4main.llvm.123"), "mycrate::main")
        XCTAssertEqual(Demangler.demangle("_RNvB9_4main"), "_RNvB9_4main")
        XCTAssertEqual(Demangler.demangle("_RNvCs1234_7mycrate99main"), "_RNvCs1234_7mycrate99main")
        // Characters as c++filt prints them.
        XCTAssertEqual(Demangler.demangle("_RINvC1a1bKc22_E"), "a::b::<'\"': char>")
        XCTAssertEqual(Demangler.demangle("_RINvC1a1bKc20_E"), "a::b::<'\\u{20}': char>")
        XCTAssertEqual(Demangler.demangle("_RINvC1a1bKce9_E"), "a::b::<'\\u{e9}': char>")
        XCTAssertEqual(Demangler.demangle("_RINvC1a1bKca_E"), "a::b::<'\\n': char>")
        // Hostile names come back as they are, at once: a constant referring to itself, numbers
        // past 64 bits, and back-references that double the text at every level.
        for hostile in ["_RINvC1a1bKB8_E", "_RINvC1a1bLlYGhA16ahyg_E", "_RINvC1a1bFGlYGhA16ahye_EuE", "_RINvC1a1bKj_E"]
        {
            XCTAssertEqual(Demangler.demangle(hostile), hostile)
        }
        // a::b::<c<u8>, c<c<u8>, c<u8>>, …>: each argument refers back to the one before twice.
        func backReference(_ position: Int) -> String {
            guard position > 0 else { return "B_" }
            let digits = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
            var value = position - 1
            var text = ""
            repeat {
                text = String(digits[value % 62]) + text
                value /= 62
            } while value > 0
            return "B" + text + "_"
        }
        var body = "INvC1a1b"
        var previous = body.count
        body += "INtC1a1chE"
        for _ in 0..<40 {
            let start = body.count
            body += "INtC1a1c" + backReference(previous) + backReference(previous) + "E"
            previous = start
        }
        let doubling = "_R" + body + "E"
        XCTAssertEqual(Demangler.demangle(doubling), doubling)
        let short = "_RINvC1a1bINtC1a1chEINtC1a1cB7_B7_EE"
        XCTAssertEqual(Demangler.demangle(short), "a::b::<a::c<u8>, a::c<a::c<u8>, a::c<u8>>>")
        let tuples = "_RINvC1a1b" + String(repeating: "TE", count: 40_000) + "E"
        XCTAssertEqual(Demangler.demangle(tuples), tuples)
        XCTAssertEqual(Demangler.demangle("malloc"), "malloc")
        XCTAssertEqual(Demangler.demangle("_Znot-mangled"), "_Znot-mangled")
        XCTAssertEqual(Demangler.demangle(""), "")
    }

    // MARK: Speed

    func testFiftyThousandPCsInLibpython() throws {
        let library = "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0"
        try XCTSkipUnless(FileManager.default.fileExists(atPath: library), "libpython3.11 is not installed")
        let (start, size) = try textSection(library)
        let bias: UInt64 = 0x7f00_0000_0000
        let module = Snapshot.Module(
            path: library, buildID: [], loadBias: bias,
            segments: [Snapshot.Segment(start: bias, size: start + size, fileOffset: 0, flags: 5)])
        let pcs = (0..<50_000).map { bias + start + UInt64($0) * (size / 50_000) }
        let symbolizer = Symbolizer(snapshot: Fixture.snapshot(modules: [module], pcs: pcs))
        let begin = Date()
        symbolizer.resolveAll()
        let elapsed = Date().timeIntervalSince(begin)
        let named = pcs.filter { !symbolizer.frames(for: $0)[0].function.hasPrefix("libpython") }.count
        print("symbolized 50,000 pcs of libpython3.11 in \(elapsed) s, \(named) by symbol")
        // libpython ships .dynsym only: pcs in static functions stay module+offset.
        XCTAssertGreaterThan(named, 5_000)
        XCTAssertEqual(symbolizer.frames(for: pcs[0]).count, 1)
        // A few seconds in a debug build; a fraction of a second in release.
        XCTAssertLessThan(elapsed, 20)
    }

    func testFiftyThousandPCsInLibcWithDWARF() throws {
        let library = "/lib/x86_64-linux-gnu/libc.so.6"
        let notes = try runProcess("/usr/bin/readelf", ["-nW", library]).stdoutText
        let hex = try XCTUnwrap(
            notes.split(separator: "\n").first { $0.contains("Build ID:") }?.split(separator: " ").last)
        try XCTSkipUnless(
            FileManager.default.fileExists(
                atPath: "/usr/lib/debug/.build-id/\(hex.prefix(2))/\(hex.dropFirst(2)).debug"),
            "libc6-dbg is not installed")
        let (start, size) = try textSection(library)
        let bias: UInt64 = 0x7f00_0000_0000
        let module = Snapshot.Module(
            path: library, buildID: Fixture.bytes(hex: String(hex)), loadBias: bias,
            segments: [Snapshot.Segment(start: bias, size: start + size, fileOffset: 0, flags: 5)])
        let pcs = (0..<50_000).map { bias + start + UInt64($0) * (size / 50_000) }
        let symbolizer = Symbolizer(snapshot: Fixture.snapshot(modules: [module], pcs: pcs))
        let begin = Date()
        symbolizer.resolveAll()
        let elapsed = Date().timeIntervalSince(begin)
        let withLines = pcs.filter { symbolizer.frames(for: $0).last!.line > 0 }.count
        let inlined = pcs.filter { symbolizer.frames(for: $0).count > 1 }.count
        print("symbolized 50,000 pcs of libc with DWARF in \(elapsed) s: \(withLines) with lines, \(inlined) inlined")
        XCTAssertGreaterThan(withLines, 25_000)
        XCTAssertGreaterThan(inlined, 5_000)
        XCTAssertEqual(symbolizer.warnings, [])
        XCTAssertLessThan(elapsed, 60)
    }

    /// Address and size of the `.text` section of `library`, from readelf.
    func textSection(_ library: String) throws -> (start: UInt64, size: UInt64) {
        let sections = try runProcess("/usr/bin/readelf", ["-SW", library]).stdoutText
        let text = try XCTUnwrap(sections.split(separator: "\n").first { $0.contains(" .text ") })
        let fields = text.split(separator: " ").map(String.init)
        let at = try XCTUnwrap(fields.firstIndex(of: ".text"))
        return (try XCTUnwrap(UInt64(fields[at + 2], radix: 16)), try XCTUnwrap(UInt64(fields[at + 4], radix: 16)))
    }

    func runChecked(_ tool: String, _ arguments: [String]) throws {
        let result = try runProcess(tool, arguments)
        guard result.status == 0 else { throw SupportError("\(tool) \(arguments) failed: \(result.stderrText)") }
    }
}
