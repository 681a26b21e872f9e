import SnapshotReader
import Symbolizer

/// A snapshot whose stacks have been symbolized and trimmed to the program's frames.
///
/// Building one resolves every distinct program counter once, through the
/// given ``FrameResolver``; inlined frames are kept (innermost first), and the
/// allocator's own frames are dropped from the innermost end
/// (``AllocatorFrames``), so each stack starts at the line that asked for
/// memory; its site is the first of its frames of the program's own (``LibraryFrames``).
/// Statistics and diffs (``statistics(_:)``, ``compare(to:_:)``) work
/// on these frames, never on addresses.
public struct TracedSnapshot {
    /// One STACK_STATS record with its stack as frame ids.
    struct Trace {
        var stat: Snapshot.StackStat
        /// Innermost first, allocator frames stripped; never empty.
        var frames: [Int32]
        var truncated: Bool
    }

    /// Most frames a stack keeps once inlined calls are counted (the innermost ones; the stack
    /// is then truncated, as one the tracer cut): four per address of the tracer's deepest
    /// stack. Deeper ones only come from damaged symbols, and would cost every renderer that
    /// walks or prints whole stacks (flame graphs, tracebacks, folded lines) as much again.
    public static let maximumDepth = 4 * SnapshotFormat.maximumStackDepth

    /// The snapshot as read from its file.
    public let snapshot: Snapshot
    /// The frame numbering; shared by snapshots that are to be compared.
    public let table: FrameTable
    let traces: [Trace]
    /// The frames of the stacks the snapshot's mismatched releases name (the allocation's and
    /// the release's), by stack id, trimmed as ``stacks`` are.
    let mismatchFrames: [UInt32: [Int32]]

    /// Symbolizes every stack of `snapshot` that has a STACK_STATS record, and those of its
    /// mismatched releases.
    ///
    /// - Parameters:
    ///   - snapshot: the snapshot.
    ///   - resolver: turns the snapshot's program counters into frames (a
    ///     ``Symbolizer`` made for this snapshot, or a table in tests).
    ///   - table: the frame numbering; pass the same table for snapshots you
    ///     mean to compare.
    public init(_ snapshot: Snapshot, resolver: any FrameResolver, table: FrameTable = FrameTable()) {
        self.snapshot = snapshot
        self.table = table
        // pc → its frames' ids, as a range of `pool` packed into one integer
        // (offset << 32 | count): no array per address to allocate and free.
        var byPC: [UInt64: UInt64] = [:]
        var pool: [Int32] = []
        let unknown = table.intern(Frame(function: "", file: "", line: 0, module: ""))
        var traces: [Trace] = []
        traces.reserveCapacity(snapshot.stackStats.count)
        // Trimmed as they are gathered, never held whole: damaged symbols can give each address
        // hundreds of inlined frames, and stacks of 65,536 frames took gigabytes before they
        // were cut to maximumDepth.
        func frames(of stack: Snapshot.Stack) -> (ids: [Int32], cut: Bool) {
            var ids: [Int32] = []
            ids.reserveCapacity(min(stack.pcs.count, Self.maximumDepth))
            // The allocator's frames at the innermost end are dropped, unless every frame is
            // one: `leading` holds them until another comes.
            var leading: [Int32] = []
            var started = false
            var cut = false
            gathering: for pc in stack.pcs {
                let range: UInt64
                if let known = byPC[pc] {
                    range = known
                } else {
                    let start = pool.count
                    for frame in resolver.frames(for: pc) { pool.append(table.intern(frame)) }
                    range = UInt64(start) << 32 | UInt64(pool.count - start)
                    byPC[pc] = range
                }
                let start = Int(range >> 32)
                for id in pool[start..<start + Int(range & 0xffff_ffff)] {
                    if !started {
                        if table.isAllocator[Int(id)] {
                            if leading.count <= Self.maximumDepth { leading.append(id) }
                            continue
                        }
                        started = true
                    }
                    // The tracer's frames further out: its operator new throwing bad_alloc,
                    // whose exception object libstdc++ allocates.
                    if table.isTracer[Int(id)] { continue }
                    if ids.count == Self.maximumDepth {
                        cut = true
                        break gathering
                    }
                    ids.append(id)
                }
            }
            if !started {
                ids = leading.filter { !table.isTracer[Int($0)] }
                if leading.count > Self.maximumDepth || ids.count > Self.maximumDepth {
                    ids.removeLast(max(0, ids.count - Self.maximumDepth))
                    cut = true
                }
            }
            return (ids.isEmpty ? [unknown] : ids, cut)
        }
        for stat in snapshot.stackStats {
            let stack = snapshot.stacks[Int(stat.stack)]
            let (ids, cut) = frames(of: stack)
            traces.append(Trace(stat: stat, frames: ids, truncated: cut || stack.trueDepth > stack.pcs.count))
        }
        self.traces = traces
        var mismatchFrames: [UInt32: [Int32]] = [:]
        for id in snapshot.mismatches.flatMap({ [$0.allocStack, $0.releaseStack] }) where mismatchFrames[id] == nil {
            mismatchFrames[id] = frames(of: snapshot.stacks[Int(id)]).ids
        }
        self.mismatchFrames = mismatchFrames
    }

    /// The snapshot's mismatched releases with both their stacks' frames (innermost first,
    /// trimmed as ``stacks`` are), in the snapshot's order.
    public var mismatches: [(mismatch: Snapshot.Mismatch, allocation: [Frame], release: [Frame])] {
        snapshot.mismatches.map { mismatch in
            (
                mismatch, mismatchFrames[mismatch.allocStack]!.map { table.frame($0) },
                mismatchFrames[mismatch.releaseStack]!.map { table.frame($0) }
            )
        }
    }

    /// The frames of every stack with a STACK_STATS record, in that section's
    /// order: innermost first, allocator frames stripped.
    public var stacks: [(stat: Snapshot.StackStat, frames: [Frame])] {
        traces.map { trace in (trace.stat, trace.frames.map { table.frame($0) }) }
    }

    /// The same stacks with their frames as ids in ``table`` (innermost first), for renderers
    /// that merge stacks frame by frame and meet each frame many times.
    public var stackFrameIDs: [(stat: Snapshot.StackStat, frames: [Int32])] {
        traces.map { trace in (trace.stat, trace.frames) }
    }

    /// ``stackFrameIDs`` of the stacks that survive `filters` (``TraceFilter/keeps(_:filters:)``),
    /// each frame tested once however many stacks hold it.
    public func stackFrameIDs(keeping filters: [TraceFilter]) -> [(stat: Snapshot.StackStat, frames: [Int32])] {
        var set = FilterSet(filters, table: table)
        return traces.compactMap { trace in set.keeps(trace.frames) ? (trace.stat, trace.frames) : nil }
    }
}
