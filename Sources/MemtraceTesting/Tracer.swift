#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The tracer's exported functions, found at run time with `dlsym(RTLD_DEFAULT, …)`.
///
/// Nothing links against `libtrace.so`: the functions are present when the test process runs
/// under `memtrace run` (or with `LD_PRELOAD=libtrace.so`), and absent otherwise, in which case
/// every entry is `nil`. The C header `memtrace.h` finds the same functions the same way.
struct TracerFunctions: @unchecked Sendable {
    typealias VoidFunction = @convention(c) () -> Int32
    typealias PathFunction = @convention(c) (UnsafePointer<CChar>?) -> Int32
    typealias MemoryFunction = @convention(c) (UnsafeMutablePointer<Int>?, UnsafeMutablePointer<Int>?) -> Int32
    typealias LabelFunction = @convention(c) (UnsafePointer<CChar>?) -> Int
    typealias PointerFunction = @convention(c) (UnsafeRawPointer?) -> Int32
    typealias CountFunction = @convention(c) () -> Int
    typealias Body = @convention(c) (UnsafeMutableRawPointer?) -> Void
    typealias GrowthFunction =
        @convention(c) (Body?, UnsafeMutableRawPointer?, Int32, Int32, UnsafePointer<CChar>?) -> Int

    var isTracing: VoidFunction?
    var snapshot: PathFunction?
    var getTracedMemory: MemoryFunction?
    var resetPeak: VoidFunction?
    var regionBegin: VoidFunction?
    var regionBeginThread: VoidFunction?
    var regionEnd: LabelFunction?
    var ignore: PointerFunction?
    var disable: VoidFunction?
    var enable: VoidFunction?
    var checkGrowth: GrowthFunction?
    var overruns: CountFunction?
    var mismatches: CountFunction?

    /// Looked up once, on first use.
    static let shared = TracerFunctions()

    private init() {
        func find<F>(_ name: String, as type: F.Type) -> F? {
            // RTLD_DEFAULT is the null handle on glibc.
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
            return unsafeBitCast(symbol, to: type)
        }
        isTracing = find("memtrace_impl_is_tracing", as: VoidFunction.self)
        snapshot = find("memtrace_impl_snapshot", as: PathFunction.self)
        getTracedMemory = find("memtrace_impl_get_traced_memory", as: MemoryFunction.self)
        resetPeak = find("memtrace_impl_reset_peak", as: VoidFunction.self)
        regionBegin = find("memtrace_impl_region_begin", as: VoidFunction.self)
        regionBeginThread = find("memtrace_impl_region_begin_thread", as: VoidFunction.self)
        regionEnd = find("memtrace_impl_region_end", as: LabelFunction.self)
        ignore = find("memtrace_impl_ignore", as: PointerFunction.self)
        disable = find("memtrace_impl_disable", as: VoidFunction.self)
        enable = find("memtrace_impl_enable", as: VoidFunction.self)
        checkGrowth = find("memtrace_impl_check_growth", as: GrowthFunction.self)
        overruns = find("memtrace_impl_overruns", as: CountFunction.self)
        mismatches = find("memtrace_impl_mismatches", as: CountFunction.self)
    }
}
