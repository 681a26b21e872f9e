import Foundation
import SnapshotReader
import Symbolizer
import XCTest
import _MemtraceTestSupport

/// Builds the C fixtures in Tests/TracerTests/Fixtures once per test run.
enum Fixtures {
    nonisolated(unsafe) private static var built: [String: String] = [:]
    private static let lock = NSLock()
    static let directory: URL = {
        (try? makeTemporaryDirectory("memtrace-fixtures")) ?? FileManager.default.temporaryDirectory
    }()

    static func source(_ name: String) -> String {
        TestPaths.file("Tests/TracerTests/Fixtures/\(name).c")
    }

    /// The executable for fixture `name`, compiled with -O0 -g.
    static func build(_ name: String, cplusplus: Bool = false) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if let path = built[name] { return path }
        let source = cplusplus ? TestPaths.file("Tests/TracerTests/Fixtures/\(name).cpp") : source(name)
        let path = try compile(source: source, output: name, in: directory, cplusplus: cplusplus)
        built[name] = path
        return path
    }

    /// The line of `/* @marker */` in a fixture source file.
    static func line(of marker: String, in sourcePath: String) throws -> Int {
        try line(containing: "/* @\(marker) */", in: sourcePath)
    }

    /// The first line of a source file that contains `text`.
    static func line(containing text: String, in sourcePath: String) throws -> Int {
        let contents = try String(contentsOfFile: sourcePath, encoding: .utf8)
        for (index, line) in contents.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where line.contains(text) {
            return index + 1
        }
        throw SupportError("no line containing \(text) in \(sourcePath)")
    }
}

/// Runs `executable` under the tracer, writing snapshots into `directory`.
func runTraced(
    _ executable: String, _ arguments: [String] = [], in directory: URL, environment: [String: String?] = [:],
    stdin: Data? = nil
) throws -> ProcessResult {
    var env: [String: String?] = [
        "LD_PRELOAD": TestPaths.libtrace,
        "MEMTRACE_OUTPUT": directory.appendingPathComponent("%e.%p.%n.snap").path,
    ]
    for (key, value) in environment { env[key] = value }
    return try runProcess(executable, arguments, environment: env, stdin: stdin, directory: directory)
}

/// One allocation site: the innermost frame of a stack and that stack's figures.
struct Site: Equatable, CustomStringConvertible {
    var function: String
    var file: String
    var line: Int
    var liveBytes: UInt64
    var liveCount: UInt64
    var totalBytes: UInt64
    var totalCount: UInt64
    var peakBytes: UInt64

    var description: String {
        "\(file):\(line) in \(function): live \(liveBytes) B / \(liveCount), total \(totalBytes) B / \(totalCount), peak \(peakBytes) B"
    }
}

/// Every stack with statistics, labelled by its symbolized innermost frame.
func sites(of snapshot: Snapshot) -> [Site] {
    let symbolizer = Symbolizer(snapshot: snapshot)
    return snapshot.stackStats.map { stat in
        let pcs = snapshot.stacks[Int(stat.stack)].pcs
        let frame = pcs.first.flatMap { symbolizer.frames(for: $0).first }
        return Site(
            function: frame?.function ?? "", file: ((frame?.file ?? "") as NSString).lastPathComponent,
            line: frame?.line ?? 0, liveBytes: stat.liveBytes, liveCount: stat.liveCount,
            totalBytes: stat.totalBytes, totalCount: stat.totalCount, peakBytes: stat.peakBytes)
    }
}

/// The innermost source line of every stack: stack id → (file name, line).
func innermostLines(of snapshot: Snapshot) -> [UInt32: (file: String, line: Int)] {
    let symbolizer = Symbolizer(snapshot: snapshot)
    var lines: [UInt32: (file: String, line: Int)] = [:]
    for (id, stack) in snapshot.stacks.enumerated() {
        guard let pc = stack.pcs.first, let frame = symbolizer.frames(for: pc).first else { continue }
        lines[UInt32(id)] = ((frame.file as NSString).lastPathComponent, frame.line)
    }
    return lines
}

/// A stack's temporary allocations.
struct Temporary: Equatable {
    var count: UInt64
    var bytes: UInt64
}

/// Temporary allocations by innermost source line (stacks of one line added up).
func temporaryByLine(_ snapshot: Snapshot) -> [Int: Temporary] {
    let lines = innermostLines(of: snapshot)
    var result: [Int: Temporary] = [:]
    for stat in snapshot.stackStats where stat.temporaryCount > 0 {
        let line = lines[stat.stack]?.line ?? 0
        let old = result[line] ?? Temporary(count: 0, bytes: 0)
        result[line] = Temporary(count: old.count + stat.temporaryCount, bytes: old.bytes + stat.temporaryBytes)
    }
    return result
}

/// The sites at `file:line`, merged (one line may hold several stacks when called from several places).
func site(
    _ all: [Site], file: String, line: Int, file path: StaticString = #filePath, testLine: UInt = #line
)
    -> Site?
{
    let matching = all.filter { $0.file == file && $0.line == line }
    guard var merged = matching.first else {
        XCTFail(
            "no site at \(file):\(line); sites:\n\(all.map(\.description).joined(separator: "\n"))",
            file: path, line: testLine)
        return nil
    }
    for extra in matching.dropFirst() {
        merged.liveBytes += extra.liveBytes
        merged.liveCount += extra.liveCount
        merged.totalBytes += extra.totalBytes
        merged.totalCount += extra.totalCount
        merged.peakBytes += extra.peakBytes
    }
    return merged
}

/// Reads the only snapshot whose name starts with `prefix`.
func onlySnapshot(
    in directory: URL, prefix: String, file: StaticString = #filePath, line: UInt = #line
) throws
    -> Snapshot
{
    let files = try snapshotFiles(in: directory).filter {
        ($0 as NSString).lastPathComponent.hasPrefix(prefix + ".")
    }
    guard files.count == 1 else {
        throw SupportError("expected one \(prefix) snapshot in \(directory.path), found \(files)")
    }
    return try SnapshotFile.read(path: files[0])
}

/// Checks the invariants every snapshot must satisfy.
func assertConsistent(_ s: Snapshot, file: StaticString = #filePath, line: UInt = #line) {
    let liveBytes = s.stackStats.reduce(UInt64(0)) { $0 + $1.liveBytes }
    let liveCount = s.stackStats.reduce(UInt64(0)) { $0 + $1.liveCount }
    XCTAssertEqual(liveBytes, s.totals.liveBytes, "per-stack live bytes add up", file: file, line: line)
    XCTAssertEqual(liveCount, s.totals.liveBlocks, "per-stack live counts add up", file: file, line: line)
    XCTAssertLessThanOrEqual(s.totals.liveBytes, s.totals.peakBytes, file: file, line: line)
    XCTAssertGreaterThanOrEqual(s.totals.liveUsableBytes, s.totals.liveBytes, file: file, line: line)
    if let blocks = s.blocks {
        XCTAssertEqual(UInt64(blocks.count), s.totals.liveBlocks, file: file, line: line)
        XCTAssertEqual(blocks.reduce(UInt64(0)) { $0 + $1.size }, s.totals.liveBytes, file: file, line: line)
    }
    XCTAssertEqual(s.totals.lostAllocations, 0, file: file, line: line)
    // Every recorded allocation is counted once by size class too.
    let classes = s.sizeClasses ?? []
    XCTAssertEqual(
        classes.reduce(UInt64(0)) { $0 + $1.count }, s.totals.allocCalls, "allocations by size add up",
        file: file, line: line)
    XCTAssertEqual(
        classes.reduce(UInt64(0)) { $0 + $1.bytes }, s.totals.totalAllocBytes, "bytes by size add up",
        file: file, line: line)
}

/// The thread a core file names first: the one the signal that dumped it ended (the pid of its
/// first NT_PRSTATUS note, an x86-64 core's `elf_prstatus`).
func firstThreadOfCore(_ path: String) throws -> UInt32 {
    let file = try XCTUnwrap(FileHandle(forReadingAtPath: path))
    defer { try? file.close() }
    func read(_ offset: UInt64, _ count: Int) throws -> [UInt8] {
        try file.seek(toOffset: offset)
        let bytes = [UInt8](try file.read(upToCount: count) ?? Data())
        guard bytes.count == count else { throw SupportError("\(path): truncated at \(offset)") }
        return bytes
    }
    func integer(_ bytes: [UInt8], _ at: Int, _ size: Int) -> UInt64 {
        (0..<size).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * $1) }
    }
    let header = try read(0, 64)
    guard header[0..<4] == [0x7f, 0x45, 0x4c, 0x46], header[4] == 2, integer(header, 16, 2) == 4 else {
        throw SupportError("\(path): not a 64-bit ELF core")
    }
    let (phoff, phentsize, phnum) = (integer(header, 32, 8), integer(header, 54, 2), integer(header, 56, 2))
    for index in 0..<phnum {
        let entry = try read(phoff + index * phentsize, 56)
        guard integer(entry, 0, 4) == 4 else { continue }  // PT_NOTE
        let notes = try read(integer(entry, 8, 8), Int(integer(entry, 32, 8)))
        var at = 0
        while at + 12 <= notes.count {
            let (namesz, descsz, type) = (
                Int(integer(notes, at, 4)), Int(integer(notes, at + 4, 4)), integer(notes, at + 8, 4)
            )
            let desc = at + 12 + (namesz + 3) & ~3
            if type == 1 { return UInt32(integer(notes, desc + 32, 4)) }  // NT_PRSTATUS: pr_pid
            at = desc + (descsz + 3) & ~3
        }
    }
    throw SupportError("\(path): no NT_PRSTATUS note")
}
