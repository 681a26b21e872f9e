import SnapshotReader
import Symbolizer

/// Merges snapshots of several processes of one program into one snapshot,
/// for a fleet-wide view: `memtrace top merged.snap` ranks the sites of every
/// process together.
///
/// Processes load their code at different addresses, so stacks are matched by
/// their symbolized frames, not by program counters: two program counters are
/// the same when their frames (function, source file, line, the module's file
/// name, and the offset when there is no source line) agree. The merged
/// snapshot gives each distinct program counter a new address above the user
/// address space (from `0xffff_f000_0000_0000`, where no module is ever
/// mapped) and stores its frames in the SYMBOLS section, so it is read without
/// any of the binaries. Per-stack figures and the call counters are added up;
/// the peak is the sum of the processes' peaks (an upper bound: the peaks need
/// not have happened at once). Blocks, allocator statistics and timelines
/// belong to one process each and are left out; the modules of all inputs are
/// kept (once per path and build-id) for their build-ids.
public enum SnapshotMerge {
    /// The first address given to a merged program counter.
    public static let firstAddress: UInt64 = 0xffff_f000_0000_0000

    /// One snapshot to merge and the resolver for its program counters.
    public struct Input {
        /// The snapshot as read.
        public var snapshot: Snapshot
        /// Turns its program counters into frames (its ``Symbolizer``).
        public var resolver: any FrameResolver

        /// Pairs a snapshot with its resolver.
        public init(snapshot: Snapshot, resolver: any FrameResolver) {
            self.snapshot = snapshot
            self.resolver = resolver
        }
    }

    /// The latest snapshot of each process among `inputs`, in their order, and the pids of the
    /// ones left out: an earlier snapshot of a process is the same heap at an earlier moment, and
    /// added to the latest it would count that process twice. A process is its pid and when it
    /// started tracing; a merged snapshot stands for itself.
    public static func latestOfEachProcess(_ inputs: [Input]) -> (kept: [Input], leftOut: [UInt32]) {
        struct Process: Hashable {
            var pid: UInt32
            var start: UInt64
            var merged: Int?
        }
        func process(_ index: Int) -> Process {
            let header = inputs[index].snapshot.header
            let merged = inputs[index].snapshot.process["merged"] != nil
            return Process(pid: header.pid, start: header.startTimeNs, merged: merged ? index : nil)
        }
        var latest: [Process: Int] = [:]
        for index in inputs.indices {
            let key = process(index)
            if let other = latest[key] {
                let (a, b) = (inputs[index].snapshot.header, inputs[other].snapshot.header)
                if (a.snapshotTimeNs, a.sequence) <= (b.snapshotTimeNs, b.sequence) { continue }
            }
            latest[key] = index
        }
        let kept = Set(latest.values)
        return (
            inputs.indices.filter { kept.contains($0) }.map { inputs[$0] },
            inputs.indices.filter { !kept.contains($0) }.map { inputs[$0].snapshot.header.pid }
        )
    }

    private struct FrameKey: Hashable {
        var function: String
        var file: String
        var line: Int
        var module: String
        var offset: UInt64?
        var inlined: Bool
    }

    /// The merged snapshot.
    ///
    /// - Parameters:
    ///   - inputs: the snapshots, one or more.
    ///   - path: the merged snapshot's ``Snapshot/path``.
    /// - Returns: a snapshot with a SYMBOLS section for every program counter of its stacks.
    public static func merge(_ inputs: [Input], path: String = "merged.snap") -> Snapshot {
        var pcs: [[FrameKey]: UInt64] = [:]
        var symbols: [UInt64: [Snapshot.SymbolFrame]] = [:]
        var stacks: [Snapshot.Stack] = []
        var stackIDs: [[UInt64]: Int] = [:]
        var stats: [Snapshot.StackStat] = []
        var statOfStack: [Int: Int] = [:]  // merged stack id -> its record in `stats`
        struct MismatchKey: Hashable {
            var allocStack: Int, releaseStack: Int
            var allocatedBy: Snapshot.Mismatch.Allocation, releasedBy: Snapshot.Mismatch.Release
            var namedSize: UInt64
        }
        var mismatches: [MismatchKey: (count: UInt64, bytes: UInt64)] = [:]
        var mismatchOrder: [MismatchKey] = []
        var totals = Snapshot.Totals()
        var modules: [Snapshot.Module] = []
        var moduleKeys = Set<String>()
        // Summed over the inputs that count them; none when no input does.
        var sizeClasses: [Snapshot.SizeClass]?

        for input in inputs {
            let snapshot = input.snapshot
            var mapped: [UInt64: UInt64] = [:]
            func address(_ pc: UInt64) -> UInt64 {
                if let known = mapped[pc] { return known }
                let frames = input.resolver.frames(for: pc)
                let key = frames.map { frame in
                    FrameKey(
                        function: frame.function, file: frame.file, line: frame.line,
                        module: frame.module.split(separator: "/").last.map(String.init) ?? "",
                        offset: frame.file.isEmpty ? frame.offset : nil, inlined: frame.isInlined)
                }
                let merged: UInt64
                if let known = pcs[key] {
                    merged = known
                } else {
                    merged = firstAddress + UInt64(pcs.count) * 16
                    pcs[key] = merged
                    symbols[merged] = frames.map { frame in
                        Snapshot.SymbolFrame(
                            function: frame.function, file: frame.file, line: frame.line, module: frame.module,
                            offset: frame.offset, isInlined: frame.isInlined, directory: frame.directory)
                    }
                }
                mapped[pc] = merged
                return merged
            }
            func mergedStack(_ index: UInt32) -> Int {
                let stack = snapshot.stacks[Int(index)]
                let merged = stack.pcs.map(address)
                if let known = stackIDs[merged] {
                    stacks[known].trueDepth = max(stacks[known].trueDepth, stack.trueDepth)
                    return known
                }
                stackIDs[merged] = stacks.count
                stacks.append(Snapshot.Stack(pcs: merged, trueDepth: stack.trueDepth))
                return stacks.count - 1
            }
            for stat in snapshot.stackStats {
                let stack = mergedStack(stat.stack)
                let id: Int
                if let known = statOfStack[stack] {
                    id = known
                } else {
                    id = stats.count
                    statOfStack[stack] = id
                    stats.append(
                        Snapshot.StackStat(
                            stack: UInt32(stack), liveBytes: 0, liveCount: 0, totalBytes: 0, totalCount: 0,
                            peakBytes: 0, peakCount: 0))
                }
                stats[id].liveBytes &+= stat.liveBytes
                stats[id].liveCount &+= stat.liveCount
                stats[id].totalBytes &+= stat.totalBytes
                stats[id].totalCount &+= stat.totalCount
                stats[id].peakBytes &+= stat.peakBytes
                stats[id].peakCount &+= stat.peakCount
                stats[id].temporaryBytes &+= stat.temporaryBytes
                stats[id].temporaryCount &+= stat.temporaryCount
                stats[id].overrunBytes &+= stat.overrunBytes
                stats[id].overrunCount &+= stat.overrunCount
            }
            for mismatch in snapshot.mismatches {
                let key = MismatchKey(
                    allocStack: mergedStack(mismatch.allocStack), releaseStack: mergedStack(mismatch.releaseStack),
                    allocatedBy: mismatch.allocatedBy, releasedBy: mismatch.releasedBy, namedSize: mismatch.namedSize)
                if mismatches[key] == nil { mismatchOrder.append(key) }
                let sum = mismatches[key, default: (0, 0)]
                mismatches[key] = (sum.count &+ mismatch.count, sum.bytes &+ mismatch.bytes)
            }
            let t = snapshot.totals
            totals.liveBytes &+= t.liveBytes
            totals.liveBlocks &+= t.liveBlocks
            totals.liveUsableBytes &+= t.liveUsableBytes
            totals.peakBytes &+= t.peakBytes
            totals.allocCalls &+= t.allocCalls
            totals.freeCalls &+= t.freeCalls
            totals.reallocCalls &+= t.reallocCalls
            totals.totalAllocBytes &+= t.totalAllocBytes
            totals.tracerOverheadBytes &+= t.tracerOverheadBytes
            totals.untrackedFrees &+= t.untrackedFrees
            totals.lostAllocations &+= t.lostAllocations
            totals.overrunBlocks &+= t.overrunBlocks
            totals.mismatchBlocks &+= t.mismatchBlocks
            totals.sampleRate = max(totals.sampleRate, t.sampleRate)
            if let classes = snapshot.sizeClasses {
                var sum = sizeClasses ?? []
                if sum.count < classes.count {
                    sum += Array(repeating: Snapshot.SizeClass(count: 0, bytes: 0), count: classes.count - sum.count)
                }
                for (index, sizeClass) in classes.enumerated() {
                    sum[index].count &+= sizeClass.count
                    sum[index].bytes &+= sizeClass.bytes
                }
                sizeClasses = sum
            }
            for module in snapshot.modules
            where moduleKeys.insert(module.path + "\u{0}" + module.buildIDHex).inserted {
                modules.append(module)
            }
        }
        totals.stackCount = UInt64(stacks.count)
        totals.truncatedStacks = UInt64(stacks.filter { $0.trueDepth > $0.pcs.count }.count)

        let headers = inputs.map(\.snapshot.header)
        let sampled = headers.contains { $0.isSampled }
        let header = Snapshot.Header(
            version: SnapshotFormat.version, flags: sampled ? SnapshotFormat.flagSampled : 0,
            framesLimit: headers.map(\.framesLimit).max() ?? 0, pid: 0, ppid: 0,
            startTimeNs: headers.map(\.startTimeNs).min() ?? 0,
            snapshotTimeNs: headers.map(\.snapshotTimeNs).max() ?? 0, sequence: 0,
            trigger: headers.last?.trigger ?? .exit)
        var process = inputs.first?.snapshot.process.filter { ["exe", "cmdline", "cwd"].contains($0.key) } ?? [:]
        // A merged input brings the pids it was merged from (its header says 0).
        let pids = Set(
            inputs.flatMap { input in
                input.snapshot.process["merged_pids"].map { $0.split(separator: ",").compactMap { UInt32($0) } }
                    ?? [input.snapshot.header.pid]
            }
        ).sorted()
        process["merged"] =
            "\(inputs.count) snapshot\(inputs.count == 1 ? "" : "s") of \(pids.count) process\(pids.count == 1 ? "" : "es")"
        process["merged_pids"] = pids.map(String.init).joined(separator: ",")
        return Snapshot(
            path: path, header: header, process: process, totals: totals, modules: modules, stacks: stacks,
            stackStats: stats, blocks: nil, allocator: nil, symbols: symbols, sizeClasses: sizeClasses,
            mismatches: mismatchOrder.map { key in
                Snapshot.Mismatch(
                    allocStack: UInt32(key.allocStack), releaseStack: UInt32(key.releaseStack),
                    allocatedBy: key.allocatedBy, releasedBy: key.releasedBy, count: mismatches[key]!.count,
                    bytes: mismatches[key]!.bytes, namedSize: key.namedSize)
            },
            countsTemporary: inputs.allSatisfy(\.snapshot.countsTemporary))
    }
}

extension Snapshot {
    /// Why a process's allocations went untraced, when its executable (or a library preloaded
    /// before the tracer) brought a malloc of its own (PROCESS `own_malloc`, from the tracer).
    public var untracedAllocator: String? {
        process["own_malloc"].map {
            "\($0) has an allocator of its own: its malloc comes before the tracer's, so no allocation was traced"
        }
    }

    /// What a snapshot `memtrace merge` wrote was merged from, as "merged from 3 snapshots of 2
    /// processes (pids 100, 200)"; nil for a process's own snapshot, whose header names its pid.
    public var mergedFrom: String? {
        guard let merged = process["merged"] else { return nil }
        let pids = (process["merged_pids"] ?? "").split(separator: ",")
        return "merged from " + merged
            + (pids.isEmpty ? "" : " (pid\(pids.count == 1 ? "" : "s") \(pids.joined(separator: ", ")))")
    }
}
