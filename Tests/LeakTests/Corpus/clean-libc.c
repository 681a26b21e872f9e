/*
 * A program that leaks nothing of its own but makes libc and the loader
 * allocate what they keep until exit: stdio buffers, the locale, the time
 * zone, NSS (getpwuid), wide-character conversion, strerror's buffer, more
 * atexit handlers than fit the static list, dlopen/dlclose, threads, the
 * environment (setenv, putenv), message domains (bindtextdomain), a locale
 * object (newlocale), the resolver (getaddrinfo of localhost).
 * With the built-in suppressions, memtrace check reports nothing here, of
 * any kind.
 *
 * EXPECT clean
 */
#include <dlfcn.h>
#include <libintl.h>
#include <locale.h>
#include <netdb.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

static void nothing(void) {}

static void *worker(void *arg) {
    char line[64];
    snprintf(line, sizeof line, "thread %ld", (long)(size_t)arg);
    void *scratch = malloc(100);
    free(scratch);
    return NULL;
}

int main(void) {
    setlocale(LC_ALL, "C.UTF-8");
    printf("clean-libc: %s\n", "stdout is buffered");
    fprintf(stderr, "clean-libc: stderr is not\n");
    time_t now = time(NULL);
    struct tm parts;
    localtime_r(&now, &parts);
    char stamp[64];
    strftime(stamp, sizeof stamp, "%c", &parts);
    struct passwd *user = getpwuid(getuid());
    printf("clean-libc: user %s at %s\n", user ? user->pw_name : "?", stamp);
    wchar_t wide[32];
    mbstowcs(wide, "h\xc3\xa9llo", 32);
    printf("clean-libc: %s\n", strerror(12345));
    for (int i = 0; i < 40; i++) atexit(nothing);
    setenv("CLEAN_LIBC", "1", 1);
    putenv("CLEAN_LIBC_PUT=1");
    bindtextdomain("clean-libc", "/usr/share/locale");
    textdomain("clean-libc");
    void *libm = dlopen("libm.so.6", RTLD_NOW);
    if (libm) {
        double (*cosine)(double) = (double (*)(double))dlsym(libm, "cos");
        printf("clean-libc: cos(0) = %g\n", cosine ? cosine(0) : -1);
        dlclose(libm);
    }
    locale_t utf8 = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
    if (utf8) freelocale(utf8);
    struct addrinfo *local = NULL;
    if (getaddrinfo("localhost", "80", NULL, &local) == 0) freeaddrinfo(local);
    pthread_t threads[4];
    for (long i = 0; i < 4; i++) pthread_create(&threads[i], NULL, worker, (void *)i);
    for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);
    return 0;
}
