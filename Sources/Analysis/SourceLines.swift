import Foundation
import SnapshotReader
import Symbolizer

/// The source line a frame names, read from the file on this machine, as tracemalloc's
/// `Traceback.format()` shows each frame's line of Python.
///
/// Files are read once each and kept; a file that cannot be read, is not a regular file (a
/// snapshot may name `/dev/stdin` or a FIFO, which would wait for input), is larger than 16 MiB
/// or has fewer lines than asked gives no line, and neither does a line of only white space.
///
/// Only what looks like source is read (``isSource(_:)``): the file names come from the
/// snapshot, and a report made from someone else's must not carry lines of this machine's
/// `/proc/self/environ`, `~/.ssh/id_ed25519` or `~/.netrc`: both the name the snapshot gives
/// and the file it comes to once `..` and symbolic links are resolved must look like source.
public final class SourceLines {
    private var files: [String: [Substring]?] = [:]
    private struct Place: Hashable {
        var path: String
        var line: Int
    }
    /// Each line as given, once made: a traceback of every stack asks for the same few lines
    /// again and again (2.8 million times for 20 lines: 30 s of trimming and escaping).
    private var made: [Place: String?] = [:]
    private static let maximumFileSize = 16 << 20

    public init() {}

    /// The frame's source line, without its leading and trailing white space; nil when unknown.
    public func text(of frame: Frame) -> String? {
        guard frame.line > 0, let path = frame.sourcePath else { return nil }
        let place = Place(path: path, line: frame.line)
        if let known = made[place] { return known }
        let text = make(path: path, line: frame.line)
        made[place] = .some(text)
        return text
    }

    private func make(path: String, line: Int) -> String? {
        // A name with control characters is shown, and so given here, escaped.
        let unescaped = path.contains("\\") ? Self.unescapingControlCharacters(path) : path
        guard let lines = lines(of: path) ?? (unescaped != path ? lines(of: unescaped) : nil),
            line <= lines.count
        else { return nil }
        let text = lines[line - 1].trimmingCharacters(in: .whitespacesAndNewlines)
        // Tabs kept; any other control character (a terminal's escape sequences) written as an escape.
        return text.isEmpty
            ? nil
            : text.split(separator: "\t", omittingEmptySubsequences: false)
                .map { String($0).escapingControlCharacters }.joined(separator: "\t")
    }

    /// `text` with the escapes `escapingControlCharacters` writes (`\\n`, `\\t`, `\\r`, `\\x1b`,
    /// `\\u{202e}`) turned back into their characters; any other backslash stays.
    public static func unescapingControlCharacters(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        let scalars = Array(text.unicodeScalars)
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            index += 1
            guard scalar == "\\", index < scalars.count else {
                out.append(scalar)
                continue
            }
            func hex(_ digits: ArraySlice<Unicode.Scalar>) -> Unicode.Scalar? {
                UInt32(String(String.UnicodeScalarView(digits)), radix: 16).flatMap(Unicode.Scalar.init)
            }
            switch scalars[index] {
            case "n", "t", "r":
                out.append(scalars[index] == "n" ? "\n" : scalars[index] == "t" ? "\t" : "\r")
                index += 1
            case "x" where index + 2 < scalars.count && hex(scalars[(index + 1)..<(index + 3)]) != nil:
                out.append(hex(scalars[(index + 1)..<(index + 3)])!)
                index += 3
            case "u" where index + 1 < scalars.count && scalars[index + 1] == "{":
                if let close = scalars[(index + 2)...].firstIndex(of: "}"), close - index <= 8,
                    let value = hex(scalars[(index + 2)..<close])
                {
                    out.append(value)
                    index = close + 1
                } else {
                    out.append(scalar)
                }
            default:
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// Source file name endings: C, C++ (and its modules), Objective-C, Swift, Rust, Go, Zig, D,
    /// Fortran, CUDA, assembly, preprocessed output, lex and yacc (and flex's, bison's, re2c's,
    /// Ragel's and gperf's inputs), and the preprocessor's includes.
    static let sourceExtensions: Set<String> = [
        "c", "h", "cc", "cp", "cpp", "cxx", "c++", "hh", "hpp", "hxx", "h++", "ipp", "tpp", "tcc", "txx",
        "inl", "inc", "def", "cppm", "ixx", "m", "mm", "swift", "rs", "go", "zig", "d", "f", "for", "f90",
        "f95", "f03", "f08", "cu", "cuh", "s", "sx", "asm", "i", "ii", "l", "ll", "y", "yy", "ypp", "re",
        "rl", "gperf",
    ]

    /// Whether `path` names something a compiler reads: a file with a source ending, or one
    /// without any in an `include` directory (C++'s `<vector>`), and nothing under `/proc`,
    /// `/sys` or `/dev` (but `/dev/shm`, where builds may live).  Only the name is looked at:
    /// ``text(of:)`` asks it of the resolved path too.
    public static func isSource(_ path: String) -> Bool {
        for system in ["/proc/", "/sys/", "/dev/"] where path.hasPrefix(system) && !path.hasPrefix("/dev/shm/") {
            return false
        }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else {
            return !name.hasPrefix(".") && path.contains("/include/")
        }
        return sourceExtensions.contains(name[name.index(after: dot)...].lowercased())
    }

    private func lines(of path: String) -> [Substring]? {
        if let known = files[path] { return known }
        // The file itself, not `/usr/include/../../proc/self/environ` or a `vector.h` linked to a key.
        guard Self.isSource(path), let real = realpath(path, nil) else {
            files[path] = .some(nil)
            return nil
        }
        let resolved = String(cString: real)
        free(real)
        guard Self.isSource(resolved) else {
            files[path] = .some(nil)
            return nil
        }
        var lines: [Substring]?
        // Not blocking in open (a FIFO without a writer), and only a regular file is read.
        let fd = open(resolved, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW)  // resolved: no link is left
        var info = stat()
        if fd >= 0, fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG {
            let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
            if let data = try? handle.read(upToCount: Self.maximumFileSize + 1), data.count <= Self.maximumFileSize {
                let text = String(decoding: data, as: UTF8.self)
                lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            }
        } else if fd >= 0 {
            close(fd)
        }
        files[path] = lines
        return lines
    }
}
