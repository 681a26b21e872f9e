/// Reads Rust's v0 symbol names (`_RNvCs1234_7mycrate4main`: the default of Rust's own standard
/// library builds since 2025, and `-C symbol-mangling-version=v0`).
///
/// The grammar is that of Rust's RFC 2603. Names are printed as Rust writes them, without the
/// crates' disambiguating hashes (`mycrate::main`, `<Vec<u8> as Clone>::clone`,
/// `core::ptr::drop_in_place::<String>`, `mycrate::main::{closure#0}`), as the legacy names
/// lose their hash. A name this reader does not follow comes back nil, and is shown as it is.
enum RustDemangler {
    /// The readable form of the v0 symbol `name` (starting `_R`), or nil.
    static func demangle(_ name: String) -> String? {
        var bytes = Array(name.utf8)
        guard bytes.count > 2, bytes[0] == UInt8(ascii: "_"), bytes[1] == UInt8(ascii: "R") else { return nil }
        // A vendor suffix (`.llvm.1234`, `$...`) is not part of the name.
        if let end = bytes.firstIndex(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "$") }) {
            bytes.removeSubrange(end...)
        }
        var parser = Parser(bytes: Array(bytes.dropFirst(2)))
        do {
            if let first = parser.peek, isDigit(first) { _ = try parser.decimal() }  // encoding version
            try parser.path(inValue: true)
            // What follows is the crate that instantiated a generic: not printed.
            return parser.output.utf8.count <= maximumLength ? parser.output : nil
        } catch {
            return nil
        }
    }

    /// The longest name this reader writes (the snapshot reader takes names of up to 64 KiB):
    /// back-references let a short name stand for an exponentially long one.
    static let maximumLength = 16 * 1024

    fileprivate static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
}

private struct Malformed: Error {}

private struct Parser {
    let bytes: [UInt8]
    var position = 0
    var output = ""
    var depth = 0
    /// Items read so far, back-references re-reading theirs.
    var steps = 0
    /// Lifetimes bound by the `for<...>` binders being printed.
    var boundLifetimes = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    mutating func next() throws -> UInt8 {
        guard position < bytes.count else { throw Malformed() }
        position += 1
        return bytes[position - 1]
    }

    mutating func eat(_ character: Character) -> Bool {
        guard let byte = peek, byte == character.asciiValue else { return false }
        position += 1
        return true
    }

    mutating func decimal() throws -> Int {
        var value = 0
        guard let first = peek, RustDemangler.isDigit(first) else { throw Malformed() }
        if first == UInt8(ascii: "0") {
            position += 1
            return 0
        }
        while let byte = peek, RustDemangler.isDigit(byte) {
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
            guard value < 1 << 20 else { throw Malformed() }
            position += 1
        }
        return value
    }

    /// `_` is 0; digits and letters, then `_`, are that base-62 number plus one.
    mutating func base62() throws -> UInt64 {
        if eat("_") { return 0 }
        var value: UInt64 = 0
        while true {
            let byte = try next()
            let digit: UInt64
            switch byte {
            case UInt8(ascii: "_"):
                let (sum, overflow) = value.addingReportingOverflow(1)
                guard !overflow else { throw Malformed() }
                return sum
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): digit = UInt64(byte - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): digit = UInt64(byte - UInt8(ascii: "A")) + 36
            default: throw Malformed()
            }
            let (product, overflow) = value.multipliedReportingOverflow(by: 62)
            let (sum, carry) = product.addingReportingOverflow(digit)
            guard !overflow, !carry else { throw Malformed() }
            value = sum
        }
    }

    /// `s` and a base-62 number: which of several same-named items; 0 when absent.
    mutating func disambiguator() throws -> UInt64 {
        guard eat("s") else { return 0 }
        let (value, overflow) = try base62().addingReportingOverflow(1)
        guard !overflow else { throw Malformed() }
        return value
    }

    /// An identifier's text (Punycode names, `u` before the length, are not read).
    mutating func identifier() throws -> String {
        guard !eat("u") else { throw Malformed() }
        let length = try decimal()
        _ = eat("_")
        guard length <= bytes.count - position else { throw Malformed() }
        let text = String(decoding: bytes[position..<position + length], as: UTF8.self)
        position += length
        return text
    }

    /// Runs `body` at the position a back-reference names (before its `B`, just read), then comes
    /// back.
    mutating func backReference(_ body: (inout Parser) throws -> Void) throws {
        let tag = position - 1
        let target = try base62()
        guard target < UInt64(tag) else { throw Malformed() }
        let saved = position
        position = Int(target)
        try body(&self)
        position = saved
    }

    /// Bounds the work a name can ask for: nesting (recursion) and the text written, which
    /// back-references can otherwise double at every level.
    mutating func enter() throws {
        depth += 1
        steps += 1
        guard depth < 256, steps < 100_000, output.utf8.count < RustDemangler.maximumLength else {
            throw Malformed()
        }
    }

    mutating func path(inValue: Bool) throws {
        try enter()
        defer { depth -= 1 }
        switch try next() {
        case UInt8(ascii: "C"):
            _ = try disambiguator()
            output += try identifier()
        case UInt8(ascii: "N"):
            let namespace = try next()
            try path(inValue: inValue)
            let disambiguator = try disambiguator()
            let name = try identifier()
            if namespace >= UInt8(ascii: "A") && namespace <= UInt8(ascii: "Z") {
                let kind =
                    namespace == UInt8(ascii: "C")
                    ? "closure" : namespace == UInt8(ascii: "S") ? "shim" : String(UnicodeScalar(namespace))
                output += "::{\(kind)\(name.isEmpty ? "" : ":" + name)#\(disambiguator)}"
            } else if !name.isEmpty {
                output += "::" + name
            }
        case UInt8(ascii: "M"):
            try skipImplPath()
            output += "<"
            try type()
            output += ">"
        case UInt8(ascii: "X"):
            try skipImplPath()
            output += "<"
            try type()
            output += " as "
            try path(inValue: false)
            output += ">"
        case UInt8(ascii: "Y"):
            output += "<"
            try type()
            output += " as "
            try path(inValue: false)
            output += ">"
        case UInt8(ascii: "I"):
            try path(inValue: inValue)
            if inValue { output += "::" }
            output += "<"
            try list(separator: ", ") { try $0.genericArgument() }
            output += ">"
        case UInt8(ascii: "B"):
            try backReference { try $0.path(inValue: inValue) }
        default:
            throw Malformed()
        }
    }

    /// The path of an impl block's parent module: not printed.
    mutating func skipImplPath() throws {
        _ = try disambiguator()
        let saved = output
        try path(inValue: false)
        output = saved
    }

    /// Items up to `E`, each printed by `item`, with `separator` between them.
    mutating func list(separator: String, _ item: (inout Parser) throws -> Void) throws {
        var first = true
        while !eat("E") {
            if !first { output += separator }
            first = false
            try item(&self)
        }
    }

    mutating func genericArgument() throws {
        if eat("L") {
            lifetime(try base62())
        } else if eat("K") {
            try constant()
        } else {
            try type()
        }
    }

    mutating func lifetime(_ index: UInt64) {
        guard index != 0 else {
            output += "'_"
            return
        }
        // De Bruijn index: 1 is the innermost lifetime bound so far.
        guard index <= UInt64(boundLifetimes) else {
            output += "'?"
            return
        }
        let depth = boundLifetimes - Int(index)
        output += depth < 26 ? "'" + String(UnicodeScalar(UInt8(ascii: "a") + UInt8(depth))) : "'_\(depth)"
    }

    /// `G` and the number of lifetimes a `for<...>` binds, printed before what it binds.
    mutating func binder() throws {
        guard eat("G") else { return }
        let bound = try base62()
        guard bound < 1000 else { throw Malformed() }
        let count = bound + 1
        output += "for<"
        for index in 0..<Int(count) {
            if index > 0 { output += ", " }
            boundLifetimes += 1
            lifetime(1)
        }
        output += "> "
    }

    static let basicTypes: [UInt8: String] = [
        UInt8(ascii: "a"): "i8", UInt8(ascii: "b"): "bool", UInt8(ascii: "c"): "char", UInt8(ascii: "d"): "f64",
        UInt8(ascii: "e"): "str", UInt8(ascii: "f"): "f32", UInt8(ascii: "h"): "u8", UInt8(ascii: "i"): "isize",
        UInt8(ascii: "j"): "usize", UInt8(ascii: "l"): "i32", UInt8(ascii: "m"): "u32", UInt8(ascii: "n"): "i128",
        UInt8(ascii: "o"): "u128", UInt8(ascii: "s"): "i16", UInt8(ascii: "t"): "u16", UInt8(ascii: "u"): "()",
        UInt8(ascii: "v"): "...", UInt8(ascii: "x"): "i64", UInt8(ascii: "y"): "u64", UInt8(ascii: "z"): "!",
        UInt8(ascii: "p"): "_",
    ]

    mutating func type() throws {
        try enter()
        defer { depth -= 1 }
        guard let tag = peek else { throw Malformed() }
        if let basic = Parser.basicTypes[tag] {
            position += 1
            output += basic
            return
        }
        switch tag {
        case UInt8(ascii: "A"), UInt8(ascii: "S"):
            position += 1
            output += "["
            try type()
            if tag == UInt8(ascii: "A") {
                output += "; "
                try constant()
            }
            output += "]"
        case UInt8(ascii: "T"):
            position += 1
            output += "("
            var count = 0
            try list(separator: ", ") {
                count += 1
                try $0.type()
            }
            if count == 1 { output += "," }
            output += ")"
        case UInt8(ascii: "R"), UInt8(ascii: "Q"):
            position += 1
            output += "&"
            if eat("L") {
                let index = try base62()
                if index != 0 {
                    lifetime(index)
                    output += " "
                }
            }
            if tag == UInt8(ascii: "Q") { output += "mut " }
            try type()
        case UInt8(ascii: "P"), UInt8(ascii: "O"):
            position += 1
            output += tag == UInt8(ascii: "P") ? "*const " : "*mut "
            try type()
        case UInt8(ascii: "F"):
            position += 1
            let bound = boundLifetimes
            defer { boundLifetimes = bound }
            try binder()
            if eat("U") { output += "unsafe " }
            if eat("K") {
                output += "extern \""
                output += eat("C") ? "C" : try identifier().replacingOccurrences(of: "_", with: "-")
                output += "\" "
            }
            output += "fn("
            try list(separator: ", ") { try $0.type() }
            output += ")"
            let returnStart = output
            output += " -> "
            try type()
            if output.hasSuffix(" -> ()") { output = returnStart }
        case UInt8(ascii: "D"):
            position += 1
            output += "dyn "
            let bound = boundLifetimes
            try binder()
            try list(separator: " + ") { try $0.dynTrait() }
            boundLifetimes = bound
            guard eat("L") else { throw Malformed() }
            let index = try base62()
            if index != 0 {
                output += " + "
                lifetime(index)
            }
        case UInt8(ascii: "B"):
            position += 1
            try backReference { try $0.type() }
        default:
            try path(inValue: false)
        }
    }

    /// A trait of a `dyn` type, with its associated type bindings (`Iterator<Item = u8>`).
    mutating func dynTrait() throws {
        try path(inValue: false)
        var open = false
        while eat("p") {
            if !open, output.hasSuffix(">") {
                output.removeLast()
                output += ", "
            } else {
                output += open ? ", " : "<"
            }
            open = true
            output += try identifier() + " = "
            try type()
        }
        if open { output += ">" }
    }

    /// A constant generic argument: integers, `bool` and `char` are read; `_` stands for any.
    mutating func constant() throws {
        try enter()
        defer { depth -= 1 }
        if eat("p") {
            output += "_"
            return
        }
        if eat("B") {
            try backReference { try $0.constant() }
            return
        }
        let tag = try next()
        let negative = eat("n")
        var digits: [UInt8] = []
        while !eat("_") { digits.append(try next()) }
        guard !digits.isEmpty, digits.allSatisfy({ $0 < 128 && Character(UnicodeScalar($0)).isHexDigit }) else {
            throw Malformed()
        }
        let hex = String(decoding: digits, as: UTF8.self)
        let value: UInt64? = digits.count <= 16 ? UInt64(hex, radix: 16) : nil
        switch tag {
        case UInt8(ascii: "b"):
            guard let value, value <= 1 else { throw Malformed() }
            output += value == 1 ? "true" : "false"
        case UInt8(ascii: "c"):
            guard let value, let scalar = UnicodeScalar(UInt32(clamping: value)) else { throw Malformed() }
            let escapes: [UInt32: String] = [0x09: "\\t", 0x0a: "\\n", 0x0d: "\\r"]
            let shown =
                (0x21...0x7e).contains(scalar.value)
                ? String(Character(scalar)) : escapes[scalar.value] ?? "\\u{\(String(scalar.value, radix: 16))}"
            output += "'" + shown + "'"
        case UInt8(ascii: "a"), UInt8(ascii: "s"), UInt8(ascii: "l"), UInt8(ascii: "x"), UInt8(ascii: "n"),
            UInt8(ascii: "i"), UInt8(ascii: "h"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "y"),
            UInt8(ascii: "o"), UInt8(ascii: "j"):
            if negative { output += "-" }
            output += value.map(String.init) ?? "0x" + hex
        default:
            throw Malformed()
        }
        output += ": " + (Parser.basicTypes[tag] ?? "")
    }
}
