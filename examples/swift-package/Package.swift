// swift-tools-version:6.0
//
// A Swift package whose tests check for leaks with MemtraceTesting. The
// Inventory library has a planted leak (a retain cycle between an item and its
// shelf); build with INVENTORY_FIX_LEAK=1 in the environment to fix it.
//
//   swift build --build-tests
//   memtrace run -- swift test --skip-build      # or: LD_PRELOAD=…/libtrace.so swift test
import PackageDescription

let fixed = Context.environment["INVENTORY_FIX_LEAK"] == "1"

let package = Package(
    name: "Inventory",
    dependencies: [
        // In your own package: .package(url: "<memtrace's repository>", branch: "main").
        .package(name: "memtrace", path: "../..")
    ],
    targets: [
        .target(name: "Inventory", swiftSettings: fixed ? [.define("FIX_LEAK")] : []),
        .testTarget(
            name: "InventoryTests",
            dependencies: ["Inventory", .product(name: "MemtraceTesting", package: "memtrace")]
        ),
    ]
)
