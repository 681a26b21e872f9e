import MemtraceTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// MemtraceTesting from Swift Testing; see MemtraceTestingXCTests for how the bundle is run.
/// Serialized: a checked region counts what every thread allocates.
@Suite(.serialized)
struct MemtraceTestingSwiftTests {
    @Test func tracingIsDetected() {
        #expect(Memtrace.isTracing == expectTraced)
    }

    @Test(.disabled(if: Memtrace.isTracing, "only meaningful without the tracer"))
    func untracedChecksSayWhy() {
        let error = #expect(throws: MemtraceError.self) { try expectNoLeaks { 1 } }
        #expect(error?.kind == .notTracing)
        #expect(error?.description.contains("is not running under the memtrace tracer") == true)
    }

    @Test(.enabled(if: Memtrace.isTracing, "needs the tracer: memtrace run -- swift test"))
    func plantedLeakIsCaught() throws {
        var kept: UnsafeMutableRawPointer?
        let error = #expect(throws: MemtraceError.self) { try expectNoLeaks("planted") { kept = malloc(2500) } }
        #expect(error?.kind == .leaked(bytes: 2500))
        free(kept)
        try expectNoLeaks("fixed") { free(malloc(2500)) }
    }

    @Test(.enabled(if: Memtrace.isTracing, "needs the tracer: memtrace run -- swift test"))
    func growthIsCaught() throws {
        var hoard: [UnsafeMutableRawPointer?] = []
        hoard.reserveCapacity(20)
        let error = #expect(throws: MemtraceError.self) { try expectNoGrowth { hoard.append(malloc(32)) } }
        #expect(error?.kind == .grew(bytes: 5 * 32))
        hoard.forEach { free($0) }
    }
}
