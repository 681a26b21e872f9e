import Foundation
import XCTest
import _MemtraceTestSupport

@testable import SnapshotReader

final class SnapshotReaderTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory("memtrace-reader")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Parses `bytes` and returns the error it must throw.
    func parseError(
        _ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line
    )
        -> SnapshotError?
    {
        do {
            _ = try SnapshotFile.parse(bytes, path: "/t/x.snap")
            XCTFail("parsed without error", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    func assertMessage(
        _ bytes: [UInt8], _ problem: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(
            parseError(bytes, file: file, line: line)?.description, "memtrace: /t/x.snap: \(problem)",
            file: file,
            line: line)
    }

    // MARK: Round trips

    func testFullSnapshotRoundTrips() throws {
        let snapshot = Fixtures.full(path: "/t/x.snap")
        let bytes = SnapshotWriter.encode(snapshot)
        let parsed = try SnapshotFile.parse(bytes, path: "/t/x.snap")
        XCTAssertEqual(parsed, snapshot)
        XCTAssertEqual(parsed.symbols?[0x5555_0000_1200]?.first?.offset, 0x20)
        XCTAssertEqual(parsed.allocator?["uordblks"], 4200)
        XCTAssertEqual(parsed.process["cmdline"], "prog\0--flag\0x")
        XCTAssertEqual(SnapshotWriter.encode(parsed), bytes)
    }

    /// Read for figures by stack only, a snapshot leaves its blocks out and says it has none;
    /// the rest is as read whole.
    func testReadWithoutBlocks() throws {
        let snapshot = Fixtures.full(path: "/t/x.snap")
        XCTAssertFalse(snapshot.blocks?.isEmpty ?? true)
        let bytes = SnapshotWriter.encode(snapshot)
        let parsed = try SnapshotFile.parse(bytes, path: "/t/x.snap", withBlocks: false)
        XCTAssertNil(parsed.blocks)
        XCTAssertFalse(parsed.header.hasBlocks)
        var expected = snapshot
        expected.blocks = nil
        expected.header.flags &= ~SnapshotFormat.flagHasBlocks
        XCTAssertEqual(parsed, expected)
    }

    func testMinimalSnapshotRoundTrips() throws {
        let snapshot = Fixtures.minimal(path: "/t/x.snap")
        let bytes = SnapshotWriter.encode(snapshot)
        // Header, TOTALS (16 + 136), MODULES/STACKS/STACK_STATS (16 + 8 each), END (16 + 8).
        XCTAssertEqual(bytes.count, 64 + 152 + 3 * 24 + 24)
        XCTAssertEqual(try SnapshotFile.parse(bytes, path: "/t/x.snap"), snapshot)
    }

    func testEncodedLayoutMatchesTheFormatDocument() {
        let bytes = SnapshotWriter.encode(Fixtures.full())
        XCTAssertEqual(Array(bytes[0..<8]), Array("MEMTRACE".utf8))
        XCTAssertEqual(bytes.u32(at: 8), 2)  // version
        XCTAssertEqual(bytes.u32(at: 12), 64)  // header_size
        XCTAssertEqual(bytes.u32(at: 16), 2)  // HAS_BLOCKS
        XCTAssertEqual(bytes.u32(at: 20), 64)  // frames_limit
        XCTAssertEqual(bytes.u32(at: 24), 4242)
        XCTAssertEqual(bytes.u64(at: 48), 2)  // sequence
        XCTAssertEqual(bytes.u32(at: 56), 1)  // trigger: signal
        XCTAssertEqual(bytes.u32(at: 60), 15)  // all thirteen kinds, one unknown, END
        let offsets = bytes.sectionOffsets()
        XCTAssertEqual(offsets.keys.sorted(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0x77, 0xFFFF_FFFF])
        // The tracer's order: TEMPORARY, OVERRUNS, MISMATCHES and SIZES after STACK_STATS, then
        // the rest by tag, the unknown section last before END.
        XCTAssertEqual(offsets[1], 64)
        let order: [UInt32] = [1, 2, 3, 4, 5, 10, 11, 13, 12, 6, 7, 8, 9, 0x77, 0xFFFF_FFFF]
        XCTAssertEqual(offsets.values.sorted(), order.map { offsets[$0]! })
        // TEMPORARY: count 1, then a 24-byte record: stack 0, reserved, 5 blocks, 3000 bytes.
        let temporary = offsets[10]! + 16
        XCTAssertEqual(bytes.u64(at: temporary - 8), 8 + 24)
        XCTAssertEqual([bytes.u32(at: temporary), bytes.u32(at: temporary + 8)], [1, 0])
        XCTAssertEqual([bytes.u64(at: temporary + 16), bytes.u64(at: temporary + 24)], [5, 3000])
        // OVERRUNS: count 1, then a 24-byte record: stack 1, reserved, 1 block, 96 bytes; and
        // TOTALS' last field.
        let overruns = offsets[11]! + 16
        XCTAssertEqual(bytes.u64(at: overruns - 8), 8 + 24)
        XCTAssertEqual([bytes.u32(at: overruns), bytes.u32(at: overruns + 8)], [1, 1])
        XCTAssertEqual([bytes.u64(at: overruns + 16), bytes.u64(at: overruns + 24)], [1, 96])
        XCTAssertEqual(bytes.u64(at: offsets[2]! + 16 + 8 * 15), 1)
        // MISMATCHES: count 2, then 40-byte records: allocation stack 1, release stack 2, new[]
        // (2) released by delete (1), 2 blocks, 64 bytes, no size named; then new (1) released
        // by a delete of 16 bytes. And TOTALS' field after overrun_blocks.
        let mismatches = offsets[13]! + 16
        XCTAssertEqual(bytes.u64(at: mismatches - 8), 8 + 2 * 40)
        XCTAssertEqual([bytes.u32(at: mismatches), bytes.u32(at: mismatches + 4)], [2, 0])
        XCTAssertEqual((0..<4).map { bytes.u32(at: mismatches + 8 + 4 * $0) }, [1, 2, 2, 1])
        XCTAssertEqual((0..<3).map { bytes.u64(at: mismatches + 24 + 8 * $0) }, [2, 64, 0])
        XCTAssertEqual((0..<4).map { bytes.u32(at: mismatches + 48 + 4 * $0) }, [0, 2, 1, 1])
        XCTAssertEqual((0..<3).map { bytes.u64(at: mismatches + 64 + 8 * $0) }, [1, 48, 16])
        XCTAssertEqual(bytes.u64(at: offsets[2]! + 8), 8 * 17)
        XCTAssertEqual(bytes.u64(at: offsets[2]! + 16 + 8 * 16), 3)
        // SIZES: count 5, then 16-byte classes: class 4 (16 to 31 bytes) 5 blocks, 120 bytes.
        let sizes = offsets[12]! + 16
        XCTAssertEqual(bytes.u64(at: sizes - 8), 8 + 5 * 16)
        XCTAssertEqual([bytes.u32(at: sizes), bytes.u32(at: sizes + 4)], [5, 0])
        XCTAssertEqual([bytes.u64(at: sizes + 8), bytes.u64(at: sizes + 8 + 4 * 16 + 8)], [1, 120])
        // TIMELINE: count 2, then 32-byte points.
        let timeline = offsets[9]! + 16
        XCTAssertEqual(bytes.u64(at: timeline - 8), 8 + 2 * 32)
        XCTAssertEqual(bytes.u32(at: timeline), 2)
        XCTAssertEqual(bytes.u64(at: timeline + 8 + 32 + 8), 4096)  // second point's current_bytes
        XCTAssertEqual(bytes.u64(at: offsets[0x77]! + 8), 5)
        XCTAssertEqual(Array(bytes[(offsets[0x77]! + 16)..<(offsets[0x77]! + 21)]), [1, 2, 3, 4, 5])
        // STACKS: count 3, then depth 2 / true_depth 2 / two pcs.
        let stacks = offsets[4]! + 16
        XCTAssertEqual(bytes.u32(at: stacks), 3)
        XCTAssertEqual(bytes.u32(at: stacks + 8), 2)
        XCTAssertEqual(bytes.u64(at: stacks + 16), 0x5555_0000_1010)
        // BLOCKS: u64 count then 24-byte records.
        let blocks = offsets[6]! + 16
        XCTAssertEqual(bytes.u64(at: blocks - 8), 8 + 3 * 24)
        XCTAssertEqual(bytes.u64(at: blocks), 3)
        XCTAssertEqual(bytes.u32(at: blocks + 8 + 24 + 20), 1)  // second block's flags
        // END: the last 24 bytes, checksum over everything before.
        XCTAssertEqual(offsets[0xFFFF_FFFF], bytes.count - 24)
        XCTAssertEqual(bytes.u64(at: bytes.count - 16), 8)
        XCTAssertEqual(bytes.u64(at: bytes.count - 8), endChecksum(bytes[..<(bytes.count - 24)], version: 2))
    }

    func testHandWrittenFileIsReadFieldByField() throws {
        var raw = RawSnapshot()
        raw.header(flags: 3, trigger: 2, sections: 8)
        raw.section(1) { out in
            out.u32(2)
            out.str("exe")
            out.str("/bin/true")
            out.str("cwd")
            out.str("/")
        }
        raw.totals()
        raw.section(3) { out in
            out.u32(1)
            out.u32(0)
            out.str("/bin/true")
            out.u32(2)
            out.bytes += [0xab, 0xcd]
            out.u64(0x1000)
            out.u32(1)
            out.u32(0)
            out.u64(0x2000)
            out.u64(0x300)
            out.u64(0x40)
            out.u32(5)
            out.u32(0)
        }
        raw.section(4) { out in
            out.u32(1)
            out.u32(0)
            out.u32(2)
            out.u32(9)
            out.u64(0x2010)
            out.u64(0x2020)
        }
        raw.section(5) { out in
            out.u32(1)
            out.u32(0)
            out.u32(0)
            out.u32(0)
            for value in 1...6 { out.u64(UInt64(value * 10)) }
        }
        raw.section(6) { out in
            out.u64(1)
            out.u64(0xdead0)
            out.u64(48)
            out.u32(0)
            out.u32(1)
        }
        raw.section(7) { out in
            out.u32(2)
            out.u32(1)
            out.str("stats.allocated")
            out.u64(1024)
        }
        raw.end()
        let snapshot = try SnapshotFile.parse(raw.bytes, path: "/t/x.snap")
        XCTAssertEqual(
            snapshot.header,
            Snapshot.Header(
                version: 2, flags: 3, framesLimit: 16, pid: 77, ppid: 1, startTimeNs: 1000,
                snapshotTimeNs: 2000,
                sequence: 5, trigger: .interval))
        XCTAssertTrue(snapshot.header.isSampled)
        XCTAssertEqual(snapshot.process, ["exe": "/bin/true", "cwd": "/"])
        XCTAssertEqual(snapshot.totals.liveBytes, 1)
        XCTAssertEqual(snapshot.totals.peakTimeNs, 5)
        XCTAssertEqual(snapshot.totals.lostAllocations, 15)
        XCTAssertEqual(
            snapshot.modules,
            [
                Snapshot.Module(
                    path: "/bin/true", buildID: [0xab, 0xcd], loadBias: 0x1000,
                    segments: [Snapshot.Segment(start: 0x2000, size: 0x300, fileOffset: 0x40, flags: 5)])
            ])
        XCTAssertEqual(snapshot.modules[0].buildIDHex, "abcd")
        XCTAssertEqual(snapshot.stacks, [Snapshot.Stack(pcs: [0x2010, 0x2020], trueDepth: 9)])
        XCTAssertEqual(
            snapshot.stackStats,
            [
                Snapshot.StackStat(
                    stack: 0, liveBytes: 10, liveCount: 20, totalBytes: 30, totalCount: 40, peakBytes: 50,
                    peakCount: 60)
            ])
        XCTAssertEqual(
            snapshot.blocks, [Snapshot.Block(address: 0xdead0, size: 48, stack: 0, flags: 1)])
        XCTAssertEqual(snapshot.blocks?.first?.isIgnored, true)
        XCTAssertEqual(snapshot.allocator?.kind, .jemalloc)
        XCTAssertEqual(snapshot.allocator?["stats.allocated"], 1024)
        XCTAssertNil(snapshot.symbols)
        XCTAssertEqual(snapshot.module(containing: 0x2010)?.path, "/bin/true")
    }

    func testUnknownSectionsAndLongerPayloadsAreAccepted() throws {
        var raw = RawSnapshot()
        raw.header(sections: 7)
        raw.section(99) { out in out.bytes += [1, 2, 3] }
        raw.totals(extra: 24)
        raw.emptyCounted(3)
        raw.section(4) { out in
            out.u32(0)
            out.u32(0)
            out.bytes += [9, 9, 9, 9]
        }
        raw.emptyCounted(5)
        raw.section(0x1234_5678) { _ in }
        raw.end()
        let snapshot = try SnapshotFile.parse(raw.bytes, path: "/t/x.snap")
        XCTAssertEqual(snapshot.totals.lostAllocations, 15)
        XCTAssertEqual(snapshot.stacks, [])
        XCTAssertEqual(
            snapshot.unknownSections,
            [Snapshot.RawSection(tag: 99, payload: [1, 2, 3]), Snapshot.RawSection(tag: 0x1234_5678, payload: [])])
        XCTAssertNil(snapshot.timeline)
    }

    func testUnknownSectionsWithKnownTagsAreNotWritten() throws {
        var snapshot = Fixtures.minimal(path: "/t/x.snap")
        snapshot.unknownSections = [
            Snapshot.RawSection(tag: 4, payload: [0]), Snapshot.RawSection(tag: 50, payload: [1]),
            Snapshot.RawSection(tag: 50, payload: [2]), Snapshot.RawSection(tag: 0xFFFF_FFFF, payload: []),
        ]
        let parsed = try SnapshotFile.parse(SnapshotWriter.encode(snapshot), path: "/t/x.snap")
        XCTAssertEqual(parsed.unknownSections, [Snapshot.RawSection(tag: 50, payload: [1])])
    }

    func testTimelineCountMustFit() {
        var bytes = SnapshotWriter.encode(Fixtures.full())
        let timeline = bytes.sectionOffsets()[9]!
        bytes.setU32(3, at: timeline + 16)
        assertMessage(
            bytes.resealed(),
            "section TIMELINE is malformed: 3 points of at least 32 bytes each do not fit in the 64 bytes left at offset \(timeline + 24)"
        )
    }

    func testSizeClassesMustFitAndBeAtMostSixtyFour() {
        var bytes = SnapshotWriter.encode(Fixtures.full())
        let sizes = bytes.sectionOffsets()[12]!
        bytes.setU32(6, at: sizes + 16)
        assertMessage(
            bytes.resealed(),
            "section SIZES is malformed: 6 classes of at least 16 bytes each do not fit in the 80 bytes left at offset \(sizes + 24)"
        )
        bytes.setU32(65, at: sizes + 16)
        assertMessage(bytes.resealed(), "section SIZES is malformed: 65 classes, more than the 64 there are")
    }

    func testWriteIsAtomicAndPrivate() throws {
        let target = path("out.snap")
        try Data("old".utf8).write(to: URL(fileURLWithPath: target))
        let snapshot = Fixtures.full(path: target)
        try SnapshotWriter.write(snapshot, to: target)
        XCTAssertEqual(try SnapshotFile.read(path: target), snapshot)
        let attributes = try FileManager.default.attributesOfItem(atPath: target)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: directory.path), ["out.snap"])
        XCTAssertEqual(
            try Data(contentsOf: URL(fileURLWithPath: target)), Data(SnapshotWriter.encode(snapshot)))
    }

    /// A name of 250 bytes is a valid name, `NAME.tmp.PID` is not: the temporary keeps what
    /// fits of the name (whole characters), and the snapshot lands under the name asked for.
    func testWriteToANameNearTheLengthLimit() throws {
        for name in [String(repeating: "a", count: 250) + ".snap", String(repeating: "é", count: 127)] {
            XCTAssertLessThanOrEqual(name.utf8.count, Int(NAME_MAX))
            let target = path(name)
            let snapshot = Fixtures.minimal(path: target)
            try SnapshotWriter.write(snapshot, to: target)
            XCTAssertEqual(try SnapshotFile.read(path: target), snapshot)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [name])
            try FileManager.default.removeItem(atPath: target)
            let temporary = FileOutput.temporaryName(for: target)
            let component = (temporary as NSString).lastPathComponent
            // All of NAME_MAX for the ASCII name; one byte short where that would cut an "é" in two.
            XCTAssertTrue((Int(NAME_MAX) - 1...Int(NAME_MAX)).contains(component.utf8.count), component)
            if name.first == "a" { XCTAssertEqual(component.utf8.count, Int(NAME_MAX)) }
            XCTAssertTrue(component.hasSuffix(".tmp.\(getpid())"))
            XCTAssertTrue(target.hasPrefix(String(temporary.dropLast(".tmp.\(getpid())".count))))
        }
        XCTAssertEqual(FileOutput.temporaryName(for: "dir/x.snap"), "dir/x.snap.tmp.\(getpid())")
    }

    func testWriteIntoMissingDirectoryFails() {
        let target = path("no/such/dir/out.snap")
        XCTAssertThrowsError(try SnapshotWriter.write(Fixtures.minimal(), to: target)) { error in
            XCTAssertEqual(
                "\(error)",
                "memtrace: \(target): cannot create \(target).tmp.\(getpid()): No such file or directory")
        }
    }

    /// A device is written in place: the message names it once.
    func testWriteToAFullDeviceNamesItOnce() {
        XCTAssertThrowsError(try SnapshotWriter.write(Fixtures.minimal(), to: "/dev/full")) { error in
            XCTAssertEqual("\(error)", "memtrace: /dev/full: cannot write: No space left on device")
        }
    }

    // MARK: Files that are not snapshots

    func testMissingFile() {
        let missing = path("nope.snap")
        XCTAssertThrowsError(try SnapshotFile.read(path: missing)) { error in
            XCTAssertEqual("\(error)", "memtrace: \(missing): no such file")
            XCTAssertEqual((error as? SnapshotError)?.kind, .noSuchFile)
        }
    }

    func testDirectory() {
        XCTAssertThrowsError(try SnapshotFile.read(path: directory.path)) { error in
            XCTAssertEqual("\(error)", "memtrace: \(directory.path): is a directory")
        }
    }

    func testEmptyFile() throws {
        let empty = path("empty.snap")
        XCTAssertTrue(FileManager.default.createFile(atPath: empty, contents: Data()))
        XCTAssertThrowsError(try SnapshotFile.read(path: empty)) { error in
            XCTAssertEqual("\(error)", "memtrace: \(empty): empty file (not a memtrace snapshot)")
        }
    }

    func testBadMagic() {
        assertMessage(
            Array("#!/bin/sh\necho hello, this is long enough to be a header......\n".utf8),
            "not a memtrace snapshot (bad magic)")
        assertMessage([0x7f, 0x45, 0x4c, 0x46], "not a memtrace snapshot (bad magic)")
        var bytes = SnapshotWriter.encode(Fixtures.minimal())
        bytes[7] = UInt8(ascii: "X")
        assertMessage(bytes, "not a memtrace snapshot (bad magic)")
    }

    func testEndlessDeviceIsNotReadToTheEnd() {
        XCTAssertThrowsError(try SnapshotFile.read(path: "/dev/zero")) { error in
            XCTAssertEqual("\(error)", "memtrace: /dev/zero: not a memtrace snapshot (bad magic)")
        }
    }

    func testReadsFromAPipe() throws {
        let file = path("piped.snap")
        try SnapshotWriter.write(Fixtures.full(), to: file)
        let fifo = path("fifo")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let writer = Thread {
            let data = FileManager.default.contents(atPath: file)!
            let handle = FileHandle(forWritingAtPath: fifo)!
            handle.write(data)
            try? handle.close()
        }
        writer.start()
        var expected = Fixtures.full()
        expected.path = fifo
        XCTAssertEqual(try SnapshotFile.read(path: fifo), expected)
    }

    func testUnsupportedVersion() {
        var bytes = SnapshotWriter.encode(Fixtures.minimal())
        bytes.setU32(7, at: 8)
        assertMessage(bytes, "unsupported format version 7 (this memtrace reads versions 1 to 2)")
        bytes.setU32(0, at: 8)
        assertMessage(bytes, "unsupported format version 0 (this memtrace reads versions 1 to 2)")
        // Even a v3 file too short for v2's header reports its version.
        assertMessage(
            Array(bytes[0..<12]).withVersion(3),
            "unsupported format version 3 (this memtrace reads versions 1 to 2)")
    }

    /// Version 1 differs only in END's checksum (FNV-1a 64 byte by byte): its files still read.
    func testVersionOneFilesStillRead() throws {
        let bytes = SnapshotWriter.encode(Fixtures.full()).withVersion(1).resealed()
        var expected = Fixtures.full()
        expected.path = "/t/x.snap"
        expected.header.version = 1
        XCTAssertEqual(try SnapshotFile.parse(bytes, path: "/t/x.snap"), expected)
        // The other version's checksum is a mismatch.
        assertMessage(
            SnapshotWriter.encode(Fixtures.full()).withVersion(1), "checksum mismatch (file corrupted)")
    }

    // MARK: Truncation and corruption

    func testEveryTruncationIsReportedNotCrashed() throws {
        for snapshot in [Fixtures.minimal(), Fixtures.full()] {
            let bytes = SnapshotWriter.encode(snapshot)
            for length in 1..<bytes.count {
                guard let error = parseError(Array(bytes[0..<length])) else { continue }
                guard case .truncated = error.kind else {
                    XCTFail("length \(length): \(error)")
                    continue
                }
                XCTAssertTrue(
                    error.description.hasPrefix("memtrace: /t/x.snap: truncated: "), error.description)
                XCTAssertFalse(error.description.contains("\n"))
            }
        }
    }

    func testTruncationMessagesNameWhatIsMissing() {
        let bytes = SnapshotWriter.encode(Fixtures.minimal())
        assertMessage(
            Array(bytes[0..<5]), "truncated: file header needs 64 bytes at offset 0, file has 5")
        assertMessage(
            Array(bytes[0..<64]),
            "truncated: section header 1 of 5 needs 16 bytes at offset 64, file has 64")
        assertMessage(
            Array(bytes[0..<100]), "truncated: section TOTALS needs 136 bytes at offset 80, file has 100")
        // Cut right before END.
        assertMessage(
            Array(bytes[0..<(bytes.count - 24)]),
            "truncated: section header 5 of 5 needs 16 bytes at offset \(bytes.count - 24), file has \(bytes.count - 24)"
        )
    }

    func testEveryFlippedByteIsDetected() {
        let bytes = SnapshotWriter.encode(Fixtures.full())
        let endHeader = bytes.count - 24
        for offset in 0..<bytes.count {
            // END's reserved word is outside the checksum and, like every reserved field, ignored.
            if (endHeader + 4..<endHeader + 8).contains(offset) { continue }
            var damaged = bytes
            damaged[offset] ^= 0x10
            guard let error = parseError(damaged) else {
                XCTFail("flip at \(offset) went unnoticed")
                continue
            }
            switch offset {
            case 0..<8: XCTAssertEqual(error.kind, .badMagic)
            case 8..<12:
                XCTAssertEqual(error.kind, .unsupportedVersion(2 ^ (0x10 << (8 * UInt32(offset - 8)))))
            case 12..<endHeader, bytes.count - 8..<bytes.count:
                XCTAssertEqual(error.description, "memtrace: /t/x.snap: checksum mismatch (file corrupted)")
            default: break  // END's own header: reported as a structural problem.
            }
        }
    }

    /// The analysis adds the stacks' figures up in signed 64-bit integers: records whose figures
    /// add up past that (fuzzed files, each figure below 2^64) are refused, not crashed on.
    func testFiguresThatAddUpPastTwoToTheSixtyThree() {
        var snapshot = Fixtures.full()
        snapshot.stackStats[0].liveBytes = UInt64(Int64.max) - 96  // and 96 in the other record
        XCTAssertNoThrow(try SnapshotFile.parse(SnapshotWriter.encode(snapshot), path: "/t/x.snap"))
        snapshot.stackStats[1].liveBytes = 97
        assertMessage(
            SnapshotWriter.encode(snapshot),
            "section STACK_STATS is malformed: the records' live_bytes add up past 2^63 - 1")
        snapshot.stackStats[1].liveBytes = 1
        snapshot.stackStats[1].temporaryCount = UInt64.max
        assertMessage(
            SnapshotWriter.encode(snapshot),
            "section STACK_STATS is malformed: the records' temporary_count add up past 2^63 - 1")
    }

    func testSectionLengthOverflow() {
        var bytes = SnapshotWriter.encode(Fixtures.minimal())
        let stacks = bytes.sectionOffsets()[4]!
        bytes.setU64(UInt64.max, at: stacks + 8)
        assertMessage(
            bytes.resealed(),
            "truncated: section STACKS needs 18446744073709551615 bytes at offset \(stacks + 16), file has \(bytes.count)"
        )
        bytes.setU64(UInt64.max - 15, at: stacks + 8)
        assertMessage(
            bytes.resealed(),
            "truncated: section STACKS needs 18446744073709551600 bytes at offset \(stacks + 16), file has \(bytes.count)"
        )
    }

    func testCountsLargerThanTheirSection() {
        let bytes = SnapshotWriter.encode(Fixtures.full())
        let offsets = bytes.sectionOffsets()
        var damaged = bytes
        damaged.setU32(0xFFFF_FFFF, at: offsets[4]! + 16)
        let stacksEnd = offsets[4]! + 16 + Int(bytes.u64(at: offsets[4]! + 8))
        assertMessage(
            damaged.resealed(),
            "section STACKS is malformed: 4294967295 stacks of at least 8 bytes each do not fit in the "
                + "\(stacksEnd - offsets[4]! - 24) bytes left at offset \(offsets[4]! + 24)")

        damaged = bytes
        damaged.setU32(250, at: offsets[4]! + 24)  // stack 0's depth
        assertMessage(
            damaged.resealed(),
            "section STACKS is malformed: stack 0 with 250 frames needs 2000 bytes at offset \(offsets[4]! + 32), "
                + "section ends at \(stacksEnd)")

        damaged = bytes
        damaged.setU64(4, at: offsets[6]! + 16)  // BLOCKS count
        assertMessage(
            damaged.resealed(),
            "section BLOCKS is malformed: 4 blocks of at least 24 bytes each do not fit in the 72 bytes left at offset \(offsets[6]! + 24)"
        )

        damaged = bytes
        damaged.setU32(1000, at: offsets[3]! + 24)  // module 0's path length
        let modulesEnd = offsets[3]! + 16 + Int(bytes.u64(at: offsets[3]! + 8))
        assertMessage(
            damaged.resealed(),
            "section MODULES is malformed: module 0 path needs 1000 bytes at offset \(offsets[3]! + 28), "
                + "section ends at \(modulesEnd)")

        // A TOTALS payload shorter than its record.
        var raw = RawSnapshot()
        raw.header(sections: 5)
        raw.section(2) { out in out.bytes += [UInt8](repeating: 0, count: 64) }
        raw.emptyCounted(3)
        raw.emptyCounted(4)
        raw.emptyCounted(5)
        raw.end()
        assertMessage(
            raw.bytes,
            "section TOTALS is malformed: the totals record needs 128 bytes at offset 80, section ends at 144"
        )
    }

    func testMismatchRecordsNameStacksAndKindsThatExist() {
        var snapshot = Fixtures.full()
        snapshot.mismatches[0].releaseStack = 3
        assertMessage(
            SnapshotWriter.encode(snapshot),
            "section MISMATCHES is malformed: record 0 refers to release stack 3, but STACKS has 3")
        var bytes = SnapshotWriter.encode(Fixtures.full())
        let mismatches = bytes.sectionOffsets()[13]!
        bytes.setU32(4, at: mismatches + 16 + 8 + 12)
        assertMessage(
            bytes.resealed(),
            "section MISMATCHES is malformed: record 0 has allocation kind 2 and release kind 4, not 0-2 and 0-3")
        bytes.setU32(3, at: mismatches + 16)
        assertMessage(
            bytes.resealed(),
            "section MISMATCHES is malformed: 3 records of at least 40 bytes each do not fit in the 80 bytes left at offset \(mismatches + 24)"
        )
    }

    func testStackIDsOutOfRange() {
        var snapshot = Fixtures.full()
        snapshot.stackStats[1].stack = 3
        assertMessage(
            SnapshotWriter.encode(snapshot),
            "section STACK_STATS is malformed: record 1 refers to stack 3, but STACKS has 3")
        snapshot = Fixtures.full()
        snapshot.blocks?[2].stack = 0xFFFF_FFFF
        assertMessage(
            SnapshotWriter.encode(snapshot),
            "section BLOCKS is malformed: record 2 refers to stack 4294967295, but STACKS has 3")
    }

    func testTemporaryRecordsBelongToStacksWithStatistics() throws {
        let bytes = SnapshotWriter.encode(Fixtures.full())
        let parsed = try SnapshotFile.parse(bytes, path: "full.snap")
        XCTAssertTrue(parsed.countsTemporary)
        XCTAssertEqual(parsed.stackStats.map(\.temporaryCount), [5, 0])
        XCTAssertEqual(parsed.stackStats.map(\.temporaryBytes), [3000, 0])
        // Stack 2 allocated nothing, so it can have released nothing right away.
        let offset = try XCTUnwrap(bytes.sectionOffsets()[10])
        var damaged = bytes
        damaged.setU32(2, at: offset + 24)
        assertMessage(
            damaged.resealed(), "TEMPORARY record 0 names stack 2, which has no STACK_STATS record")
        damaged = bytes
        damaged.setU32(2, at: offset + 16)  // count
        assertMessage(
            damaged.resealed(),
            "section TEMPORARY is malformed: 2 records of at least 24 bytes each do not fit in the 24 bytes left at offset \(offset + 24)"
        )
        // Without the section, nothing was counted.
        var snapshot = Fixtures.full()
        snapshot.countsTemporary = false
        let without = try SnapshotFile.parse(SnapshotWriter.encode(snapshot), path: "full.snap")
        XCTAssertFalse(without.countsTemporary)
        XCTAssertEqual(without.stackStats.map(\.temporaryCount), [0, 0])
    }

    func testSectionStructureErrors() {
        func file(
            sections declared: UInt32, flags: UInt32 = 0, _ build: (inout RawSnapshot) -> Void
        )
            -> [UInt8]
        {
            var raw = RawSnapshot()
            raw.header(flags: flags, sections: declared)
            build(&raw)
            raw.end()
            return raw.bytes
        }
        assertMessage(
            file(sections: 4) { raw in
                raw.totals()
                raw.emptyCounted(3)
                raw.emptyCounted(5)
            }, "missing required section STACKS")
        assertMessage(
            file(sections: 6) { raw in
                raw.totals()
                raw.emptyCounted(3)
                raw.emptyCounted(4)
                raw.emptyCounted(4)
                raw.emptyCounted(5)
            }, "duplicate section STACKS")
        assertMessage(
            file(sections: 6) { raw in
                raw.totals()
                raw.emptyCounted(3)
                raw.emptyCounted(4)
                raw.emptyCounted(5)
            }, "END is section 5 of 6; it must be the last")
        assertMessage(
            file(sections: 5, flags: 2) { raw in
                raw.totals()
                raw.emptyCounted(3)
                raw.emptyCounted(4)
                raw.emptyCounted(5)
            }, "header flag HAS_BLOCKS is set but there is no BLOCKS section")
        assertMessage(
            file(sections: 6) { raw in
                raw.totals()
                raw.emptyCounted(3)
                raw.emptyCounted(4)
                raw.emptyCounted(5)
                raw.section(6) { out in out.u64(0) }
            }, "BLOCKS section present but header flag HAS_BLOCKS is not set")

        var bytes = SnapshotWriter.encode(Fixtures.minimal())
        bytes += [0, 0, 0]
        assertMessage(bytes, "3 bytes after the END section")

        bytes = SnapshotWriter.encode(Fixtures.minimal())
        bytes.setU32(4, at: 60)
        assertMessage(bytes.resealed(), "no END section among the 4 sections the header declares")

        bytes = SnapshotWriter.encode(Fixtures.minimal())
        bytes.setU32(32, at: 12)
        assertMessage(bytes.resealed(), "bad header size 32 (at least 64 expected)")

        bytes = SnapshotWriter.encode(Fixtures.minimal())
        bytes.setU32(9, at: 56)
        assertMessage(bytes.resealed(), "unknown snapshot trigger 9")
    }

    func testHeaderSizeAboveSixtyFourIsSkipped() throws {
        var bytes = SnapshotWriter.encode(Fixtures.minimal(path: "/t/x.snap"))
        bytes.setU32(72, at: 12)
        bytes.insert(contentsOf: [UInt8](repeating: 0xaa, count: 8), at: 64)
        XCTAssertEqual(
            try SnapshotFile.parse(bytes.resealed(), path: "/t/x.snap"),
            Fixtures.minimal(path: "/t/x.snap"))
    }

    func testSymbolsSectionValidation() {
        let bytes = SnapshotWriter.encode(Fixtures.full())
        let symbols = bytes.sectionOffsets()[8]! + 16
        // Strings: "", "helper", "lib/helper.h", "/usr/bin/prog", "/src", "main", "/src/prog.c", "start".
        XCTAssertEqual(bytes.u32(at: symbols), 8)
        XCTAssertEqual(bytes.u32(at: symbols + 4), 2)
        var entry = symbols + 8
        for _ in 0..<8 { entry += 4 + Int(bytes.u32(at: entry)) }
        XCTAssertEqual(bytes.u64(at: entry), 0x5555_0000_1010)
        XCTAssertEqual(bytes.u32(at: entry + 8), 2)
        XCTAssertEqual(bytes.u32(at: entry + 16), 1)  // function "helper"
        XCTAssertEqual(bytes.u32(at: entry + 28), 12)  // line
        XCTAssertEqual(bytes.u32(at: entry + 32), 1)  // flags: inlined
        XCTAssertEqual(bytes.u32(at: entry + 36), 4)  // directory "/src"
        XCTAssertEqual(bytes.u32(at: entry + 16 + 32 + 20), 0)  // main's: unknown

        var damaged = bytes
        damaged.setU32(8, at: entry + 20)  // file string index
        assertMessage(
            damaged.resealed(),
            "section SYMBOLS is malformed: entry 0 frame 0 file is string 8, but there are 8")
        damaged = bytes
        damaged.setU32(9, at: entry + 36)
        assertMessage(
            damaged.resealed(),
            "section SYMBOLS is malformed: entry 0 frame 0 directory is string 9, but there are 8")

        damaged = bytes
        damaged.setU64(0x5555_0000_1200, at: entry)  // same pc as the next entry
        assertMessage(
            damaged.resealed(),
            "section SYMBOLS is malformed: entry 1 (pc 0x555500001200) is not above the previous pc")

        damaged = bytes
        damaged.setU32(0, at: entry + 8)
        assertMessage(damaged.resealed(), "section SYMBOLS is malformed: entry 0 has no frames")
        damaged.setU32(257, at: entry + 8)
        assertMessage(damaged.resealed(), "section SYMBOLS is malformed: entry 0 has 257 frames, more than 256")
    }

    /// What a damaged file could make the analysis expand, hash or add up without end is refused:
    /// one record a stack, 256 frames a stack and a pc, 64 KiB a name, sums within 2^63 - 1.
    func testLimitsThatKeepTheAnalysisBounded() {
        var twice = Fixtures.full(path: "/t/x.snap")
        twice.stackStats.append(twice.stackStats[0])
        assertMessage(
            SnapshotWriter.encode(twice),
            "section STACK_STATS is malformed: record \(twice.stackStats.count - 1) is for stack 0 again")

        var deep = Fixtures.full(path: "/t/x.snap")
        deep.stacks[0].pcs = Array(repeating: 0x5555_0000_1010, count: 257)
        assertMessage(
            SnapshotWriter.encode(deep),
            "section STACKS is malformed: stack 0 has 257 frames, more than the 256 the tracer keeps")

        var sizes = Fixtures.full(path: "/t/x.snap")
        sizes.sizeClasses![0].count = UInt64(Int64.max)
        assertMessage(
            SnapshotWriter.encode(sizes), "section SIZES is malformed: the records' count add up past 2^63 - 1")

        var mismatches = Fixtures.full(path: "/t/x.snap")
        mismatches.mismatches[0].bytes = UInt64(Int64.max)
        assertMessage(
            SnapshotWriter.encode(mismatches),
            "section MISMATCHES is malformed: the records' bytes add up past 2^63 - 1")

        // A name of 64 KiB is read; one byte more is not (inserted into the file by hand: the
        // writer cuts longer names).
        var long = Fixtures.full(path: "/t/x.snap")
        let name = String(repeating: "a", count: 65536)
        long.symbols![0x5555_0000_1200]![0].function = name
        XCTAssertEqual(try SnapshotFile.parse(SnapshotWriter.encode(long), path: "/t/x.snap"), long)
        var bytes = SnapshotWriter.encode(long)
        let header = bytes.sectionOffsets()[8]!
        let start = bytes.firstRange(of: Array(name.utf8))!.lowerBound
        XCTAssertEqual(bytes.u32(at: start - 4), 65536)
        bytes.setU32(65537, at: start - 4)
        bytes.insert(UInt8(ascii: "a"), at: start)
        bytes.setU64(bytes.u64(at: header + 8) + 1, at: header + 8)
        assertMessage(
            bytes.resealed(), "section SYMBOLS is malformed: string 7 is 65537 bytes long, more than 65536")
    }

    /// The writer keeps names and inlined frames within what the reader takes.
    func testWriterCutsWhatTheReaderWouldRefuse() throws {
        var snapshot = Fixtures.full(path: "/t/x.snap")
        let pc: UInt64 = 0x5555_0000_1200
        snapshot.symbols![pc]![0].function = String(repeating: "é", count: 40000)  // 80,000 bytes
        snapshot.symbols![pc]! += Array(repeating: snapshot.symbols![pc]![0], count: 299)
        let read = try SnapshotFile.parse(SnapshotWriter.encode(snapshot), path: "/t/x.snap")
        let frames = try XCTUnwrap(read.symbols?[pc])
        XCTAssertEqual(frames.count, 256)
        XCTAssertEqual(frames[0].function, String(repeating: "é", count: 32766) + "…")
        XCTAssertEqual(frames[0].function.utf8.count, 65535)
    }

    // MARK: Speed

    func testLargeSnapshotParsesQuickly() throws {
        var snapshot = Fixtures.minimal(path: path("large.snap"))
        snapshot.header.flags = 2
        snapshot.stacks = (0..<50_000).map { index in
            Snapshot.Stack(pcs: (0..<24).map { UInt64(0x4000_0000 + index * 64 + $0) }, trueDepth: 24)
        }
        snapshot.stackStats = (0..<50_000).map {
            Snapshot.StackStat(
                stack: UInt32($0), liveBytes: 1, liveCount: 1, totalBytes: 1, totalCount: 1, peakBytes: 1,
                peakCount: 1)
        }
        snapshot.blocks = (0..<1_000_000).map {
            Snapshot.Block(address: UInt64($0) * 32, size: 32, stack: UInt32($0 % 50_000), flags: 0)
        }
        try SnapshotWriter.write(snapshot, to: snapshot.path)
        let start = Date()
        let parsed = try SnapshotFile.read(path: snapshot.path)
        let elapsed = Date().timeIntervalSince(start)
        print(
            "read 1M blocks, 50k stacks (\(SnapshotWriter.encode(parsed).count) bytes) in \(elapsed) s")
        XCTAssertEqual(parsed.blocks?.count, 1_000_000)
        XCTAssertEqual(parsed.blocks?[999_999], snapshot.blocks?[999_999])
        XCTAssertEqual(parsed.stacks[49_999], snapshot.stacks[49_999])
        // Release builds take a few tens of milliseconds; debug builds are far slower.
        XCTAssertLessThan(elapsed, 10)
    }
}

extension Array where Element == UInt8 {
    fileprivate func withVersion(_ version: UInt32) -> [UInt8] {
        var copy = self
        copy.setU32(version, at: 8)
        return copy
    }
}
