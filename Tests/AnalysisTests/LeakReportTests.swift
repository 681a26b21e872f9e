import Analysis
import SnapshotReader
import Symbolizer
import XCTest

/// Leak reports from hand-made leak-scanned snapshots: grouping, suppressions, the verdict, text and JSON.
final class LeakReportTests: XCTestCase {
    /// pc 0x10: make_list (list.c:20) ← main; 0x20: make_node (list.c:30) ← main; 0x30: g_strdup in
    /// libglib called from setup; 0x1: malloc in libc (stripped).
    let resolver = TableResolver(table: [
        0x1: [Frame(function: "malloc", file: "", line: 0, module: "/lib/x86_64-linux-gnu/libc.so.6")],
        0x10: [app("make_list", "list.c", 20)],
        0x20: [app("make_node", "list.c", 30)],
        0x30: [Frame(function: "g_strdup", file: "", line: 0, module: "/usr/lib/libglib-2.0.so.0")],
        0x40: [app("setup", "setup.c", 7)],
        0x50: [app("main", "main.c", 3)],
    ])

    /// Stacks: 0 = make_list←main, 1 = make_node←main, 2 = g_strdup←setup←main.
    func scanned(_ blocks: [Snapshot.Block], flags: UInt32 = 0x4, allocator: String? = nil) -> TracedSnapshot {
        var snapshot = makeSnapshot(
            [
                StackSpec(pcs: [0x1, 0x10, 0x50], size: 0, count: 0),
                StackSpec(pcs: [0x20, 0x50], size: 0, count: 0),
                StackSpec(pcs: [0x30, 0x40, 0x50], size: 0, count: 0),
            ], flags: flags)
        // Every stack with a block has live figures, as in the tracer's files.
        for index in snapshot.stackStats.indices {
            let mine = blocks.filter { $0.stack == UInt32(index) }
            snapshot.stackStats[index].liveBytes = mine.reduce(0) { $0 + $1.size }
            snapshot.stackStats[index].liveCount = UInt64(mine.count)
        }
        snapshot.blocks = blocks
        snapshot.process["allocator"] = allocator
        return TracedSnapshot(snapshot, resolver: resolver)
    }

    func block(_ size: UInt64, stack: UInt32, _ kind: LeakKind, ignored: Bool = false) -> Snapshot.Block {
        Snapshot.Block(
            address: 0x1000 + size, size: size, stack: stack, flags: kind.rawValue << 1 | (ignored ? 1 : 0))
    }

    /// The list of the issue: a lost head of 32 B and two nodes of 32 B reached only from it.
    var listBlocks: [Snapshot.Block] {
        [block(32, stack: 0, .definite), block(32, stack: 1, .indirect), block(32, stack: 1, .indirect)]
    }

    func testBlockKindsComeFromFlagBits() {
        XCTAssertEqual(Snapshot.Block(address: 0, size: 1, stack: 0, flags: 0).kind, .reachable)
        XCTAssertEqual(Snapshot.Block(address: 0, size: 1, stack: 0, flags: 2).kind, .definite)
        XCTAssertEqual(Snapshot.Block(address: 0, size: 1, stack: 0, flags: 5).kind, .indirect)
        XCTAssertTrue(Snapshot.Block(address: 0, size: 1, stack: 0, flags: 5).isIgnored)
        XCTAssertEqual(Snapshot.Block(address: 0, size: 1, stack: 0, flags: 6).kind, .possible)
        XCTAssertEqual(LeakKind(name: "indirect"), .indirect)
        XCTAssertNil(LeakKind(name: "lost"))
    }

    func testGroupsByStackAndKindBiggestFirst() throws {
        let report = try LeakReport(
            scanned(
                listBlocks + [
                    block(500, stack: 2, .reachable), block(7, stack: 0, .possible), block(9, stack: 0, .definite),
                ]), suppressions: [])
        XCTAssertEqual(
            report.records.map { "\($0.kind.name) \($0.size) \($0.count) \($0.frames.map(\.function))" },
            [
                "reachable 500 1 [\"g_strdup\", \"setup\", \"main\"]",
                "indirect 64 2 [\"make_node\", \"main\"]",
                "definite 41 2 [\"make_list\", \"main\"]",
                "possible 7 1 [\"make_list\", \"main\"]",
            ])
        XCTAssertEqual(report.totals[.definite], LeakFigures(size: 41, count: 2))
        XCTAssertEqual(report.totals[.reachable], LeakFigures(size: 500, count: 1))
        XCTAssertEqual(report.figures(kinds: LeakKind.checkedByDefault), LeakFigures(size: 105, count: 4))
        XCTAssertEqual(report.lost.direct, LeakFigures(size: 41, count: 2))
        XCTAssertEqual(report.lost.indirect, LeakFigures(size: 64, count: 2))
        XCTAssertEqual(report.records(kinds: [.possible]).map(\.size), [7])
    }

    func testIgnoredBlocksAreCountedApart() throws {
        let report = try LeakReport(
            scanned([block(72, stack: 0, .definite, ignored: true), block(40, stack: 0, .definite)]),
            suppressions: [])
        XCTAssertEqual(report.records.map(\.size), [40])
        XCTAssertEqual(report.ignored, LeakFigures(size: 72, count: 1))
        XCTAssertEqual(report.totals[.definite], LeakFigures(size: 40, count: 1))
    }

    func testSnapshotsWithoutScanOrBlocksAreRefused() throws {
        XCTAssertThrowsError(try LeakReport(scanned(listBlocks, flags: 0))) { error in
            XCTAssertTrue("\(error)".contains("did not scan this snapshot for leaks"), "\(error)")
        }
        var snapshot = scanned([]).snapshot
        snapshot.blocks = nil
        XCTAssertThrowsError(try LeakReport(TracedSnapshot(snapshot, resolver: resolver))) { error in
            XCTAssertTrue("\(error)".contains("no BLOCKS section"), "\(error)")
        }
    }

    func testSuppressionPatternsFollowLeakSanitizer() {
        let frame = Frame(
            function: "std::vector<int>::reserve(unsigned long)", file: "/src/lib/cache.cc", line: 4,
            module: "/usr/lib/libcache.so.2")
        func matches(_ pattern: String) -> Bool { LeakSuppression(pattern: pattern).matches(frame) }
        XCTAssertTrue(matches("reserve"), "a substring of the function")
        XCTAssertTrue(matches("cache.cc"), "a substring of the file")
        XCTAssertTrue(matches("libcache.so"), "a substring of the module")
        XCTAssertTrue(matches("std::vector*reserve"), "* spans anything")
        XCTAssertTrue(matches("^std::"))
        XCTAssertFalse(matches("^vector"), "^ anchors at the start")
        XCTAssertTrue(matches("cache.cc$"))
        XCTAssertFalse(matches("cache$"), "$ anchors at the end")
        XCTAssertTrue(matches("vector<int>"), "brackets and other fnmatch specials are literal")
        XCTAssertFalse(matches("vector?int"))
        XCTAssertFalse(matches("^$"), "an empty text never matches")
        XCTAssertTrue(matches("^std::vector<int>::reserve(unsigned long)$"), "both anchors: the whole text")
        XCTAssertFalse(matches("^std::vector<int>::reserve$"))
        XCTAssertTrue(matches("^std::*(unsigned long)$"), "anchors around a *")
        XCTAssertFalse(matches("^vector*reserve"))
        XCTAssertTrue(matches("^") && matches("$") && matches("*"), "an anchor alone: any text")
        XCTAssertFalse(matches("/usr/lib/libcache.so.2.longer"), "longer than every text")
        XCTAssertTrue(matches("ache.so.2"), "found past a first near miss (the c of cache.cc is not it)")
        let accented = Frame(function: "e\u{301}tat_init", file: "", line: 0, module: "")
        XCTAssertTrue(LeakSuppression(pattern: "e*\u{301}t").matches(accented), "a * before a combining mark")
        XCTAssertFalse(LeakSuppression(pattern: "?\u{301}tat*").matches(accented), "a ? before one is a ?")
        XCTAssertFalse(LeakSuppression(pattern: "main").matches(stack: []))
    }

    func testBuiltInRulesCanRequireTheInnermostFrame() {
        let pool = Frame(function: "libstdc++.so.6+0xa57b9", file: "", line: 0, module: "/usr/lib/libstdc++.so.6")
        let string = Frame(
            function: "std::__cxx11::basic_string::_M_create", file: "", line: 0, module: "/usr/lib/libstdc++.so.6")
        let initializer = Frame(
            function: "_dl_init", file: "./elf/dl-init.c", line: 121, module: "/lib64/ld-linux-x86-64.so.2")
        let user = app("make_name", "names.c", 9)
        let rule = LeakSuppression(pattern: "_dl_init", innermost: "libstdc++")
        XCTAssertTrue(rule.matches(stack: [pool, initializer]), "libstdc++'s own start-up allocation")
        XCTAssertFalse(rule.matches(stack: [user, initializer]), "a library constructor's own allocation")
        XCTAssertFalse(rule.matches(stack: [string, user]), "libstdc++ working for the program, after start-up")
        XCTAssertEqual(rule.rule, "leak:_dl_init (innermost frame: libstdc++)")
        let loader = LeakSuppression.builtIn.first { $0.pattern == "ld-linux" }
        let dtv = Frame(
            function: "allocate_dtv", file: "../elf/dl-tls.c", line: 401, module: "/lib64/ld-linux-x86-64.so.2")
        XCTAssertEqual(loader?.matches(stack: [dtv, user]), true)
        XCTAssertEqual(loader?.matches(stack: [user, initializer]), false)
        XCTAssertTrue(LeakSuppression.builtIn.allSatisfy { $0.origin == "built-in" && !$0.reason.isEmpty })
        XCTAssertFalse(
            LeakSuppression.builtIn.contains { $0.matches(stack: [user]) }, "no rule hides a program's own line")
    }

    /// newlocale keeps the locale data it loads (freed only by __libc_freeres), but the locale_t it
    /// allocates itself is the program's to free: leaked, it is reported, as memcheck reports it.
    func testNewlocalesOwnResultIsNotSuppressed() throws {
        let rule = try XCTUnwrap(LeakSuppression.builtIn.first { $0.pattern == "newlocale" })
        let main = app("main", "main.c", 3)
        let newlocale = Frame(function: "__newlocale", file: "./locale/newlocale.c", line: 199, module: "libc.so.6")
        let calling = Frame(function: "__newlocale", file: "./locale/newlocale.c", line: 169, module: "libc.so.6")
        let find = Frame(function: "_nl_find_locale", file: "./locale/findlocale.c", line: 237, module: "libc.so.6")
        let load = Frame(
            function: "_nl_intern_locale_data", file: "./locale/loadlocale.c", line: 156, module: "libc.so.6")
        XCTAssertTrue(rule.matches(stack: [load, find, calling, main]), "locale data newlocale keeps")
        XCTAssertFalse(rule.matches(stack: [newlocale, main]), "the locale_t it returns")
        XCTAssertEqual(rule.rule, "leak:newlocale (not the innermost frame)")
        // And in a report, whose matcher decides frame by frame.
        var snapshot = makeSnapshot(
            [
                StackSpec(pcs: [0x1, 0x60, 0x50], size: 328, count: 1),
                StackSpec(pcs: [0x1, 0x70, 0x80, 0x90, 0x50], size: 3656, count: 12),
            ], flags: 0x4)
        snapshot.blocks = [block(328, stack: 0, .definite), block(3656, stack: 1, .reachable)]
        var frames = resolver.table
        (frames[0x60], frames[0x70], frames[0x80], frames[0x90]) = ([newlocale], [load], [find], [calling])
        let report = try LeakReport(
            TracedSnapshot(snapshot, resolver: TableResolver(table: frames)), suppressions: [rule])
        XCTAssertEqual(report.records.map(\.size), [328])
        XCTAssertEqual(report.suppressions.map(\.byKind), [[.reachable: LeakFigures(size: 3656, count: 1)]])
    }

    func testTheLoadersMallocWrappersAreAllocatorFrames() {
        let wrapper = Frame(
            function: "calloc", file: "../include/rtld-malloc.h", line: 44, module: "/lib64/ld-linux-x86-64.so.2")
        XCTAssertTrue(AllocatorFrames.isAllocatorFrame(wrapper))
        let dtv = Frame(
            function: "allocate_dtv", file: "../elf/dl-tls.c", line: 401, module: "/lib64/ld-linux-x86-64.so.2")
        XCTAssertFalse(AllocatorFrames.isAllocatorFrame(dtv))
        XCTAssertEqual(AllocatorFrames.strip([wrapper, dtv]), [dtv])
    }

    func testSuppressionFilesAreParsedWithLineNumbers() throws {
        let rules = try LeakSuppression.parse(
            "# known leaks\n\n  leak:g_strdup  \nleak:^libfoo*\n", file: "lsan.supp")
        XCTAssertEqual(rules.map(\.pattern), ["g_strdup", "^libfoo*"])
        XCTAssertEqual(rules.map(\.origin), ["lsan.supp:3", "lsan.supp:4"])
        XCTAssertEqual(rules[0].rule, "leak:g_strdup")
        XCTAssertThrowsError(try LeakSuppression.parse("leak:a\nrace:b\n", file: "x.supp")) { error in
            XCTAssertEqual(
                "\(error)", "x.supp:2: unsupported suppression type \"race\" (memtrace reads only leak:PATTERN lines)")
        }
        XCTAssertThrowsError(try LeakSuppression.parse("g_strdup\n", file: "x.supp")) { error in
            XCTAssertEqual("\(error)", "x.supp:1: expected leak:PATTERN, found \"g_strdup\"")
        }
        XCTAssertThrowsError(try LeakSuppression.parse("leak:  \n", file: "x.supp"))
        XCTAssertThrowsError(try LeakSuppression.load(path: "/nonexistent/x.supp")) { error in
            XCTAssertTrue("\(error)".hasPrefix("cannot read suppressions /nonexistent/x.supp: "), "\(error)")
        }
        XCTAssertThrowsError(try LeakSuppression.load(path: "/dev/zero")) { error in  // read it all: endless
            XCTAssertEqual("\(error)", "cannot read suppressions /dev/zero: more than 16 MiB, not a suppression list")
        }
    }

    func testSuppressionsHideWholeStacksAndSayHowMuch() throws {
        let rules = [
            LeakSuppression(pattern: "libglib", origin: "a.supp:1"),
            LeakSuppression(pattern: "setup", origin: "a.supp:2"),
            LeakSuppression(pattern: "make_node", origin: "a.supp:3"),
            LeakSuppression(pattern: "never_called", origin: "a.supp:4"),
        ]
        let report = try LeakReport(
            scanned(listBlocks + [block(100, stack: 2, .definite), block(8, stack: 2, .reachable)]),
            suppressions: rules)
        XCTAssertEqual(report.records.map(\.size), [32])
        // The first rule that matches takes the block: setup's rule hides nothing.
        XCTAssertEqual(report.suppressions.map(\.suppression.origin), ["a.supp:1", "a.supp:3"])
        XCTAssertEqual(
            report.suppressions[0].byKind,
            [.definite: LeakFigures(size: 100, count: 1), .reachable: LeakFigures(size: 8, count: 1)])
        XCTAssertEqual(
            report.suppressions[0].hidden(kinds: LeakKind.checkedByDefault), LeakFigures(size: 100, count: 1))
        XCTAssertEqual(report.suppressed(kinds: LeakKind.checkedByDefault), LeakFigures(size: 164, count: 3))
        XCTAssertEqual(report.totals[.indirect], LeakFigures())
    }

    /// Each rule's verdicts on a frame are its own: a rule whose innermost frame must be make_list
    /// hides make_list←main and not make_node←main, which shares main with it; the next rule,
    /// on main alone, takes that one.
    func testRulesDecideEachFrameForThemselves() throws {
        let rules = [
            LeakSuppression(pattern: "main", innermost: "make_list", origin: "a.supp:1"),
            LeakSuppression(pattern: "^main$", origin: "a.supp:2"),
        ]
        let blocks = listBlocks + [block(100, stack: 2, .definite)]
        let report = try LeakReport(scanned(blocks), suppressions: rules)
        XCTAssertEqual(report.records.map(\.size), [])
        let byOrigin = Dictionary(uniqueKeysWithValues: report.suppressions.map { ($0.suppression.origin, $0.byKind) })
        XCTAssertEqual(
            byOrigin,
            [
                "a.supp:1": [.definite: LeakFigures(size: 32, count: 1)],
                "a.supp:2": [.indirect: LeakFigures(size: 64, count: 2), .definite: LeakFigures(size: 100, count: 1)],
            ])
        let reversed = try LeakReport(scanned(blocks), suppressions: rules.reversed())
        XCTAssertEqual(reversed.suppressions.map(\.suppression.origin), ["a.supp:2"])
    }

    func testVerdictComparesTheChosenKindsWithTheLimit() throws {
        let report = try LeakReport(scanned(listBlocks + [block(1000, stack: 2, .possible)]), suppressions: [])
        XCTAssertTrue(LeakVerdict([report]).failed)
        XCTAssertEqual(LeakVerdict([report]).leaked, LeakFigures(size: 96, count: 3))
        XCTAssertFalse(LeakVerdict([report], maxLeak: 96).failed)
        XCTAssertTrue(LeakVerdict([report], maxLeak: 95).failed)
        XCTAssertTrue(LeakVerdict([report], kinds: [.possible], maxLeak: 999).failed)
        XCTAssertFalse(LeakVerdict([report], kinds: [.reachable]).failed)
        XCTAssertEqual(LeakVerdict([report, report], kinds: [.definite]).leaked, LeakFigures(size: 64, count: 2))
        let zero = try LeakReport(scanned([block(0, stack: 0, .definite)]), suppressions: [])
        XCTAssertTrue(LeakVerdict([zero]).failed, "a lost block of 0 bytes is still a leak when nothing may leak")
        XCTAssertFalse(LeakVerdict([]).failed)
    }

    func testTextReadsLikeMemcheck() throws {
        let report = try LeakReport(
            scanned(listBlocks + [block(100, stack: 2, .definite), block(8, stack: 2, .reachable)]),
            suppressions: [LeakSuppression(pattern: "libglib", origin: "built-in", reason: "GLib's type system")])
        let text = LeakFormat.text([report], verdict: LeakVerdict([report]))
        XCTAssertEqual(
            text,
            """
            == pid 42: app --flag (exit snapshot test.snap)
            64 bytes in 2 blocks are indirectly lost in loss record 1 of 2
                list.c:30 in make_node
                main.c:3 in main
            32 bytes in 1 blocks are definitely lost in loss record 2 of 2
                list.c:20 in make_list
                main.c:3 in main
            LEAK SUMMARY:
               definitely lost: 32 bytes in 1 blocks
               indirectly lost: 64 bytes in 2 blocks
                 possibly lost: 0 bytes in 0 blocks (not checked)
               still reachable: 0 bytes in 0 blocks (not checked)
                    suppressed: 108 bytes in 2 blocks
                          lost: 96 (32 direct, 64 indirect) bytes in 3 blocks
            Suppressions used:
               blocks      bytes  rule
                    2        108  leak:libglib (built-in: GLib's type system)

            memtrace: FAILED: 96 bytes in 3 blocks leaked (definite, indirect) in 1 process, more than the 0 bytes allowed

            """)
        let clean = try LeakReport(scanned([block(8, stack: 2, .reachable)]), suppressions: [])
        let cleanText = LeakFormat.text([clean], verdict: LeakVerdict([clean], maxLeak: 10))
        XCTAssertTrue(cleanText.contains("\nno leaks of the kinds checked (definite, indirect)\n"), cleanText)
        XCTAssertTrue(
            cleanText.hasSuffix(
                "memtrace: passed: 0 bytes in 0 blocks leaked (definite, indirect) in 1 process, at most 10 bytes allowed\n"
            ), cleanText)
    }

    /// Under another allocator than glibc's the scan reads no memory the program mapped itself: a
    /// report with leaks says so under its summary; one without, and one under glibc, do not.
    func testLeaksUnderAnotherAllocatorSayWhatWasNotScanned() throws {
        let tcmalloc = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"
        let leaking = try LeakReport(scanned(listBlocks, allocator: tcmalloc), suppressions: [])
        let text = LeakFormat.text([leaking], verdict: LeakVerdict([leaking]))
        XCTAssertTrue(
            text.contains(
                "      lost: 96 (32 direct, 64 indirect) bytes in 3 blocks\n   note: under libtcmalloc_minimal.so.4, "
                    + "memory the program maps itself is not scanned for pointers, so a block that only such memory "
                    + "points to counts as lost (docs/leaks.md, Limits)\n"), text)
        let clean = try LeakReport(scanned([block(8, stack: 2, .reachable)], allocator: tcmalloc), suppressions: [])
        XCTAssertFalse(LeakFormat.text([clean], verdict: LeakVerdict([clean])).contains("note:"))
        let glibc = try LeakReport(scanned(listBlocks), suppressions: [])
        XCTAssertFalse(LeakFormat.text([glibc], verdict: LeakVerdict([glibc])).contains("note:"))
    }

    func testJSONHasTheDocumentedShape() throws {
        let report = try LeakReport(
            scanned(listBlocks + [block(100, stack: 2, .definite, ignored: true)]), suppressions: [])
        let text = LeakFormat.json([report], verdict: LeakVerdict([report]))
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let leaks = try XCTUnwrap(object["leaks"] as? [[String: Any]])
        XCTAssertEqual(leaks.map { $0["kind"] as? String }, ["indirect", "definite"])
        XCTAssertEqual(leaks.map { $0["size"] as? Int }, [64, 32])
        XCTAssertEqual(leaks.map { $0["count"] as? Int }, [2, 1])
        let frame = try XCTUnwrap((leaks[1]["frames"] as? [[String: Any]])?.first)
        XCTAssertEqual(frame["function"] as? String, "make_list")
        XCTAssertEqual(frame["file"] as? String, "list.c")
        XCTAssertEqual(frame["line"] as? Int, 20)
        XCTAssertEqual(frame["module"] as? String, "/bin/app")
        let summary = try XCTUnwrap(object["summary"] as? [String: Any])
        XCTAssertEqual((summary["definite"] as? [String: Int])?["size"], 32)
        XCTAssertEqual((summary["indirect"] as? [String: Int])?["count"], 2)
        XCTAssertEqual((summary["ignored"] as? [String: Int])?["size"], 100)
        XCTAssertEqual((summary["leaked"] as? [String: Int])?["size"], 96)
        XCTAssertEqual(summary["kinds"] as? [String], ["definite", "indirect"])
        XCTAssertEqual(summary["failed"] as? Bool, true)
        let processes = try XCTUnwrap(object["processes"] as? [[String: Any]])
        XCTAssertEqual(processes.first?["pid"] as? Int, 42)
    }

    /// Stack 1 (make_node←main) overran 3 blocks of 32 B and stack 0 one of 48 B; the tracer found 6
    /// in all (two at stacks past the ones it keeps).
    func overrunReport(leaking blocks: [Snapshot.Block] = []) throws -> LeakReport {
        var traced = scanned(blocks)
        var snapshot = traced.snapshot
        snapshot.stackStats[1].overrunCount = 3
        snapshot.stackStats[1].overrunBytes = 96
        snapshot.stackStats[0].overrunCount = 1
        snapshot.stackStats[0].overrunBytes = 48
        snapshot.totals.overrunBlocks = 6
        traced = TracedSnapshot(snapshot, resolver: resolver)
        return try LeakReport(traced, suppressions: [])
    }

    func testHeapOverrunsAreListedAndFailTheCheckUnlessAllowed() throws {
        let report = try overrunReport()
        XCTAssertEqual(report.overruns.map(\.count), [3, 1])
        XCTAssertEqual(report.overruns.map(\.size), [96, 48])
        XCTAssertEqual(
            report.overruns.map { $0.frames.map(\.function) }, [["make_node", "main"], ["make_list", "main"]])
        XCTAssertEqual(report.overrunBlocks, 6)
        XCTAssertTrue(LeakVerdict([report]).failed)
        XCTAssertFalse(LeakVerdict([report]).leaksFailed)
        XCTAssertFalse(LeakVerdict([report], failsOnOverruns: false).failed)
        XCTAssertEqual(LeakVerdict([report, report]).overrunBlocks, 12)

        let text = LeakFormat.text([report], verdict: LeakVerdict([report]))
        XCTAssertTrue(
            text.contains(
                """
                no leaks of the kinds checked (definite, indirect)
                96 bytes in 3 blocks were written one byte past their end in overrun record 1 of 2
                    list.c:30 in make_node
                    main.c:3 in main
                48 bytes in 1 blocks were written one byte past their end in overrun record 2 of 2
                    list.c:20 in make_list
                    main.c:3 in main
                LEAK SUMMARY:

                """), text)
        XCTAssertTrue(text.contains("\n     heap overruns: 6 blocks written one byte past their end\n"), text)
        XCTAssertTrue(
            text.hasSuffix(
                "memtrace: FAILED: 6 blocks written one byte past their end (heap overruns); 0 bytes in 0 blocks leaked (definite, indirect) in 1 process, at most 0 bytes allowed\n"
            ), text)
        let allowed = LeakFormat.text([report], verdict: LeakVerdict([report], failsOnOverruns: false))
        XCTAssertTrue(
            allowed.hasSuffix(
                "memtrace: passed: 0 bytes in 0 blocks leaked (definite, indirect) in 1 process, at most 0 bytes allowed; 6 blocks written one byte past their end (heap overruns, allowed)\n"
            ), allowed)
        let leaking = try overrunReport(leaking: [block(32, stack: 0, .definite)])
        let both = LeakFormat.text([leaking], verdict: LeakVerdict([leaking], failsOnOverruns: false))
        XCTAssertTrue(
            both.hasSuffix(
                "memtrace: FAILED: 32 bytes in 1 blocks leaked (definite, indirect) in 1 process, more than the 0 bytes allowed; 6 blocks written one byte past their end (heap overruns, allowed)\n"
            ), both)

        let clean = try LeakReport(scanned(listBlocks), suppressions: [])
        XCTAssertEqual(clean.overruns, [])
        XCTAssertEqual(clean.overrunBlocks, 0)
        XCTAssertFalse(LeakFormat.text([clean], verdict: LeakVerdict([clean])).contains("overrun"))

        let json = LeakFormat.json([report], verdict: LeakVerdict([report]))
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let overruns = try XCTUnwrap(object["overruns"] as? [[String: Any]])
        XCTAssertEqual(overruns.map { $0["count"] as? Int }, [3, 1])
        XCTAssertEqual(overruns.map { $0["size"] as? Int }, [96, 48])
        XCTAssertEqual(overruns.map { $0["pid"] as? Int }, [42, 42])
        XCTAssertEqual(((overruns[0]["frames"] as? [[String: Any]])?.first)?["function"] as? String, "make_node")
        let summary = try XCTUnwrap(object["summary"] as? [String: Any])
        XCTAssertEqual(summary["overrun_blocks"] as? Int, 6)
        XCTAssertEqual(summary["overruns_fail"] as? Bool, true)
        XCTAssertEqual(summary["failed"] as? Bool, true)
        let processes = try XCTUnwrap(object["processes"] as? [[String: Any]])
        XCTAssertEqual(processes.first?["overrun_blocks"] as? Int, 6)
    }

    /// Mismatched releases: records by both stacks' frames (two stacks of the same frames add
    /// up), most blocks first, in memcheck's words; they fail the check unless allowed, and lead
    /// the verdict with the overruns when both fail.
    func testMismatchedReleasesAreListedAndFailTheCheckUnlessAllowed() throws {
        var snapshot = try overrunReport().snapshot
        // Stack 3 has the frames of stack 0 behind another address of malloc; 2 releases.
        snapshot.stacks.append(Snapshot.Stack(pcs: [0x10, 0x50], trueDepth: 2))
        snapshot.mismatches = [
            Snapshot.Mismatch(
                allocStack: 0, releaseStack: 2, allocatedBy: .newArray, releasedBy: .delete, count: 1, bytes: 24),
            Snapshot.Mismatch(
                allocStack: 1, releaseStack: 2, allocatedBy: .malloc, releasedBy: .deleteArray, count: 1, bytes: 8),
            Snapshot.Mismatch(
                allocStack: 3, releaseStack: 2, allocatedBy: .newArray, releasedBy: .delete, count: 2, bytes: 48),
            // A sized delete that named 8 bytes of a block of 24.
            Snapshot.Mismatch(
                allocStack: 1, releaseStack: 2, allocatedBy: .new, releasedBy: .delete, count: 1, bytes: 24,
                namedSize: 8),
        ]
        snapshot.totals.mismatchBlocks = 5
        let report = try LeakReport(TracedSnapshot(snapshot, resolver: resolver), suppressions: [])
        XCTAssertEqual(report.mismatches.map(\.count), [3, 1, 1])
        XCTAssertEqual(report.mismatches.map(\.size), [72, 24, 8])
        XCTAssertEqual(report.mismatches.map(\.allocatedBy), [.newArray, .new, .malloc])
        XCTAssertEqual(report.mismatches.map(\.releasedBy), [.delete, .delete, .deleteArray])
        XCTAssertEqual(report.mismatches.map(\.namedSize), [0, 8, 0])
        XCTAssertEqual(report.mismatches[0].allocation.map(\.function), ["make_list", "main"])
        XCTAssertEqual(report.mismatches[0].release.map(\.function), ["g_strdup", "setup", "main"])
        XCTAssertEqual(report.mismatchBlocks, 5, "the total, beyond the records kept")
        XCTAssertTrue(LeakVerdict([report], failsOnOverruns: false).failed)
        XCTAssertFalse(LeakVerdict([report], failsOnOverruns: false, failsOnMismatches: false).failed)
        XCTAssertEqual(LeakVerdict([report, report]).mismatchBlocks, 10)

        let text = LeakFormat.text([report], verdict: LeakVerdict([report]))
        XCTAssertTrue(
            text.contains(
                """
                72 bytes in 3 blocks allocated with new[] were released with delete in mismatch record 1 of 3
                    list.c:20 in make_list
                    main.c:3 in main
                  released at:
                    g_strdup in libglib-2.0.so.0
                    setup.c:7 in setup
                    main.c:3 in main
                24 bytes in 1 blocks allocated with new were released with delete of 8 bytes in mismatch record 2 of 3

                """), text)
        XCTAssertTrue(text.contains("\n        mismatched: 5 blocks released otherwise than allocated\n"), text)
        XCTAssertTrue(
            text.hasSuffix(
                "memtrace: FAILED: 6 blocks written one byte past their end (heap overruns); 5 blocks released otherwise than allocated (mismatched free / delete / delete[]); 0 bytes in 0 blocks leaked (definite, indirect) in 1 process, at most 0 bytes allowed\n"
            ), text)
        let allowed = LeakFormat.text([report], verdict: LeakVerdict([report], failsOnMismatches: false))
        XCTAssertTrue(
            allowed.hasSuffix(
                "memtrace: FAILED: 6 blocks written one byte past their end (heap overruns); 0 bytes in 0 blocks leaked (definite, indirect) in 1 process, at most 0 bytes allowed; 5 blocks released otherwise than allocated (mismatched free / delete / delete[], allowed)\n"
            ), allowed)

        let json = LeakFormat.json([report], verdict: LeakVerdict([report]))
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let mismatches = try XCTUnwrap(object["mismatches"] as? [[String: Any]])
        XCTAssertEqual(mismatches.map { $0["allocated_by"] as? String }, ["new[]", "new", "malloc"])
        XCTAssertEqual(mismatches.map { $0["released_by"] as? String }, ["delete", "delete", "delete[]"])
        XCTAssertEqual(mismatches.map { $0["named_size"] as? Int }, [0, 8, 0])
        XCTAssertEqual(mismatches.map { $0["count"] as? Int }, [3, 1, 1])
        XCTAssertEqual(((mismatches[0]["release"] as? [[String: Any]])?.first)?["function"] as? String, "g_strdup")
        let summary = try XCTUnwrap(object["summary"] as? [String: Any])
        XCTAssertEqual(summary["mismatch_blocks"] as? Int, 5)
        XCTAssertEqual(summary["mismatches_fail"] as? Bool, true)
        let process = try XCTUnwrap((object["processes"] as? [[String: Any]])?.first)
        XCTAssertEqual(process["mismatch_blocks"] as? Int, 5)
        let clean = try LeakReport(scanned(listBlocks), suppressions: [])
        XCTAssertEqual([clean.mismatches.count, Int(clean.mismatchBlocks)], [0, 0])
        XCTAssertFalse(LeakFormat.text([clean], verdict: LeakVerdict([clean])).contains("mismatch"))
    }
}
