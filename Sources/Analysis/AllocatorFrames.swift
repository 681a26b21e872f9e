import Symbolizer

/// Recognises frames that belong to the allocator rather than to the program.
///
/// The tracer records stacks from the caller of `malloc`, but that caller can
/// itself be allocator code: libstdc++'s `operator new` calls `malloc`, so a
/// `new` in user code would be reported at `operator new` in libstdc++ instead
/// of at the user's line. Analysis drops such frames from the innermost end of
/// every stack, so the first frame shown is where the program asked for memory.
public enum AllocatorFrames {
    /// C allocator entry points, and glibc's internal names for them.
    static let mallocFunctions: Set<String> = [
        "malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign", "aligned_alloc",
        "memalign", "valloc", "pvalloc", "malloc_usable_size",
        "__libc_malloc", "__libc_calloc", "__libc_realloc", "__libc_free", "__libc_memalign",
        "__libc_valloc", "__libc_pvalloc", "__posix_memalign", "__libc_reallocarray",
        "_int_malloc", "_int_realloc", "_int_memalign", "_mid_memalign", "tcache_init",
        "malloc_hook_ini", "realloc_hook_ini", "memalign_hook_ini",
    ]

    /// True when `frame` is allocator internals: anything in libtrace.so or
    /// libjemalloc, a malloc-family function of libc (or the loader's wrapper of one), or C++ `operator new`
    /// and `operator new[]` (any overload) from libstdc++, libc++ or jemalloc.
    public static func isAllocatorFrame(_ frame: Frame) -> Bool {
        isAllocatorFrame(frame, moduleName: basename(frame.module))
    }

    static func isAllocatorFrame(_ frame: Frame, moduleName module: String) -> Bool {
        if module.hasPrefix("libtrace.") || module.hasPrefix("libjemalloc.")
            || module.hasPrefix("libtcmalloc")
        {
            return true
        }
        let function = frame.function
        // The loader calls libc's allocator through inline wrappers named after it (rtld-malloc.h).
        if module.hasPrefix("libc.so") || module.hasPrefix("libc-") || module.hasPrefix("ld-linux") {
            return mallocFunctions.contains(function)
        }
        if module.hasPrefix("libstdc++.") || module.hasPrefix("libc++.")
            || module.hasPrefix("libc++abi.")
        {
            return isOperatorNew(function)
        }
        // The Swift runtime allocates objects and boxes through swift_slowAlloc:
        // the frame that matters is the Swift code that asked for the object.
        if module.hasPrefix("libswiftCore.") {
            return swiftAllocationFunctions.contains(function)
        }
        // A class's allocating initializer, which the compiler writes into the class's module,
        // is to Swift what operator new is to C++: the object's site is its caller. Its code is
        // the compiler's (line 0), unless it is a convenience initializer, whose body it holds.
        if function.contains(".__allocating_init(") && frame.line == 0 { return true }
        return isRustAllocatorFrame(frame)
    }

    /// Rust's global allocator layer, compiled into every Rust program: the `alloc::alloc`
    /// functions (`alloc`, `realloc`, `exchange_malloc`, `Global`'s `Allocator` methods),
    /// `std::alloc::System`, the `__rust_alloc` shims the compiler writes, and `Box::new`,
    /// `Rc::new`, `Arc::new`, which are Rust's `new`. The collections' own functions (`Vec`
    /// growing) stay, as `std::vector`'s do in C++.
    static func isRustAllocatorFrame(_ frame: Frame) -> Bool {
        let file = frame.file
        if file.hasSuffix("library/alloc/src/alloc.rs") || file.hasSuffix("library/std/src/alloc.rs")
            || (file.contains("library/std/src/sys/") && (file.hasSuffix("/alloc.rs") || file.contains("/alloc/")))
        {
            return true
        }
        // `Box::new`, `Rc::new`, `Arc::new` and their variants: Rust's `new`.
        if file.hasSuffix("library/alloc/src/boxed.rs") || file.hasSuffix("library/alloc/src/rc.rs")
            || file.hasSuffix("library/alloc/src/sync.rs")
        {
            let name = lastPathComponent(frame.function)
            if name.hasPrefix("new") || name.hasPrefix("try_new") || name.hasPrefix("box_new") { return true }
        }
        return isRustAllocatorFunction(frame.function)
    }

    /// The last `::` component of a Rust path, its generic arguments left out:
    /// `<alloc::boxed::Box<T>>::new` → `new`, `new_uninit_in<u8, Global>` → `new_uninit_in`.
    public static func lastPathComponent(_ function: String) -> Substring {
        var depth = 0
        var outside = ""
        for character in function {
            if character == "<" {
                depth += 1
            } else if character == ">" {
                depth = max(0, depth - 1)
            } else if depth == 0 {
                outside.append(character)
            }
        }
        let components = outside.components(separatedBy: "::")
        return Substring(components.last ?? "")
    }

    static func isRustAllocatorFunction(_ function: String) -> Bool {
        let shim = function.hasPrefix("__rustc::") ? String(function.dropFirst("__rustc::".count)) : function
        return rustShims.contains(shim) || rustAllocatorFunctions.contains(function)
            || rustAllocatorPrefixes.contains { function.hasPrefix($0) }
    }

    /// The compiler's shims between `alloc::alloc` and the global allocator (`#[global_allocator]`
    /// or `System`), with and without the `__rustc::` path newer compilers give them.
    static let rustShims: Set<String> = [
        "__rust_alloc", "__rust_alloc_zeroed", "__rust_realloc", "__rdl_alloc", "__rdl_alloc_zeroed",
        "__rdl_realloc", "__rg_alloc", "__rg_alloc_zeroed", "__rg_realloc",
    ]

    static let rustAllocatorFunctions: Set<String> = [
        "alloc::alloc::alloc", "alloc::alloc::alloc_zeroed", "alloc::alloc::realloc", "alloc::alloc::exchange_malloc",
        "alloc::boxed::box_new_uninit", "alloc::boxed::box_new",
    ]

    static let rustAllocatorPrefixes = [
        "<alloc::alloc::Global>::", "<alloc::alloc::Global as core::alloc::Allocator>::", "alloc::alloc::Global::",
        "<std::alloc::System as core::alloc::global::GlobalAlloc>::", "<std::alloc::System>::", "std::alloc::System::",
        "std::sys::alloc::", "std::sys::unix::alloc::", "std::sys::pal::unix::alloc::",
    ]

    /// The Swift runtime's allocation entry points (libswiftCore).
    static let swiftAllocationFunctions: Set<String> = [
        "swift_slowAlloc", "swift_allocObject", "swift_allocBox", "swift_allocEmptyBox",
        "swift_initStackObject", "swift_bufferAllocate", "swift_allocateGenericClassMetadata",
        "swift_allocateGenericValueMetadata", "_swift_allocObject_",
    ]

    /// `operator new(unsigned long)`, `operator new[](unsigned long, std::nothrow_t const&)`…, demangled or
    /// mangled (`_Znwm`, `_Znam`, `_ZnwmSt11align_val_t`…).
    public static func isOperatorNew(_ function: String) -> Bool {
        if function.hasPrefix("operator new") { return true }
        return function.hasPrefix("_Znw") || function.hasPrefix("_Zna")
    }

    /// Drops allocator frames from the innermost end of `frames`.
    ///
    /// - Returns: the remaining frames, or `frames` unchanged when every frame
    ///   is the allocator's (a stack that shows something beats an empty one).
    public static func strip(_ frames: [Frame]) -> [Frame] {
        guard let first = frames.firstIndex(where: { !isAllocatorFrame($0) }) else { return frames }
        return Array(frames[first...])
    }
}

/// The last path component of `path` (`/usr/lib/libc.so.6` → `libc.so.6`).
func basename(_ path: String) -> String {
    let utf8 = path.utf8
    guard let slash = utf8.lastIndex(of: UInt8(ascii: "/")) else { return path }
    return String(path[utf8.index(after: slash)...])
}
