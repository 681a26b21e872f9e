import Foundation
import SnapshotReader
import XCTest
import _MemtraceTestSupport

/// A C (or C++) program built with `-O2 -g` that reports program counters of known lines and its
/// own module map, so that a snapshot can be made by hand from what it printed.
struct Fixture {
    /// Source of the C program. Lines with `MARK:name` are looked up by ``line(_:)``.
    static let cSource = """
        #define _GNU_SOURCE
        #include <dlfcn.h>
        #include <elf.h>
        #include <link.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>

        void *volatile sink;

        __attribute__((noinline)) void *capture(void) {
            return __builtin_return_address(0);
        }

        static inline __attribute__((always_inline)) void *leaf_helper(int x) {
            void *r = capture(); /* MARK:leaf */
            sink = (void *)(long)x;
            return r;
        }

        static inline __attribute__((always_inline)) void *middle_helper(int x) {
            return leaf_helper(x + 1); /* MARK:middle */
        }

        __attribute__((noinline)) void *outer_function(int x) {
            void *r = middle_helper(x); /* MARK:outer */
            sink = r;
            return r;
        }

        __attribute__((noinline)) void *plain_function(void) {
            void *r = capture(); /* MARK:plain */
            sink = r;
            return r;
        }

        \(moduleMapSource)

        int main(void) {
            printf("pc inlined %lx\\n", (unsigned long)outer_function(1) - 1);
            printf("pc plain %lx\\n", (unsigned long)plain_function() - 1);
            printf("pc outer_function %lx\\n", (unsigned long)&outer_function);
            printf("pc plain_function %lx\\n", (unsigned long)&plain_function);
            printf("pc malloc %lx\\n", (unsigned long)dlsym(RTLD_DEFAULT, "malloc"));
            void *vdso = dlopen("linux-vdso.so.1", RTLD_LAZY | RTLD_NOLOAD);
            void *fn = vdso ? dlsym(vdso, "__vdso_clock_gettime") : NULL;
            printf("pc vdso_clock_gettime %lx\\n", (unsigned long)fn);
            dl_iterate_phdr(print_module, NULL);
            return 0;
        }
        """

    /// Source of the C++ program: a member function, a template inlined into it, a namespace.
    static let cppSource = """
        #include <link.h>
        #include <stdio.h>
        #include <string.h>

        extern "C" __attribute__((noinline)) void *capture(void) {
            return __builtin_return_address(0);
        }

        namespace shapes {
        void *volatile sink;

        template <typename T> inline __attribute__((always_inline)) void *twice(T value) {
            void *r = capture(); /* MARK:twice */
            sink = (void *)(long)(value * 2);
            return r;
        }

        class Circle {
          public:
            __attribute__((noinline)) void *grow(int by);
            int radius = 1;
        };

        void *Circle::grow(int by) {
            void *r = twice<int>(radius + by); /* MARK:grow */
            sink = r;
            return r;
        }
        }  // namespace shapes

        extern "C" {
        \(moduleMapSource)
        }

        int main() {
            shapes::Circle circle;
            printf("pc grow %lx\\n", (unsigned long)circle.grow(2) - 1);
            dl_iterate_phdr(print_module, NULL);
            return 0;
        }
        """

    /// `print_module`: prints every loaded module's path, load bias, PT_LOAD segments and build-id.
    static let moduleMapSource = """
        static int print_module(struct dl_phdr_info *info, size_t size, void *data) {
            (void)size; (void)data;
            printf("module %s\\n", info->dlpi_name[0] ? info->dlpi_name : "EXE");
            printf("bias %lx\\n", (unsigned long)info->dlpi_addr);
            for (int i = 0; i < info->dlpi_phnum; i++) {
                const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
                if (ph->p_type == PT_LOAD)
                    printf("segment %lx %lx %lx %x\\n", (unsigned long)(info->dlpi_addr + ph->p_vaddr),
                           (unsigned long)ph->p_memsz, (unsigned long)ph->p_offset, (unsigned)ph->p_flags);
                if (ph->p_type != PT_NOTE) continue;
                const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
                while (p + sizeof(ElfW(Nhdr)) <= end) {
                    const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
                    const char *name = p + sizeof(*n);
                    const unsigned char *desc = (const unsigned char *)name + ((n->n_namesz + 3) & ~3u);
                    if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                        printf("buildid ");
                        for (unsigned j = 0; j < n->n_descsz; j++) printf("%02x", desc[j]);
                        printf("\\n");
                    }
                    p = (const char *)desc + ((n->n_descsz + 3) & ~3u);
                }
            }
            return 0;
        }
        """

    /// The source file, as compiled (an absolute path, so DWARF records it as is).
    var source: String
    /// The executable.
    var executable: String
    /// Named program counters and addresses the program printed.
    var pcs: [String: UInt64] = [:]
    /// The module map the program printed; the executable's path is `executable`.
    var modules: [Snapshot.Module] = []

    /// Writes `source` to `directory`, builds it with `-O2 -g` and runs it.
    init(
        source text: String, name: String, in directory: URL, cplusplus: Bool = false, flags: [String] = [],
        compiler: String? = nil, compiledAs alias: String? = nil
    ) throws {
        source = directory.appendingPathComponent(name + (cplusplus ? ".cpp" : ".c")).path
        try text.write(toFile: source, atomically: false, encoding: .utf8)
        executable = try compile(
            source: alias ?? source, output: name, in: directory, cplusplus: cplusplus,
            flags: ["-O2", "-fno-optimize-sibling-calls", "-ldl"] + flags, compiler: compiler)
        let result = try runProcess(executable)
        guard result.status == 0 else { throw SupportError("\(executable) failed: \(result.stderrText)") }
        for line in result.stdoutText.split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            switch fields.first {
            case "pc":
                pcs[fields[1]] = UInt64(fields[2], radix: 16)
            case "module":
                let path = fields[1] == "EXE" ? executable : fields[1]
                modules.append(Snapshot.Module(path: path, buildID: [], loadBias: 0, segments: []))
            case "bias":
                modules[modules.count - 1].loadBias = UInt64(fields[1], radix: 16)!
            case "segment":
                let numbers = fields.dropFirst().map { UInt64($0, radix: 16)! }
                modules[modules.count - 1].segments.append(
                    Snapshot.Segment(
                        start: numbers[0], size: numbers[1], fileOffset: numbers[2], flags: UInt32(numbers[3])))
            case "buildid":
                modules[modules.count - 1].buildID = Fixture.bytes(hex: fields[1])
            default:
                break
            }
        }
    }

    /// The line of `source` holding `MARK:name`.
    func line(_ mark: String) throws -> Int {
        let lines = try String(contentsOfFile: source, encoding: .utf8).split(
            separator: "\n", omittingEmptySubsequences: false)
        guard let index = lines.firstIndex(where: { $0.contains("MARK:\(mark) ") }) else {
            throw SupportError("no MARK:\(mark) in \(source)")
        }
        return index + 1
    }

    /// The program counter printed as `pc NAME`.
    func pc(_ name: String) throws -> UInt64 {
        guard let pc = pcs[name], pc != 0 else { throw SupportError("the fixture printed no pc \(name)") }
        return pc
    }

    /// The module the program printed under `path` (the executable's is `executable`).
    func module(_ path: String) throws -> Snapshot.Module {
        guard let module = modules.first(where: { $0.path == path }) else {
            throw SupportError("the fixture printed no module \(path)")
        }
        return module
    }

    /// A snapshot holding `modules` and one stack of `pcs`.
    static func snapshot(modules: [Snapshot.Module], pcs: [UInt64] = []) -> Snapshot {
        Snapshot(
            path: "test.snap",
            header: Snapshot.Header(
                version: 2, flags: 0, framesLimit: 64, pid: 1, ppid: 0, startTimeNs: 0, snapshotTimeNs: 0,
                sequence: 0, trigger: .exit),
            process: [:], totals: Snapshot.Totals(), modules: modules,
            stacks: [Snapshot.Stack(pcs: pcs, trueDepth: UInt32(pcs.count))], stackStats: [], blocks: nil,
            allocator: nil)
    }

    static func bytes(hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex), index != hex.endIndex {
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }
}
