import Analysis
import ArgumentParser
import SnapshotReader

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// `memtrace`: tracemalloc for native Linux processes.
///
/// The root command only dispatches; each subcommand lives in `Subcommands/`
/// and is a thin layer over the `Analysis` library.
@main
struct Memtrace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memtrace",
        abstract:
            "Trace the heap of a native Linux program and rank, diff and summarise its snapshots.",
        discussion: """
            memtrace runs a program with libtrace.so preloaded; the tracer records the call stack of every \
            allocation and writes snapshots of the live heap (at exit, on a signal, periodically). The other \
            commands read snapshots the way Python's tracemalloc reads its own.

            Examples:
              memtrace run -- ./server --port 8080
              memtrace watch 4242
              memtrace top memtrace.server.4242.0.snap
              memtrace diff memtrace.server.4242.0.snap memtrace.server.4242.1.snap --fail-on-growth 1MiB
              memtrace run --interval 1 -- ./server && memtrace trend memtrace.server.*.snap
              memtrace report memtrace.server.*.snap -o report.html

            Shell completion: memtrace --generate-completion-script bash (or zsh, fish) prints a script; \
            for bash, save it as ~/.local/share/bash-completion/completions/memtrace.

            Output is coloured only on a terminal, and never when NO_COLOR is set (not empty).
            """,
        subcommands: [
            Run.self, Top.self, Diff.self, SummaryCommand.self, SnapshotCommand.self, Symbolize.self,
            Export.self, TrendCommand.self, Report.self, Check.self, Merge.self, Watch.self,
        ]
    )

    /// Parses and runs like `ParsableCommand.main()`, except that a bad
    /// snapshot or another expected failure prints one line and exits 2.
    static func main() {
        FileOutput.noteGivenDescriptors()
        do {
            var command = try parseAsRoot()
            // File names reach memtrace as strings, where a byte that is not UTF-8 would become
            // U+FFFD: another file read, or written over. (The program run is given its bytes.)
            let passthrough = (command as? Run)?.program.count ?? (command as? Check)?.program.count ?? 0
            if let (position, text) = RawArguments.firstNotUTF8(passthrough: passthrough) {
                fail("argument \(position) is not UTF-8 (\(text)): memtrace takes file names and other text in UTF-8")
            }
            try command.run()
        } catch let error as SnapshotError {
            fail(error.description)
        } catch let error as CLIError {
            fail(error.description, status: error.status)
        } catch let error as AnalysisError {  // snapshots that cannot be analysed together
            fail(error.description)
        } catch {
            exit(withError: error)
        }
    }

    /// Prints `message` (made to start with `memtrace: `) on one line to standard error and exits.
    static func fail(_ message: String, status: Int32 = 2) -> Never {
        let line = message.hasPrefix("memtrace: ") ? message : "memtrace: " + message
        printError(line.split(separator: "\n").joined(separator: " "))
        Glibc.exit(status)
    }
}

/// A failure the user caused or can fix, with a one-line message and an exit status.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    var status: Int32 = 2

    init(_ description: String, status: Int32 = 2) {
        self.description = description
        self.status = status
    }
}

/// Writes `text` and a newline to standard error.
func printError(_ text: String) {
    _ = FileOutput.writeAll(2, Array((text + "\n").utf8))
}

/// Writes `text` to standard output as is.
///
/// Output that cannot be written is not lost in silence: a reader that has gone (`| head`) ends
/// memtrace as SIGPIPE would (status 141, nothing printed); any other failure (a full disk,
/// `>&-`) is reported and exits 2.
func printOut(_ text: String) {
    printOut { emit in emit(text) }
}

/// Writes the pieces `produce` hands its argument to standard output as they are made (an
/// output too large to hold whole), as ``printOut(_:)`` writes one.
func printOut(pieces produce: (_ emit: (String) -> Void) -> Void) {
    produce { piece in
        guard let code = FileOutput.writeAll(1, Array(piece.utf8)) else { return }
        if code == EPIPE { Glibc.exit(128 + SIGPIPE) }
        Memtrace.fail("cannot write standard output: \(String(cString: strerror(code)))")
    }
}
