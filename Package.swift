// swift-tools-version:6.0
//
// memtrace: tracemalloc for native Linux processes.
//
// The package holds both halves of the product. The C tracer (`Tracer`) is
// declared here so SwiftPM compiles and checks it, but `libtrace.so` itself is
// linked by the Makefile with `cc -shared`: a SwiftPM dynamic product would
// pull libswiftCore and swiftrt.o into every traced program. No Swift target
// depends on `Tracer`, because an executable that links a target defining
// `malloc` would trace itself.
import PackageDescription

let package = Package(
    name: "memtrace",
    products: [
        .executable(name: "memtrace", targets: ["memtrace"]),
        .library(name: "MemtraceKit", targets: ["SnapshotReader", "Symbolizer", "Analysis", "Renderers"]),
        // Leak checks for XCTest and Swift Testing (expectNoLeaks, expectNoGrowth) over the
        // tracer's in-process API; see docs/leaks.md.
        .library(name: "MemtraceTesting", targets: ["MemtraceTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // The runtime for the committed pprof code in Sources/Renderers/Proto.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // The allocator shim (hooks, recorder, snapshot writer). Compiled here
        // as a check; linked into libtrace.so by the Makefile.
        .target(
            name: "Tracer",
            path: "Sources/Tracer",
            cSettings: [
                .define("UNW_LOCAL_ONLY"),
                .define("_GNU_SOURCE"),
                .unsafeFlags(["-Wall", "-Wextra", "-Werror", "-fvisibility=hidden"]),
            ]
        ),
        // elfutils libdw, from Debian's libdw-dev, for DWARF symbolization.
        .systemLibrary(name: "CLibdw", path: "Sources/CLibdw"),
        // Parses and validates snapshot files (docs/snapshot-format.md).
        .target(name: "SnapshotReader"),
        // Turns program counters into functions, files and lines with libdw.
        .target(name: "Symbolizer", dependencies: ["CLibdw", "SnapshotReader"]),
        // Statistics, diffs and filters in the manner of Python's tracemalloc.
        .target(name: "Analysis", dependencies: ["SnapshotReader", "Symbolizer"]),
        // zlib, from Debian's zlib1g-dev: pprof profiles are gzipped, and
        // Foundation on Linux has no compression API.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // Everything that turns analysed snapshots into files other tools
        // read (pprof, folded stacks, speedscope, JSON) or people look at
        // (the HTML report). Kept apart from Analysis so that the analysis
        // library needs neither swift-protobuf nor zlib. Proto/profile.proto
        // is the schema; the profile.pb.swift generated from it is committed
        // (scripts/generate-proto).
        .target(
            name: "Renderers",
            dependencies: [
                "SnapshotReader", "Symbolizer", "Analysis", "CZlib",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["Proto/profile.proto"]
        ),
        // The command-line tool: a thin layer over the libraries above.
        .executableTarget(
            name: "memtrace",
            dependencies: [
                "SnapshotReader", "Symbolizer", "Analysis", "Renderers",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The tracer's in-process checks for Swift tests. It finds libtrace.so's
        // exported functions with dlsym at run time and depends on nothing, so a
        // test bundle that uses it runs (and says it cannot check) without the tracer.
        .target(name: "MemtraceTesting"),
        // Helpers shared by the test targets: building fixtures, running the
        // built binaries, locating libtrace.so.
        .target(name: "_MemtraceTestSupport", path: "Tests/_MemtraceTestSupport"),
        // The tracer, exercised end to end: C fixtures and real programs run
        // under LD_PRELOAD, their snapshots read back and checked.
        .testTarget(
            name: "TracerTests",
            dependencies: ["_MemtraceTestSupport", "SnapshotReader", "Symbolizer"],
            exclude: ["Fixtures"]
        ),
        .testTarget(name: "SnapshotReaderTests", dependencies: ["SnapshotReader", "_MemtraceTestSupport"]),
        .testTarget(name: "SymbolizerTests", dependencies: ["Symbolizer", "SnapshotReader", "_MemtraceTestSupport"]),
        .testTarget(name: "AnalysisTests", dependencies: ["Analysis", "_MemtraceTestSupport"]),
        // Each renderer's output checked byte for byte on snapshots built in
        // memory, and read back by its consumer's rules (protobuf decoding,
        // the speedscope schema in Fixtures/).
        .testTarget(
            name: "RendererTests",
            dependencies: ["Renderers", "Analysis", "SnapshotReader", "Symbolizer", "_MemtraceTestSupport"],
            exclude: ["Fixtures"]
        ),
        // MemtraceTesting in XCTest and Swift Testing: untraced, the checks must
        // say they cannot run; LeakTests runs this same bundle again under the
        // tracer, where they must catch planted leaks.
        .testTarget(name: "MemtraceTestingTests", dependencies: ["MemtraceTesting"]),
        // memtrace check end to end: the leak corpus (C programs, one per leak
        // kind, compiled by the tests) against exact counts and valgrind
        // memcheck, suppressions, exit statuses, the region API.
        .testTarget(name: "LeakTests", dependencies: ["_MemtraceTestSupport"], exclude: ["Corpus", "Fixtures"]),
        // Runs the built memtrace over C programs traced by libtrace.so; the
        // programs' sources in Fixtures/ are compiled by the tests, not SwiftPM.
        .testTarget(
            name: "EndToEndTests", dependencies: ["_MemtraceTestSupport", "SnapshotReader"], exclude: ["Fixtures"]),
    ]
)
