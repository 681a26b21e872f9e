#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The tracer library to preload, as an absolute path: `lib` (a `--lib` option), then
/// `MEMTRACE_LIB`, then `libtrace.so` next to the memtrace executable.
///
/// - Throws: ``CLIError`` naming the path that does not exist and how to get the tracer.
func locateTracer(lib: String?, environment: [String: String]) throws -> String {
    let cwd = currentDirectory()
    func absolute(_ path: String) -> String { path.hasPrefix("/") ? path : cwd + "/" + path }
    if let lib {
        guard isFile(lib) else { throw CLIError("--lib: \(lib): no such file") }
        return absolute(lib)
    }
    if let fromEnvironment = environment["MEMTRACE_LIB"], !fromEnvironment.isEmpty {
        guard isFile(fromEnvironment) else {
            throw CLIError("MEMTRACE_LIB: \(fromEnvironment): no such file")
        }
        return absolute(fromEnvironment)
    }
    let exe = readLink("/proc/self/exe") ?? CommandLine.arguments[0]
    let besideExe = String(exe[..<(exe.lastIndex(of: "/") ?? exe.startIndex)]) + "/libtrace.so"
    guard isFile(besideExe) else {
        throw CLIError(
            "cannot find the tracer: \(besideExe) does not exist (build it with make tracer, or give --lib PATH or MEMTRACE_LIB)"
        )
    }
    return besideExe
}
