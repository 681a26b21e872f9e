import Foundation
import XCTest
import _MemtraceTestSupport

/// `memtrace report` rendered by a real headless Chromium (Debian's chromium):
/// the flame graph's frames exist after the script ran, a screenshot is drawn,
/// and crafted names inject nothing.
final class ReportTests: XCTestCase {
    /// Headless Chromium, run as root (hence no sandbox) with a throwaway profile.
    struct Chromium {
        let path: String
        let profile: URL

        init() throws {
            guard
                let path = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: {
                    FileManager.default.isExecutableFile(atPath: $0)
                })
            else {
                throw XCTSkip("chromium is not installed (scripts/install-deps installs it)")
            }
            self.path = path
            profile = try makeTemporaryDirectory("memtrace-chromium")
        }

        func run(_ arguments: [String], page: String, fragment: String? = nil) throws -> ProcessResult {
            try runProcess(
                path,
                [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--hide-scrollbars", "--user-data-dir=\(profile.path)",
                ] + arguments + [URL(fileURLWithPath: page).absoluteString + (fragment.map { "#" + $0 } ?? "")])
        }

        /// The page's DOM after its scripts ran, opened at `#fragment` if given.
        func dumpDOM(_ page: String, fragment: String? = nil) throws -> String {
            let result = try run(["--virtual-time-budget=2000", "--dump-dom"], page: page, fragment: fragment)
            XCTAssertEqual(result.status, 0, result.stderrText)
            return result.stdoutText
        }

        /// A PNG of the page at `width`×`height`; returns its size from the PNG header.
        @discardableResult
        func screenshot(
            _ page: String, to png: String, width: Int = 1280, height: Int = 1750
        ) throws
            -> (width: Int, height: Int)
        {
            let result = try run(
                ["--virtual-time-budget=2000", "--window-size=\(width),\(height)", "--screenshot=\(png)"],
                page: page)
            XCTAssertEqual(result.status, 0, result.stderrText)
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: png)))
            XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
            func u32(_ at: Int) -> Int { bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
            return (u32(16), u32(20))
        }
    }

    /// Occurrences of `needle` in `text`.
    func count(_ needle: String, in text: String) -> Int {
        text.components(separatedBy: needle).count - 1
    }

    func testFlameGraphRendersInChromium() throws {
        let chromium = try Chromium()
        let work = try Workspace("report")
        try work.build("trend.c")
        let run = try work.memtrace(
            ["run", "--", "./trend", "8", "40"], environment: ["MEMTRACE_TIMELINE": "0.005"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let snapshots = try work.snapshots()
        let report = try work.memtrace(["report"] + snapshots + ["-o", "report.html"])
        XCTAssertEqual(report.status, 0, report.stderr)
        let page = work.directory.appendingPathComponent("report.html").path

        let dom = try chromium.dumpDOM(page)
        // The script drew the flame graphs: frames exist, with our functions' names.
        let frames = count(#"<div class="frame"#, in: dom)
        XCTAssertGreaterThanOrEqual(frames, 14, "live: all, _start, libc ×2, main, 2 sites; growth the same")
        XCTAssertTrue(dom.contains(">leak_step</div>"), dom)
        XCTAssertTrue(dom.contains(">cache_put</div>"), dom)
        XCTAssertTrue(dom.contains(#"data-flame-frames=""#), "the script ran to its end")
        XCTAssertTrue(dom.contains("Reset zoom"))
        // A menu draws the snapshot's other figures instead.  scratch frees all it allocates,
        // each block before the next allocation: no live bytes, only temporary ones.
        XCTAssertTrue(
            dom.contains(
                #"<option value="live">live bytes</option><option value="peak">bytes at the peak</option>"#
                    + #"<option value="total">bytes allocated</option>"#
                    + #"<option value="temporary">bytes allocated temporarily</option>"#), dom)
        XCTAssertFalse(dom.contains(">scratch</div>"), dom)
        XCTAssertTrue(
            dom.contains(
                #"<div class="label">Temporary</div><div class="value">8</div>"#
                    + #"<div class="note">32.0 KiB, freed before the next allocation</div>"#), dom)
        // A crafted link stops nothing: a malformed escape, a name every object has.
        for fragment in ["search=%", "zoom=%E0", "metric=__proto__", "metric=constructor&search=%25"] {
            let odd = try chromium.dumpDOM(page, fragment: fragment)
            XCTAssertTrue(odd.contains(#"data-flame-frames=""#), "#\(fragment): the script ran to its end")
            XCTAssertTrue(odd.contains(#"data-tree="live""#), "#\(fragment)")
        }
        let temporary = try chromium.dumpDOM(page, fragment: "metric=temporary")
        XCTAssertTrue(temporary.contains("<h2>Temporary allocations by call stack</h2>"), temporary)
        XCTAssertTrue(temporary.contains(#"data-tree="temporary""#), temporary)
        XCTAssertTrue(temporary.contains(">scratch</div>"), temporary)
        XCTAssertTrue(temporary.contains(#"<span class="status">32.0 KiB in all stacks</span>"#), "8 × 4096 B")
        // The top-sites table follows the menu.
        XCTAssertTrue(temporary.contains(#"<span class="sites-metric">bytes allocated temporarily</span>"#), temporary)
        XCTAssertTrue(temporary.contains(#"<table class="sites" data-metric="live" hidden="">"#), temporary)
        XCTAssertTrue(temporary.contains(#"<table class="sites" data-metric="temporary">"#), temporary)
        XCTAssertTrue(dom.contains(#"<table class="sites" data-metric="temporary" hidden="">"#), dom)
        XCTAssertEqual(count("<polyline", in: dom), 3, "live, peak and RSS lines")
        XCTAssertTrue(dom.contains(#"<section id="growth">"#))
        XCTAssertTrue(
            dom.contains(
                #"<td class="kind grows">grows without bound</td><td class="function" data-function="leak_step">"#),
            "the trends table names the leak")
        XCTAssertTrue(
            dom.contains(
                #"<td class="kind plateaus">fills then plateaus</td><td class="function" data-function="cache_put">"#))

        // The page fits a window of 900 px, its tables too (the trends table's kind and the
        // sites' source lines had pushed it to 921). Measured by a script added to a copy.
        let measured = work.directory.appendingPathComponent("measured.html").path
        try
            (String(contentsOfFile: page, encoding: .utf8)
            + "<script>addEventListener('load', function () { var p = document.createElement('pre');"
            + " p.id = 'width'; p.textContent = document.documentElement.scrollWidth + ' of '"
            + " + document.documentElement.clientWidth; document.body.appendChild(p); });</script>")
            .write(toFile: measured, atomically: true, encoding: .utf8)
        let narrow = try chromium.run(
            ["--virtual-time-budget=2000", "--window-size=900,700", "--dump-dom"], page: measured)
        XCTAssertTrue(narrow.stdoutText.contains("<pre id=\"width\">900 of 900</pre>"), narrow.stdoutText)

        // The screenshot shows the flame graph's bars: count their orange pixels. (Taking a
        // screenshot resizes the window, which redraws the graphs: a script error there would
        // leave the DOM dump above intact but the picture empty.)
        let png = work.directory.appendingPathComponent("report.png").path
        let size = try chromium.screenshot(page, to: png, width: 1000, height: 560)
        XCTAssertEqual(size.width, 1000)
        XCTAssertEqual(size.height, 560)
        let counted = try runProcess(
            "/usr/bin/python3", [TestPaths.file("Tests/EndToEndTests/Fixtures/png-colours.py"), png])
        XCTAssertEqual(counted.status, 0, counted.stderrText)
        let fields = counted.stdoutText.split(separator: " ").compactMap {
            Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        XCTAssertEqual(fields.count, 3, counted.stdoutText)
        // Of six rows of bars 19 px high across about 950 px, the program's four are warm (libc's
        // two are grey): 30,000 pixels and more in the window; a page without them has a few hundred.
        XCTAssertGreaterThan(fields.last ?? 0, 20_000, "flame graph bars visible in the screenshot")
    }

    func testCraftedNamesInjectNothing() throws {
        let chromium = try Chromium()
        let work = try Workspace("report-escape")
        let sites = [
            Synthetic.Site(function: "foo<</script><script>document.title='pwned'</script>>", line: 1),
            Synthetic.Site(function: "bar<img src=x onerror=\"document.title='pwned'\">", line: 2),
            Synthetic.Site(function: "plain_function", line: 3, file: "x</textarea>.c"),
        ]
        let name = try Synthetic.write(
            Synthetic.snapshot(sites: sites, bytes: [3000, 2000, 1000], seconds: 1, sequence: 0),
            "evil.snap", in: work.directory)
        let report = try work.memtrace(["report", name, "-o", "evil.html"])
        XCTAssertEqual(report.status, 0, report.stderr)
        let page = work.directory.appendingPathComponent("evil.html").path
        let dom = try chromium.dumpDOM(page)
        XCTAssertTrue(dom.contains("<title>memtrace report: app</title>"), "no script changed the title")
        XCTAssertEqual(count("<script", in: dom), 2, "only the report's own script elements")
        XCTAssertEqual(count("<img", in: dom), 0)
        // The names are there, as text, in the flame graph and in the table.
        XCTAssertTrue(
            dom.contains(
                #">foo&lt;&lt;/script&gt;&lt;script&gt;document.title='pwned'&lt;/script&gt;&gt;</div>"#),
            dom)
        XCTAssertTrue(dom.contains(#">bar&lt;img src=x onerror="document.title='pwned'"&gt;</div>"#))
        XCTAssertEqual(count(#"<div class="frame"#, in: dom), 5, "all, main and the three sites")
    }
}
