import Foundation
import XCTest
import _MemtraceTestSupport

/// A fixture program built into a fresh directory, and memtrace run against it.
///
/// Fixtures are compiled from inside that directory with a relative source
/// name, and every output is read with the directory prefix removed, so the
/// expected lines name `sites.c` whatever the symbolizer does with
/// compilation directories.
struct Workspace {
    let directory: URL

    init(_ label: String) throws {
        directory = try makeTemporaryDirectory("memtrace-e2e-\(label)")
        try requireBuiltProducts()
    }

    var path: String { directory.path }

    /// Copies `Fixtures/NAME` here and compiles it to an executable named after it.
    @discardableResult
    func build(_ name: String) throws -> String {
        let source = TestPaths.file("Tests/EndToEndTests/Fixtures/\(name)")
        let copy = directory.appendingPathComponent(name)
        if !FileManager.default.fileExists(atPath: copy.path) {
            try FileManager.default.copyItem(atPath: source, toPath: copy.path)
        }
        let cplusplus = name.hasSuffix(".cpp")
        let output = String(name[..<name.lastIndex(of: ".")!])
        let result: ProcessResult
        if name.hasSuffix(".rs") {
            // Debian's rustc, whose standard library has legacy names; the program's own are v0.
            let rustc = try XCTUnwrap(Workspace.rustc, "rustc (Debian's rustc package)")
            result = try runProcess(
                rustc, ["-g", "-C", "opt-level=0", "-C", "symbol-mangling-version=v0", "-o", output, name],
                directory: directory)
        } else if name.hasSuffix(".swift") {
            let swiftc = try XCTUnwrap(toolOnPath("swiftc"), "swiftc")
            result = try runProcess(swiftc, ["-g", "-Onone", "-o", output, name], directory: directory)
        } else {
            result = try runProcess(
                cplusplus ? "/usr/bin/g++" : "/usr/bin/gcc",
                ["-O0", "-g", "-fno-omit-frame-pointer", "-I", TestPaths.includeDir, "-o", output, name],
                directory: directory)
        }
        guard result.status == 0 else {
            throw SupportError("compiling \(name) failed:\n\(result.stderrText)")
        }
        return directory.appendingPathComponent(output).path
    }

    /// Debian's rustc when installed, else the first on PATH.
    static var rustc: String? {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/rustc") ? "/usr/bin/rustc" : toolOnPath("rustc")
    }

    /// Runs `memtrace ARGS` in this directory, the tracer given by MEMTRACE_LIB.
    @discardableResult
    func memtrace(_ arguments: [String], environment: [String: String?] = [:]) throws -> Output {
        var env = environment
        if env["MEMTRACE_LIB"] == nil { env["MEMTRACE_LIB"] = TestPaths.libtrace }
        let result = try runProcess(
            TestPaths.memtrace, arguments, environment: env, directory: directory)
        return Output(
            status: result.status, stdout: strip(result.stdoutText), stderr: strip(result.stderrText),
            rawStdout: result.stdoutText)
    }

    func strip(_ text: String) -> String {
        // Symlinked temporary directories (/tmp → /private/tmp elsewhere) show both ways.
        let real = directory.resolvingSymlinksInPath().path
        return text.replacingOccurrences(of: path + "/", with: "").replacingOccurrences(
            of: real + "/", with: "")
    }

    /// The 1-based line of `Fixtures/NAME` that holds `marker` (e.g. `SITE small`).
    func line(_ name: String, _ marker: String) throws -> Int {
        let text = try String(
            contentsOfFile: TestPaths.file("Tests/EndToEndTests/Fixtures/\(name)"), encoding: .utf8)
        let lines = text.components(separatedBy: "\n")
        guard let index = lines.firstIndex(where: { $0.contains(marker + " ") || $0.hasSuffix(marker) })
        else {
            throw SupportError("no line marked \(marker) in \(name)")
        }
        return index + 1
    }

    /// Snapshot files here, oldest first by sequence within a pid.
    func snapshots() throws -> [String] {
        try snapshotFiles(in: directory).map { strip($0) }
    }

    func contents(_ relative: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent(relative))
    }
}

/// What `memtrace` printed, directory prefixes removed.
struct Output {
    var status: Int32
    var stdout: String
    var stderr: String
    var rawStdout: String

    var stdoutLines: [String] {
        stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }
    var stderrLines: [String] {
        stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    func json() throws -> [String: Any] {
        guard
            let object = try JSONSerialization.jsonObject(with: Data(rawStdout.utf8)) as? [String: Any]
        else {
            throw SupportError("not a JSON object: \(rawStdout)")
        }
        return object
    }
}

/// Fails (does not skip) when the products the tests run are missing: `make build` makes them.
func requireBuiltProducts() throws {
    for (what, path) in [("memtrace", TestPaths.memtrace), ("libtrace.so", TestPaths.libtrace)] {
        guard
            FileManager.default.isExecutableFile(atPath: path)
                || FileManager.default.fileExists(atPath: path)
        else {
            throw SupportError(
                "\(what) not found at \(path): run `make build` (or set MEMTRACE_BIN / MEMTRACE_LIB)")
        }
    }
}
