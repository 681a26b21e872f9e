import Analysis
import SnapshotReader
import SwiftProtobuf
import Symbolizer

/// pprof's `profile.proto`, gzipped, in the heap profile convention that
/// `go tool pprof`, Pyroscope, Parca and Grafana understand.
///
/// Every STACK_STATS record becomes a sample with four values, in this order:
/// `alloc_objects/count`, `alloc_space/bytes` (everything the stack ever
/// allocated), `inuse_objects/count`, `inuse_space/bytes` (what it holds at
/// the snapshot); `inuse_space` is the default. Every program counter becomes
/// a location at its runtime address, inside the mapping of its module (one
/// mapping per executable segment, with the module's GNU build-id in hex), and
/// its frames become lines, inlined calls first, as pprof stores inlining.
/// Frames of the allocator itself are dropped from the leaf end, as `top`
/// does. A sampled snapshot's figures are the tracer's estimates and the
/// profile's `period` is its mean sampling interval in bytes.
public enum PprofFormat {
    /// The gzipped profile of `snapshot`.
    ///
    /// - Parameters:
    ///   - snapshot: the snapshot as read.
    ///   - resolver: turns its program counters into frames (its ``Symbolizer``).
    ///   - comments: free-form notes stored in the profile (`go tool pprof -comments`).
    /// - Returns: the bytes of a `.pb.gz` file.
    /// - Throws: ``Gzip/Failure`` when compression fails.
    public static func render(
        _ snapshot: Snapshot, resolver: any FrameResolver, comments: [String] = []
    ) throws -> [UInt8] {
        try Gzip.compress(try encode(snapshot, resolver: resolver, comments: comments))
    }

    /// The profile's protobuf bytes before compression.
    static func encode(
        _ snapshot: Snapshot, resolver: any FrameResolver, comments: [String] = []
    ) throws -> [UInt8] {
        try build(snapshot, resolver: resolver, comments: comments).serializedBytes()
    }

    static func build(
        _ snapshot: Snapshot, resolver: any FrameResolver, comments: [String]
    )
        -> Perftools_Profiles_Profile
    {
        var builder = Builder(snapshot: snapshot, resolver: resolver)
        var profile = Perftools_Profiles_Profile()
        profile.sampleType = [
            builder.valueType("alloc_objects", "count"), builder.valueType("alloc_space", "bytes"),
            builder.valueType("inuse_objects", "count"), builder.valueType("inuse_space", "bytes"),
        ]
        profile.periodType = builder.valueType("space", "bytes")
        profile.period = snapshot.header.isSampled ? Int64(clamping: snapshot.totals.sampleRate) : 1
        profile.defaultSampleType = builder.string("inuse_space")
        profile.timeNanos = Int64(clamping: snapshot.header.snapshotTimeNs)
        if snapshot.header.snapshotTimeNs > snapshot.header.startTimeNs {
            profile.durationNanos = Int64(
                clamping: snapshot.header.snapshotTimeNs - snapshot.header.startTimeNs)
        }
        profile.comment = comments.map { builder.string($0) }

        for stat in snapshot.stackStats {
            let pcs = snapshot.stacks[Int(stat.stack)].pcs
            var ids = pcs.map { builder.location($0) }
            // The allocator's own frames at the leaf end, as TracedSnapshot drops them.
            if let first = ids.firstIndex(where: { !builder.isAllocator[$0] }), first > 0 {
                ids.removeFirst(first)
            }
            var sample = Perftools_Profiles_Sample()
            sample.locationID = ids.map { UInt64($0) }
            sample.value = [
                Int64(clamping: stat.totalCount), Int64(clamping: stat.totalBytes),
                Int64(clamping: stat.liveCount), Int64(clamping: stat.liveBytes),
            ]
            profile.sample.append(sample)
        }
        profile.mapping = builder.mappings
        profile.location = builder.locations
        profile.function = builder.functions
        profile.stringTable = builder.strings
        return profile
    }

    /// Interns strings, functions, locations and mappings; ids start at 1.
    private struct Builder {
        let snapshot: Snapshot
        let resolver: any FrameResolver
        var strings: [String] = [""]
        var stringIDs: [String: Int64] = ["": 0]
        var functions: [Perftools_Profiles_Function] = []
        var functionIDs: [FunctionKey: UInt64] = [:]
        var locations: [Perftools_Profiles_Location] = []
        var locationIDs: [UInt64: Int] = [:]
        /// By location id (index 0 unused): every frame of the location is the allocator's.
        var isAllocator: [Bool] = [false]
        var mappings: [Perftools_Profiles_Mapping] = []
        /// Executable ranges, sorted by start, with their mapping id.
        var ranges: [(start: UInt64, end: UInt64, id: UInt64)] = []

        struct FunctionKey: Hashable {
            var name: String
            var file: String
        }

        init(snapshot: Snapshot, resolver: any FrameResolver) {
            self.snapshot = snapshot
            self.resolver = resolver
            for module in snapshot.modules {
                let executable = module.segments.filter { $0.flags & 1 != 0 }
                for segment in executable.isEmpty ? Array(module.segments.prefix(1)) : executable
                where segment.size > 0 {
                    var mapping = Perftools_Profiles_Mapping()
                    mapping.id = UInt64(mappings.count + 1)
                    mapping.memoryStart = segment.start
                    mapping.memoryLimit = segment.start &+ segment.size
                    mapping.fileOffset = segment.fileOffset
                    mapping.filename = string(module.path)
                    mapping.buildID = string(module.buildIDHex)
                    // Frames come symbolized: pprof must not try to symbolize them again.
                    mapping.hasFunctions_p = true
                    mapping.hasFilenames_p = true
                    mapping.hasLineNumbers_p = true
                    mapping.hasInlineFrames_p = true
                    mappings.append(mapping)
                    ranges.append((segment.start, segment.start &+ segment.size, mapping.id))
                }
            }
            ranges.sort { $0.start < $1.start }
        }

        mutating func string(_ text: String) -> Int64 {
            if let id = stringIDs[text] { return id }
            strings.append(text)
            stringIDs[text] = Int64(strings.count - 1)
            return Int64(strings.count - 1)
        }

        mutating func valueType(_ type: String, _ unit: String) -> Perftools_Profiles_ValueType {
            var value = Perftools_Profiles_ValueType()
            value.type = string(type)
            value.unit = string(unit)
            return value
        }

        mutating func function(_ frame: Frame) -> UInt64 {
            let key = FunctionKey(name: FrameLabel.name(frame), file: frame.file)
            if let id = functionIDs[key] { return id }
            var function = Perftools_Profiles_Function()
            function.id = UInt64(functions.count + 1)
            function.name = string(key.name)
            function.systemName = function.name
            function.filename = string(frame.file)
            functions.append(function)
            functionIDs[key] = function.id
            return function.id
        }

        func mappingID(_ pc: UInt64) -> UInt64 {
            var low = 0
            var high = ranges.count
            while low < high {
                let middle = (low + high) / 2
                if ranges[middle].start <= pc { low = middle + 1 } else { high = middle }
            }
            guard low > 0, pc < ranges[low - 1].end else { return 0 }
            return ranges[low - 1].id
        }

        /// The location id of `pc`.
        mutating func location(_ pc: UInt64) -> Int {
            if let id = locationIDs[pc] { return id }
            var location = Perftools_Profiles_Location()
            location.id = UInt64(locations.count + 1)
            location.mappingID = mappingID(pc)
            location.address = pc
            let frames = resolver.frames(for: pc)
            location.line = frames.map { frame in
                var line = Perftools_Profiles_Line()
                line.functionID = function(frame)
                line.line = Int64(frame.line)
                return line
            }
            locations.append(location)
            isAllocator.append(!frames.isEmpty && frames.allSatisfy(AllocatorFrames.isAllocatorFrame))
            locationIDs[pc] = locations.count
            return locations.count
        }
    }
}
