import ArgumentParser
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
    try writeOutput(to: path) { emit in emit(bytes) }
}

/// Writes the pieces `produce` hands its argument to `path` (`-` is standard output), as they
/// are made: for an output too large to hold whole.
func writeOutput(to path: String, pieces produce: (_ emit: ([UInt8]) -> Void) -> Void) throws {
    if path == "-" {
        if let code = FileOutput.writeAll(1, pieces: produce) {
            throw CLIError("cannot write standard output: \(String(cString: strerror(code)))")
        }
        return
    }
    do {
        try FileOutput.write(to: path, mode: 0o644, durable: false, pieces: produce)
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

/// Refuses an empty `-o`, which named no file: the temporary beside it was `.tmp.PID` in the
/// current directory, and the rename then failed as `cannot rename .tmp.PID to :`.
func requireOutputName(_ output: String?) throws {
    if output?.isEmpty == true { throw ValidationError("-o needs a name.") }
}

/// Whether `output` would replace `input`: the same name, or another name for the same file (a
/// link, `./in.snap`), so that no command writes over what it reads.
func isSameFile(_ output: String, _ input: String) -> Bool {
    if output == input { return true }
    var a = stat()
    var b = stat()
    return stat(output, &a) == 0 && stat(input, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino
        && (a.st_mode & S_IFMT) == S_IFREG
}

/// `-` as the path ``FileOutput`` writes standard output through, for the snapshot writers.
func snapshotOutputPath(_ output: String) -> String {
    output == "-" ? "/dev/stdout" : output
}

/// Whether standard output is a terminal (no binary output goes there).
var standardOutputIsTerminal: Bool { isatty(1) != 0 }

/// The first of `paths` that names the same file as one before it (under any name), if any.
func distinctFiles(_ paths: [String]) -> [String] {
    paths.enumerated().filter { index, path in !paths[..<index].contains { isSameFile(path, $0) } }.map(\.element)
}

func repeatedFile(in paths: [String]) -> String? {
    for (index, path) in paths.enumerated() where paths[..<index].contains(where: { isSameFile(path, $0) }) {
        return path
    }
    return nil
}
