import Analysis
import ArgumentParser
import SnapshotReader

extension Memtrace {
    /// `memtrace merge`: one snapshot for many processes of one program.
    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Merge snapshots of several processes of one program into one, for a fleet-wide view.",
            discussion: """
                Stacks are matched by their symbolized frames (function, file, line, module file name), \
                not by addresses, so snapshots of processes loaded at different addresses, or taken on \
                different machines, add up. Figures and call counters are summed; the peak is the sum of \
                the processes' peaks. Of several snapshots of one process only the latest is merged: an \
                earlier one is the same heap at an earlier moment. OUT carries the frames of every stack (a \
                SYMBOLS section), so it is read without the binaries; it has no blocks, allocator statistics or timeline. Each input \
                is symbolized where it is read: symbolize snapshots on the machines that took them \
                (memtrace symbolize) before bringing them together.

                Examples:
                  memtrace merge worker-*.snap -o fleet.snap && memtrace top fleet.snap
                  memtrace merge host1/app.snap host2/app.snap -o both.snap
                  memtrace export fleet.snap --format pprof -o fleet.pb.gz
                """)

        @Argument(help: "The snapshots to merge.")
        var snapshots: [String] = []

        @Option(name: .shortAndLong, help: ArgumentHelp("The merged snapshot to write.", valueName: "OUT"))
        var output: String

        func validate() throws {
            try requireOutputName(output)
            if snapshots.isEmpty { throw ValidationError("Give the snapshots to merge.") }
            if snapshots.contains(where: { isSameFile(output, $0) }) {
                throw ValidationError("-o must name another file than the snapshots merged.")
            }
            if output == "-" && standardOutputIsTerminal {
                throw ValidationError("A snapshot is binary: give -o FILE or redirect standard output.")
            }
        }

        func run() throws {
            // A file given twice is read once (a damaged one gets its error once).
            let loaded = try loadResolved(distinctFiles(snapshots))
            if let repeated = repeatedFile(in: snapshots) {
                printError("memtrace: \(repeated) is given twice: it is merged once")
            }
            let (kept, leftOut) = SnapshotMerge.latestOfEachProcess(loaded)
            let merged = SnapshotMerge.merge(kept, path: output)
            // Figures of damaged inputs can add up past what a snapshot may hold: no file then.
            do {
                _ = try SnapshotFile.parse(SnapshotWriter.encode(merged), path: output)
            } catch {
                throw CLIError(
                    "\(output): not written: the snapshots add up to one that cannot be read (\(error.problem))")
            }
            try SnapshotWriter.write(merged, to: snapshotOutputPath(output))
            // Once written: a merge that fails says only why.
            if !leftOut.isEmpty {
                printError(
                    "memtrace: only the latest snapshot of each process is merged: \(leftOut.count) earlier "
                        + "\(leftOut.count == 1 ? "one" : "ones") of \(TextFormat.pids(leftOut)) left out")
            }
        }
    }
}
