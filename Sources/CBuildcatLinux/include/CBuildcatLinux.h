// Linux calls that glibc declares only under _GNU_SOURCE, so Swift's Glibc module does not see
// them. Each wrapper returns what the system call returns and leaves errno set.
#ifndef CBUILDCAT_LINUX_H
#define CBUILDCAT_LINUX_H

#include <stdint.h>
#include <sys/types.h>
#include <pthread.h>

/// copy_file_range(2): copy up to `length` bytes between two descriptors inside the kernel.
ssize_t buildcat_copy_file_range(int fd_in, int fd_out, size_t length);

/// renameat2(2) with RENAME_NOREPLACE: fails with EEXIST instead of replacing `new_path`.
int buildcat_rename_noreplace(int old_dirfd, const char *old_path, int new_dirfd, const char *new_path);

/// ioctl(FICLONE): make `dest_fd` share `src_fd`'s blocks (a reflink) where the file system can.
int buildcat_ficlone(int dest_fd, int src_fd);

/// open(2) with O_TMPFILE: an unnamed file in `directory` that vanishes if never linked.
int buildcat_open_tmpfile(const char *directory, mode_t mode);

/// linkat(2) of an O_TMPFILE descriptor to a name; fails with EEXIST if the name exists.
int buildcat_link_tmpfile(int fd, int dirfd, const char *name);

/// posix_fadvise(POSIX_FADV_SEQUENTIAL) on the whole file; errors are ignored by callers.
int buildcat_advise_sequential(int fd);

/// syncfs(2): flush every file of the file system holding `fd` in one go (one journal commit
/// instead of one per fsync).
int buildcat_syncfs(int fd);

/// sync_file_range(2) with SYNC_FILE_RANGE_WRITE: start writing a file's dirty pages back now,
/// without waiting, so that a later fsync or syncfs has less to wait for.
int buildcat_start_writeback(int fd);

/// Starts a thread running `body(argument)` on a processor other than the calling thread's (when
/// the process may run on more than one), free to move to any once it runs: a new thread is
/// otherwise queued on its creator's processor (see `UrgentThreads`). It blocks every signal,
/// leaving them to the threads that wait for them. pthread_create's result.
int buildcat_start_thread_elsewhere(pthread_t *thread, void *(*body)(void *), void *argument);

/// Holds the calling thread to processor `cpu`, as `taskset` holds a program (for tests of
/// `buildcat_start_thread_elsewhere`). sched_setaffinity's result.
int buildcat_hold_to_processor(int cpu);

/// The number of processors this process may run on (sched_getaffinity(2)), at least 1.
int buildcat_processor_count(void);

/// open(2) of a directory with O_PATH: a handle for the *at calls, which needs only search
/// permission on the directory, as a stat through it would.
int buildcat_open_directory_path(const char *path);

/// How far malloc grows a heap when it runs out (M_TOP_PAD).
void buildcat_set_heap_growth(size_t bytes);

/// Asks for transparent huge pages (madvise) for the free space of the calling thread's malloc
/// heap, once a thread.
void buildcat_advise_huge_heap(void);

/// Starts `path` (searched on PATH when it has no slash) with `argv` and `envp` as a child that
/// cannot outlive its parent: its own process group, an empty signal mask and default signal
/// actions, stdin from /dev/null, stdout and stderr on `output_fd`, and PR_SET_PDEATHSIG
/// `death_signal` (SIGKILL for a renderer: a worker killed outright must not leave one writing
/// frames behind it; SIGTERM for a supervised worker, which then finishes its job).
/// Returns the child's pid, or -1 with errno set (also when the program cannot be executed:
/// the child reports execve's errno through a close-on-exec pipe).
pid_t buildcat_spawn_guarded(const char *path, char *const argv[], char *const envp[], int output_fd, int death_signal);

/// A lock for critical sections of well under a microsecond shared by a few busy threads (see
/// `ShortLock`): 0 free, 1 held, 2 held with a thread asleep on it. A thread that finds it
/// held spins a while, then sleeps on a plain futex; the one that frees it wakes one sleeper,
/// which then competes for it like any other thread (the lock is never handed over).
typedef struct { uint32_t word; } buildcat_short_lock;

void buildcat_short_lock_acquire_contended(buildcat_short_lock *lock);
void buildcat_short_lock_wake(buildcat_short_lock *lock);

static inline void buildcat_short_lock_acquire(buildcat_short_lock *lock) {
    uint32_t expected = 0;
    if (__atomic_compare_exchange_n(&lock->word, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) return;
    buildcat_short_lock_acquire_contended(lock);
}

static inline void buildcat_short_lock_release(buildcat_short_lock *lock) {
    if (__atomic_exchange_n(&lock->word, 0, __ATOMIC_RELEASE) == 2) buildcat_short_lock_wake(lock);
}

#endif
