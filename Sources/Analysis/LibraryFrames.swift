import Symbolizer

/// Recognises the frames of the languages' standard libraries, which a block's site passes over.
///
/// A site (what `top`, `diff`, `trend`, `summary` and the report rank, and what `--include` and
/// `--exclude` test) is the first frame of a stack that is the program's own: a `std::vector`
/// growing, Rust's `format!` building a `String`, a Swift `Array` allocating its buffer, `strdup`
/// or `fopen` all call the allocator from their standard library, whose frames say which container
/// but not which line of the program asked. Python's tracemalloc gives the line of Python code for
/// the same reason (its containers are C), as Go's heap profiles leave out `runtime.growslice`.
/// The stack keeps these frames: `--by traceback`, leak reports, flame graphs and exports show
/// them, and a stack with no frame of the program's (libstdc++ starting up) has its innermost
/// frame for site.
public enum LibraryFrames {
    /// Modules of the C and C++ runtimes and of Swift's standard libraries (file name prefixes:
    /// `libswiftCore.so`, `libswiftSwiftOnoneSupport.so`, `libswift_Concurrency.so`…).
    static let modulePrefixes = [
        "libc.so", "libc-", "ld-linux", "libm.so", "libpthread.so", "libdl.so", "librt.so",
        "libstdc++.", "libc++.", "libc++abi.", "libgcc_s.",
        "libswift", "libFoundation", "lib_FoundationICU.", "libdispatch.",
    ]

    /// Rust's standard library crates, as their sources appear in a program's line tables
    /// (`/rustc/HASH/library/alloc/src/…`, or `library/alloc/src/…` for the precompiled std).
    static let rustLibraries = ["alloc/src/", "core/src/", "std/src/"]

    /// Names of the C++ and Rust standard libraries' functions, for code compiled into the program
    /// without line information (`std::vector<int>::_M_realloc_insert`, `<alloc::vec::Vec<u8>>::push`);
    /// a frame with a source file is judged by its file.
    static let functionPrefixes = [
        "std::", "__gnu_cxx::", "__cxxabiv1::", "alloc::", "core::", "<std::", "<alloc::", "<core::",
    ]

    /// True when `frame` is code of a standard library: a module above, a header of libstdc++ or
    /// libc++ compiled into the program (`…/include/c++/…`), Rust's `alloc`, `core` and `std` and
    /// the crates std vendors (`/rust/deps/hashbrown-…`), a function of theirs by name when the
    /// frame has no file, or Swift's standard library inlined into the program (`generic
    /// specialization <…> of Swift.Array…`, whose frames carry the program's file).
    public static func isLibraryFrame(_ frame: Frame) -> Bool {
        isLibraryFrame(frame, moduleName: basename(frame.module))
    }

    static func isLibraryFrame(_ frame: Frame, moduleName module: String) -> Bool {
        if modulePrefixes.contains(where: { module.hasPrefix($0) }) { return true }
        let file = frame.file
        if file.contains("/include/c++/") || file.hasPrefix("/rust/deps/") || isRustLibrary(file) { return true }
        let function = frame.function
        if file.isEmpty {
            let name = withoutReturnType(function)
            if functionPrefixes.contains(where: { name.hasPrefix($0) }) { return true }
        }
        return isSwiftLibraryFunction(function)
    }

    /// A C++ function template's name without the return type it is demangled with:
    /// `void std::vector<int>::_M_realloc_insert<int>(…)` → `std::vector<int>::_M_realloc_insert<int>(…)`.
    /// A return type with template arguments (`std::pair<A, B> f<T>()`) is left: the name starts
    /// at a space before any `<` or `(`.
    static func withoutReturnType(_ function: String) -> Substring {
        guard let space = function.firstIndex(of: " ") else { return Substring(function) }
        let head = function[..<space]
        if head.contains("<") || head.contains("(") { return Substring(function) }
        return function[function.index(after: space)...]
    }

    static func isRustLibrary(_ file: String) -> Bool {
        var rest = Substring(file)
        while let range = rest.range(of: "library/") {
            let atStart = range.lowerBound == file.startIndex || file[file.index(before: range.lowerBound)] == "/"
            let after = rest[range.upperBound...]
            if atStart && rustLibraries.contains(where: { after.hasPrefix($0) }) { return true }
            rest = after
        }
        return false
    }

    /// A function of Swift's standard library specialized or inlined into the program's module:
    /// `Swift.Array.append`, `static Swift.Array._allocateUninitialized`, `generic specialization
    /// <Swift.Int> of Swift.Array.init(repeating:count:)`.
    static func isSwiftLibraryFunction(_ function: String) -> Bool {
        var name = Substring(function)
        if name.hasPrefix("merged ") { name = name.dropFirst(7) }
        stripping: while true {
            for prefix in ["generic specialization <", "function signature specialization <"]
            where name.hasPrefix(prefix) {
                // Past the matching '>' and " of ".
                var depth = 0
                var end = name.endIndex
                for index in name.indices.dropFirst(prefix.count - 1) {
                    if name[index] == "<" {
                        depth += 1
                    } else if name[index] == ">" && name[name.index(before: index)] != "-" {  // not "->"
                        depth -= 1
                        if depth == 0 {
                            end = name.index(after: index)
                            break
                        }
                    }
                }
                name = name[end...]
                guard name.hasPrefix(" of ") else { return false }
                name = name.dropFirst(4)
                continue stripping
            }
            break
        }
        if name.hasPrefix("static ") { name = name.dropFirst(7) }
        return name.hasPrefix("Swift.") || name.hasPrefix("(extension in Swift):")
    }

    /// The index of the site among `count` frames (innermost first) that `isLibrary` and `frame`
    /// give: the first frame that is not a library's, unless there is none, or the first is where
    /// the process starts (`_start`, or the `main` that Rust's runtime is called from), where the
    /// runtime's own start-up allocations keep their innermost frame. A first frame with neither a
    /// name nor a file (a stripped program: `sleep+0x23b2`) says less than the library function it
    /// called (`setlocale`, `strdup`): that one is the site.
    static func siteIndex(count: Int, isLibrary: (Int) -> Bool, frame: (Int) -> Frame) -> Int {
        var index = 0
        while index < count && isLibrary(index) { index += 1 }
        if index == 0 || index == count { return 0 }
        let site = frame(index)
        if site.function == "_start" || frame(index - 1).function.hasPrefix("std::rt::lang_start") { return 0 }
        return isUnnamed(site) ? index - 1 : index
    }

    /// A frame the symbolizer could only name by its address (`sleep+0x23b2`, `0x7f…`).
    static func isUnnamed(_ frame: Frame) -> Bool {
        guard frame.file.isEmpty, frame.offset == nil else { return false }
        let function = frame.function
        return function.isEmpty || function.hasPrefix("0x") || function.hasPrefix(basename(frame.module) + "+0x")
    }

    /// The index of the site of `frames` (innermost first); 0 for an empty stack.
    public static func siteIndex(_ frames: [Frame]) -> Int {
        siteIndex(count: frames.count, isLibrary: { isLibraryFrame(frames[$0]) }, frame: { frames[$0] })
    }

    /// The site of `frames` (innermost first), nil for an empty stack.
    public static func site(_ frames: [Frame]) -> Frame? {
        frames.isEmpty ? nil : frames[siteIndex(frames)]
    }
}
