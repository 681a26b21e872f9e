/// Why a snapshot file could not be read or written.
///
/// `description` is one line naming the file and what is wrong, ready to print:
/// `memtrace: /tmp/x.snap: not a memtrace snapshot (bad magic)`.
public struct SnapshotError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong, without the file name.
    public enum Kind: Equatable, Sendable {
        /// The path does not exist.
        case noSuchFile
        /// The path names a directory.
        case isDirectory
        /// The file exists but may not be opened.
        case permissionDenied
        /// Opening or reading failed for another reason (`strerror` text).
        case readFailed(String)
        /// Writing the file failed; `operation` is what was being done, `reason` the `strerror` text.
        case writeFailed(operation: String, reason: String)
        /// The file has no bytes at all.
        case empty
        /// The file does not start with `MEMTRACE`.
        case badMagic
        /// The header's version is not one this reader implements.
        case unsupportedVersion(UInt32)
        /// The header's `header_size` is below 64.
        case badHeaderSize(UInt32)
        /// The header names a trigger this reader does not know.
        case unknownTrigger(UInt32)
        /// A structure runs past the end of the file: `what` needs `needs` bytes at `offset`, but the file has only `fileSize`.
        case truncated(what: String, needs: UInt64, offset: Int, fileSize: Int)
        /// The END checksum does not match the file's bytes.
        case checksumMismatch
        /// A section that must appear is absent.
        case missingSection(String)
        /// A section appears twice.
        case duplicateSection(String)
        /// END is section `index` of `count`, not the last one.
        case endNotLast(index: Int, count: Int)
        /// The header declares `count` sections and none of them is END.
        case missingEnd(count: Int)
        /// Bytes follow the END section.
        case trailingBytes(Int)
        /// A section's payload does not hold what its counts promise.
        case malformed(section: String, detail: String)
        /// A record refers to a stack id at or above the STACKS count.
        case stackOutOfRange(section: String, record: Int, stack: UInt32, stackCount: Int)
        /// The header and the sections disagree (for example about BLOCKS).
        case inconsistent(String)
    }

    /// The file concerned, as the caller named it.
    public var path: String
    /// What is wrong with it.
    public var kind: Kind

    /// Creates an error about `path`.
    public init(path: String, kind: Kind) {
        self.path = path
        self.kind = kind
    }

    /// `memtrace: PATH: PROBLEM`, on one line.
    public var description: String {
        "memtrace: \(path): \(problem)"
    }

    /// The problem alone, without the `memtrace: PATH:` prefix.
    public var problem: String {
        switch kind {
        case .noSuchFile: "no such file"
        case .isDirectory: "is a directory"
        case .permissionDenied: "permission denied"
        case .readFailed(let reason): "cannot read: \(reason)"
        case .writeFailed(let operation, let reason): "cannot \(operation): \(reason)"
        case .empty: "empty file (not a memtrace snapshot)"
        case .badMagic: "not a memtrace snapshot (bad magic)"
        case .unsupportedVersion(let version):
            "unsupported format version \(version) (this memtrace reads versions \(SnapshotFormat.oldestVersion) to \(SnapshotFormat.version))"
        case .badHeaderSize(let size):
            "bad header size \(size) (at least \(SnapshotFormat.headerSize) expected)"
        case .unknownTrigger(let trigger): "unknown snapshot trigger \(trigger)"
        case .truncated(let what, let needs, let offset, let fileSize):
            "truncated: \(what) needs \(needs) bytes at offset \(offset), file has \(fileSize)"
        case .checksumMismatch: "checksum mismatch (file corrupted)"
        case .missingSection(let name): "missing required section \(name)"
        case .duplicateSection(let name): "duplicate section \(name)"
        case .endNotLast(let index, let count):
            "END is section \(index) of \(count); it must be the last"
        case .missingEnd(let count): "no END section among the \(count) sections the header declares"
        case .trailingBytes(let count): "\(count) bytes after the END section"
        case .malformed(let section, let detail): "section \(section) is malformed: \(detail)"
        case .stackOutOfRange(let section, let record, let stack, let stackCount):
            "section \(section) is malformed: record \(record) refers to stack \(stack), but STACKS has \(stackCount)"
        case .inconsistent(let detail): detail
        }
    }
}
