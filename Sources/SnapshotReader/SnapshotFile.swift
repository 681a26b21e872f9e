#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Reads snapshot files.
///
/// Every length, count and index is checked against the bytes that hold it
/// (docs/snapshot-format.md, "Validation a reader performs"): any input, however
/// damaged, gives either a ``Snapshot`` or a ``SnapshotError``, never a crash.
public enum SnapshotFile {
    /// Reads and validates the snapshot at `path`.
    ///
    /// - Parameters:
    ///   - path: the file to read; `/dev/stdin` and pipes work too.
    ///   - withBlocks: false leaves the live blocks out (``Snapshot/blocks`` nil, the header's
    ///     flag cleared) for a reader that only wants figures by stack: over many snapshots
    ///     (trend, report, merge) their blocks were most of the memory. The section is still
    ///     checked as far as its size goes.
    /// - Returns: the parsed snapshot, its `path` set to `path`.
    /// - Throws: ``SnapshotError`` naming `path` and the first problem found.
    public static func read(path: String, withBlocks: Bool = true) throws(SnapshotError) -> Snapshot {
        let bytes = try readBytes(path: path)
        return try parse(bytes, path: path, withBlocks: withBlocks)
    }

    /// Parses and validates snapshot bytes already in memory.
    ///
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - path: the name error messages and ``Snapshot/path`` use.
    /// - Returns: the parsed snapshot.
    /// - Throws: ``SnapshotError`` for the first problem found.
    public static func parse(_ bytes: [UInt8], path: String, withBlocks: Bool = true) throws(SnapshotError) -> Snapshot
    {
        let result: Result<Snapshot, SnapshotError> = bytes.withUnsafeBytes { raw in
            do throws(SnapshotError) {
                var parser = Parser(raw: raw, path: path)
                parser.withBlocks = withBlocks
                return .success(try parser.parse())
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The whole contents of `path`, read with one `open` and as few `read`s as its size allows.
    static func readBytes(path: String) throws(SnapshotError) -> [UInt8] {
        func failure(_ code: Int32) -> SnapshotError {
            switch code {
            case ENOENT, ENOTDIR: SnapshotError(path: path, kind: .noSuchFile)
            case EISDIR: SnapshotError(path: path, kind: .isDirectory)
            case EACCES, EPERM: SnapshotError(path: path, kind: .permissionDenied)
            default: SnapshotError(path: path, kind: .readFailed(String(cString: strerror(code))))
            }
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw failure(errno) }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) != 0 { throw failure(errno) }
        if info.st_mode & S_IFMT == S_IFDIR { throw failure(EISDIR) }
        // A regular file's size is known: one read fills it, a second sees EOF. Unless its first
        // bytes say it is no snapshot: then they are all that is read (a 5 GiB file of zeros was
        // read whole to be told apart, or memtrace ran out of memory).
        let isRegular = info.st_mode & S_IFMT == S_IFREG
        var capacity = isRegular ? max(Int(info.st_size), 0) + 1 : 1 << 16
        if isRegular {
            var first = [UInt8](repeating: 0, count: 12)  // the magic and the version
            var probe = DeclaredEnd()
            let got = pread(fd, &first, first.count, 0)
            if got > 0 && probe.reached(first, got) { capacity = got }
        }
        var bytes = [UInt8](repeating: 0, count: capacity)
        var used = 0
        var declared = DeclaredEnd()
        while true {
            if used == bytes.count { bytes.append(contentsOf: repeatElement(0, count: bytes.count)) }
            let got = bytes.withUnsafeMutableBytes { buffer in
                Glibc.read(fd, buffer.baseAddress! + used, buffer.count - used)
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw failure(errno)
            }
            if got == 0 { break }
            used += got
            // Not a snapshot (say, /dev/zero), or a pipe that has sent all its header and
            // sections say: stop reading, the parser will say what is wrong, if anything.
            if declared.reached(bytes, used) { break }
        }
        bytes.removeLast(bytes.count - used)
        return bytes
    }

    /// Where the file ends by what its first bytes say, as they arrive: the magic, the version,
    /// then the header's section count and each section's length, up to END. Reading stops once
    /// what has come cannot be a snapshot, or a little past the end it declares (bytes after END
    /// are then reported as trailing, as in a regular file, and a writer that sends a snapshot
    /// and then waits is read to its end): a pipe's size is not known beforehand, and one that
    /// sent a header and then zeros for ever was read until memory ran out.
    struct DeclaredEnd {
        /// Bytes read past the declared end before reading stops: enough to say there are some.
        static let slack = 1 << 16
        /// No snapshot has more sections, or sections this long; a pipe that says otherwise is
        /// read no further, and the parser says which section is cut short.
        static let maximumSections = 1 << 12
        static let maximumLength: UInt64 = 1 << 34

        private var offset = -1  // the next section header's; -1: the file header not read yet
        private var remaining = 0  // sections still to come
        private var end: Int?  // once END's header has come

        /// Whether the first `used` bytes of `bytes` are all a reader needs.
        mutating func reached(_ bytes: [UInt8], _ used: Int) -> Bool {
            func u32(_ at: Int) -> UInt32 {
                bytes[at..<at + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) }
            }
            func u64(_ at: Int) -> UInt64 {
                bytes[at..<at + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) }
            }
            if let end { return used > end + Self.slack }
            let magic = SnapshotFormat.magic
            if offset < 0 {
                if used >= magic.count && !bytes[0..<magic.count].elementsEqual(magic) { return true }
                if used >= 12 && !(SnapshotFormat.oldestVersion...SnapshotFormat.version).contains(u32(8)) {
                    return true
                }
                if used < SnapshotFormat.headerSize { return false }
                let headerSize = Int(u32(12))
                if headerSize < SnapshotFormat.headerSize || headerSize > 1 << 20 { return true }
                offset = headerSize
                remaining = Int(u32(60))
                if remaining == 0 || remaining > Self.maximumSections { return true }
            }
            while remaining > 0 {
                if used - offset < SnapshotFormat.sectionHeaderSize { return false }
                let length = u64(offset + 8)
                if length > Self.maximumLength { return true }
                let tag = u32(offset)
                offset += SnapshotFormat.sectionHeaderSize + Int(length)
                remaining -= 1
                // END is the last section, whatever the count says.
                if tag == SnapshotFormat.Tag.end.rawValue { remaining = 0 }
            }
            end = offset
            return used > offset + Self.slack
        }
    }
}

/// A bounded view of one section's payload: every read is checked against the section's end.
private struct Cursor {
    let raw: UnsafeRawBufferPointer
    let section: String
    let path: String
    var offset: Int
    let end: Int

    var remaining: Int { end - offset }

    func malformed(_ detail: String) -> SnapshotError {
        SnapshotError(path: path, kind: .malformed(section: section, detail: detail))
    }

    /// Checks that `count` more bytes are in the section.
    func need(_ count: Int, for what: @autoclosure () -> String) throws(SnapshotError) {
        if count > remaining {
            throw malformed("\(what()) needs \(count) bytes at offset \(offset), section ends at \(end)")
        }
    }

    /// Checks that `count` records of at least `size` bytes each can fit, and returns `count` as an `Int`.
    func count(_ count: UInt64, of size: Int, _ what: String) throws(SnapshotError) -> Int {
        if count > UInt64(remaining / size) {
            throw malformed(
                "\(count) \(what) of at least \(size) bytes each do not fit in the \(remaining) bytes left at offset \(offset)"
            )
        }
        return Int(count)
    }

    /// Reads the header most sections start with, `u32 count` and a reserved `u32`, and checks
    /// that `count` records of at least `size` bytes each fit after it.
    mutating func countHeader(of size: Int, _ what: String) throws(SnapshotError) -> Int {
        let rawCount = try u32("count")
        _ = try u32("reserved field")
        return try count(UInt64(rawCount), of: size, what)
    }

    /// Unchecked loads: the caller has called `need` for these bytes.
    @inline(__always) func u32(at position: Int) -> UInt32 {
        UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: position, as: UInt32.self))
    }

    @inline(__always) func u64(at position: Int) -> UInt64 {
        UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: position, as: UInt64.self))
    }

    mutating func u32(_ what: @autoclosure () -> String) throws(SnapshotError) -> UInt32 {
        try need(4, for: what())
        defer { offset += 4 }
        return u32(at: offset)
    }

    mutating func u64(_ what: @autoclosure () -> String) throws(SnapshotError) -> UInt64 {
        try need(8, for: what())
        defer { offset += 8 }
        return u64(at: offset)
    }

    /// A `str`: `u32` length and that many bytes.
    mutating func bytes(
        _ what: @autoclosure () -> String
    ) throws(SnapshotError)
        -> UnsafeRawBufferPointer
    {
        let length = Int(try u32(what()))
        try need(length, for: what())
        defer { offset += length }
        return UnsafeRawBufferPointer(rebasing: raw[offset..<offset + length])
    }

    mutating func string(_ what: @autoclosure () -> String) throws(SnapshotError) -> String {
        String(decoding: try bytes(what()), as: UTF8.self)
    }
}

/// Walks the file once: header, section table, checksum, then each known section.
private struct Parser {
    let raw: UnsafeRawBufferPointer
    let path: String
    /// Payload range of every section seen, by tag.
    var sections: [UInt32: Range<Int>] = [:]
    /// Tags in file order, for keeping unknown sections in order.
    var order: [UInt32] = []
    /// Whether the live blocks are wanted (SnapshotFile.read's withBlocks).
    var withBlocks = true

    init(raw: UnsafeRawBufferPointer, path: String) {
        self.raw = raw
        self.path = path
    }

    var size: Int { raw.count }

    func error(_ kind: SnapshotError.Kind) -> SnapshotError {
        SnapshotError(path: path, kind: kind)
    }

    func u32(at position: Int) -> UInt32 {
        UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: position, as: UInt32.self))
    }

    func u64(at position: Int) -> UInt64 {
        UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: position, as: UInt64.self))
    }

    func cursor(_ tag: SnapshotFormat.Tag) -> Cursor? {
        guard let range = sections[tag.rawValue] else { return nil }
        return Cursor(
            raw: raw, section: tag.name, path: path, offset: range.lowerBound, end: range.upperBound)
    }

    mutating func parse() throws(SnapshotError) -> Snapshot {
        // Identity first, so that a foreign file or a newer version gets a message that says so.
        if size == 0 { throw error(.empty) }
        let magic = SnapshotFormat.magic
        for index in 0..<min(magic.count, size) where raw[index] != magic[index] {
            throw error(.badMagic)
        }
        let version = size >= 12 ? u32(at: 8) : SnapshotFormat.version
        if !(SnapshotFormat.oldestVersion...SnapshotFormat.version).contains(version) {
            throw error(.unsupportedVersion(version))
        }
        let headerSize = SnapshotFormat.headerSize
        if size < headerSize {
            throw error(
                .truncated(what: "file header", needs: UInt64(headerSize), offset: 0, fileSize: size))
        }

        // A complete file ends with END's 24 bytes. Checking the checksum before the
        // structure turns any damaged byte, even in a length, into "checksum mismatch".
        let endSize = SnapshotFormat.sectionHeaderSize + 8
        var checksumVerified = false
        if size >= headerSize + endSize, u32(at: size - endSize) == SnapshotFormat.Tag.end.rawValue,
            u64(at: size - endSize + 8) == 8
        {
            try verifyChecksum(endHeaderOffset: size - endSize)
            checksumVerified = true
        }

        let declaredHeaderSize = u32(at: 12)
        if Int(declaredHeaderSize) < headerSize { throw error(.badHeaderSize(declaredHeaderSize)) }
        if Int(declaredHeaderSize) > size {
            throw error(
                .truncated(
                    what: "file header", needs: UInt64(declaredHeaderSize), offset: 0, fileSize: size))
        }
        let rawTrigger = u32(at: 56)
        guard let trigger = Snapshot.Trigger(rawValue: rawTrigger) else {
            throw error(.unknownTrigger(rawTrigger))
        }
        var header = Snapshot.Header(
            version: version, flags: u32(at: 16), framesLimit: u32(at: 20), pid: u32(at: 24),
            ppid: u32(at: 28),
            startTimeNs: u64(at: 32), snapshotTimeNs: u64(at: 40), sequence: u64(at: 48), trigger: trigger
        )

        let endHeaderOffset = try readSectionTable(
            from: Int(declaredHeaderSize), count: Int(u32(at: 60)))
        if !checksumVerified { try verifyChecksum(endHeaderOffset: endHeaderOffset) }

        for tag in [SnapshotFormat.Tag.totals, .modules, .stacks, .stackStats]
        where sections[tag.rawValue] == nil {
            throw error(.missingSection(tag.name))
        }
        let hasBlocksSection = sections[SnapshotFormat.Tag.blocks.rawValue] != nil
        if header.hasBlocks && !hasBlocksSection {
            throw error(.inconsistent("header flag HAS_BLOCKS is set but there is no BLOCKS section"))
        }
        if !header.hasBlocks && hasBlocksSection {
            throw error(.inconsistent("BLOCKS section present but header flag HAS_BLOCKS is not set"))
        }

        if !withBlocks { header.flags &= ~SnapshotFormat.flagHasBlocks }
        let stacks = try parseStacks()
        var stackStats = try parseStackStats(stackCount: stacks.count)
        let countsTemporary = try parseTemporary(into: &stackStats)
        try parseOverruns(into: &stackStats)
        try checkFigureSums(stackStats)
        return Snapshot(
            path: path, header: header, process: try parseProcess(), totals: try parseTotals(),
            modules: try parseModules(), stacks: stacks, stackStats: stackStats,
            blocks: try parseBlocks(stackCount: stacks.count), allocator: try parseAllocator(),
            symbols: try parseSymbols(), timeline: try parseTimeline(), sizeClasses: try parseSizes(),
            mismatches: try parseMismatches(stackCount: stacks.count), unknownSections: unknownSections(),
            countsTemporary: countsTemporary)
    }

    /// Records every section's payload range; returns the offset of END's header.
    mutating func readSectionTable(from start: Int, count: Int) throws(SnapshotError) -> Int {
        var offset = start
        var index = 0
        while index < count {
            let headerSize = SnapshotFormat.sectionHeaderSize
            if size - offset < headerSize {
                throw error(
                    .truncated(
                        what: "section header \(index + 1) of \(count)", needs: UInt64(headerSize),
                        offset: offset,
                        fileSize: size))
            }
            let tag = u32(at: offset)
            let length = u64(at: offset + 8)
            let payload = offset + headerSize
            let name = SnapshotFormat.sectionName(tag)
            if length > UInt64(size - payload) {
                throw error(
                    .truncated(what: "section \(name)", needs: length, offset: payload, fileSize: size))
            }
            if sections[tag] != nil { throw error(.duplicateSection(name)) }
            sections[tag] = payload..<payload + Int(length)
            order.append(tag)
            index += 1
            if tag == SnapshotFormat.Tag.end.rawValue {
                if index != count { throw error(.endNotLast(index: index, count: count)) }
                if length < 8 {
                    throw error(
                        .malformed(section: name, detail: "payload is \(length) bytes, the checksum needs 8"))
                }
                let end = payload + Int(length)
                if end != size { throw error(.trailingBytes(size - end)) }
                return offset
            }
            offset = payload + Int(length)
        }
        throw error(.missingEnd(count: count))
    }

    func verifyChecksum(endHeaderOffset: Int) throws(SnapshotError) {
        let stored = u64(at: endHeaderOffset + SnapshotFormat.sectionHeaderSize)
        let computed = SnapshotFormat.checksum(
            UnsafeRawBufferPointer(rebasing: raw[0..<endHeaderOffset]), version: u32(at: 8))
        if stored != computed { throw error(.checksumMismatch) }
    }

    func parseProcess() throws(SnapshotError) -> [String: String] {
        guard var cursor = cursor(.process) else { return [:] }
        let rawCount = try cursor.u32("count")
        let count = try cursor.count(UInt64(rawCount), of: 8, "entries")
        var process: [String: String] = [:]
        process.reserveCapacity(count)
        for entry in 0..<count {
            let key = try cursor.string("entry \(entry) key")
            process[key] = try cursor.string("entry \(entry) value")
        }
        return process
    }

    func parseTotals() throws(SnapshotError) -> Snapshot.Totals {
        guard let cursor = cursor(.totals) else { return Snapshot.Totals() }
        try cursor.need(128, for: "the totals record")
        func field(_ index: Int) -> UInt64 { cursor.u64(at: cursor.offset + 8 * index) }
        var totals = Snapshot.Totals()
        totals.liveBytes = field(0)
        totals.liveBlocks = field(1)
        totals.liveUsableBytes = field(2)
        totals.peakBytes = field(3)
        totals.peakTimeNs = field(4)
        totals.allocCalls = field(5)
        totals.freeCalls = field(6)
        totals.reallocCalls = field(7)
        totals.totalAllocBytes = field(8)
        totals.tracerOverheadBytes = field(9)
        totals.untrackedFrees = field(10)
        totals.sampleRate = field(11)
        totals.stackCount = field(12)
        totals.truncatedStacks = field(13)
        totals.lostAllocations = field(14)
        totals.overrunBlocks = field(15)
        if cursor.remaining >= 136 { totals.mismatchBlocks = field(16) }  // 0 in files from before it
        return totals
    }

    func parseModules() throws(SnapshotError) -> [Snapshot.Module] {
        guard var cursor = cursor(.modules) else { return [] }
        let count = try cursor.countHeader(of: 24, "modules")
        var modules: [Snapshot.Module] = []
        modules.reserveCapacity(count)
        for index in 0..<count {
            let path = try cursor.string("module \(index) path")
            let buildID = Array(try cursor.bytes("module \(index) build-id"))
            let loadBias = try cursor.u64("module \(index) load bias")
            let rawSegments = try cursor.u32("module \(index) segment count")
            _ = try cursor.u32("module \(index) reserved field")
            let segmentCount = try cursor.count(
                UInt64(rawSegments), of: 32, "segments of module \(index)")
            var segments: [Snapshot.Segment] = []
            segments.reserveCapacity(segmentCount)
            for _ in 0..<segmentCount {
                let base = cursor.offset
                segments.append(
                    Snapshot.Segment(
                        start: cursor.u64(at: base), size: cursor.u64(at: base + 8),
                        fileOffset: cursor.u64(at: base + 16), flags: cursor.u32(at: base + 24)))
                cursor.offset += 32
            }
            modules.append(
                Snapshot.Module(path: path, buildID: buildID, loadBias: loadBias, segments: segments))
        }
        return modules
    }

    func parseStacks() throws(SnapshotError) -> [Snapshot.Stack] {
        guard var cursor = cursor(.stacks) else { return [] }
        let count = try cursor.countHeader(of: 8, "stacks")
        var stacks: [Snapshot.Stack] = []
        stacks.reserveCapacity(count)
        for index in 0..<count {
            try cursor.need(8, for: "stack \(index) header")
            let depth = Int(cursor.u32(at: cursor.offset))
            let trueDepth = cursor.u32(at: cursor.offset + 4)
            if depth > SnapshotFormat.maximumStackDepth {
                throw cursor.malformed(
                    "stack \(index) has \(depth) frames, more than the \(SnapshotFormat.maximumStackDepth) the tracer keeps"
                )
            }
            cursor.offset += 8
            try cursor.need(depth * 8, for: "stack \(index) with \(depth) frames")
            let base = cursor.offset
            let pcs = [UInt64](unsafeUninitializedCapacity: depth) { buffer, initialized in
                for frame in 0..<depth {
                    buffer[frame] = cursor.u64(at: base + 8 * frame)
                }
                initialized = depth
            }
            cursor.offset += depth * 8
            stacks.append(Snapshot.Stack(pcs: pcs, trueDepth: trueDepth))
        }
        return stacks
    }

    func parseStackStats(stackCount: Int) throws(SnapshotError) -> [Snapshot.StackStat] {
        guard var cursor = cursor(.stackStats) else { return [] }
        let count = try cursor.countHeader(of: 56, "records")
        var stats: [Snapshot.StackStat] = []
        stats.reserveCapacity(count)
        // One record a stack: the analysis expands each record's frames, and a stack repeated a
        // million times would take gigabytes.
        var seen = [Bool](repeating: false, count: stackCount)
        for index in 0..<count {
            let base = cursor.offset + 56 * index
            let stack = cursor.u32(at: base)
            if Int(stack) >= stackCount {
                throw error(
                    .stackOutOfRange(
                        section: cursor.section, record: index, stack: stack, stackCount: stackCount))
            }
            if seen[Int(stack)] {
                throw cursor.malformed("record \(index) is for stack \(stack) again")
            }
            seen[Int(stack)] = true
            stats.append(
                Snapshot.StackStat(
                    stack: stack, liveBytes: cursor.u64(at: base + 8), liveCount: cursor.u64(at: base + 16),
                    totalBytes: cursor.u64(at: base + 24), totalCount: cursor.u64(at: base + 32),
                    peakBytes: cursor.u64(at: base + 40), peakCount: cursor.u64(at: base + 48)))
        }
        return stats
    }

    /// Every figure of the stacks' records adds up, over all of them, to at most 2^63 - 1: the
    /// analysis adds them up in signed 64-bit integers (a heap is far from that).
    /// Throws unless `values` add up to at most 2^63 - 1 (see checkFigureSums).
    func checkSum(_ values: some Sequence<UInt64>, _ section: String, _ name: String) throws(SnapshotError) {
        var sum: UInt64 = 0
        for value in values {
            let (next, overflow) = sum.addingReportingOverflow(value)
            guard !overflow, next <= UInt64(Int64.max) else {
                throw error(.malformed(section: section, detail: "the records' \(name) add up past 2^63 - 1"))
            }
            sum = next
        }
    }

    func checkFigureSums(_ stats: [Snapshot.StackStat]) throws(SnapshotError) {
        let fields: [(String, KeyPath<Snapshot.StackStat, UInt64>)] = [
            ("live_bytes", \.liveBytes), ("live_count", \.liveCount), ("total_bytes", \.totalBytes),
            ("total_count", \.totalCount), ("peak_bytes", \.peakBytes), ("peak_count", \.peakCount),
            ("temporary_bytes", \.temporaryBytes), ("temporary_count", \.temporaryCount),
            ("overrun_bytes", \.overrunBytes), ("overrun_count", \.overrunCount),
        ]
        for (name, field) in fields { try checkSum(stats.lazy.map { $0[keyPath: field] }, "STACK_STATS", name) }
    }

    /// Adds the figures of a section of 24-byte records (`u32 stack`, `u32 0`, `u64 count`,
    /// `u64 bytes`) to the stacks' records; false when the file has no such section.
    func parseStackRecords(
        _ tag: SnapshotFormat.Tag, into stats: inout [Snapshot.StackStat],
        _ store: (inout Snapshot.StackStat, _ count: UInt64, _ bytes: UInt64) -> Void
    ) throws(SnapshotError) -> Bool {
        guard var cursor = cursor(tag) else { return false }
        let count = try cursor.countHeader(of: 24, "records")
        var index: [UInt32: Int] = [:]
        index.reserveCapacity(stats.count)
        for (position, stat) in stats.enumerated() { index[stat.stack] = position }
        for record in 0..<count {
            let base = cursor.offset + 24 * record
            let stack = cursor.u32(at: base)
            guard let position = index[stack] else {
                throw error(
                    .inconsistent(
                        "\(tag.name) record \(record) names stack \(stack), which has no STACK_STATS record"))
            }
            store(&stats[position], cursor.u64(at: base + 8), cursor.u64(at: base + 16))
        }
        return true
    }

    /// Adds the TEMPORARY section's figures to the stacks' records; false when there is none.
    func parseTemporary(into stats: inout [Snapshot.StackStat]) throws(SnapshotError) -> Bool {
        try parseStackRecords(.temporary, into: &stats) { stat, count, bytes in
            stat.temporaryCount = count
            stat.temporaryBytes = bytes
        }
    }

    /// Adds the OVERRUNS section's figures to the stacks' records.
    func parseOverruns(into stats: inout [Snapshot.StackStat]) throws(SnapshotError) {
        _ = try parseStackRecords(.overruns, into: &stats) { stat, count, bytes in
            stat.overrunCount = count
            stat.overrunBytes = bytes
        }
    }

    func parseBlocks(stackCount: Int) throws(SnapshotError) -> [Snapshot.Block]? {
        guard var cursor = cursor(.blocks) else { return nil }
        let rawCount = try cursor.u64("count")
        let count = try cursor.count(rawCount, of: 24, "blocks")
        guard withBlocks else { return nil }
        let start = cursor.offset
        var outOfRange: (record: Int, stack: UInt32)?
        let blocks = [Snapshot.Block](unsafeUninitializedCapacity: count) { buffer, initialized in
            for index in 0..<count {
                let base = start + 24 * index
                let stack = cursor.u32(at: base + 16)
                if Int(stack) >= stackCount {
                    outOfRange = (index, stack)
                    break
                }
                buffer[index] = Snapshot.Block(
                    address: cursor.u64(at: base), size: cursor.u64(at: base + 8), stack: stack,
                    flags: cursor.u32(at: base + 20))
                initialized = index + 1
            }
        }
        if let outOfRange {
            throw error(
                .stackOutOfRange(
                    section: cursor.section, record: outOfRange.record, stack: outOfRange.stack,
                    stackCount: stackCount))
        }
        return blocks
    }

    func parseAllocator() throws(SnapshotError) -> Snapshot.AllocatorStats? {
        guard var cursor = cursor(.allocator) else { return nil }
        let kind = Snapshot.AllocatorStats.Kind(rawValue: try cursor.u32("kind")) ?? .unknown
        let rawCount = try cursor.u32("count")
        let count = try cursor.count(UInt64(rawCount), of: 12, "values")
        var values: [(name: String, value: UInt64)] = []
        values.reserveCapacity(count)
        for index in 0..<count {
            let name = try cursor.string("value \(index) name")
            values.append((name, try cursor.u64("value \(index)")))
        }
        return Snapshot.AllocatorStats(kind: kind, values: values)
    }

    func parseTimeline() throws(SnapshotError) -> [Snapshot.TimelinePoint]? {
        guard var cursor = cursor(.timeline) else { return nil }
        let count = try cursor.countHeader(of: 32, "points")
        let start = cursor.offset
        return (0..<count).map { index in
            let base = start + 32 * index
            return Snapshot.TimelinePoint(
                timeNs: cursor.u64(at: base), currentBytes: cursor.u64(at: base + 8),
                peakBytes: cursor.u64(at: base + 16), rssBytes: cursor.u64(at: base + 24))
        }
    }

    func parseSizes() throws(SnapshotError) -> [Snapshot.SizeClass]? {
        guard var cursor = cursor(.sizes) else { return nil }
        let rawCount = try cursor.u32("count")
        _ = try cursor.u32("reserved field")
        guard rawCount <= 64 else {
            throw error(.malformed(section: "SIZES", detail: "\(rawCount) classes, more than the 64 there are"))
        }
        let count = try cursor.count(UInt64(rawCount), of: 16, "classes")
        let start = cursor.offset
        let classes = (0..<count).map { index in
            Snapshot.SizeClass(count: cursor.u64(at: start + 16 * index), bytes: cursor.u64(at: start + 16 * index + 8))
        }
        try checkSum(classes.lazy.map(\.count), "SIZES", "count")
        try checkSum(classes.lazy.map(\.bytes), "SIZES", "bytes")
        return classes
    }

    func parseMismatches(stackCount: Int) throws(SnapshotError) -> [Snapshot.Mismatch] {
        guard var cursor = cursor(.mismatches) else { return [] }
        let count = try cursor.countHeader(of: 40, "records")
        let start = cursor.offset
        var mismatches: [Snapshot.Mismatch] = []
        mismatches.reserveCapacity(count)
        for record in 0..<count {
            let base = start + 40 * record
            let (allocStack, releaseStack) = (cursor.u32(at: base), cursor.u32(at: base + 4))
            for (role, stack) in [("allocation", allocStack), ("release", releaseStack)] where stack >= stackCount {
                throw error(
                    .malformed(
                        section: "MISMATCHES",
                        detail: "record \(record) refers to \(role) stack \(stack), but STACKS has \(stackCount)"))
            }
            guard let allocatedBy = Snapshot.Mismatch.Allocation(rawValue: cursor.u32(at: base + 8)),
                let releasedBy = Snapshot.Mismatch.Release(rawValue: cursor.u32(at: base + 12))
            else {
                throw error(
                    .malformed(
                        section: "MISMATCHES",
                        detail:
                            "record \(record) has allocation kind \(cursor.u32(at: base + 8)) and release kind \(cursor.u32(at: base + 12)), not 0-2 and 0-3"
                    ))
            }
            mismatches.append(
                Snapshot.Mismatch(
                    allocStack: allocStack, releaseStack: releaseStack, allocatedBy: allocatedBy,
                    releasedBy: releasedBy, count: cursor.u64(at: base + 16), bytes: cursor.u64(at: base + 24),
                    namedSize: cursor.u64(at: base + 32)))
        }
        try checkSum(mismatches.lazy.map(\.count), "MISMATCHES", "count")
        try checkSum(mismatches.lazy.map(\.bytes), "MISMATCHES", "bytes")
        return mismatches
    }

    func unknownSections() -> [Snapshot.RawSection] {
        order.compactMap { tag in
            guard SnapshotFormat.Tag(rawValue: tag) == nil, let range = sections[tag] else { return nil }
            return Snapshot.RawSection(tag: tag, payload: Array(raw[range]))
        }
    }

    func parseSymbols() throws(SnapshotError) -> [UInt64: [Snapshot.SymbolFrame]]? {
        guard var cursor = cursor(.symbols) else { return nil }
        let rawStrings = try cursor.u32("string count")
        let rawEntries = try cursor.u32("entry count")
        let stringCount = try cursor.count(UInt64(rawStrings), of: 4, "strings")
        var strings: [String] = []
        strings.reserveCapacity(stringCount)
        for index in 0..<stringCount {
            let string = try cursor.string("string \(index)")
            if string.utf8.count > SnapshotFormat.maximumSymbolString {
                throw cursor.malformed(
                    "string \(index) is \(string.utf8.count) bytes long, more than \(SnapshotFormat.maximumSymbolString)"
                )
            }
            strings.append(string)
        }
        let entryCount = try cursor.count(UInt64(rawEntries), of: 16, "entries")
        var symbols: [UInt64: [Snapshot.SymbolFrame]] = [:]
        symbols.reserveCapacity(entryCount)
        var previous: UInt64?
        for index in 0..<entryCount {
            try cursor.need(16, for: "entry \(index) header")
            let pc = cursor.u64(at: cursor.offset)
            let frameCount = Int(cursor.u32(at: cursor.offset + 8))
            cursor.offset += 16
            if let previous, pc <= previous {
                throw cursor.malformed(
                    "entry \(index) (pc 0x\(String(pc, radix: 16))) is not above the previous pc")
            }
            previous = pc
            if frameCount == 0 { throw cursor.malformed("entry \(index) has no frames") }
            if frameCount > SnapshotFormat.maximumSymbolFrames {
                throw cursor.malformed(
                    "entry \(index) has \(frameCount) frames, more than \(SnapshotFormat.maximumSymbolFrames)")
            }
            try cursor.need(frameCount * 32, for: "entry \(index) with \(frameCount) frames")
            var frames: [Snapshot.SymbolFrame] = []
            frames.reserveCapacity(frameCount)
            for frame in 0..<frameCount {
                let base = cursor.offset + 32 * frame
                func string(_ field: Int, _ name: String) throws(SnapshotError) -> String {
                    let stringIndex = Int(cursor.u32(at: base + field))
                    guard stringIndex < strings.count else {
                        throw cursor.malformed(
                            "entry \(index) frame \(frame) \(name) is string \(stringIndex), but there are \(strings.count)"
                        )
                    }
                    return strings[stringIndex]
                }
                let flags = cursor.u32(at: base + 16)
                frames.append(
                    Snapshot.SymbolFrame(
                        function: try string(0, "function"), file: try string(4, "file"),
                        line: Int(cursor.u32(at: base + 12)), module: try string(8, "module"),
                        offset: flags & SnapshotFormat.symbolFlagHasOffset != 0
                            ? cursor.u64(at: base + 24) : nil,
                        isInlined: flags & SnapshotFormat.symbolFlagInlined != 0,
                        directory: try string(20, "directory")))
            }
            cursor.offset += frameCount * 32
            symbols[pc] = frames
        }
        return symbols
    }
}
