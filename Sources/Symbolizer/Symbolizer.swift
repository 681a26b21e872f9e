import CLibdw
import Foundation
import SnapshotReader

/// Turns the program counters of a snapshot into frames, with elfutils libdw.
///
/// Built from a snapshot's module map (path, build-id, load bias, segments).
/// Each module's ELF file is opened on first use, its build-id compared with
/// the snapshot's, and its separate debug information found the standard way
/// (`/usr/lib/debug/.build-id/xx/yyyy.debug`, `.gnu_debuglink`). When the
/// snapshot carries a SYMBOLS section, its frames are used instead of the files.
///
/// What a pc yields, best first:
/// - with DWARF: the function, file and line, plus one frame per inlined call;
/// - with a symbol table only: the function and ``Frame/offset`` into it;
/// - with neither, or when the file is missing: `libfoo.so+0x1234` (the address in the file);
/// - outside every module: the address itself, `0x7f…`.
///
/// When `DEBUGINFOD_URLS` is set in the environment, libdwfl may also ask those servers for the
/// debug information of a module that has none on this machine.
///
/// Every answer is cached per pc. Not thread-safe: use one instance per thread.
public final class Symbolizer: FrameResolver {
    /// Called as a batch of pcs is resolved, with the number done and the total.
    public typealias ProgressHandler = (_ done: Int, _ total: Int) -> Void

    /// Settings for a ``Symbolizer``.
    public struct Options: Sendable {
        /// Use the snapshot's SYMBOLS section when it has one (the default).
        public var useEmbeddedSymbols: Bool
        /// Directories holding `.build-id/xx/yyyy.debug` files: searched for the separate debug
        /// information of every module, and in place of a module whose file is missing or has
        /// another build-id than the snapshot recorded.
        public var debugDirectories: [String]

        /// - Parameters:
        ///   - useEmbeddedSymbols: answer from the snapshot's SYMBOLS section when present.
        ///   - debugDirectories: roots of `.build-id` trees; `/usr/lib/debug` by default.
        public init(useEmbeddedSymbols: Bool = true, debugDirectories: [String] = ["/usr/lib/debug"]) {
            self.useEmbeddedSymbols = useEmbeddedSymbols
            self.debugDirectories = debugDirectories
        }
    }

    private enum ModuleState {
        case unopened
        case open(ELFModule)
        case unavailable
    }

    /// A segment's address range and the index of its module, for binary search.
    private struct Range {
        var start: UInt64
        var end: UInt64
        var module: Int
    }

    private let snapshot: Snapshot
    private let options: Options
    private let ranges: [Range]
    private var states: [ModuleState]
    private var cache: [UInt64: [Frame]] = [:]

    /// Problems found while opening modules, one line each, in the order found: a module whose
    /// file is missing, or whose build-id differs from the snapshot's. Modules are opened on first
    /// use, so this grows as pcs are resolved; call ``resolve(_:progress:)`` first for the full list.
    public private(set) var warnings: [String] = []

    /// A symbolizer for the pcs of `snapshot`.
    ///
    /// - Parameters:
    ///   - snapshot: supplies the modules (and the SYMBOLS section, if any); no file is opened yet.
    ///   - options: see ``Options``.
    public init(snapshot: Snapshot, options: Options = Options()) {
        self.snapshot = snapshot
        self.options = options
        var ranges: [Range] = []
        for (index, module) in snapshot.modules.enumerated() {
            for segment in module.segments where segment.size > 0 {
                let (end, overflow) = segment.start.addingReportingOverflow(segment.size)
                ranges.append(Range(start: segment.start, end: overflow ? UInt64.max : end, module: index))
            }
        }
        self.ranges = ranges.sorted { $0.start < $1.start }
        self.states = Array(repeating: .unopened, count: snapshot.modules.count)
    }

    /// The frames for `pc`, innermost (inlined) first; never empty.
    public func frames(for pc: UInt64) -> [Frame] {
        if let cached = cache[pc] { return cached }
        let frames = resolveUncached(pc)
        cache[pc] = frames
        return frames
    }

    /// Resolves every pc in `pcs` into the cache, reporting progress.
    ///
    /// - Parameters:
    ///   - pcs: program counters; duplicates and already resolved ones cost nothing.
    ///   - progress: called every few hundred pcs and once at the end with `done == total`.
    public func resolve(_ pcs: some Sequence<UInt64>, progress: ProgressHandler? = nil) {
        var pending: [UInt64] = []
        var seen = Set<UInt64>()
        for pc in pcs where cache[pc] == nil && seen.insert(pc).inserted {
            pending.append(pc)
        }
        // In address order, each module's tables are warm when they are used.
        pending.sort()
        for (done, pc) in pending.enumerated() {
            if done % 256 == 0 { progress?(done, pending.count) }
            cache[pc] = resolveUncached(pc)
        }
        progress?(pending.count, pending.count)
    }

    /// Closes the module files opened so far and frees their tables; the pcs resolved stay
    /// answered, and a module is opened again should another pc need it. For a caller that
    /// keeps many symbolizers once their pcs are resolved.
    public func closeModules() {
        for index in states.indices {
            if case .open = states[index] { states[index] = .unopened }
        }
    }

    /// Resolves every pc of every stack of the snapshot; see ``resolve(_:progress:)``.
    public func resolveAll(progress: ProgressHandler? = nil) {
        resolve(snapshot.stacks.lazy.flatMap(\.pcs), progress: progress)
    }

    /// The frames of every pc in the snapshot's stacks, as a SYMBOLS table.
    ///
    /// Storing the result in ``Snapshot/symbols`` and writing the snapshot lets it be analysed
    /// where the traced program's binaries are not.
    /// - Parameter progress: as for ``resolve(_:progress:)``.
    /// - Returns: one non-empty frame list per distinct pc.
    public func symbolTable(progress: ProgressHandler? = nil) -> [UInt64: [Snapshot.SymbolFrame]] {
        resolveAll(progress: progress)
        var table: [UInt64: [Snapshot.SymbolFrame]] = [:]
        for stack in snapshot.stacks {
            for pc in stack.pcs where table[pc] == nil {
                table[pc] = frames(for: pc).map(Snapshot.SymbolFrame.init)
            }
        }
        return table
    }

    // MARK: Resolution

    private func resolveUncached(_ pc: UInt64) -> [Frame] {
        if options.useEmbeddedSymbols, let embedded = snapshot.symbols?[pc], !embedded.isEmpty {
            return embedded.map(Frame.init)
        }
        guard let index = moduleIndex(containing: pc) else {
            return [Frame(function: "0x" + String(pc, radix: 16), file: "", line: 0, module: "")]
        }
        let module = snapshot.modules[index]
        let fileAddress = pc &- module.loadBias
        let fallback = Frame(
            function: "\(Self.basename(module.path))+0x\(String(fileAddress, radix: 16))", file: "", line: 0,
            module: module.path)
        guard let elf = open(index) else { return [fallback] }

        let symbol = elf.symbol(atFileAddress: fileAddress)
        if let source = elf.source(atFileAddress: fileAddress) {
            let last = source.frames.count - 1
            return source.frames.enumerated().map { position, frame in
                let isOutermost = position == last
                // Only the outermost function is the one the symbol table knows.
                let function = frame.function ?? (isOutermost ? symbol?.name : nil) ?? fallback.function
                return Frame(
                    function: function, file: Self.lexicallyNormalized(frame.file), line: frame.line,
                    module: module.path, isInlined: !isOutermost, directory: source.directory)
            }
        }
        if let symbol {
            return [Frame(function: symbol.name, file: "", line: 0, module: module.path, offset: symbol.offset)]
        }
        return [fallback]
    }

    private func moduleIndex(containing pc: UInt64) -> Int? {
        // Segments do not overlap in a real process; look back a little in case a snapshot says otherwise.
        for index in ranges.candidates(startingAtOrBelow: pc, limit: 4, start: { $0.start })
        where pc < ranges[index].end {
            return ranges[index].module
        }
        return nil
    }

    // MARK: Opening modules

    private func open(_ index: Int) -> ELFModule? {
        switch states[index] {
        case .open(let elf): return elf
        case .unavailable: return nil
        case .unopened:
            let elf = openModule(snapshot.modules[index])
            states[index] = elf.map { .open($0) } ?? .unavailable
            return elf
        }
    }

    private func openModule(_ module: Snapshot.Module) -> ELFModule? {
        let debugFile = debugFileByBuildID(module)
        if Self.isVDSO(module.path) {
            if let elf = openOwnVDSO(module) { return elf }
            return debugFile.flatMap(openFile)
        }
        guard module.path.hasPrefix("/"), FileManager.default.fileExists(atPath: module.path) else {
            if let debugFile, let elf = openFile(debugFile) { return elf }
            let reason = module.path.isEmpty ? "a module without a path" : "\(module.path) is not on this machine"
            warnings.append("\(reason); its frames show as module+offset")
            return nil
        }
        let elf: ELFModule
        switch ELFModule.open(file: module.path, debugDirectories: options.debugDirectories) {
        case .success(let opened): elf = opened
        case .failure(let error):
            if let debugFile, let elf = openFile(debugFile) { return elf }
            warnings.append("cannot read \(module.path) (\(error.reason)); its frames show as module+offset")
            return nil
        }
        if !module.buildID.isEmpty && elf.buildID != module.buildID {
            // The debug file of the very build that ran beats the file that is here now.
            if let debugFile, let exact = openFile(debugFile) { return exact }
            // Another build's names at these offsets would be wrong with confidence (as pprof, refuse).
            warnings.append(
                "\(module.path) is not the build that ran (its build-id differs: rebuilt since?); "
                    + "its frames show as module+offset")
            return nil
        }
        return elf
    }

    private func openFile(_ path: String) -> ELFModule? {
        try? ELFModule.open(file: path, debugDirectories: options.debugDirectories).get()
    }

    /// `DIR/.build-id/xx/yyyy.debug` for the module's recorded build-id, if such a file exists.
    private func debugFileByBuildID(_ module: Snapshot.Module) -> String? {
        let hex = module.buildIDHex
        guard hex.count > 2 else { return nil }
        for directory in options.debugDirectories {
            let path = "\(directory)/.build-id/\(hex.prefix(2))/\(hex.dropFirst(2)).debug"
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        return nil
    }

    /// An absolute path without its `.` and `..` components and doubled slashes, as the compiler
    /// may have written it (`/usr/lib/gcc/x86_64-linux-gnu/12/../../../../include/c++/12/vector`
    /// is `/usr/include/c++/12/vector`), so that one file has one name; other paths as they are.
    public static func lexicallyNormalized(_ path: String) -> String {
        guard path.hasPrefix("/"), path.contains("/.") || path.contains("//") else { return path }
        var kept: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..": _ = kept.popLast()
            default: kept.append(component)
            }
        }
        return "/" + kept.joined(separator: "/")
    }

    private static func isVDSO(_ path: String) -> Bool {
        path == "[vdso]" || path.hasPrefix("linux-vdso.so") || path.hasPrefix("linux-gate.so")
    }

    /// The vDSO of this process, when its build-id is the snapshot's: the same kernel image.
    private func openOwnVDSO(_ module: Snapshot.Module) -> ELFModule? {
        guard !module.buildID.isEmpty, let image = Self.ownVDSOImage() else { return nil }
        guard case .success(let elf) = ELFModule.open(file: module.path, image: image, debugDirectories: []),
            elf.buildID == module.buildID
        else { return nil }
        return elf
    }

    /// A copy of the vDSO mapped into this process, found in /proc/self/maps.
    private static func ownVDSOImage() -> [UInt8]? {
        // /proc files report size 0: read until EOF rather than trusting the size.
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/maps"),
            let data = try? handle.readToEnd()
        else { return nil }
        try? handle.close()
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.hasSuffix("[vdso]") {
            let bounds = line.prefix { $0 != " " }.split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16),
                end > start, let base = UnsafeRawPointer(bitPattern: start)
            else { continue }
            let mapped = Int(end - start)
            guard mapped >= MemoryLayout<Elf64_Ehdr>.size else { return nil }
            let header = base.loadUnaligned(as: Elf64_Ehdr.self)
            guard header.e_ident.0 == 0x7f, header.e_ident.1 == UInt8(ascii: "E") else { return nil }
            // The whole image is mapped (that is how the kernel provides it); copy all of it.
            return Array(UnsafeRawBufferPointer(start: base, count: mapped))
        }
        return nil
    }

    static func basename(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}

extension Frame {
    /// A frame from a snapshot's SYMBOLS section.
    public init(_ stored: Snapshot.SymbolFrame) {
        self.init(
            function: stored.function, file: stored.file, line: stored.line, module: stored.module,
            offset: stored.offset, isInlined: stored.isInlined, directory: stored.directory)
    }
}

extension Snapshot.SymbolFrame {
    /// The form a ``Frame`` takes in a snapshot's SYMBOLS section.
    public init(_ frame: Frame) {
        self.init(
            function: frame.function, file: frame.file, line: frame.line, module: frame.module, offset: frame.offset,
            isInlined: frame.isInlined, directory: frame.directory)
    }
}
