import SnapshotReader
import Symbolizer

/// Resolves addresses from the frames a snapshot carries (its SYMBOLS section,
/// written by `memtrace symbolize`), and the rest with a fallback resolver
/// created only when first needed.
public final class StoredSymbolsResolver: FrameResolver {
  private let symbols: [UInt64: [Snapshot.SymbolFrame]]
  private let makeFallback: () -> any FrameResolver
  private var fallback: (any FrameResolver)?

  /// - Parameters:
  ///   - snapshot: the snapshot whose stored frames to use.
  ///   - fallback: makes the resolver for addresses without stored frames.
  public init(snapshot: Snapshot, fallback: @escaping () -> any FrameResolver) {
    symbols = snapshot.symbols ?? [:]
    makeFallback = fallback
  }

  /// The stored frames for `pc`, or the fallback's.
  public func frames(for pc: UInt64) -> [Frame] {
    if let stored = symbols[pc], !stored.isEmpty {
      return stored.map {
        Frame(
          function: $0.function, file: $0.file, line: $0.line, module: $0.module, offset: $0.offset,
          isInlined: $0.isInlined)
      }
    }
    if fallback == nil { fallback = makeFallback() }
    return fallback!.frames(for: pc)
  }
}
