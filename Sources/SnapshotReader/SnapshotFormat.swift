/// Constants of the on-disk snapshot format, version 1.
///
/// docs/snapshot-format.md describes the format; `Sources/Tracer/format.h`
/// declares the same records as C structs for the tracer.
public enum SnapshotFormat {
    /// The eight bytes every snapshot starts with: `MEMTRACE`, no NUL.
    public static let magic: [UInt8] = Array("MEMTRACE".utf8)
    /// The format version this reader and writer implement.
    public static let version: UInt32 = 1
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
            case .end: "END"
            }
        }
    }

    /// The name of the section with raw tag `tag`: its format name, or `tag N` for tags this reader does not know.
    public static func sectionName(_ tag: UInt32) -> String {
        Tag(rawValue: tag)?.name ?? "tag \(tag)"
    }

    /// SYMBOLS frame flag: the frame was inlined into the next one.
    static let symbolFlagInlined: UInt32 = 0x1
    /// SYMBOLS frame flag: the `offset` field is meaningful.
    static let symbolFlagHasOffset: UInt32 = 0x2

    /// FNV-1a 64 offset basis.
    static let fnvOffsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    /// FNV-1a 64 prime.
    static let fnvPrime: UInt64 = 0x100_0000_01b3

    /// The checksum the END section stores: FNV-1a 64 over `bytes`.
    ///
    /// - Parameter bytes: every byte of the file before the END section's header.
    /// - Returns: the 64-bit hash.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash = fnvOffsetBasis
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* fnvPrime
        }
        return hash
    }
}
