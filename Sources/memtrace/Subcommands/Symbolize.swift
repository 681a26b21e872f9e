import ArgumentParser
import SnapshotReader
import Symbolizer

extension Memtrace {
    /// `memtrace symbolize`: embeds symbols so the snapshot can travel.
    struct Symbolize: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Store the frames of every address in a copy of the snapshot, for analysis on another machine.",
            discussion: """
                Resolves every address of the snapshot's stacks with the binaries and debug information on \
                this machine and writes a copy of the snapshot with a SYMBOLS section. top, diff and summary \
                use those frames instead of the binaries, so the copy can be analysed where the traced \
                program is not installed. OUT is written atomically; it may not be SNAP itself.

                Examples:
                  memtrace symbolize app.snap -o app.symbolized.snap
                  scp app.symbolized.snap elsewhere: && ssh elsewhere memtrace top app.symbolized.snap
                """)

        @Argument(help: "The snapshot file.")
        var snapshot: String

        @Option(name: .shortAndLong, help: ArgumentHelp("The file to write.", valueName: "OUT"))
        var output: String

        func validate() throws {
            try requireOutputName(output)
            if isSameFile(output, snapshot) {
                throw ValidationError("-o must name another file than the snapshot.")
            }
            if output == "-" && standardOutputIsTerminal {
                throw ValidationError("A snapshot is binary: give -o FILE or redirect standard output.")
            }
        }

        func run() throws {
            var data = try SnapshotFile.read(path: snapshot)
            let symbolizer = Symbolizer(snapshot: data)
            data.symbols = symbolizer.symbolTable(progress: Symbolizer.terminalProgress())
            printWarnings(of: symbolizer)
            try SnapshotWriter.write(data, to: snapshotOutputPath(output))
        }
    }
}
