import Analysis
import SnapshotReader
import Symbolizer
import XCTest

@testable import Renderers

/// The pprof profile decoded back with swift-protobuf and checked field by field.
final class PprofTests: XCTestCase {
    func decode(_ snapshot: Snapshot) throws -> Perftools_Profiles_Profile {
        let gz = try PprofFormat.render(
            snapshot, resolver: TableResolver(table: programFrames), comments: ["hello"])
        XCTAssertEqual(Array(gz.prefix(2)), [0x1f, 0x8b], "gzip magic")
        return try Perftools_Profiles_Profile(serializedBytes: try Gzip.decompress(gz))
    }

    func testHeapConvention() throws {
        let profile = try decode(programSnapshot())
        let strings = profile.stringTable
        XCTAssertEqual(strings.first, "")
        func name(_ index: Int64) -> String { strings[Int(index)] }
        XCTAssertEqual(
            profile.sampleType.map { "\(name($0.type))/\(name($0.unit))" },
            ["alloc_objects/count", "alloc_space/bytes", "inuse_objects/count", "inuse_space/bytes"])
        XCTAssertEqual(name(profile.defaultSampleType), "inuse_space")
        XCTAssertEqual(name(profile.periodType.type), "space")
        XCTAssertEqual(profile.timeNanos, 3_500_000_000)
        XCTAssertEqual(profile.durationNanos, 2_500_000_000)
        XCTAssertEqual(profile.comment.map(name), ["hello"])

        // One mapping for the executable segment, with the build-id.
        XCTAssertEqual(profile.mapping.count, 1)
        let mapping = profile.mapping[0]
        XCTAssertEqual(mapping.id, 1)
        XCTAssertEqual(mapping.memoryStart, 0x400000)
        XCTAssertEqual(mapping.memoryLimit, 0x500000)
        XCTAssertEqual(name(mapping.filename), "/bin/app")
        XCTAssertEqual(name(mapping.buildID), "deadbeef")
        XCTAssertTrue(mapping.hasFunctions_p && mapping.hasInlineFrames_p)

        let functions = Dictionary(uniqueKeysWithValues: profile.function.map { ($0.id, $0) })
        let locations = Dictionary(uniqueKeysWithValues: profile.location.map { ($0.id, $0) })
        func stack(_ sample: Perftools_Profiles_Sample) -> [String] {
            sample.locationID.map { id in
                locations[id]!.line.map { line in
                    "\(name(functions[line.functionID]!.name)):\(line.line)"
                }.joined(separator: "+")
            }
        }
        XCTAssertEqual(profile.sample.count, 3)
        XCTAssertEqual(stack(profile.sample[0]), ["leak_one:5", "work:20", "main:30"])
        XCTAssertEqual(profile.sample[0].value, [60, 6000, 40, 4000])
        // The inlined helper and the function it was inlined into share one location, helper first.
        XCTAssertEqual(stack(profile.sample[1]), ["cache_put:8", "helper:12+work:21", "main:30"])
        XCTAssertEqual(profile.sample[1].value, [1, 1000, 1, 1000])
        // malloc's own frame is dropped from the leaf end.
        XCTAssertEqual(stack(profile.sample[2]), ["main:30"])
        XCTAssertEqual(profile.sample[2].value, [5, 500, 0, 0])

        for location in profile.location {
            XCTAssertEqual(location.mappingID, location.address < 0x500000 ? 1 : 0)
        }
        XCTAssertEqual(name(functions.values.first { name($0.name) == "work" }!.filename), "app.c")
    }

    func testLocationsAndFunctionsAreShared() throws {
        let profile = try decode(programSnapshot())
        XCTAssertEqual(profile.location.count, 6, "one location per distinct pc")
        XCTAssertEqual(
            Set(profile.function.map { profile.stringTable[Int($0.name)] }),
            ["main", "work", "helper", "leak_one", "cache_put", "malloc"])
        XCTAssertEqual(Set(profile.location.map(\.id)).count, profile.location.count)
    }

    func testGzipRoundTrip() throws {
        let data = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        XCTAssertEqual(try Gzip.decompress(try Gzip.compress(data)), data)
        XCTAssertEqual(try Gzip.decompress(try Gzip.compress([])), [])
        XCTAssertThrowsError(try Gzip.decompress([1, 2, 3]))
    }
}
