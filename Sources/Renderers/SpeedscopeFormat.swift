import Analysis
import Symbolizer

/// speedscope's JSON file format (https://www.speedscope.app/file-format-schema.json).
///
/// The file holds three `sampled` profiles in `bytes`, one sample per stack
/// of the snapshot (frame indices root first) weighted by its bytes: live
/// bytes, bytes held at the moment of the peak, and bytes ever allocated.
/// `activeProfileIndex` selects the one asked for. Frames carry `file` and
/// `line` when the source is known.
public enum SpeedscopeFormat {
    /// The schema URL every speedscope file names.
    public static let schemaURL = "https://www.speedscope.app/file-format-schema.json"

    /// The speedscope file for `traced`.
    ///
    /// - Parameters:
    ///   - traced: the snapshot.
    ///   - name: the profile group's name (speedscope shows it as the title).
    ///   - metric: the profile shown first.
    ///   - filters: traces to keep or drop.
    /// - Returns: compact JSON ending in a newline.
    public static func render(
        _ traced: TracedSnapshot, name: String, metric: Metric = .live, filters: [TraceFilter] = []
    ) -> String {
        var frames: [JSONFormat.Value] = []
        var index: [FrameKey: Int] = [:]
        var indexOfID: [Int32: Int] = [:]
        func frameIndex(_ id: Int32) -> Int {
            if let known = indexOfID[id] { return known }
            let known = frameIndex(traced.table.frame(id))
            indexOfID[id] = known
            return known
        }
        func frameIndex(_ frame: Frame) -> Int {
            let key = FrameKey(
                name: FrameLabel.name(frame), file: frame.file, line: frame.file.isEmpty ? 0 : frame.line)
            if let known = index[key] { return known }
            var fields: [(String, JSONFormat.Value)] = [("name", .string(key.name))]
            if !key.file.isEmpty {
                fields.append(("file", .string(key.file)))
                if key.line > 0 { fields.append(("line", .int(Int64(key.line)))) }
            }
            frames.append(.object(fields))
            index[key] = frames.count - 1
            return frames.count - 1
        }
        let metrics = Metric.available(in: traced.snapshot)
        var profiles: [JSONFormat.Value] = []
        for profileMetric in metrics {
            var samples: [JSONFormat.Value] = []
            var weights: [JSONFormat.Value] = []
            var total: Int64 = 0
            for stack in traced.weightedStacks(profileMetric, filters: filters) where stack.value > 0 {
                samples.append(.array(stack.frames.map { .int(Int64(frameIndex($0) as Int)) }))
                weights.append(.int(stack.value))
                total &+= stack.value
            }
            profiles.append(
                .object([
                    ("type", .string("sampled")), ("name", .string(profileMetric.title)),
                    ("unit", .string("bytes")), ("startValue", .int(0)), ("endValue", .int(total)),
                    ("samples", .array(samples)), ("weights", .array(weights)),
                ]))
        }
        let file: JSONFormat.Value = .object([
            ("$schema", .string(schemaURL)),
            ("shared", .object([("frames", .array(frames))])),
            ("profiles", .array(profiles)),
            ("name", .string(name)),
            ("activeProfileIndex", .int(Int64(metrics.firstIndex(of: metric) ?? 0))),
            ("exporter", .string("memtrace")),
        ])
        return JSONFormat.serialize(file) + "\n"
    }

    private struct FrameKey: Hashable {
        var name: String
        var file: String
        var line: Int
    }
}
