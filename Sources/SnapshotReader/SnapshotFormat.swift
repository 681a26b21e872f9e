/// Constants of the on-disk snapshot format, version 2 (version 1 read too).
///
/// docs/snapshot-format.md describes the format; `Sources/Tracer/format.h`
/// declares the same records as C structs for the tracer.
public enum SnapshotFormat {
    /// The eight bytes every snapshot starts with: `MEMTRACE`, no NUL.
    public static let magic: [UInt8] = Array("MEMTRACE".utf8)
    /// The format version this writer writes and this reader reads.
    public static let version: UInt32 = 2
    /// The earliest version this reader reads: version 1 differs only in END's checksum.
    public static let oldestVersion: UInt32 = 1
    /// Size of the fixed file header in bytes.
    public static let headerSize = 64
    /// Size of a section header (`u32 tag`, `u32 reserved`, `u64 length`).
    public static let sectionHeaderSize = 16
    /// Header flag: counts are sampled (`Totals.sampleRate`).
    public static let flagSampled: UInt32 = 0x1
    /// Header flag: a BLOCKS section is present.
    public static let flagHasBlocks: UInt32 = 0x2
    /// Header flag: the tracer ran its reachability scan; BLOCKS flags carry each block's kind.
    public static let flagLeakScan: UInt32 = 0x4

    /// Section tags.
    public enum Tag: UInt32, Sendable, CaseIterable {
        case process = 1
        case totals = 2
        case modules = 3
        case stacks = 4
        case stackStats = 5
        case blocks = 6
        case allocator = 7
        case symbols = 8
        case timeline = 9
        case temporary = 10
        case overruns = 11
        case sizes = 12
        case mismatches = 13
        case end = 0xFFFF_FFFF

        /// The name the format document uses, as error messages show it.
        public var name: String {
            switch self {
            case .process: "PROCESS"
            case .totals: "TOTALS"
            case .modules: "MODULES"
            case .stacks: "STACKS"
            case .stackStats: "STACK_STATS"
            case .blocks: "BLOCKS"
            case .allocator: "ALLOCATOR"
            case .symbols: "SYMBOLS"
            case .timeline: "TIMELINE"
            case .temporary: "TEMPORARY"
            case .overruns: "OVERRUNS"
            case .sizes: "SIZES"
            case .mismatches: "MISMATCHES"
            case .end: "END"
            }
        }
    }

    /// The name of the section with raw tag `tag`: its format name, or `tag N` for tags this reader does not know.
    public static func sectionName(_ tag: UInt32) -> String {
        Tag(rawValue: tag)?.name ?? "tag \(tag)"
    }

    /// Most frames a stack keeps: the tracer's MT_MAX_FRAMES. Deeper stacks are malformed.
    public static let maximumStackDepth = 256
    /// Most frames a SYMBOLS entry holds (a pc and the calls inlined at it), and the longest
    /// string of its table in bytes: the writer cuts longer names there. A damaged file beyond
    /// them would make the analysis expand or hash without end.
    public static let maximumSymbolFrames = 256
    public static let maximumSymbolString = 65536
    /// SYMBOLS frame flag: the frame was inlined into the next one.
    static let symbolFlagInlined: UInt32 = 0x1
    /// SYMBOLS frame flag: the `offset` field is meaningful.
    static let symbolFlagHasOffset: UInt32 = 0x2

    /// The checksum's starting value (FNV-1a 64's offset basis, as version 1 used).
    static let checksumSeed: UInt64 = 0xcbf2_9ce4_8422_2325
    /// Version 2's checksum multiplier.
    static let checksumMultiplier: UInt64 = 0x9e37_79b9_7f4a_7c15
    /// FNV-1a 64 prime, version 1's checksum.
    static let fnvPrime: UInt64 = 0x100_0000_01b3

    /// The checksum the END section stores.
    ///
    /// Version 2 takes the bytes as little-endian 64-bit words, the last one completed with zero
    /// bytes: `h = rotl64((h ^ w) &* multiplier, 29)` for each word `w` and once more for the
    /// number of bytes. Version 1 took FNV-1a 64 byte by byte.
    ///
    /// - Parameters:
    ///   - bytes: every byte of the file before the END section's header.
    ///   - version: the file's format version.
    /// - Returns: the 64-bit checksum.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, version: UInt32 = version) -> UInt64 {
        var hash = checksumSeed
        if version == 1 {
            for byte in bytes { hash = (hash ^ UInt64(byte)) &* fnvPrime }
            return hash
        }
        func step(_ hash: UInt64, _ word: UInt64) -> UInt64 {
            let product = (hash ^ word) &* checksumMultiplier
            return product << 29 | product >> 35
        }
        let whole = bytes.count & ~7
        var offset = 0
        while offset < whole {
            hash = step(hash, UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
            offset += 8
        }
        if offset < bytes.count {
            var word: UInt64 = 0
            for index in offset..<bytes.count { word |= UInt64(bytes[index]) << (8 * UInt64(index - offset)) }
            hash = step(hash, word)
        }
        return step(hash, UInt64(bytes.count))
    }
}

extension String {
    /// The string itself when it takes at most `limit` bytes of UTF-8, else its longest prefix
    /// of whole scalars that fits there with a trailing "…" (3 bytes).
    public func cut(toUTF8 limit: Int) -> String {
        guard utf8.count > limit else { return self }
        var kept = String.UnicodeScalarView()
        var bytes = 0
        for scalar in unicodeScalars {
            let width = UTF8.width(scalar)
            if bytes + width > limit - 3 { break }
            kept.append(scalar)
            bytes += width
        }
        return String(kept) + "…"
    }

    /// The string with its control characters (C0, DEL, C1, and the bidirectional formatting
    /// characters) written as escapes (`\n`, `\t`, `\x1b`, `\u{202e}`…), so that a name from a
    /// file can neither break a line of text output, move a terminal's cursor or title, nor show
    /// its text in another order; the string itself when it has none.
    public var escapingControlCharacters: String {
        func isControl(_ scalar: Unicode.Scalar) -> Bool {
            // C0, DEL, C1, the line and paragraph separators (a line break to editors, pagers and
            // older JavaScript), and the bidirectional marks, embeddings, overrides and isolates,
            // which can show a line's text in another order than it has.
            let value = scalar.value
            return value < 0x20 || (value >= 0x7f && value < 0xa0) || value == 0x061c || value == 0x200e
                || value == 0x200f || (value >= 0x2028 && value <= 0x202e) || (value >= 0x2066 && value <= 0x2069)
        }
        guard unicodeScalars.contains(where: isControl) else { return self }
        var escaped = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": escaped += "\\n"
            case "\t": escaped += "\\t"
            case "\r": escaped += "\\r"
            case _ where isControl(scalar) && scalar.value > 0xff:
                escaped += "\\u{" + String(scalar.value, radix: 16) + "}"
            case _ where isControl(scalar):
                let hex = String(scalar.value, radix: 16)
                escaped += "\\x" + (hex.count < 2 ? "0" + hex : hex)
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
