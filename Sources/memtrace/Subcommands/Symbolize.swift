import ArgumentParser

extension Memtrace {
  /// `memtrace symbolize`: embeds symbols so the snapshot can travel.
  struct Symbolize: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Store the frames of every address in a copy of the snapshot, for analysis on another machine.",
      discussion: """
        Example:
          memtrace symbolize app.snap -o app.symbolized.snap
        """)

    @Argument(help: "The snapshot file.")
    var snapshot: String

    @Option(name: .shortAndLong, help: ArgumentHelp("The file to write.", valueName: "OUT"))
    var output: String

    func run() throws {
      throw CLIError("symbolize is not available yet", status: 1)
    }
  }
}
