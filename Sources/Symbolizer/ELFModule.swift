import CLibdw
import Foundation

/// One ELF file opened with libdwfl for offline symbolization.
///
/// Holds its own `Dwfl` session, so the file's addresses are used as libdwfl
/// lays them out, whatever the module's load bias was in the traced process.
/// Everything costly is done once and kept: the function symbols (sorted, for
/// binary search: `dwfl_module_addrinfo` scans linearly), each compile unit's
/// table of functions (so that finding the function and its inlined calls at an
/// address does not walk the CU: `dwarf_getscopes` does), and demangled names.
final class ELFModule {
    /// A function symbol: `[start, start + size)` in libdwfl's addresses.
    private struct Symbol {
        var start: UInt64
        var size: UInt64
        var name: UnsafePointer<CChar>
        /// Lower is better among aliases at one address: global, then weak, then local.
        var rank: Int
    }

    /// A function's address range within a compile unit, in DWARF addresses.
    private struct FunctionRange {
        var low: UInt64
        var high: UInt64
        var die: Dwarf_Die
    }

    /// A compile unit's address range, in libdwfl's addresses.
    private struct UnitRange {
        var low: UInt64
        var high: UInt64
        var die: Dwarf_Die
        var bias: Dwarf_Addr
    }

    /// What the DWARF says about one address.
    struct SourceInfo {
        /// Inlined frames first, the containing function last; names may be nil.
        var frames: [(function: String?, file: String, line: Int)]
        /// The compile unit's directory, which relative file names are relative to; empty when unknown.
        var directory = ""
    }

    private let dwfl: OpaquePointer
    private let module: OpaquePointer
    private let callbacks: UnsafeMutablePointer<Dwfl_Callbacks>
    /// Keeps an in-memory image (the vDSO) alive as long as libdwfl reads it.
    private let image: UnsafeMutableRawBufferPointer?
    /// libdwfl address of file address 0.
    private let bias: UInt64
    private var symbols: [Symbol] = []
    private var demangledSymbols: [Int: String] = [:]
    private var dwarfLoaded = false
    private var hasDwarf = false
    private var compileUnits: [UInt64: [FunctionRange]] = [:]
    /// Every compile unit's address ranges, sorted by start: built when libdw cannot find the unit
    /// of an address itself (see `unitRanges`).
    private var unitRanges: [UnitRange]?
    private var dieNames: [UInt64: String?] = [:]

    /// The GNU build-id of the opened file; empty when it has none.
    let buildID: [UInt8]

    /// Opens `file` (or, with `image`, an ELF image in memory named `file`).
    ///
    /// - Parameters:
    ///   - debugDirectories: roots of `.build-id/xx/yyyy.debug` trees for separate debug information.
    /// - Returns: the module, or libdwfl's reason when the file cannot be used.
    static func open(file: String, image: [UInt8]? = nil, debugDirectories: [String]) -> Result<ELFModule, OpenError> {
        // A module path is the snapshot's say-so: libdwfl would wait forever opening a FIFO.
        var info = stat()
        if image == nil, stat(file, &info) == 0, info.st_mode & S_IFMT != S_IFREG {
            return .failure(OpenError(reason: "not a regular file"))
        }
        // libdwfl's search path: "" and ".debug" look beside the file (for .gnu_debuglink),
        // absolute entries are searched by build-id.
        let searchPath = strdup(([":.debug"] + debugDirectories).joined(separator: ":"))
        let pathPointer = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: 1)
        pathPointer.initialize(to: searchPath)
        let callbacks = UnsafeMutablePointer<Dwfl_Callbacks>.allocate(capacity: 1)
        callbacks.initialize(to: Dwfl_Callbacks())
        callbacks.pointee.find_elf = dwfl_build_id_find_elf
        callbacks.pointee.find_debuginfo = dwfl_standard_find_debuginfo
        callbacks.pointee.section_address = dwfl_offline_section_address
        callbacks.pointee.debuginfo_path = pathPointer
        func release() {
            callbacks.deallocate()
            free(pathPointer.pointee)
            pathPointer.deallocate()
        }
        guard let dwfl = dwfl_begin(callbacks) else {
            release()
            return .failure(OpenError(reason: ELFModule.lastError()))
        }
        var buffer: UnsafeMutableRawBufferPointer?
        let module: OpaquePointer?
        if let image {
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(image.count, 1), alignment: 16)
            copy.copyBytes(from: image)
            buffer = copy
            module = dwfl_report_offline_memory(
                dwfl, file, file, copy.baseAddress?.assumingMemoryBound(to: CChar.self), image.count)
        } else {
            module = dwfl_report_offline(dwfl, file, file, -1)
        }
        guard let module, dwfl_report_end(dwfl, nil, nil) == 0 else {
            let reason = ELFModule.lastError()
            dwfl_end(dwfl)
            release()
            buffer?.deallocate()
            return .failure(OpenError(reason: reason))
        }
        var bias: GElf_Addr = 0
        guard dwfl_module_getelf(module, &bias) != nil else {
            let reason = ELFModule.lastError()
            dwfl_end(dwfl)
            release()
            buffer?.deallocate()
            return .failure(OpenError(reason: reason))
        }
        return .success(ELFModule(dwfl: dwfl, module: module, callbacks: callbacks, image: buffer, bias: bias))
    }

    /// Why a file could not be opened.
    struct OpenError: Error {
        var reason: String
    }

    private init(
        dwfl: OpaquePointer, module: OpaquePointer, callbacks: UnsafeMutablePointer<Dwfl_Callbacks>,
        image: UnsafeMutableRawBufferPointer?, bias: UInt64
    ) {
        self.dwfl = dwfl
        self.module = module
        self.callbacks = callbacks
        self.image = image
        self.bias = bias
        var bits: UnsafePointer<UInt8>?
        var vaddr: GElf_Addr = 0
        let length = dwfl_module_build_id(module, &bits, &vaddr)
        if length > 0, let bits {
            buildID = Array(UnsafeBufferPointer(start: bits, count: Int(length)))
        } else {
            buildID = []
        }
        loadSymbols()
    }

    deinit {
        dwfl_end(dwfl)
        free(callbacks.pointee.debuginfo_path?.pointee)
        callbacks.pointee.debuginfo_path?.deallocate()
        callbacks.deallocate()
        image?.deallocate()
    }

    private static func lastError() -> String {
        guard let message = dwfl_errmsg(-1) else { return "unknown error" }
        return String(cString: message)
    }

    // MARK: Symbols

    /// Reads the symbol table once: functions only, sorted, one name per address.
    private func loadSymbols() {
        let count = dwfl_module_getsymtab(module)
        guard count > 0 else { return }
        var found: [Symbol] = []
        found.reserveCapacity(Int(count))
        for index in 0..<count {
            var symbol = GElf_Sym()
            var address: GElf_Addr = 0
            var section: GElf_Word = 0
            guard let name = dwfl_module_getsym_info(module, index, &symbol, &address, &section, nil, nil),
                name.pointee != 0
            else { continue }
            let type = Int32(symbol.st_info & 0xf)
            let binding = Int32(symbol.st_info >> 4)
            guard type == STT_FUNC || type == STT_GNU_IFUNC, symbol.st_shndx != SHN_UNDEF, address != 0 else {
                continue
            }
            let rank = binding == STB_GLOBAL ? 0 : binding == STB_WEAK ? 1 : 2
            found.append(Symbol(start: address, size: symbol.st_size, name: name, rank: rank))
        }
        found.sort { lhs, rhs in
            if lhs.start != rhs.start { return lhs.start < rhs.start }
            if lhs.rank != rhs.rank { return lhs.rank < rhs.rank }
            let lhsUnderscores = leadingUnderscores(lhs.name)
            let rhsUnderscores = leadingUnderscores(rhs.name)
            if lhsUnderscores != rhsUnderscores { return lhsUnderscores < rhsUnderscores }
            return strcmp(lhs.name, rhs.name) < 0
        }
        // Keep the preferred alias at each address, but the largest size any alias gives.
        var unique: [Symbol] = []
        unique.reserveCapacity(found.count)
        for symbol in found {
            if let last = unique.last, last.start == symbol.start {
                unique[unique.count - 1].size = max(last.size, symbol.size)
            } else {
                unique.append(symbol)
            }
        }
        symbols = unique
    }

    private func leadingUnderscores(_ name: UnsafePointer<CChar>) -> Int {
        var count = 0
        while name[count] == CChar(UInt8(ascii: "_")) { count += 1 }
        return count
    }

    /// The function symbol containing libdwfl address `address`, and the offset into it.
    private func symbol(containing address: UInt64) -> (index: Int, offset: UInt64)? {
        // The last symbol starting at or below `address`, and a few before it.
        let candidates = symbols.candidates(startingAtOrBelow: address, limit: 8) { $0.start }
        for (nearness, index) in candidates.enumerated() {
            let symbol = symbols[index]
            let offset = address - symbol.start
            // A symbol without a size can only be the nearest one, and then not far.
            if symbol.size > 0 ? offset < symbol.size : (nearness == 0 && offset < 4096) {
                return (index, offset)
            }
        }
        return nil
    }

    private func symbolName(_ index: Int) -> String {
        if let name = demangledSymbols[index] { return name }
        let name = Demangler.demangle(String(cString: symbols[index].name))
        demangledSymbols[index] = name
        return name
    }

    /// The function symbol at `fileAddress` (the pc minus the module's load bias) and the offset into it.
    func symbol(atFileAddress fileAddress: UInt64) -> (name: String, offset: UInt64)? {
        guard let (index, offset) = symbol(containing: fileAddress &+ bias) else { return nil }
        return (symbolName(index), offset)
    }

    // MARK: DWARF

    /// Source frames at `fileAddress`, inlined ones first; nil without line information.
    func source(atFileAddress fileAddress: UInt64) -> SourceInfo? {
        if !dwarfLoaded {
            dwarfLoaded = true
            var dwarfBias: Dwarf_Addr = 0
            hasDwarf = dwfl_module_getdwarf(module, &dwarfBias) != nil
        }
        guard hasDwarf else { return nil }
        let address = fileAddress &+ bias

        var file = ""
        var line = 0
        var directory = ""
        var cuBias: Dwarf_Addr = 0
        var foundUnit: Dwarf_Die
        let byTable = dwfl_module_addrdie(module, address, &cuBias)
        // libdw (before 0.190) finds an address's unit only through .debug_aranges, which LLVM
        // (clang, swiftc, rustc's own objects) does not write; where some objects of a binary
        // have them and others not, it gives the unit of the nearest address the table has.
        let holds = byTable.map { dwarf_haspc($0, address &- cuBias) == 1 } ?? false
        func lineFromTable() {
            guard let record = dwfl_module_getsrc(module, address) else { return }
            var number: Int32 = 0
            if let name = dwfl_lineinfo(record, nil, &number, nil, nil, nil) {
                file = String(cString: name)
                line = Int(number)
            }
            if let compDir = dwfl_line_comp_dir(record) { directory = String(cString: compDir) }
        }
        if let cu = byTable, holds {
            foundUnit = cu.pointee
            lineFromTable()
        } else if let unit = unit(containing: address) {
            foundUnit = unit.die
            cuBias = unit.bias
            if let record = dwarf_getsrc_die(&foundUnit, address &- cuBias) {
                var number: Int32 = 0
                if let name = dwarf_linesrc(record, nil, nil) {
                    file = String(cString: name)
                    _ = dwarf_lineno(record, &number)
                    line = Int(number)
                }
            }
            var attribute = Dwarf_Attribute()
            if dwarf_attr(&foundUnit, UInt32(DW_AT_comp_dir), &attribute) != nil,
                let text = dwarf_formstring(&attribute)
            {
                directory = String(cString: text)
            }
        } else if let cu = byTable {
            // A unit whose ranges libdw cannot read: the table's answer, as it is.
            foundUnit = cu.pointee
            lineFromTable()
        } else {
            return nil
        }
        let dwarfAddress = address &- cuBias
        return withUnsafeMutablePointer(to: &foundUnit) { cu in
            sourceFrames(in: cu, at: dwarfAddress, file: file, line: line, directory: directory)
        }
    }

    /// The frames at `dwarfAddress` of the unit `cu`, whose line table put it at `file`:`line`.
    private func sourceFrames(
        in cu: UnsafeMutablePointer<Dwarf_Die>, at dwarfAddress: UInt64, file: String, line: Int, directory: String
    ) -> SourceInfo? {
        guard var function = function(in: cu, containing: dwarfAddress) else {
            return file.isEmpty ? nil : SourceInfo(frames: [(nil, file, line)], directory: directory)
        }
        let chain = inlinedChain(in: function, at: dwarfAddress)
        var frames: [(function: String?, file: String, line: Int)] = []
        var location = (file: file, line: line)
        for var inlined in chain.reversed() {
            frames.append((name(of: &inlined), location.file, location.line))
            location = callSite(of: &inlined, cu: cu)
        }
        frames.append((name(of: &function), location.file, location.line))
        if frames.allSatisfy({ $0.function == nil && $0.file.isEmpty }) { return nil }
        return SourceInfo(frames: frames, directory: directory)
    }

    /// The compile unit whose ranges hold `address` (libdwfl's), from an index of every unit
    /// built on first use.
    private func unit(containing address: UInt64) -> UnitRange? {
        if unitRanges == nil {
            var ranges: [UnitRange] = []
            var unitBias: Dwarf_Addr = 0
            var previous: UnsafeMutablePointer<Dwarf_Die>? = nil
            while let die = dwfl_module_nextcu(module, previous, &unitBias) {
                previous = die
                var base: Dwarf_Addr = 0
                var start: Dwarf_Addr = 0
                var end: Dwarf_Addr = 0
                var offset = dwarf_ranges(die, 0, &base, &start, &end)
                while offset > 0 {
                    if start < end {
                        ranges.append(
                            UnitRange(low: start &+ unitBias, high: end &+ unitBias, die: die.pointee, bias: unitBias))
                    }
                    offset = dwarf_ranges(die, offset, &base, &start, &end)
                }
            }
            ranges.sort { $0.low < $1.low }
            unitRanges = ranges
        }
        guard let ranges = unitRanges else { return nil }
        for index in ranges.candidates(startingAtOrBelow: address, limit: 16, start: { $0.low })
        where address < ranges[index].high {
            return ranges[index]
        }
        return nil
    }

    /// The `DW_TAG_subprogram` whose code contains `address`, from the CU's cached function table.
    private func function(in cu: UnsafeMutablePointer<Dwarf_Die>, containing address: UInt64) -> Dwarf_Die? {
        let key = dwarf_dieoffset(cu)
        let table: [FunctionRange]
        if let cached = compileUnits[key] {
            table = cached
        } else {
            table = functionTable(cu)
            compileUnits[key] = table
        }
        for index in table.candidates(startingAtOrBelow: address, limit: 16, start: { $0.low })
        where address < table[index].high {
            return table[index].die
        }
        return nil
    }

    /// Every function with code in the CU, with its address ranges, sorted by start.
    private func functionTable(_ cu: UnsafeMutablePointer<Dwarf_Die>) -> [FunctionRange] {
        var table: [FunctionRange] = []
        func visitChildren(of parent: UnsafeMutablePointer<Dwarf_Die>) {
            var child = Dwarf_Die()
            guard dwarf_child(parent, &child) == 0 else { return }
            while true {
                switch dwarf_tag(&child) {
                case Int32(DW_TAG_subprogram):
                    var base: Dwarf_Addr = 0
                    var start: Dwarf_Addr = 0
                    var end: Dwarf_Addr = 0
                    var offset = dwarf_ranges(&child, 0, &base, &start, &end)
                    while offset > 0 {
                        if start < end { table.append(FunctionRange(low: start, high: end, die: child)) }
                        offset = dwarf_ranges(&child, offset, &base, &start, &end)
                    }
                case Int32(DW_TAG_namespace), Int32(DW_TAG_class_type),
                    Int32(DW_TAG_structure_type), Int32(DW_TAG_union_type),
                    Int32(DW_TAG_module):
                    visitChildren(of: &child)
                default:
                    break
                }
                var next = Dwarf_Die()
                guard dwarf_siblingof(&child, &next) == 0 else { break }
                child = next
            }
        }
        visitChildren(of: cu)
        table.sort { $0.low < $1.low }
        return table
    }

    /// The `DW_TAG_inlined_subroutine`s containing `address` inside `function`, outermost first.
    private func inlinedChain(in function: Dwarf_Die, at address: UInt64) -> [Dwarf_Die] {
        var chain: [Dwarf_Die] = []
        var scope = function
        descend: while true {
            var child = Dwarf_Die()
            guard dwarf_child(&scope, &child) == 0 else { break }
            while true {
                let tag = dwarf_tag(&child)
                let isScope =
                    tag == Int32(DW_TAG_inlined_subroutine) || tag == Int32(DW_TAG_lexical_block)
                    || tag == Int32(DW_TAG_try_block) || tag == Int32(DW_TAG_catch_block)
                if isScope && dwarf_haspc(&child, address) == 1 {
                    if tag == Int32(DW_TAG_inlined_subroutine) { chain.append(child) }
                    scope = child
                    continue descend
                }
                var next = Dwarf_Die()
                guard dwarf_siblingof(&child, &next) == 0 else { break descend }
                child = next
            }
        }
        return chain
    }

    /// The function a subprogram or inlined-subroutine DIE stands for: its demangled linkage name
    /// (qualified, with parameter types), else its name.
    ///
    /// A linkage name that is not mangled is ignored: in C it is an assembler label, such as
    /// glibc's `__GI___libc_malloc` for `__libc_malloc`.
    private func name(of die: inout Dwarf_Die) -> String? {
        let key = dwarf_dieoffset(&die)
        if let cached = dieNames[key] { return cached }
        var result: String?
        var attribute = Dwarf_Attribute()
        for code in [DW_AT_linkage_name, DW_AT_MIPS_linkage_name] {
            if dwarf_attr_integrate(&die, UInt32(code), &attribute) != nil,
                let text = dwarf_formstring(&attribute)
            {
                let linkageName = String(cString: text)
                let demangled = Demangler.demangle(linkageName)
                if demangled != linkageName { result = demangled }
                break
            }
        }
        if result == nil, let text = dwarf_diename(&die) {
            result = String(cString: text)
        }
        dieNames[key] = result
        return result
    }

    /// Where an inlined subroutine was called from: `DW_AT_call_file` and `DW_AT_call_line`.
    private func callSite(of die: inout Dwarf_Die, cu: UnsafeMutablePointer<Dwarf_Die>) -> (file: String, line: Int) {
        var attribute = Dwarf_Attribute()
        var line: Dwarf_Word = 0
        if dwarf_attr(&die, UInt32(DW_AT_call_line), &attribute) != nil {
            _ = dwarf_formudata(&attribute, &line)
        }
        var file = ""
        var index: Dwarf_Word = 0
        if dwarf_attr(&die, UInt32(DW_AT_call_file), &attribute) != nil,
            dwarf_formudata(&attribute, &index) == 0
        {
            var files: OpaquePointer?
            var count = 0
            if dwarf_getsrcfiles(cu, &files, &count) == 0, index < UInt64(count),
                let name = dwarf_filesrc(files, Int(index), nil, nil)
            {
                file = String(cString: name)
            }
        }
        return (file, Int(clamping: line))
    }
}
