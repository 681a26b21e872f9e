/// Why a memtrace check failed or could not run.
///
/// The description is one line that says what happened and, when the tracer is missing, how to
/// run the tests under it; XCTest and Swift Testing both show it as the test's failure.
public struct MemtraceError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong.
    public enum Kind: Equatable, Sendable {
        /// The process does not run under the tracer, so nothing can be checked.
        case notTracing
        /// The loaded tracer lacks a function this check needs (an older `libtrace.so`).
        case unsupported(function: String)
        /// Blocks allocated in a checked region were still live at its end.
        case leaked(bytes: Int)
        /// Allocation sites grew in every iteration of a repeated body.
        case grew(bytes: Int)
        /// A snapshot could not be written; `errno` is the system's error number.
        case snapshotFailed(path: String?, errno: Int32)
    }

    /// What went wrong.
    public var kind: Kind
    /// The label of the check (a region's name, the test's function by default).
    public var label: String

    /// An error of `kind` for the check called `label`.
    public init(_ kind: Kind, label: String) {
        self.kind = kind
        self.label = label
    }

    /// The one-line explanation.
    public var description: String {
        switch kind {
        case .notTracing:
            return
                "memtrace: \(label): this process is not running under the memtrace tracer, so no leak check can run (start the tests with `memtrace run -- swift test`, `memtrace run -- ./Tests.xctest`, or LD_PRELOAD=/path/to/libtrace.so)"
        case .unsupported(let function):
            return "memtrace: \(label): the loaded libtrace.so has no \(function) (rebuild it with make tracer)"
        case .leaked(let bytes):
            return
                "memtrace: \(label): \(bytes) bytes allocated in the checked region are still live (the tracer printed their stacks on standard error)"
        case .grew(let bytes):
            return
                "memtrace: \(label): live bytes grew by \(bytes) bytes at sites that grew in every iteration (the tracer printed their stacks on standard error)"
        case .snapshotFailed(let path, let code):
            return
                "memtrace: \(label): cannot write snapshot \(path ?? "(next name)"): \(String(cString: strerror(code)))"
        }
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
