import Analysis
import SnapshotReader
import Symbolizer

/// Reads a snapshot and symbolizes its stacks.
///
/// The symbolizer uses the frames `memtrace symbolize` embedded when the
/// snapshot has them, and otherwise reads the modules the snapshot names.
/// A progress line is drawn on a terminal when this takes more than a
/// moment; problems with modules (missing file, other build-id) are printed
/// to standard error, one line each, and the frames fall back to symbol or
/// module offsets.
func loadTraced(_ path: String, table: FrameTable = FrameTable()) throws -> TracedSnapshot {
  let snapshot = try SnapshotFile.read(path: path)
  let symbolizer = Symbolizer(snapshot: snapshot)
  symbolizer.resolve(
    snapshot.stackStats.lazy.flatMap { snapshot.stacks[Int($0.stack)].pcs },
    progress: Symbolizer.terminalProgress())
  for warning in symbolizer.warnings {
    printError(warning.hasPrefix("memtrace: ") ? warning : "memtrace: " + warning)
  }
  return TracedSnapshot(snapshot, resolver: symbolizer, table: table)
}
