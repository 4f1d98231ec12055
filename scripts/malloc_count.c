/* An LD_PRELOAD shim for scripts/bench-allocs: counts heap allocations (malloc, calloc, realloc,
 * posix_memalign, aligned_alloc, memalign) made on each process's main thread, where dsgd's
 * coordinator and worker loops run (libzmq's own I/O threads are not counted). At exit it appends
 * "<subcommand> <pid> <count>" to the file named by DSGD_MALLOC_COUNT_FILE. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static unsigned long long main_thread_allocations;
static __thread int on_main = -1;

static inline void count(void) {
    if (on_main < 0) on_main = (syscall(SYS_gettid) == getpid());
    if (on_main) __atomic_add_fetch(&main_thread_allocations, 1, __ATOMIC_RELAXED);
}

void *malloc(size_t n) { count(); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { count(); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { count(); return __libc_realloc(p, n); }
void *memalign(size_t a, size_t n) { count(); return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { count(); return __libc_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
    count();
    void *p = __libc_memalign(a, n);
    if (!p) return 12; /* ENOMEM */
    *out = p;
    return 0;
}

__attribute__((destructor)) static void report(void) {
    const char *path = getenv("DSGD_MALLOC_COUNT_FILE");
    if (!path) return;
    char role[64] = "?";
    FILE *c = fopen("/proc/self/cmdline", "r");
    if (c) {
        char buf[512];
        size_t n = fread(buf, 1, sizeof buf - 1, c);
        fclose(c);
        buf[n] = 0;
        size_t first = strlen(buf);
        if (first + 1 < n) snprintf(role, sizeof role, "%s", buf + first + 1);
    }
    unsigned long long total = main_thread_allocations;
    FILE *f = fopen(path, "a");
    if (f) {
        fprintf(f, "%s %d %llu\n", role, (int)getpid(), total);
        fclose(f);
    }
}
