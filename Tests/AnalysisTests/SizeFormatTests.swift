import Analysis
import XCTest

final class SizeFormatTests: XCTestCase {
    /// Values verified against Python 3.11's `tracemalloc._format_size`.
    func testKnownValues() {
        let cases: [(Double, Bool, String)] = [
            (0, false, "0 B"), (0, true, "+0 B"), (1, false, "1 B"), (142.05, false, "142 B"),
            (10239, false, "10239 B"), (10240, false, "10.0 KiB"), (64_614, false, "63.1 KiB"),
            (102_399, false, "100.0 KiB"), (102_400, false, "100 KiB"), (142_336, false, "139 KiB"),
            (142_336, true, "+139 KiB"), (-141_312, true, "-138 KiB"), (-5, true, "-5 B"),
            (10 * 1024 * 1024 - 1, false, "10240 KiB"), (10 * 1024 * 1024, false, "10.0 MiB"),
            (1.5 * 1024 * 1024 * 1024, false, "1536 MiB"), (15 * 1024 * 1024 * 1024, false, "15.0 GiB"),
            (3 * 1024 * 1024 * 1024 * 1024 * 1024, false, "3072 TiB"),
        ]
        for (value, signed, expected) in cases {
            XCTAssertEqual(
                SizeFormat.format(value, signed: signed), expected, "\(value) signed=\(signed)")
        }
    }

    /// Half-way cases round to even, as Python's `%` does.
    func testRoundingMatchesPythonOnTies() {
        XCTAssertEqual(SizeFormat.format(142.5), "142 B")
        XCTAssertEqual(SizeFormat.format(143.5), "144 B")
    }

    /// Many sizes, in both sign modes, against the Python on this machine.
    func testAgainstPythonTracemalloc() throws {
        try XCTSkipUnless(pythonAvailable, "python3 is not installed")
        var values: [Double] = [
            0, 1, 99, 100, 1023, 1024, 9999, 10239, 10240, 10241, 51_200.5, 102_348, 102_400,
        ]
        var power = 1.0
        for _ in 0..<48 {
            power *= 2.3
            values.append(power.rounded())
            values.append(power)
        }
        values += values.map { -$0 }
        let script =
            "for v in [\(values.map { String($0) }.joined(separator: ", "))]:\n    print(fs(v, False)); print(fs(v, True))"
        let expected = try python(script)
        XCTAssertEqual(expected.count, values.count * 2)
        for (index, value) in values.enumerated() {
            XCTAssertEqual(SizeFormat.format(value), expected[2 * index], "\(value)")
            XCTAssertEqual(
                SizeFormat.format(value, signed: true), expected[2 * index + 1], "\(value) signed")
        }
    }

    func testSignedCount() {
        XCTAssertEqual(SizeFormat.signedCount(1002), "+1002")
        XCTAssertEqual(SizeFormat.signedCount(0), "+0")
        XCTAssertEqual(SizeFormat.signedCount(-3), "-3")
    }

    func testParse() {
        XCTAssertEqual(SizeFormat.parse("4096"), 4096)
        XCTAssertEqual(SizeFormat.parse("10KiB"), 10240)
        XCTAssertEqual(SizeFormat.parse("10 kib"), 10240)
        XCTAssertEqual(SizeFormat.parse("10K"), 10240)
        XCTAssertEqual(SizeFormat.parse("1MB"), 1_000_000)
        XCTAssertEqual(SizeFormat.parse("1MiB"), 1_048_576)
        XCTAssertEqual(SizeFormat.parse("1.5 MiB"), 1_572_864)
        XCTAssertEqual(SizeFormat.parse("2G"), 2_147_483_648)
        XCTAssertEqual(SizeFormat.parse("0"), 0)
        XCTAssertEqual(SizeFormat.parse("12B"), 12)
        XCTAssertNil(SizeFormat.parse("ten"))
        XCTAssertNil(SizeFormat.parse("10 parsecs"))
        XCTAssertNil(SizeFormat.parse(""))
        XCTAssertNil(SizeFormat.parse("-1"))
    }
}
