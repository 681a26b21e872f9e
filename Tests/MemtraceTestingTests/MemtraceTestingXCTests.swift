import Foundation
import MemtraceTesting
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Set by LeakTests when it runs this bundle again under the tracer: then every check must run.
let expectTraced = ProcessInfo.processInfo.environment["MEMTRACE_TESTING_TRACED"] == "1"

/// MemtraceTesting from XCTest. Run plainly (`swift test`), the checks must refuse with an
/// explanation; run under the tracer (LeakTests.SwiftAPITests does that), they must catch planted
/// leaks and growth and let clean code pass.
final class MemtraceTestingXCTests: XCTestCase {
    func testTracingIsDetected() {
        XCTAssertEqual(Memtrace.isTracing, expectTraced)
        XCTAssertEqual(Memtrace.notTracingReason == nil, expectTraced)
    }

    func testUntracedChecksSayWhy() throws {
        try XCTSkipIf(Memtrace.isTracing, "only meaningful without the tracer")
        XCTAssertThrowsError(try expectNoLeaks { 1 }) { error in
            XCTAssertEqual(error as? MemtraceError, MemtraceError(.notTracing, label: "testUntracedChecksSayWhy()"))
            XCTAssertEqual(
                "\(error)",
                "memtrace: testUntracedChecksSayWhy(): this process is not running under the memtrace tracer, so no leak check can run (start the tests with `memtrace run -- swift test`, `memtrace run -- ./Tests.xctest`, or LD_PRELOAD=/path/to/libtrace.so)"
            )
        }
        XCTAssertThrowsError(try expectNoLeaks(threads: .current) { 1 }) { error in
            XCTAssertEqual((error as? MemtraceError)?.kind, .notTracing)
        }
        var ran = 0
        XCTAssertThrowsError(try expectNoGrowth { ran += 1 }) { error in
            XCTAssertEqual((error as? MemtraceError)?.kind, .notTracing)
        }
        XCTAssertEqual(ran, 0, "the body does not run when nothing can be measured")
        XCTAssertThrowsError(try Memtrace.snapshot(to: "/tmp/never.snap"))
        XCTAssertNil(Memtrace.tracedMemory)
        XCTAssertNil(Memtrace.heapOverruns)
        XCTAssertNil(Memtrace.mismatchedReleases)
        XCTAssertEqual(Memtrace.withoutTracking { 7 }, 7)
        let block = malloc(8)!
        XCTAssertFalse(Memtrace.ignore(block))
        free(block)
    }

    func testPlantedLeakIsCaught() throws {
        try XCTSkipUnless(Memtrace.isTracing, Memtrace.notTracingReason ?? "")
        var kept: UnsafeMutableRawPointer?
        XCTAssertThrowsError(try expectNoLeaks("planted leak") { kept = malloc(4000) }) { error in
            XCTAssertEqual(error as? MemtraceError, MemtraceError(.leaked(bytes: 4000), label: "planted leak"))
        }
        free(kept)
        let (bytes, value) = try Memtrace.leakedBytes(label: "freed") { () -> Int in
            let block = malloc(4000)
            free(block)
            return 42
        }
        XCTAssertEqual(bytes, 0)
        XCTAssertEqual(value, 42)
        XCTAssertEqual(try expectNoLeaks { "returned" }, "returned")
        try expectNoLeaks("within the allowance", allowed: 100) { kept = malloc(100) }
        free(kept)
    }

    func testARegionOfTheCurrentThreadLeavesOtherThreadsOut() throws {
        try XCTSkipUnless(Memtrace.isTracing, Memtrace.notTracingReason ?? "")
        // Another thread, started before the regions (creating one inside would count glibc's
        // own blocks for it: its TLS, when the stack of a thread just joined is not free yet),
        // allocates 300 bytes on request, kept, and hands them over.
        let worker = try RequestThread()
        defer { worker.stop() }
        func allocateOnAnotherThread() -> UnsafeMutableRawPointer? { worker.malloc(300) }
        var kept: [UnsafeMutableRawPointer?] = []
        kept.reserveCapacity(4)
        let current = try Memtrace.leakedBytes(label: "current", threads: .current) {
            kept.append(allocateOnAnotherThread())
            kept.append(malloc(40))
        }
        XCTAssertEqual(current.bytes, 40)
        let all = try Memtrace.leakedBytes(label: "all") {
            kept.append(allocateOnAnotherThread())
            kept.append(malloc(40))
        }
        XCTAssertEqual(all.bytes, 340)
        for block in kept { free(block) }
    }

    func testSwiftObjectsLeakedByACycleAreCaught() throws {
        try XCTSkipUnless(Memtrace.isTracing, Memtrace.notTracingReason ?? "")
        final class Node {
            var next: Node?
            var payload = [UInt8](repeating: 1, count: 256)
        }
        // Warm up once so that Node's metadata, built on first use, is not counted.
        let leaked = try Memtrace.leakedBytes(label: "cycle", warmup: 1) {
            let a = Node()
            let b = Node()
            a.next = b
            b.next = a  // a retain cycle: never freed
        }
        XCTAssertGreaterThan(leaked.bytes, 2 * 256, "two nodes and their payloads")
        try expectNoLeaks("no cycle", warmup: 1) {
            let a = Node()
            a.next = Node()
        }
    }

    func testIgnoredBlocksAndUntrackedScopesDoNotCount() throws {
        try XCTSkipUnless(Memtrace.isTracing, Memtrace.notTracingReason ?? "")
        var kept: [UnsafeMutableRawPointer?] = []
        kept.reserveCapacity(4)
        try expectNoLeaks("ignored") {
            let block = malloc(300)!
            XCTAssertTrue(Memtrace.ignore(block))
            kept.append(block)
        }
        try expectNoLeaks("untracked") {
            kept.append(Memtrace.withoutTracking { malloc(500) })
        }
        kept.forEach { free($0) }
    }

    func testGrowthPerCallIsCaughtButAFilledCacheIsNot() throws {
        try XCTSkipUnless(Memtrace.isTracing, Memtrace.notTracingReason ?? "")
        var hoard: [UnsafeMutableRawPointer?] = []
        hoard.reserveCapacity(100)
        XCTAssertThrowsError(try expectNoGrowth(iterations: 4, warmup: 1, "hoard") { hoard.append(malloc(64)) }) {
            error in
            guard case .grew(let bytes)? = (error as? MemtraceError)?.kind else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(bytes, 4 * 64)
        }
        XCTAssertEqual(hoard.count, 5, "one warm-up run and four measured ones")
        var cache: UnsafeMutableRawPointer?
        try expectNoGrowth("cache") {
            if cache == nil { cache = malloc(1000) }
        }
        struct Failure: Error {}
        XCTAssertThrowsError(try expectNoGrowth { throw Failure() }) { error in
            XCTAssertTrue(error is Failure, "the body's own error comes out: \(error)")
        }
        hoard.forEach { free($0) }
        free(cache)
    }

    func testSnapshotsAndTracedMemory() throws {
        try XCTSkipUnless(Memtrace.isTracing, Memtrace.notTracingReason ?? "")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("memtrace-testing-\(getpid()).snap")
            .path
        defer { unlink(path) }
        try Memtrace.snapshot(to: path)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(String(decoding: bytes.prefix(8), as: UTF8.self), "MEMTRACE")
        XCTAssertThrowsError(try Memtrace.snapshot(to: "/nonexistent/dir/x.snap")) { error in
            XCTAssertTrue("\(error)".contains("cannot write snapshot /nonexistent/dir/x.snap"), "\(error)")
        }
        let memory = try XCTUnwrap(Memtrace.tracedMemory)
        XCTAssertGreaterThan(memory.current, 0)
        XCTAssertGreaterThanOrEqual(memory.peak, memory.current)
    }

    /// A 32-byte block written one byte past its end (the byte flipped, so that it changes
    /// whatever was there) and released counts one heap overrun.
    func testHeapOverrunsAreCounted() throws {
        try XCTSkipUnless(Memtrace.isTracing, Memtrace.notTracingReason ?? "")
        let before = try XCTUnwrap(Memtrace.heapOverruns)
        let block = try XCTUnwrap(malloc(32))
        let past = block.load(fromByteOffset: 32, as: UInt8.self)
        block.storeBytes(of: ~past, toByteOffset: 32, as: UInt8.self)
        free(block)
        XCTAssertEqual(Memtrace.heapOverruns, before + 1)
    }

    /// A block of C++'s `operator new[]` (looked up as a C++ program would call it) released
    /// with `free` counts one mismatched release.
    func testMismatchedReleasesAreCounted() throws {
        try XCTSkipUnless(Memtrace.isTracing, Memtrace.notTracingReason ?? "")
        let before = try XCTUnwrap(Memtrace.mismatchedReleases)
        typealias NewArray = @convention(c) (Int) -> UnsafeMutableRawPointer?
        let symbol = try XCTUnwrap(dlsym(nil, "_Znam"), "operator new[] is not loaded")
        let block = try XCTUnwrap(unsafeBitCast(symbol, to: NewArray.self)(24))
        free(block)
        XCTAssertEqual(Memtrace.mismatchedReleases, before + 1)
    }
}

/// A thread that allocates on request, waiting on semaphores (which allocate nothing) between.
private final class RequestThread {
    private let request = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    private let done = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    private var size = 0
    private var block: UnsafeMutableRawPointer?
    private var thread = pthread_t()

    init() throws {
        sem_init(request, 0, 0)
        sem_init(done, 0, 0)
        let started = pthread_create(
            &thread, nil,
            { context in
                let worker = Unmanaged<RequestThread>.fromOpaque(context!).takeUnretainedValue()
                while true {
                    sem_wait(worker.request)
                    if worker.size == 0 { return nil }
                    worker.block = Glibc.malloc(worker.size)
                    sem_post(worker.done)
                }
            }, Unmanaged.passUnretained(self).toOpaque())
        if started != 0 { throw XCTSkip("cannot start a thread: \(started)") }
    }

    func malloc(_ size: Int) -> UnsafeMutableRawPointer? {
        self.size = size
        sem_post(request)
        sem_wait(done)
        return block
    }

    func stop() {
        size = 0
        sem_post(request)
        pthread_join(thread, nil)
        request.deallocate()
        done.deallocate()
    }
}
