import Foundation

extension Symbolizer {
    /// A progress handler that draws `memtrace: symbolizing 1234/50000 frames (2%)` on standard
    /// error, or nil when standard error is not a terminal.
    ///
    /// Nothing is drawn until `delay` has passed, so quick runs stay quiet; the line is erased
    /// when the work is done. The command-line tool decides whether to pass it.
    /// - Parameters:
    ///   - label: what is being done, as the line shows it.
    ///   - delay: seconds of silence before the first line.
    /// - Returns: a handler for ``resolve(_:progress:)``, or nil when `isatty(2)` is false.
    public static func terminalProgress(label: String = "symbolizing", delay: Double = 0.5) -> ProgressHandler? {
        guard isatty(2) != 0 else { return nil }
        let start = monotonicSeconds()
        var lastDrawn = -1.0
        var drawn = false
        return { done, total in
            if done >= total {
                if drawn { writeStandardError("\r\u{1B}[K") }
                return
            }
            let now = monotonicSeconds()
            guard now - start >= delay, now - lastDrawn >= 0.1 else { return }
            lastDrawn = now
            drawn = true
            let percent = total > 0 ? done * 100 / total : 0
            writeStandardError("\r\u{1B}[Kmemtrace: \(label) \(done)/\(total) frames (\(percent)%)")
        }
    }

    private static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    private static func writeStandardError(_ text: String) {
        var bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + written, $0.count - written) }
            if count <= 0 { return }
            written += count
        }
    }
}
