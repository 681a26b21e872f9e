import Foundation
import XCTest
import _MemtraceTestSupport

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Bytes and blocks of one leak kind.
struct Count: Equatable, CustomStringConvertible {
    var bytes: Int
    var blocks: Int
    var description: String { "\(bytes) B in \(blocks)" }
}

/// Per kind (`definite`, `indirect`, `possible`, `reachable`): what a tool found.
typealias KindCounts = [String: Count]

/// A C program of the leak corpus (Tests/LeakTests/Corpus) and what its header comment states.
///
/// `EXPECT KIND BYTES BLOCKS` lines give the tracer's exact figures for the blocks the program
/// allocates itself, `MEMCHECK KIND BYTES BLOCKS` lines memcheck's where they differ (memcheck
/// knows nothing of memtrace_ignore), and `EXPECT clean` says that nothing at all may be reported.
struct CorpusProgram {
    var name: String
    var source: String
    var expected: KindCounts
    var memcheck: KindCounts
    var isClean: Bool

    static let directory = TestPaths.file("Tests/LeakTests/Corpus")

    static func all() throws -> [CorpusProgram] {
        try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".c") || $0.hasSuffix(".cpp") }
            .sorted()
            .map { try CorpusProgram(file: $0) }
    }

    init(file: String) throws {
        source = Self.directory + "/" + file
        name = String(file[..<file.lastIndex(of: ".")!])
        let text = try String(contentsOfFile: source, encoding: .utf8)
        expected = [:]
        memcheck = [:]
        isClean = false
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init).filter { $0 != "*" && $0 != "//" }
            guard let keyword = words.first, keyword == "EXPECT" || keyword == "MEMCHECK" else { continue }
            if words.count == 2 && words[1] == "clean" {
                isClean = true
                continue
            }
            guard words.count == 4, let bytes = Int(words[2]), let blocks = Int(words[3]) else {
                throw SupportError("\(file): bad line \(line)")
            }
            if keyword == "EXPECT" {
                expected[words[1]] = Count(bytes: bytes, blocks: blocks)
            } else {
                memcheck[words[1]] = Count(bytes: bytes, blocks: blocks)
            }
        }
        if memcheck.isEmpty { memcheck = expected }
    }

    /// The file name a frame must end with to count as the program's own.
    var fileName: String { (source as NSString).lastPathComponent }
}

/// Compiles corpus programs and fixtures once per test process.
enum Builds {
    nonisolated(unsafe) private static var built: [String: String] = [:]
    private static let lock = NSLock()
    static let directory: URL = try! makeTemporaryDirectory("memtrace-leaktests")

    /// Compiles `source` (C or C++) with the corpus header and memtrace.h on the include path.
    static func build(_ source: String) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if let done = built[source] { return done }
        let name = ((source as NSString).lastPathComponent as NSString).deletingPathExtension
        let cplusplus = source.hasSuffix(".cpp")
        let output = directory.appendingPathComponent(name).path
        let result = try runProcess(
            cplusplus ? "/usr/bin/g++" : "/usr/bin/gcc",
            [
                "-O0", "-g", "-fno-omit-frame-pointer", "-I", TestPaths.includeDir, "-I", CorpusProgram.directory,
                "-o", output, source, "-lpthread", "-ldl",
            ])
        guard result.status == 0 else { throw SupportError("compiling \(source) failed:\n\(result.stderrText)") }
        built[source] = output
        return output
    }

    static func fixture(_ name: String) throws -> String {
        try build(TestPaths.file("Tests/LeakTests/Fixtures/\(name)"))
    }
}

/// Runs `memtrace ARGS` with the tracer given by MEMTRACE_LIB (or the built one).
func memtrace(
    _ arguments: [String], environment: [String: String?] = [:], stdin: Data? = nil
) throws
    -> ProcessResult
{
    var env = environment
    if env["MEMTRACE_LIB"] == nil { env["MEMTRACE_LIB"] = TestPaths.libtrace }
    return try runProcess(TestPaths.memtrace, arguments, environment: env, stdin: stdin, directory: Builds.directory)
}

/// Fails (does not skip) when memtrace or libtrace.so is missing: `make build` makes them.
func requireBuiltProducts() throws {
    for (what, path) in [("memtrace", TestPaths.memtrace), ("libtrace.so", TestPaths.libtrace)] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw SupportError("\(what) not found at \(path): run `make build` (or set MEMTRACE_BIN / MEMTRACE_LIB)")
        }
    }
}

/// `memtrace check --format json` on `arguments`, its report parsed.
struct CheckRun {
    var status: Int32
    var stderr: String
    var report: [String: Any]

    init(_ options: [String], _ command: [String], environment: [String: String?] = [:]) throws {
        let file = Builds.directory.appendingPathComponent("report-\(UUID().uuidString.prefix(8)).json").path
        defer { unlink(file) }
        let result = try memtrace(
            ["check", "--format", "json", "--report-file", file] + options + ["--"] + command,
            environment: environment)
        status = result.status
        stderr = result.stderrText
        let data = FileManager.default.contents(atPath: file) ?? Data()
        report = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        if report.isEmpty && result.status != 2 {
            throw SupportError("no JSON report (status \(result.status)):\n\(result.stderrText)")
        }
    }

    var leaks: [[String: Any]] { report["leaks"] as? [[String: Any]] ?? [] }
    var summary: [String: Any] { report["summary"] as? [String: Any] ?? [:] }

    /// Per kind, the records whose stack has a frame in `file` (the program's own blocks).
    func counts(inFile file: String) -> KindCounts {
        var counts: KindCounts = [:]
        for leak in leaks {
            let frames = leak["frames"] as? [[String: Any]] ?? []
            guard frames.contains(where: { ($0["file"] as? String)?.hasSuffix("/" + file) == true }) else { continue }
            let kind = leak["kind"] as? String ?? "?"
            let previous = counts[kind] ?? Count(bytes: 0, blocks: 0)
            counts[kind] = Count(
                bytes: previous.bytes + (leak["size"] as? Int ?? 0),
                blocks: previous.blocks + (leak["count"] as? Int ?? 0))
        }
        return counts
    }

    /// The summary's figures for `kind`.
    func total(_ kind: String) -> Count {
        let figures = summary[kind] as? [String: Int] ?? [:]
        return Count(bytes: figures["size"] ?? -1, blocks: figures["count"] ?? -1)
    }
}

/// valgrind memcheck's leak records for a program, from its XML output.
enum Memcheck {
    static let path = "/usr/bin/valgrind"
    static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: path) }

    /// Runs `executable` under memcheck and counts, per kind, the loss records whose stack has a
    /// frame in `file`. A definitely lost record's own bytes are its "direct" ones.
    static func counts(_ executable: String, file: String) throws -> KindCounts {
        let xml = Builds.directory.appendingPathComponent("\(UUID().uuidString.prefix(8)).xml").path
        defer { unlink(xml) }
        let result = try runProcess(
            path,
            [
                "--leak-check=full", "--show-leak-kinds=all", "--xml=yes", "--xml-file=\(xml)", executable,
            ], directory: Builds.directory)
        guard let data = FileManager.default.contents(atPath: xml) else {
            throw SupportError("valgrind wrote no XML (status \(result.status)): \(result.stderrText)")
        }
        let document = try XMLDocument(data: data)
        var counts: KindCounts = [:]
        for error in try document.nodes(forXPath: "//error") {
            guard let element = error as? XMLElement,
                let kind = element.elements(forName: "kind").first?.stringValue,
                let name = [
                    "Leak_DefinitelyLost": "definite", "Leak_IndirectlyLost": "indirect",
                    "Leak_PossiblyLost": "possible", "Leak_StillReachable": "reachable",
                ][kind]
            else { continue }
            let files = try element.nodes(forXPath: "stack/frame/file").compactMap(\.stringValue)
            guard files.contains(file) else { continue }
            let what = element.elements(forName: "xwhat").first
            let text = what?.elements(forName: "text").first?.stringValue ?? ""
            let blocks = Int(what?.elements(forName: "leakedblocks").first?.stringValue ?? "") ?? 0
            let bytes = ownBytes(text)
            let previous = counts[name] ?? Count(bytes: 0, blocks: 0)
            counts[name] = Count(bytes: previous.bytes + bytes, blocks: previous.blocks + blocks)
        }
        return counts
    }

    /// `96 (32 direct, 64 indirect) bytes in 1 blocks…` → 32; `64 bytes in 2 blocks…` → 64.
    static func ownBytes(_ text: String) -> Int {
        let plain = text.replacingOccurrences(of: ",", with: "")
        if let open = plain.firstIndex(of: "("), let space = plain[open...].firstIndex(of: " ") {
            return Int(plain[plain.index(after: open)..<space]) ?? -1
        }
        return Int(plain.prefix { $0.isNumber }) ?? -1
    }
}
