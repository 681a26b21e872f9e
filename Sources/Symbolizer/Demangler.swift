import Foundation

/// Turns linker symbol names back into the names people wrote.
///
/// C++ (and legacy Rust, which uses C++ mangling plus a hash) goes through the
/// C++ runtime's `__cxa_demangle`, Rust's v0 names through `RustDemangler`, Swift through the Swift runtime's
/// `swift_demangle`; both are looked up with `dlsym` when first needed, so
/// nothing is linked that the Swift runtime did not load already. A name that
/// is not mangled, or that the runtimes cannot read, comes back unchanged.
public enum Demangler {
    private typealias CxaDemangle =
        @convention(c) (
            UnsafePointer<CChar>?, UnsafeMutablePointer<CChar>?, UnsafeMutablePointer<Int>?,
            UnsafeMutablePointer<Int32>?
        ) -> UnsafeMutablePointer<CChar>?
    private typealias SwiftDemangle =
        @convention(c) (
            UnsafePointer<CChar>?, Int, UnsafeMutablePointer<CChar>?, UnsafeMutablePointer<Int>?, UInt32
        ) -> UnsafeMutablePointer<CChar>?

    /// `__cxa_demangle` from libstdc++ (always loaded under Swift on Linux, through libswiftCore).
    private static let cxaDemangle: CxaDemangle? = lookup(
        "__cxa_demangle", libraries: ["libstdc++.so.6", "libc++abi.so.1", "libc++.so.1"])
    /// `swift_demangle` from libswiftCore.
    private static let swiftDemangle: SwiftDemangle? = lookup(
        "swift_demangle", libraries: ["libswiftCore.so"])

    private static func lookup<T>(_ symbol: String, libraries: [String]) -> T? {
        // RTLD_DEFAULT is ((void *) 0) in glibc.
        if let address = dlsym(nil, symbol) { return unsafeBitCast(address, to: T.self) }
        for library in libraries {
            if let handle = dlopen(library, RTLD_NOW | RTLD_GLOBAL), let address = dlsym(handle, symbol) {
                return unsafeBitCast(address, to: T.self)
            }
        }
        return nil
    }

    /// The readable form of `name`.
    ///
    /// - Parameter name: a symbol as the linker sees it (`_ZN2ns3fooEi`, `$s4main3fooyyF`, `malloc`).
    /// - Returns: `ns::foo(int)`, `main.foo() -> ()`, or `name` itself when it is not mangled.
    public static func demangle(_ name: String) -> String {
        if name.hasPrefix("_Z") {
            return demangleItanium(name) ?? name
        }
        if name.hasPrefix("_R") {
            return RustDemangler.demangle(name) ?? name
        }
        if name.hasPrefix("$s") || name.hasPrefix("_$s") || name.hasPrefix("$S") || name.hasPrefix("_$S")
            || name.hasPrefix("$e") || name.hasPrefix("_$e") || name.hasPrefix("_T0")
        {
            return demangleSwift(name) ?? name
        }
        return name
    }

    private static func demangleItanium(_ name: String) -> String? {
        guard let cxaDemangle else { return nil }
        // A legacy Rust name has no parameter types, after which `__cxa_demangle` would take a
        // suffix LLVM added (`.llvm.1234`) as a clone's: the suffix is not part of the name. The
        // name itself may hold dots (`alloc..vec..Vec` in an impl's path).
        let utf8 = name.utf8
        let legacyRust = utf8.indices.lazy.filter { utf8[$0] == UInt8(ascii: ".") }.map { String(name[..<$0]) }
            .first(where: isLegacyRust)
        var status: Int32 = 0
        guard let result = cxaDemangle(legacyRust ?? name, nil, nil, &status) else { return nil }
        defer { free(result) }
        guard status == 0 else { return nil }
        let demangled = String(cString: result)
        return legacyRust != nil || isLegacyRust(name) ? cleanLegacyRust(demangled) : demangled
    }

    private static func demangleSwift(_ name: String) -> String? {
        guard let swiftDemangle else { return nil }
        let utf8 = Array(name.utf8)
        let result = utf8.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                swiftDemangle(chars.baseAddress, chars.count, nil, nil, 0)
            }
        }
        guard let result else { return nil }
        defer { free(result) }
        return String(cString: result)
    }

    /// Legacy Rust symbols end in `17h` + 16 hex digits + `E`: a hash, not part of the path.
    private static func isLegacyRust(_ name: String) -> Bool {
        let utf8 = Array(name.utf8)
        guard utf8.count > 21, utf8.last == UInt8(ascii: "E") else { return false }
        let hash = utf8[(utf8.count - 20)..<(utf8.count - 1)]
        guard hash.starts(with: Array("17h".utf8)) else { return false }
        return hash.dropFirst(3).allSatisfy { isHexDigit($0) }
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }

    /// Drops the `::h0123…` hash and decodes Rust's `$LT$`-style escapes.
    private static func cleanLegacyRust(_ demangled: String) -> String {
        var text = demangled
        if let range = text.range(of: "::h", options: .backwards),
            text[range.upperBound...].count == 16, text[range.upperBound...].utf8.allSatisfy(isHexDigit)
        {
            text.removeSubrange(range.lowerBound...)
        }
        // An identifier cannot start with `$`, so the mangler put `_` before it.
        if text.hasPrefix("_$") { text.removeFirst() }
        text = text.replacingOccurrences(of: "::_$", with: "::$")
        let escapes = [
            ("$LT$", "<"), ("$GT$", ">"), ("$RF$", "&"), ("$BP$", "*"), ("$C$", ","), ("$SP$", "@"),
            ("$u20$", " "), ("$u22$", "\""), ("$u27$", "'"), ("$u2b$", "+"), ("$u3b$", ";"), ("$u5b$", "["),
            ("$u5d$", "]"), ("$u7b$", "{"), ("$u7d$", "}"), ("$u7e$", "~"), ("..", "::"),
        ]
        for (escape, replacement) in escapes where text.contains(escape) {
            text = text.replacingOccurrences(of: escape, with: replacement)
        }
        return text
    }
}
