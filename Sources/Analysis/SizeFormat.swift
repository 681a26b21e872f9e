#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Byte sizes and counts written the way Python's `tracemalloc` writes them.
///
/// `tracemalloc._format_size` divides by 1024 until the value fits: whole
/// bytes below 10 KiB, then one decimal below 100 of a unit (`63.1 KiB`) and
/// none above (`139 KiB`), up to TiB. Signed variants put the sign first
/// (`+0 B`, `-138 KiB`).
public enum SizeFormat {
    /// Formats a size in bytes.
    ///
    /// - Parameters:
    ///   - size: the size; fractional values occur for averages.
    ///   - signed: prefix `+` or `-`, as for a difference.
    /// - Returns: for example `142 B`, `63.1 KiB`, `139 KiB`, `+1.5 MiB`.
    public static func format(_ size: Double, signed: Bool = false) -> String {
        var value = size
        for unit in ["B", "KiB", "MiB", "GiB", "TiB"] {
            if abs(value) < 100 && unit != "B" {
                return printf(signed ? "%+.1f" : "%.1f", value) + " " + unit
            }
            if abs(value) < 10 * 1024 || unit == "TiB" {
                return printf(signed ? "%+.0f" : "%.0f", value) + " " + unit
            }
            value /= 1024
        }
        preconditionFailure("the TiB case always returns")
    }

    /// Formats an integral size in bytes; see ``format(_:signed:)-(Double,_)``.
    public static func format<T: BinaryInteger>(_ size: T, signed: Bool = false) -> String {
        format(Double(size), signed: signed)
    }

    /// Formats a count difference as `%+i` does: `+1002`, `-3`, `+0`.
    public static func signedCount<T: BinaryInteger>(_ count: T) -> String {
        count < 0 ? "\(count)" : "+\(count)"
    }

    /// Parses a size given on the command line.
    ///
    /// A plain number is bytes. IEC suffixes (`KiB`, `MiB`, `GiB`, `TiB`) and
    /// the single letters `K`, `M`, `G`, `T` are powers of 1024; SI suffixes
    /// (`kB`/`KB`, `MB`, `GB`, `TB`) are powers of 1000. `B` is optional,
    /// spaces between number and unit are allowed, case is ignored except that
    /// `KB` and `KiB` differ by the `i`. Fractions are allowed (`1.5MiB`).
    ///
    /// - Parameter text: for example `4096`, `10KiB`, `1MB`, `2.5 G`.
    /// - Returns: the size in bytes (rounded down), or `nil` when `text` is not a size.
    public static func parse(_ text: String) -> UInt64? {
        let trimmed = text.trimmingSpaces()
        guard let split = trimmed.firstIndex(where: { !($0.isNumber || $0 == ".") }) else {
            return Double(trimmed).flatMap(checkedBytes)
        }
        guard let number = Double(trimmed[..<split]) else { return nil }
        let unit = trimmed[split...].trimmingSpaces().lowercased()
        let multipliers: [String: Double] = [
            "b": 1,
            "k": 1024, "kib": 1024, "kb": 1000,
            "m": 1_048_576, "mib": 1_048_576, "mb": 1e6,
            "g": 1_073_741_824, "gib": 1_073_741_824, "gb": 1e9,
            "t": 1_099_511_627_776, "tib": 1_099_511_627_776, "tb": 1e12,
        ]
        guard let multiplier = multipliers[unit] else { return nil }
        return checkedBytes(number * multiplier)
    }

    private static func checkedBytes(_ value: Double) -> UInt64? {
        guard value.isFinite, value >= 0, value < 1.8e19 else { return nil }
        return UInt64(value.rounded(.down))
    }

    /// C's (and Python's) `%` formatting of one double: both round the exact
    /// binary value half to even, which `String(format:)` does not promise.
    static func printf(_ format: String, _ value: Double) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        _ = withVaList([value]) { args in
            buffer.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, $0.count, format, args) }
        }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        String(drop(while: { $0.isWhitespace }).reversed().drop(while: { $0.isWhitespace }).reversed())
    }
}
