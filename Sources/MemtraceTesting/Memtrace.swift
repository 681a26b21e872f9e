#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The memtrace tracer, seen from inside the process it traces.
///
/// Every member works whether or not the process runs under the tracer: without it,
/// ``isTracing`` is `false` and the checks throw ``MemtraceError/Kind/notTracing`` with a
/// one-line explanation. Nothing links against `libtrace.so`; the tracer's functions are found
/// with `dlsym` when first used.
public enum Memtrace {
    /// Whether this process runs under the tracer (`memtrace run`, or `LD_PRELOAD=libtrace.so`)
    /// and the tracer is recording.
    public static var isTracing: Bool {
        TracerFunctions.shared.isTracing.map { $0() == 1 } ?? false
    }

    /// One line saying why checks cannot run here, or `nil` when the tracer is recording; for
    /// `XCTSkipUnless(Memtrace.isTracing, Memtrace.notTracingReason ?? "")` and the like.
    public static var notTracingReason: String? {
        isTracing ? nil : MemtraceError(.notTracing, label: "leak checks").description
    }

    /// Writes a snapshot of the live heap now, like Python's `tracemalloc.take_snapshot()`.
    ///
    /// - Parameter path: the file to write (replaced atomically), or `nil` for the next name of
    ///   the `MEMTRACE_OUTPUT` pattern.
    /// - Throws: ``MemtraceError`` when not tracing or when the file cannot be written.
    public static func snapshot(to path: String? = nil) throws {
        let tracer = try require("snapshot", \.snapshot, name: "memtrace_impl_snapshot")
        let result = path.map { path in path.withCString { tracer($0) } } ?? tracer(nil)
        if result != 0 {
            throw MemtraceError(.snapshotFailed(path: path, errno: errno), label: "snapshot")
        }
    }

    /// The traced heap's current and peak size in requested bytes, like
    /// `tracemalloc.get_traced_memory()`; `nil` when not tracing.
    public static var tracedMemory: (current: Int, peak: Int)? {
        guard isTracing, let function = TracerFunctions.shared.getTracedMemory else { return nil }
        var current = 0
        var peak = 0
        return function(&current, &peak) == 0 ? (current, peak) : nil
    }

    /// The heap blocks found so far written one byte past their end (heap overruns, most often a
    /// C string's terminator one byte too far), in the whole process; `nil` when not tracing.
    /// The tracer finds one when the block is released or a snapshot reads its record: compare
    /// the count before and after code that frees what it makes.
    public static var heapOverruns: Int? {
        guard isTracing, let function = TracerFunctions.shared.overruns else { return nil }
        let count = function()
        return count >= 0 ? count : nil
    }

    /// The heap blocks released so far otherwise than they were allocated (a block of C++'s
    /// `new[]` released with `delete`, of `new` with `free`…), in the whole process; `nil` when
    /// not tracing. Compare the count before and after the code under test.
    public static var mismatchedReleases: Int? {
        guard isTracing, let function = TracerFunctions.shared.mismatches else { return nil }
        let count = function()
        return count >= 0 ? count : nil
    }

    /// Marks a live heap block as intentionally kept: leak checks never report it, and what it
    /// points to counts as reachable (LeakSanitizer's `__lsan_ignore_object`).
    ///
    /// - Parameter pointer: the start of a block from `malloc` (for a class instance,
    ///   `Unmanaged.passUnretained(object).toOpaque()`).
    /// - Returns: `true` when the tracer knew the block.
    @discardableResult
    public static func ignore(_ pointer: UnsafeRawPointer) -> Bool {
        guard isTracing, let function = TracerFunctions.shared.ignore else { return false }
        return function(pointer) == 0
    }

    /// Runs `body` with this thread's allocations unrecorded (LeakSanitizer's `__lsan_disable`
    /// and `__lsan_enable`): what it allocates is never reported. Calls nest. Without the tracer
    /// `body` simply runs.
    public static func withoutTracking<T>(_ body: () throws -> T) rethrows -> T {
        let functions = TracerFunctions.shared
        guard isTracing, let disable = functions.disable, let enable = functions.enable else {
            return try body()
        }
        _ = disable()
        defer { _ = enable() }
        return try body()
    }

    /// Whose allocations a checked region watches.
    public enum Threads: Sendable {
        /// Every thread's: what `body` hands to other threads counts, and so does whatever
        /// other threads allocate meanwhile on their own account.
        case all
        /// Only the thread that runs `body`: what other threads allocate meanwhile (the dispatch
        /// runtime's timers after an async test, a logger, a pool serving other work) does not
        /// count, and neither does what `body` hands to them.
        case current
    }

    /// Runs `body` inside a checked region and returns what it left behind: the bytes allocated
    /// during `body` and still live at its end, with their stacks printed on standard error under
    /// `label` (gperftools' `HeapLeakChecker::NoLeaks`).
    ///
    /// Regions do not nest. Watching every thread (the default), allocations that other threads
    /// make while `body` runs count too, so run leak-checked tests one at a time, or pass
    /// `threads: .current` when `body` does its work on the calling thread.
    ///
    /// - Parameters:
    ///   - label: names the region in the tracer's report.
    ///   - warmup: runs of `body` before the region, so that what the first run sets up once
    ///     (Swift's type metadata, lazily built caches) is not counted.
    ///   - threads: whose allocations count (``Threads/all`` by default).
    ///   - body: the code to check.
    /// - Returns: the leaked bytes (0 when none) and `body`'s result.
    /// - Throws: ``MemtraceError/Kind/notTracing`` without the tracer; whatever `body` throws.
    public static func leakedBytes<T>(
        label: String, warmup: Int = 0, threads: Threads = .all, _ body: () throws -> T
    ) throws -> (bytes: Int, result: T) {
        let begin =
            threads == .all
            ? try require(label, \.regionBegin, name: "memtrace_impl_region_begin")
            : try require(label, \.regionBeginThread, name: "memtrace_impl_region_begin_thread")
        let end = try require(label, \.regionEnd, name: "memtrace_impl_region_end")
        for _ in 0..<max(0, warmup) { _ = try body() }
        _ = begin()
        let result: T
        do {
            result = try body()
        } catch {
            _ = label.withCString { end($0) }
            throw error
        }
        let bytes = label.withCString { end($0) }
        return (max(0, bytes), result)
    }

    /// The async form of ``leakedBytes(label:warmup:threads:_:)``, watching every thread (an
    /// async body may resume on any of the concurrency runtime's threads).
    public static func leakedBytes<T>(
        label: String, warmup: Int = 0, _ body: () async throws -> T
    ) async throws -> (bytes: Int, result: T) {
        let begin = try require(label, \.regionBegin, name: "memtrace_impl_region_begin")
        let end = try require(label, \.regionEnd, name: "memtrace_impl_region_end")
        for _ in 0..<max(0, warmup) { _ = try await body() }
        _ = begin()
        let result: T
        do {
            result = try await body()
        } catch {
            _ = label.withCString { end($0) }
            throw error
        }
        let bytes = label.withCString { end($0) }
        return (max(0, bytes), result)
    }

    /// Runs `body` `warmup` times, then `iterations` times, and returns the bytes gained by the
    /// allocation sites whose live bytes grew in every one of the iterations, printing those
    /// sites on standard error under `label`: a leak per call, not a cache that fills once.
    ///
    /// - Parameters:
    ///   - iterations: measured runs, at least 2.
    ///   - warmup: runs before measuring.
    ///   - label: names the check in the tracer's report.
    ///   - body: the code to repeat.
    /// - Returns: the bytes those sites gained (0 when none).
    /// - Throws: ``MemtraceError/Kind/notTracing`` without the tracer; the first error `body`
    ///   throws (the remaining runs are then skipped).
    public static func growth(
        iterations: Int = 5, warmup: Int = 2, label: String, _ body: () throws -> Void
    ) throws -> Int {
        let check = try require(label, \.checkGrowth, name: "memtrace_impl_check_growth")
        return try withoutActuallyEscaping(body) { body in
            final class Context {
                let body: () throws -> Void
                var error: (any Error)?
                init(_ body: @escaping () throws -> Void) { self.body = body }
            }
            let context = Context(body)
            let bytes = label.withCString { label in
                check(
                    { raw in
                        let context = Unmanaged<Context>.fromOpaque(raw!).takeUnretainedValue()
                        guard context.error == nil else { return }
                        do { try context.body() } catch { context.error = error }
                    }, Unmanaged.passUnretained(context).toOpaque(), Int32(clamping: max(0, warmup)),
                    Int32(clamping: max(2, iterations)), label)
            }
            if let error = context.error { throw error }
            return max(0, bytes)
        }
    }

    private static func require<F>(
        _ label: String, _ path: KeyPath<TracerFunctions, F?>, name: String
    ) throws -> F {
        let functions = TracerFunctions.shared
        guard let isTracing = functions.isTracing, isTracing() == 1 else {
            throw MemtraceError(.notTracing, label: label)
        }
        guard let function = functions[keyPath: path] else {
            throw MemtraceError(.unsupported(function: name), label: label)
        }
        return function
    }
}

/// Fails when `body` leaves memory behind: everything it allocates (by any thread) and still
/// holds when it returns counts, and the tracer prints the stacks of those blocks on standard
/// error.
///
/// Works in XCTest (`try expectNoLeaks { … }` in a `throws` test) and in Swift Testing (`#expect(throws:
/// Never.self)`, or simply `try` in a throwing `@Test`). The test process must run under the
/// tracer (`memtrace run -- swift test`); otherwise it throws ``MemtraceError/Kind/notTracing``,
/// whose description says so in one line. Blocks passed to ``Memtrace/ignore(_:)`` and
/// allocations inside ``Memtrace/withoutTracking(_:)`` are not counted.
///
/// - Parameters:
///   - label: names the check in reports; the calling function by default.
///   - allowed: bytes that may remain without failing (default 0).
///   - warmup: runs of `body` before the checked one (see ``Memtrace/leakedBytes(label:warmup:threads:_:)``).
///   - threads: whose allocations count (see ``Memtrace/Threads``; every thread's by default).
///   - body: the code to check.
/// - Returns: what `body` returns.
/// - Throws: ``MemtraceError`` with ``MemtraceError/Kind/leaked(bytes:)`` when more than
///   `allowed` bytes remain; ``MemtraceError/Kind/notTracing`` without the tracer; what `body` throws.
@discardableResult
public func expectNoLeaks<T>(
    _ label: String = #function, allowed: Int = 0, warmup: Int = 0, threads: Memtrace.Threads = .all,
    _ body: () throws -> T
) throws -> T {
    let (bytes, result) = try Memtrace.leakedBytes(label: label, warmup: warmup, threads: threads, body)
    if bytes > allowed { throw MemtraceError(.leaked(bytes: bytes), label: label) }
    return result
}

/// The async form of ``expectNoLeaks(_:allowed:warmup:threads:_:)``, watching every thread.
@discardableResult
public func expectNoLeaks<T>(
    _ label: String = #function, allowed: Int = 0, warmup: Int = 0, _ body: () async throws -> T
) async throws -> T {
    let (bytes, result) = try await Memtrace.leakedBytes(label: label, warmup: warmup, body)
    if bytes > allowed { throw MemtraceError(.leaked(bytes: bytes), label: label) }
    return result
}

/// Fails when `body` leaks on every call: runs it `warmup` times, then `iterations` times, and
/// throws when some allocation site's live bytes grew in every one of the iterations. A cache
/// that fills during the first calls and then stays put passes, which a plain region check would
/// not allow (pytest-memray's `limit_leaks` advice, done for you).
///
/// - Parameters:
///   - iterations: measured runs, at least 2 (default 5).
///   - warmup: runs before measuring (default 2).
///   - label: names the check in reports; the calling function by default.
///   - body: the code to repeat.
/// - Throws: ``MemtraceError`` with ``MemtraceError/Kind/grew(bytes:)``; ``MemtraceError/Kind/notTracing``
///   without the tracer; the first error `body` throws.
public func expectNoGrowth(
    iterations: Int = 5, warmup: Int = 2, _ label: String = #function, _ body: () throws -> Void
) throws {
    let bytes = try Memtrace.growth(iterations: iterations, warmup: warmup, label: label, body)
    if bytes > 0 { throw MemtraceError(.grew(bytes: bytes), label: label) }
}
