import SnapshotReader

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Writes `bytes` to `path` (`-` is standard output) as every memtrace output is written
/// (``FileOutput``: through a temporary file renamed over it; a pipe or a device in place).
///
/// - Throws: ``CLIError`` naming the file and the system's reason.
func writeOutput(_ bytes: [UInt8], to path: String) throws {
    if path == "-" {
        if let code = FileOutput.writeAll(1, bytes) {
            throw CLIError("cannot write standard output: \(String(cString: strerror(code)))")
        }
        return
    }
    do {
        try FileOutput.write(bytes, to: path, mode: 0o644, durable: false)
    } catch {
        let reason =
            error.stage == .refused
            ? (error.code == EISDIR ? "is a directory" : "not a regular file") : String(cString: strerror(error.code))
        throw CLIError("cannot \(error.stage == .create ? "create" : "write") \(path): \(reason)")
    }
}

/// Writes `text` to `path` (`-` is standard output).
func writeOutput(_ text: String, to path: String) throws {
    try writeOutput(Array(text.utf8), to: path)
}
