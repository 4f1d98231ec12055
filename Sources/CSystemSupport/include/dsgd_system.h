#ifndef DSGD_SYSTEM_H
#define DSGD_SYSTEM_H
#include <sys/types.h>

/// Asks the kernel to send `sig` to this process when its parent dies (Linux; 0 elsewhere, -1 on error).
int dsgd_set_parent_death_signal(int sig);

/// Unblocks SIGINT, SIGTERM and SIGHUP in this thread's signal mask (a parent may have blocked them).
void dsgd_unblock_termination_signals(void);

/// Installs `handler` for SIGINT, SIGTERM and SIGHUP (no SA_RESTART, so blocking calls return EINTR)
/// and ignores SIGPIPE.
void dsgd_install_termination_handler(void (*handler)(int));

/// Spawns `path` with `argv`/`envp` (NULL-terminated). The child gets default signal dispositions
/// and an empty signal mask. If `stdout_fd` (`stderr_fd`) >= 0 it becomes the child's standard
/// output (error). Returns the pid, or -errno on failure.
pid_t dsgd_spawn(const char *path, char *const argv[], char *const envp[], int stdout_fd, int stderr_fd);

/// Keeps large heap blocks (up to 32 MiB) in the heap instead of fresh mmap regions, and stops
/// glibc from returning freed memory to the kernel after every large free. libzmq allocates a
/// buffer per received message; without this each multi-megabyte message page-faults afresh.
void dsgd_tune_malloc_for_large_messages(void);

/// Decodes a waitpid status: the exit code, or 128 + the signal number if it was killed.
int dsgd_exit_code(int status);

#endif
