#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Writes snapshots in the current format version, byte for byte as the tracer does.
///
/// Sections come in tag order (PROCESS when it has entries, keys `exe`, `cmdline`, `cwd`,
/// `output` first and any others sorted after them, then TOTALS, MODULES,
/// STACKS, STACK_STATS, then TEMPORARY, OVERRUNS, MISMATCHES, SIZES, BLOCKS, ALLOCATOR, SYMBOLS and TIMELINE when present, the
/// sections the reader did not know in their original order, END). The header's `HAS_BLOCKS` flag follows `blocks`, and the
/// version written is always ``SnapshotFormat/version``.
public enum SnapshotWriter {
    /// The bytes of a snapshot file holding `snapshot`, END checksum included.
    ///
    /// - Parameter snapshot: the data to encode; its `path` is not stored.
    /// - Returns: a complete file that ``SnapshotFile/parse(_:path:)`` reads back as an equal snapshot.
    public static func encode(_ snapshot: Snapshot) -> [UInt8] {
        var out = ByteWriter()
        out.bytes.reserveCapacity(estimatedSize(snapshot))
        let header = snapshot.header
        var sectionCount: UInt32 = 5
        if !snapshot.process.isEmpty { sectionCount += 1 }
        if snapshot.blocks != nil { sectionCount += 1 }
        if snapshot.allocator != nil { sectionCount += 1 }
        if snapshot.symbols != nil { sectionCount += 1 }
        if snapshot.timeline != nil { sectionCount += 1 }
        if snapshot.sizeClasses != nil { sectionCount += 1 }
        if snapshot.countsTemporary { sectionCount += 1 }
        let overruns = snapshot.stackStats.filter { $0.overrunCount != 0 }
        if !overruns.isEmpty { sectionCount += 1 }
        if !snapshot.mismatches.isEmpty { sectionCount += 1 }
        let unknownSections = writableUnknownSections(snapshot)
        sectionCount += UInt32(unknownSections.count)
        var flags = header.flags & ~SnapshotFormat.flagHasBlocks
        if snapshot.blocks != nil { flags |= SnapshotFormat.flagHasBlocks }

        out.bytes.append(contentsOf: SnapshotFormat.magic)
        out.u32(SnapshotFormat.version)
        out.u32(UInt32(SnapshotFormat.headerSize))
        out.u32(flags)
        out.u32(header.framesLimit)
        out.u32(header.pid)
        out.u32(header.ppid)
        out.u64(header.startTimeNs)
        out.u64(header.snapshotTimeNs)
        out.u64(header.sequence)
        out.u32(header.trigger.rawValue)
        out.u32(sectionCount)

        if !snapshot.process.isEmpty {
            out.section(.process) { out in
                out.u32(UInt32(snapshot.process.count))
                // The tracer's order first, so that re-encoding its files gives the same bytes.
                let known = ["exe", "cmdline", "cwd", "output"]
                let keys =
                    known.filter { snapshot.process[$0] != nil }
                    + snapshot.process.keys.filter { !known.contains($0) }.sorted()
                for key in keys {
                    out.string(key)
                    out.string(snapshot.process[key] ?? "")
                }
            }
        }
        out.section(.totals) { out in
            let totals = snapshot.totals
            for value in [
                totals.liveBytes, totals.liveBlocks, totals.liveUsableBytes, totals.peakBytes,
                totals.peakTimeNs,
                totals.allocCalls, totals.freeCalls, totals.reallocCalls, totals.totalAllocBytes,
                totals.tracerOverheadBytes, totals.untrackedFrees, totals.sampleRate, totals.stackCount,
                totals.truncatedStacks, totals.lostAllocations, totals.overrunBlocks, totals.mismatchBlocks,
            ] {
                out.u64(value)
            }
        }
        out.section(.modules) { out in
            out.u32(UInt32(snapshot.modules.count))
            out.u32(0)
            for module in snapshot.modules {
                out.string(module.path)
                out.u32(UInt32(module.buildID.count))
                out.bytes.append(contentsOf: module.buildID)
                out.u64(module.loadBias)
                out.u32(UInt32(module.segments.count))
                out.u32(0)
                for segment in module.segments {
                    out.u64(segment.start)
                    out.u64(segment.size)
                    out.u64(segment.fileOffset)
                    out.u32(segment.flags)
                    out.u32(0)
                }
            }
        }
        out.section(.stacks) { out in
            out.u32(UInt32(snapshot.stacks.count))
            out.u32(0)
            for stack in snapshot.stacks {
                out.u32(UInt32(stack.pcs.count))
                out.u32(stack.trueDepth)
                for pc in stack.pcs { out.u64(pc) }
            }
        }
        out.section(.stackStats) { out in
            out.u32(UInt32(snapshot.stackStats.count))
            out.u32(0)
            for stat in snapshot.stackStats {
                out.u32(stat.stack)
                out.u32(0)
                out.u64(stat.liveBytes)
                out.u64(stat.liveCount)
                out.u64(stat.totalBytes)
                out.u64(stat.totalCount)
                out.u64(stat.peakBytes)
                out.u64(stat.peakCount)
            }
        }
        /// A section of 24-byte records, `u32 stack`, `u32 0`, `u64 count`, `u64 bytes`, one for
        /// each of `stats`.
        // The format's common shape: u32 count, u32 0, then the records.
        func counted<Item>(_ tag: SnapshotFormat.Tag, _ items: [Item], _ record: (inout ByteWriter, Item) -> Void) {
            out.section(tag) { out in
                out.u32(UInt32(items.count))
                out.u32(0)
                for item in items { record(&out, item) }
            }
        }
        func stackRecords(
            _ tag: SnapshotFormat.Tag, _ stats: [Snapshot.StackStat],
            _ figures: (Snapshot.StackStat) -> (UInt64, UInt64)
        ) {
            counted(tag, stats) { out, stat in
                let (count, bytes) = figures(stat)
                out.u32(stat.stack)
                out.u32(0)
                out.u64(count)
                out.u64(bytes)
            }
        }
        if snapshot.countsTemporary {
            stackRecords(.temporary, snapshot.stackStats.filter { $0.temporaryCount != 0 }) {
                ($0.temporaryCount, $0.temporaryBytes)
            }
        }
        if !overruns.isEmpty { stackRecords(.overruns, overruns) { ($0.overrunCount, $0.overrunBytes) } }
        if !snapshot.mismatches.isEmpty {
            counted(.mismatches, snapshot.mismatches) { out, mismatch in
                out.u32(mismatch.allocStack)
                out.u32(mismatch.releaseStack)
                out.u32(mismatch.allocatedBy.rawValue)
                out.u32(mismatch.releasedBy.rawValue)
                out.u64(mismatch.count)
                out.u64(mismatch.bytes)
                out.u64(mismatch.namedSize)
            }
        }
        if let sizeClasses = snapshot.sizeClasses {
            counted(.sizes, sizeClasses) { out, sizeClass in
                out.u64(sizeClass.count)
                out.u64(sizeClass.bytes)
            }
        }
        if let blocks = snapshot.blocks {
            out.section(.blocks) { out in
                out.u64(UInt64(blocks.count))
                for block in blocks {
                    out.u64(block.address)
                    out.u64(block.size)
                    out.u32(block.stack)
                    out.u32(block.flags)
                }
            }
        }
        if let allocator = snapshot.allocator {
            out.section(.allocator) { out in
                out.u32(allocator.kind.rawValue)
                out.u32(UInt32(allocator.values.count))
                for (name, value) in allocator.values {
                    out.string(name)
                    out.u64(value)
                }
            }
        }
        if let symbols = snapshot.symbols {
            out.section(.symbols) { out in encodeSymbols(symbols, into: &out) }
        }
        if let timeline = snapshot.timeline {
            counted(.timeline, timeline) { out, point in
                out.u64(point.timeNs)
                out.u64(point.currentBytes)
                out.u64(point.peakBytes)
                out.u64(point.rssBytes)
            }
        }
        for section in unknownSections {
            out.section(tag: section.tag) { out in out.bytes.append(contentsOf: section.payload) }
        }
        let checksum = out.bytes.withUnsafeBytes { SnapshotFormat.checksum($0) }
        out.section(.end) { out in out.u64(checksum) }
        return out.bytes
    }

    /// Writes `snapshot` to `path` atomically: a temporary `PATH.tmp.PID` (mode 0600) renamed over `path`.
    ///
    /// - Parameters:
    ///   - snapshot: the data to write.
    ///   - path: the destination; an existing file there is replaced.
    /// - Throws: ``SnapshotError`` with ``SnapshotError/Kind/writeFailed(operation:reason:)``; `path` is
    ///   then untouched and the temporary file removed.
    public static func write(_ snapshot: Snapshot, to path: String) throws(SnapshotError) {
        do {
            try FileOutput.write(encode(snapshot), to: path, mode: 0o600, durable: true)
        } catch {
            // The message names `path` first: the file is named again only when it is another (the
            // temporary file).
            let file = error.file == path ? "" : " \(error.file)"
            let operation =
                switch error.stage {
                case .refused: "replace"
                case .open: "open"
                case .create: "create" + file
                case .write: "write" + file
                case .rename: "rename" + file
                }
            throw SnapshotError(
                path: path, kind: .writeFailed(operation: operation, reason: String(cString: strerror(error.code))))
        }
    }

    /// SYMBOLS: a string table, then one entry per pc in ascending order (docs/snapshot-format.md).
    private static func encodeSymbols(
        _ symbols: [UInt64: [Snapshot.SymbolFrame]], into out: inout ByteWriter
    ) {
        var strings: [String] = [""]
        var indices: [String: UInt32] = ["": 0]
        func intern(_ string: String) -> UInt32 {
            if let index = indices[string] { return index }
            let index = UInt32(strings.count)
            // A name longer than the reader takes (a template's, demangled) ends in "…" there.
            strings.append(string.cut(toUTF8: SnapshotFormat.maximumSymbolString))
            indices[string] = index
            return index
        }
        // No more frames a pc than the reader takes (an inlining deeper than that is not real).
        let symbols = symbols.mapValues { Array($0.prefix(SnapshotFormat.maximumSymbolFrames)) }
        let pcs = symbols.keys.sorted()
        for pc in pcs {
            for frame in symbols[pc] ?? [] {
                _ = intern(frame.function)
                _ = intern(frame.file)
                _ = intern(frame.module)
                _ = intern(frame.directory)
            }
        }
        let entries = pcs.filter { !(symbols[$0] ?? []).isEmpty }
        out.u32(UInt32(strings.count))
        out.u32(UInt32(entries.count))
        for string in strings { out.string(string) }
        for pc in entries {
            let frames = symbols[pc] ?? []
            out.u64(pc)
            out.u32(UInt32(frames.count))
            out.u32(0)
            for frame in frames {
                out.u32(intern(frame.function))
                out.u32(intern(frame.file))
                out.u32(intern(frame.module))
                out.u32(UInt32(clamping: frame.line))
                var flags: UInt32 = 0
                if frame.isInlined { flags |= SnapshotFormat.symbolFlagInlined }
                if frame.offset != nil { flags |= SnapshotFormat.symbolFlagHasOffset }
                out.u32(flags)
                out.u32(intern(frame.directory))
                out.u64(frame.offset ?? 0)
            }
        }
    }

    /// The unknown sections that can be written: none with a known tag, none twice.
    private static func writableUnknownSections(_ snapshot: Snapshot) -> [Snapshot.RawSection] {
        var seen = Set<UInt32>()
        return snapshot.unknownSections.filter {
            SnapshotFormat.Tag(rawValue: $0.tag) == nil && seen.insert($0.tag).inserted
        }
    }

    private static func estimatedSize(_ snapshot: Snapshot) -> Int {
        var size = 1024 + snapshot.stackStats.count * 56 + (snapshot.blocks?.count ?? 0) * 24
        for stack in snapshot.stacks { size += 8 + 8 * stack.pcs.count }
        for module in snapshot.modules {
            size += 64 + module.path.utf8.count + 32 * module.segments.count
        }
        return size
    }
}

/// Appends little-endian fields to a byte array.
private struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func u64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ string: String) {
        let utf8 = Array(string.utf8)
        u32(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// A section header, the payload `body` appends, then the header's length patched in.
    mutating func section(_ tag: SnapshotFormat.Tag, _ body: (inout ByteWriter) -> Void) {
        section(tag: tag.rawValue, body)
    }

    mutating func section(tag: UInt32, _ body: (inout ByteWriter) -> Void) {
        u32(tag)
        u32(0)
        let lengthOffset = bytes.count
        u64(0)
        body(&self)
        let length = UInt64(bytes.count - lengthOffset - 8).littleEndian
        withUnsafeBytes(of: length) { raw in
            for index in 0..<8 { bytes[lengthOffset + index] = raw[index] }
        }
    }
}
