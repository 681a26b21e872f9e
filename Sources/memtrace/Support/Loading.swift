import Analysis
import SnapshotReader
import Symbolizer

/// Reads a snapshot and symbolizes its stacks.
///
/// Frames embedded by `memtrace symbolize` are used when present; other
/// addresses go to the libdw symbolizer, which reads the modules named in the snapshot.
func loadTraced(_ path: String, table: FrameTable = FrameTable()) throws -> TracedSnapshot {
  let snapshot = try SnapshotFile.read(path: path)
  return TracedSnapshot(snapshot, resolver: resolver(for: snapshot), table: table)
}

/// The resolver for a snapshot: its stored symbols first, then libdw.
func resolver(for snapshot: SnapshotReader.Snapshot) -> any FrameResolver {
  StoredSymbolsResolver(snapshot: snapshot) { Symbolizer(snapshot: snapshot) }
}
