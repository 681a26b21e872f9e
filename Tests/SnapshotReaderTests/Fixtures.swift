import SnapshotReader

/// Snapshots and raw bytes the reader tests share.
enum Fixtures {
    /// A snapshot using every section, SYMBOLS included.
    static func full(path: String = "full.snap") -> Snapshot {
        var totals = Snapshot.Totals()
        totals.liveBytes = 4096
        totals.liveBlocks = 3
        totals.liveUsableBytes = 4120
        totals.peakBytes = 8192
        totals.peakTimeNs = 1_700_000_000_500_000_000
        totals.allocCalls = 10
        totals.freeCalls = 7
        totals.reallocCalls = 2
        totals.totalAllocBytes = 12000
        totals.tracerOverheadBytes = 1 << 20
        totals.untrackedFrees = 1
        totals.sampleRate = 0
        totals.stackCount = 3
        totals.truncatedStacks = 1
        totals.lostAllocations = 0
        totals.overrunBlocks = 1
        totals.mismatchBlocks = 3
        return Snapshot(
            path: path,
            header: Snapshot.Header(
                version: 2, flags: 0x2, framesLimit: 64, pid: 4242, ppid: 1,
                startTimeNs: 1_700_000_000_000_000_000,
                snapshotTimeNs: 1_700_000_001_000_000_000, sequence: 2, trigger: .signal),
            process: [
                "exe": "/usr/bin/prog", "cmdline": "prog\0--flag\0x", "cwd": "/home/u", "output": "%p.snap",
            ],
            totals: totals,
            modules: [
                Snapshot.Module(
                    path: "/usr/bin/prog", buildID: [0xde, 0xad, 0xbe, 0xef], loadBias: 0x5555_0000_0000,
                    segments: [
                        Snapshot.Segment(start: 0x5555_0000_0000, size: 0x1000, fileOffset: 0, flags: 4),
                        Snapshot.Segment(start: 0x5555_0000_1000, size: 0x2000, fileOffset: 0x1000, flags: 5),
                    ]),
                Snapshot.Module(
                    path: "[vdso]", buildID: [], loadBias: 0x7fff_0000_0000,
                    segments: [
                        Snapshot.Segment(start: 0x7fff_0000_0000, size: 0x2000, fileOffset: 0, flags: 5)
                    ]),
            ],
            stacks: [
                Snapshot.Stack(pcs: [0x5555_0000_1010, 0x5555_0000_1200], trueDepth: 2),
                Snapshot.Stack(pcs: [0x5555_0000_1020], trueDepth: 70),
                Snapshot.Stack(pcs: [], trueDepth: 0),
            ],
            stackStats: [
                Snapshot.StackStat(
                    stack: 0, liveBytes: 4000, liveCount: 2, totalBytes: 11000, totalCount: 8,
                    peakBytes: 8000, peakCount: 4, temporaryBytes: 3000, temporaryCount: 5),
                Snapshot.StackStat(
                    stack: 1, liveBytes: 96, liveCount: 1, totalBytes: 1000, totalCount: 2, peakBytes: 192,
                    peakCount: 2, overrunBytes: 96, overrunCount: 1),
            ],
            blocks: [
                Snapshot.Block(address: 0x1000_0010, size: 2000, stack: 0, flags: 0),
                Snapshot.Block(address: 0x1000_0800, size: 2000, stack: 0, flags: 1),
                Snapshot.Block(address: 0x1000_1000, size: 96, stack: 1, flags: 0),
            ],
            allocator: Snapshot.AllocatorStats(
                kind: .glibc, values: [("arena", 135168), ("uordblks", 4200)]),
            symbols: [
                0x5555_0000_1010: [
                    Snapshot.SymbolFrame(
                        function: "helper", file: "lib/helper.h", line: 12, module: "/usr/bin/prog",
                        isInlined: true, directory: "/src"),
                    Snapshot.SymbolFrame(
                        function: "main", file: "/src/prog.c", line: 30, module: "/usr/bin/prog"),
                ],
                0x5555_0000_1200: [
                    Snapshot.SymbolFrame(
                        function: "start", file: "", line: 0, module: "/usr/bin/prog", offset: 0x20)
                ],
            ],
            timeline: [
                Snapshot.TimelinePoint(
                    timeNs: 1_700_000_000_100_000_000, currentBytes: 1000, peakBytes: 1000, rssBytes: 1 << 21),
                Snapshot.TimelinePoint(
                    timeNs: 1_700_000_000_200_000_000, currentBytes: 4096, peakBytes: 8192, rssBytes: 3 << 20),
            ],
            sizeClasses: [
                .init(count: 1, bytes: 0), .init(count: 0, bytes: 0), .init(count: 0, bytes: 0),
                .init(count: 0, bytes: 0), .init(count: 5, bytes: 120),
            ],
            // Released where nothing was allocated: stack 2 has no STACK_STATS record.
            mismatches: [
                Snapshot.Mismatch(
                    allocStack: 1, releaseStack: 2, allocatedBy: .newArray, releasedBy: .delete, count: 2, bytes: 64),
                Snapshot.Mismatch(
                    allocStack: 0, releaseStack: 2, allocatedBy: .new, releasedBy: .delete, count: 1, bytes: 48,
                    namedSize: 16),
            ],
            unknownSections: [Snapshot.RawSection(tag: 0x77, payload: [1, 2, 3, 4, 5])], countsTemporary: true)
    }

    /// The smallest valid snapshot: the required sections, all empty.
    static func minimal(path: String = "minimal.snap") -> Snapshot {
        Snapshot(
            path: path,
            header: Snapshot.Header(
                version: 2, flags: 0, framesLimit: 32, pid: 1, ppid: 0, startTimeNs: 0, snapshotTimeNs: 0,
                sequence: 0, trigger: .exit),
            process: [:], totals: Snapshot.Totals(), modules: [], stacks: [], stackStats: [], blocks: nil,
            allocator: nil)
    }
}

/// END's checksum of `bytes` for a file of format `version`, written again here so the tests do
/// not trust the code under test: FNV-1a 64 for version 1; for version 2, eight bytes at a time.
func endChecksum(_ bytes: ArraySlice<UInt8>, version: UInt32) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    if version == 1 {
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }
    func mix(_ word: UInt64) {
        let product = (hash ^ word) &* 0x9e37_79b9_7f4a_7c15
        hash = product << 29 | product >> 35
    }
    var words = Array(bytes)
    let count = words.count
    while words.count % 8 != 0 { words.append(0) }
    for start in stride(from: 0, to: words.count, by: 8) {
        mix((0..<8).reduce(0) { $0 | UInt64(words[start + $1]) << (8 * $1) })
    }
    mix(UInt64(count))
    return hash
}

/// Builds snapshot bytes field by field, for files the writer would never produce.
struct RawSnapshot {
    var bytes: [UInt8] = []

    mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    mutating func str(_ value: String) {
        u32(UInt32(value.utf8.count))
        bytes += Array(value.utf8)
    }

    /// The 64-byte header.
    mutating func header(
        version: UInt32 = 2, flags: UInt32 = 0, trigger: UInt32 = 0, sections: UInt32
    ) {
        bytes += Array("MEMTRACE".utf8)
        u32(version)
        u32(64)
        u32(flags)
        u32(16)  // frames_limit
        u32(77)  // pid
        u32(1)  // ppid
        u64(1000)  // start
        u64(2000)  // snapshot
        u64(5)  // sequence
        u32(trigger)
        u32(sections)
    }

    mutating func section(_ tag: UInt32, _ payload: (inout RawSnapshot) -> Void) {
        var body = RawSnapshot()
        payload(&body)
        u32(tag)
        u32(0)
        u64(UInt64(body.bytes.count))
        bytes += body.bytes
    }

    /// A TOTALS payload whose field `i` is `i + 1`, with `extra` appended bytes.
    mutating func totals(extra: Int = 0) {
        section(2) { out in
            for index in 0..<16 { out.u64(UInt64(index + 1)) }
            out.bytes += [UInt8](repeating: 0xee, count: extra)
        }
    }

    mutating func emptyCounted(_ tag: UInt32) {
        section(tag) { out in
            out.u32(0)
            out.u32(0)
        }
    }

    /// The END section with the right checksum.
    mutating func end() {
        let checksum = endChecksum(bytes[...], version: bytes.u32(at: 8))
        section(0xFFFF_FFFF) { out in out.u64(checksum) }
    }
}

extension Array where Element == UInt8 {
    /// These bytes with the END checksum recomputed, for damage the checksum must not hide.
    func resealed() -> [UInt8] {
        var copy = self
        let checksum = endChecksum(copy[..<(count - 24)], version: u32(at: 8))
        Swift.withUnsafeBytes(of: checksum.littleEndian) { raw in
            for index in 0..<8 { copy[count - 8 + index] = raw[index] }
        }
        return copy
    }

    func u32(at offset: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(self[offset + $1]) << (8 * $1) }
    }

    func u64(at offset: Int) -> UInt64 {
        (0..<8).reduce(0) { $0 | UInt64(self[offset + $1]) << (8 * $1) }
    }

    mutating func setU32(_ value: UInt32, at offset: Int) {
        for index in 0..<4 { self[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
    }

    mutating func setU64(_ value: UInt64, at offset: Int) {
        for index in 0..<8 { self[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
    }

    /// Offsets of every section header, by tag, found by walking the file.
    func sectionOffsets() -> [UInt32: Int] {
        var offsets: [UInt32: Int] = [:]
        var offset = 64
        for _ in 0..<Int(u32(at: 60)) {
            offsets[u32(at: offset)] = offset
            offset += 16 + Int(u64(at: offset + 8))
        }
        return offsets
    }
}
