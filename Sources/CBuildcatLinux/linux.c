#include "CBuildcatLinux.h"
#include <CBuildcatBytes.h>

#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdatomic.h>

ssize_t buildcat_copy_file_range(int fd_in, int fd_out, size_t length) {
    return copy_file_range(fd_in, NULL, fd_out, NULL, length, 0);
}

int buildcat_rename_noreplace(int old_dirfd, const char *old_path, int new_dirfd, const char *new_path) {
    return renameat2(old_dirfd, old_path, new_dirfd, new_path, RENAME_NOREPLACE);
}

int buildcat_ficlone(int dest_fd, int src_fd) {
    return ioctl(dest_fd, FICLONE, src_fd);
}

int buildcat_open_tmpfile(const char *directory, mode_t mode) {
    return open(directory, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
}

int buildcat_link_tmpfile(int fd, int dirfd, const char *name) {
    // linkat(fd, "", ..., AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the /proc path does not.
    char proc_path[64];
    snprintf(proc_path, sizeof proc_path, "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, proc_path, dirfd, name, AT_SYMLINK_FOLLOW);
}

int buildcat_advise_sequential(int fd) {
    return posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
}

int buildcat_processor_count(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
}

int buildcat_syncfs(int fd) {
    return syncfs(fd);
}

int buildcat_start_writeback(int fd) {
    return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

pid_t buildcat_spawn_guarded(const char *path, char *const argv[], char *const envp[], int output_fd, int death_signal) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(report[0]);
        close(report[1]);
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        // Only async-signal-safe calls from here on.
        prctl(PR_SET_PDEATHSIG, death_signal);
        if (getppid() != parent) _exit(127);  // the parent died before the line above
        setpgid(0, 0);
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = SIG_DFL;
        for (int signal = 1; signal < NSIG; signal++) sigaction(signal, &action, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int null_fd = open("/dev/null", O_RDONLY);
        if (null_fd >= 0) { dup2(null_fd, 0); if (null_fd != 0) close(null_fd); }
        dup2(output_fd, 1);
        dup2(output_fd, 2);
        if (strchr(path, '/') != NULL) execve(path, argv, envp); else execvpe(path, argv, envp);
        int error = errno;
        (void)!write(report[1], &error, sizeof error);
        _exit(127);
    }
    close(report[1]);
    int error = 0;
    ssize_t got;
    do { got = read(report[0], &error, sizeof error); } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof error) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        errno = error;
        return -1;
    }
    return pid;
}

void buildcat_set_heap_growth(size_t bytes) {
    mallopt(M_TOP_PAD, (int)bytes);
}

/// The blocks that fill up the rest of a heap's first huge page (below), linked through their
/// first word from here: never freed, and reachable, so that a leak checker (the fuzzers'
/// LeakSanitizer) does not report them.
static _Atomic(void *) held_fillers;

static void hold_filler(void *block) {
    void *head = atomic_load(&held_fillers);
    do { *(void **)block = head; } while (!atomic_compare_exchange_weak(&held_fillers, &head, block));
}

void buildcat_advise_huge_heap(void) {
    // Once a thread: a thread keeps the heap (arena) it first allocated from.
    static __thread int advised;
    if (advised) return;
    advised = 1;
    // A block just under malloc's mmap threshold comes from this thread's heap, which grows
    // (by the heap growth set above) when its free top is short.
    const size_t probeSize = 120 << 10;
    const uintptr_t huge = 2 << 20;
    char *probe = malloc(probeSize);
    if (probe == NULL) return;
    char *brk = sbrk(0);
    if (brk != (char *)-1 && probe < brk) {
        // The main heap, below the program break: its free top, from the first whole huge page.
        char *start = (char *)(((uintptr_t)probe + probeSize + huge - 1) & ~(huge - 1));
        if (start < brk) madvise(start, (size_t)(brk - start), MADV_HUGEPAGE);
    } else {
        // Another thread's heap: glibc maps each at an address aligned to its largest size,
        // 64 MiB on 64-bit systems (HEAP_MAX_SIZE), and grows it inside that mapping.
        const uintptr_t heapSize = (uintptr_t)64 << 20;
        madvise((void *)((uintptr_t)probe & ~(heapSize - 1)), heapSize, MADV_HUGEPAGE);
    }
    free(probe);
    // The huge page the heap's free top starts in was touched in small pages before the advice
    // (the heap's own records, the thread's first allocations), so the system backs the rest of
    // it with small pages too, faulted one by one. Blocks up to the next huge page take that
    // rest out of use: address space only (never touched but for malloc's headers and the link
    // that keeps each reachable), never freed.
    char *filler = malloc(64 << 10);
    uintptr_t boundary = ((uintptr_t)filler + huge - 1) & ~(huge - 1);
    for (int block = 0; filler != NULL && (uintptr_t)filler + (64 << 10) < boundary && block < 40; block++) {
        hold_filler(filler);
        filler = malloc(64 << 10);
    }
    if (filler != NULL) hold_filler(filler);
}

int buildcat_open_directory_path(const char *path) {
    return open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/// What a thread started elsewhere runs, and the processors it may use once running.
struct elsewhere_start {
    void *(*body)(void *);
    void *argument;
    /// Whether it was started on fewer processors than `allowed`, to be given them back.
    int narrowed;
    cpu_set_t allowed;
};

static void *run_elsewhere(void *pointer) {
    struct elsewhere_start start = *(struct elsewhere_start *)pointer;
    free(pointer);
    // Signals are for the threads that wait for them (a worker's SIGTERM), as in Dispatch's
    // threads: one that reached this thread would take its default action, ending the process.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    // Placed; from now on free to move like its maker (no further: a `taskset` still holds).
    if (start.narrowed) sched_setaffinity(0, sizeof start.allowed, &start.allowed);
    return start.body(start.argument);
}

int buildcat_start_thread_elsewhere(pthread_t *thread, void *(*body)(void *), void *argument) {
    struct elsewhere_start *start = malloc(sizeof *start);
    if (start == NULL) return ENOMEM;
    start->body = body;
    start->argument = argument;
    start->narrowed = 0;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    int current = sched_getcpu();
    if (sched_getaffinity(0, sizeof start->allowed, &start->allowed) == 0 && current >= 0 && CPU_ISSET(current, &start->allowed)
        && CPU_COUNT(&start->allowed) > 1) {
        cpu_set_t others = start->allowed;
        CPU_CLR(current, &others);
        start->narrowed = pthread_attr_setaffinity_np(&attributes, sizeof others, &others) == 0;
    }
    int result = pthread_create(thread, &attributes, run_elsewhere, start);
    if (result != 0 && start->narrowed) {
        // Refused with the narrower set (a container's rules, say): started as any thread is.
        start->narrowed = 0;
        result = pthread_create(thread, NULL, run_elsewhere, start);
    }
    pthread_attr_destroy(&attributes);
    if (result != 0) free(start);
    return result;
}

int buildcat_hold_to_processor(int cpu) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return sched_setaffinity(0, sizeof one, &one);
}

void buildcat_short_lock_acquire_contended(buildcat_short_lock *lock) {
    // 2,000 pauses, about 50 us on this project's VMs (a pause is ~25 ns on their AMD EPYC):
    // many times the longest critical section, no longer than a sleeping thread takes to wake
    // there (50-100 us). A thread spins that long only when the holder was preempted.
    for (int spins = 0; spins < 2000; spins++) {
        buildcat_spin_pause();
        uint32_t expected = 0;
        if (__atomic_load_n(&lock->word, __ATOMIC_RELAXED) == 0 &&
            __atomic_compare_exchange_n(&lock->word, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) return;
    }
    // Marked as slept on (2) before sleeping; taken as 2 too, as another thread may sleep still.
    while (__atomic_exchange_n(&lock->word, 2, __ATOMIC_ACQUIRE) != 0)
        syscall(SYS_futex, &lock->word, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
}

void buildcat_short_lock_wake(buildcat_short_lock *lock) {
    syscall(SYS_futex, &lock->word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
