import Foundation

/// Where the built products and the package's files are.
public enum TestPaths {
    /// The package root, found from this file's location.
    public static let root: URL = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }()

    /// `.build/release/libtrace.so`, as `make build` leaves it; `MEMTRACE_LIB` overrides.
    public static var libtrace: String {
        if let path = ProcessInfo.processInfo.environment["MEMTRACE_LIB"] { return path }
        return root.appendingPathComponent(".build/release/libtrace.so").path
    }

    /// `.build/release/memtrace`, as `make build` leaves it; `MEMTRACE_BIN` overrides.
    public static var memtrace: String {
        if let path = ProcessInfo.processInfo.environment["MEMTRACE_BIN"] { return path }
        return root.appendingPathComponent(".build/release/memtrace").path
    }

    /// The public C header directory (`memtrace.h`).
    public static var includeDir: String {
        root.appendingPathComponent("Sources/Tracer/include").path
    }

    /// A file of the package, by path relative to the root.
    public static func file(_ relative: String) -> String {
        root.appendingPathComponent(relative).path
    }
}

/// What a finished process left behind.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: Data
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

/// Errors from the helpers, with enough context to read in a test log.
public struct SupportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs `executable` with `arguments` and waits for it.
///
/// - Parameters:
///   - environment: variables added to (or, with a `nil` value, removed from) this process's environment.
///   - stdin: bytes fed to standard input; `nil` gives it /dev/null.
///   - directory: working directory; the current one when `nil`.
/// - Returns: exit status (128 + signal when killed), standard output and standard error.
@discardableResult
public func runProcess(
    _ executable: String, _ arguments: [String] = [], environment: [String: String?] = [:],
    stdin: Data? = nil, directory: URL? = nil
) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    // A traced test runner must not leak its preload into the programs it compares.
    env["LD_PRELOAD"] = nil
    for (key, value) in environment { env[key] = value }
    process.environment = env
    if let directory { process.currentDirectoryURL = directory }
    let outPipe = Pipe()
    let errPipe = Pipe()
    process.standardOutput = outPipe
    process.standardError = errPipe
    let inPipe = Pipe()
    process.standardInput = stdin == nil ? FileHandle.nullDevice : inPipe
    try process.run()
    if let stdin {
        DispatchQueue.global().async {
            try? inPipe.fileHandleForWriting.write(contentsOf: stdin)
            try? inPipe.fileHandleForWriting.close()
        }
    }
    // Read both pipes concurrently so neither fills up and blocks the child.
    final class Box: @unchecked Sendable { var data = Data() }
    let errBox = Box()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errBox.data = errPipe.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = outPipe.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    let errData = errBox.data
    process.waitUntilExit()
    let status =
        process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    return ProcessResult(status: status, stdout: outData, stderr: errData)
}

/// The directory every test directory of this process goes in, removed when the process exits
/// (`MEMTRACE_KEEP_TEST_FILES=1` keeps it, to look at after a failure).
private let testRoot: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("memtrace-tests-\(getpid())")
    if ProcessInfo.processInfo.environment["MEMTRACE_KEEP_TEST_FILES"] == nil {
        atexit {
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("memtrace-tests-\(getpid())")
            try? FileManager.default.removeItem(at: root)
        }
    }
    return url
}()

/// A fresh, empty directory for one test, under this process's test root.
public func makeTemporaryDirectory(_ label: String = "memtrace-test") throws -> URL {
    let url = testRoot.appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Compiles a C or C++ source file into an executable in `directory`.
///
/// Fixtures are built without optimisation and with frame pointers and debug
/// information, so that the lines the tests assert are the lines in the source.
/// - Returns: the executable's path.
public func compile(
    source: String, output name: String, in directory: URL, cplusplus: Bool = false, flags: [String] = [],
    compiler chosen: String? = nil
) throws -> String {
    let output = directory.appendingPathComponent(name).path
    let compiler = chosen ?? (cplusplus ? "/usr/bin/g++" : "/usr/bin/gcc")
    let args =
        ["-O0", "-g", "-fno-omit-frame-pointer", "-I", TestPaths.includeDir, "-o", output, source] + flags
        + ["-lpthread"]
    let result = try runProcess(compiler, args)
    guard result.status == 0 else {
        throw SupportError("compiling \(source) failed:\n\(result.stderrText)")
    }
    return output
}

/// The snapshot files in `directory`, sorted by name.
public func snapshotFiles(in directory: URL) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory.path)
        .filter { $0.hasSuffix(".snap") }
        .sorted()
        .map { directory.appendingPathComponent($0).path }
}

/// The path of the executable `name` in `PATH` (or in the Swift toolchain's directory, for the
/// compilers that come with it), or nil.
public func toolOnPath(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    let directories = path.split(separator: ":").map(String.init) + ["/opt/swift/usr/bin", "/usr/bin"]
    for directory in directories where !directory.isEmpty {
        let candidate = directory + "/" + name
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}
