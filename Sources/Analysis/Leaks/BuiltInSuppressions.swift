extension LeakSuppression {
    /// Rules for memory that libc, the dynamic loader and libstdc++ allocate for themselves and keep
    /// until the process ends, so that a program without leaks gets a clean report.
    ///
    /// Each was found by checking programs that leak nothing (`sqlite3` running a script, `python3
    /// -c pass`, Tests/LeakTests/Corpus/clean-libc.c and clean-cxx.cpp, which make libc and
    /// libstdc++ set up everything they keep) with `--kinds all` and reading what the report still
    /// showed; docs/leaks.md lists them. Most are "still reachable" blocks; the loader's
    /// thread-vector (DTV) blocks are not, because glibc keeps the control blocks of finished
    /// threads in its cache of thread stacks, which the scan does not treat as a root. Several rules
    /// name libc's internal functions, which appear in stacks only when libc's debugging
    /// information (Debian's libc6-dbg) is installed. `memtrace check --no-builtin-suppressions`
    /// turns them all off.
    public static let builtIn: [LeakSuppression] = [
        // The dynamic loader: link maps, scopes, TLS vectors and blocks, dl_find_object tables.
        rule(
            "ld-linux", innermost: "ld-linux",
            "what the dynamic loader allocates itself (link maps, TLS vectors of cached thread stacks)"),
        rule("__tls_get_addr", "dynamic TLS blocks, reached only through a thread's TLS vector"),
        // libc.
        rule("_IO_file_doallocate", innermost: "_IO_file_doallocate", "stdio buffers of open streams"),
        rule("setlocale", "locale data, names and aliases that setlocale loads and keeps"),
        rule("__wcsmbs_load_conv", "the locale's cached multibyte conversion functions"),
        rule("tzset", "the time zone, read once (tzset, localtime, mktime)"),
        rule("__tz_convert", "the time zone, read once (tzset, localtime, mktime)"),
        rule("__nss_", "NSS modules and configuration (getpwuid, getaddrinfo…)"),
        rule("nss_database", "NSS modules and configuration (getpwuid, getaddrinfo…)"),
        rule("^getpw", innermost: "^getpw", "the static result buffers of getpwnam, getpwuid, getpwent"),
        rule("^getgr", innermost: "^getgr", "the static result buffers of getgrnam, getgrgid, getgrent"),
        rule("^gethostby", innermost: "^gethostby", "the static result buffers of gethostbyname, gethostbyaddr"),
        rule("^getservby", innermost: "^getservby", "the static result buffers of getservbyname, getservbyport"),
        rule("^getprotoby", innermost: "^getprotoby", "the static result buffers of getprotobyname"),
        rule("__new_exitfn", "atexit handler lists beyond the first 32"),
        rule("__cxa_atexit", "atexit handler lists beyond the first 32"),
        rule("strerror", "strerror's per-thread message buffer for unknown errors"),
        rule("__dcigettext", "message catalogues gettext looked up (strerror and perror translate)"),
        rule("dlerror", "dlerror's per-thread message buffer"),
        rule("__add_to_environ", "the environment setenv and putenv grow, and the strings setenv copies"),
        rule("textdomain", "message domains and their bindings (textdomain, bindtextdomain)"),
        rule(
            "newlocale", outer: true,
            "locale data newlocale loads and keeps for the next newlocale"),
        rule("__resolv_conf", "the resolver's configuration, read once (getaddrinfo…)"),
        rule("__check_pf", "the addresses of the host's interfaces getaddrinfo keeps"),
        // libstdc++.
        rule(
            "_dl_init", innermost: "libstdc++",
            "libstdc++'s own start-up allocations, such as the emergency exception pool"),
        rule("pool::pool", innermost: "pool::pool", "libstdc++'s emergency exception pool"),
        rule(
            "_GLOBAL__sub_I_eh_alloc", innermost: "_GLOBAL__sub_I_eh_alloc",
            "the same pool in a program linked with -static-libstdc++"),
        rule("sync_with_stdio", "the stream buffers std::ios_base::sync_with_stdio(false) installs"),
    ]

    private static func rule(
        _ pattern: String, innermost: String? = nil, outer: Bool = false, _ reason: String
    )
        -> LeakSuppression
    {
        LeakSuppression(pattern: pattern, innermost: innermost, outer: outer, origin: "built-in", reason: reason)
    }
}
