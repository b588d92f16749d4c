/* Torture targets for the leakhound agent (crates/native/tests/torture.rs builds and runs them).
 * Usage: torture_targets MODE [ARGS]. Each mode's leak has a fixed, known size; modes that end
 * normally print "ok". */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
static void *volatile sink;

static void pause_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* --- term: leaks 100-byte blocks until a signal ends the process; prints the count. --- */
NOINLINE static void term_leak(void) {
    char *p = malloc(100);
    memset(p, 7, 100);
    sink = p;
}
static int term(void) {
    for (long i = 1;; i++) {
        term_leak();
        if (i % 20 == 0) {
            printf("%ld\n", i);
            fflush(stdout);
        }
        pause_us(1000);
    }
}

/* --- own-handler: the program's own SIGTERM handler, then exit(3) / _exit(4) --- */
static volatile sig_atomic_t got_term;
static void on_term_flag(int sig) { (void)sig; got_term = 1; }
static void on_term_exit(int sig) { (void)sig; _exit(4); }
static int own_handler(int direct) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = direct ? on_term_exit : on_term_flag;
    sigaction(SIGTERM, &sa, NULL);
    for (long i = 1;; i++) {
        term_leak();
        if (i % 20 == 0) {
            printf("%ld\n", i);
            fflush(stdout);
        }
        if (got_term) exit(3);
        pause_us(1000);
    }
}

/* --- abort / segv: die by a signal the program raises itself --- */
static int die(const char *how) {
    for (int i = 0; i < 500; i++) {
        term_leak();
        pause_us(200);
    }
    if (strcmp(how, "abort") == 0) abort();
    volatile int *volatile nil = NULL;
    *nil = 1;
    return 0;
}

/* --- exit paths: exit(5) / _exit(6) / _Exit(7) / quick_exit(8) from a nested function --- */
NOINLINE static void exit_leak(void) {
    sink = malloc(40);
}
NOINLINE static void leave(const char *how) {
    if (strcmp(how, "exit") == 0) exit(5);
    if (strcmp(how, "_exit") == 0) _exit(6);
    if (strcmp(how, "quick_exit") == 0) quick_exit(8);
    _Exit(7);
}
static int exits(const char *how) {
    for (int i = 0; i < 250; i++) exit_leak();
    leave(how);
    return 0;
}

/* --- mmap: the program's own anonymous mappings --- */
#define MMAP_LEAKS 300
#define MMAP_LEAK_LEN (64 * 1024)
static void touch(char *p, size_t len) {
    for (size_t i = 0; i < len; i += 4096) p[i] = 1;
}
static char *checked(char *p, size_t len) {
    if (p == MAP_FAILED) exit(10);
    touch(p, len);
    return p;
}
/* A macro, so the mmap call site is the calling function itself. */
#define anon(len) \
    checked(mmap(NULL, (len), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), (len))
NOINLINE static void mmap_leak(void) { sink = anon(MMAP_LEAK_LEN); }
NOINLINE static void mmap_split(void) {
    char *p = anon(3 * 4096);
    if (munmap(p + 4096, 4096)) exit(11); /* middle page: two pieces stay */
}
NOINLINE static void mmap_trim(void) {
    char *p = anon(4 * 4096);
    if (munmap(p, 4096)) exit(12); /* head page: three pages stay */
}
NOINLINE static void mmap_churn(void) {
    char *p = anon(16 * 1024);
    if (munmap(p, 16 * 1024)) exit(13);
}
NOINLINE static void mremap_grow(void) {
    char *p = anon(4096);
    p = mremap(p, 4096, 4 * 4096, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) exit(14);
    touch(p, 4 * 4096);
    sink = p;
}
NOINLINE static char *fixed_first(void) { return anon(4 * 4096); }
NOINLINE static void fixed_second(char *base) {
    char *p = mmap(base + 4096, 2 * 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p != base + 4096) exit(15);
    touch(p, 2 * 4096);
}
NOINLINE static void not_heap(const char *self) {
    int fd = open(self, O_RDONLY);
    if (fd < 0) exit(16);
    sink = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);             /* file mapping */
    sink = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); /* reservation */
    sink = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    close(fd);
}
static int mmaps(const char *self) {
    for (int i = 0; i < MMAP_LEAKS; i++) {
        mmap_leak();
        mmap_churn();
        pause_us(8000);
    }
    mmap_split();
    mmap_trim();
    mremap_grow();
    fixed_second(fixed_first());
    not_heap(self);
    puts("ok");
    return 0;
}

/* --- exec: the image before exec leaks, execs itself (via execl) into exec-child --- */
NOINLINE static void before_exec_leak(void) { sink = malloc(24); }
NOINLINE static void after_exec_leak(void) { sink = malloc(56); }
static int exec_parent(const char *self) {
    for (int i = 0; i < 100; i++) before_exec_leak();
    /* A failing exec first: tracing must go on in this image. */
    execl("/nonexistent/leakhound-torture", "x", (char *)NULL);
    if (errno != ENOENT) return 20;
    for (int i = 0; i < 10; i++) before_exec_leak();
    execl(self, self, "exec-child", (char *)NULL);
    return 21;
}
static int exec_child(void) {
    for (int i = 0; i < 70; i++) after_exec_leak();
    puts("ok");
    return 0;
}

/* --- spawn: children started by vfork+execve and by posix_spawn (they share the parent's
 * memory until exec: the parent's file must not be touched by them) --- */
extern char **environ;
NOINLINE static void spawner_leak(void) { sink = malloc(36); }
static int spawn_children(const char *self) {
    for (int i = 0; i < 30; i++) spawner_leak();
    char *args[] = {(char *)self, "exec-child", NULL};
    pid_t a = vfork();
    if (a == 0) {
        execve(self, args, environ);
        _exit(127);
    }
    pid_t b;
    if (posix_spawn(&b, self, NULL, NULL, args, environ)) return 60;
    int st;
    if (waitpid(a, &st, 0) != a || !WIFEXITED(st) || WEXITSTATUS(st)) return 61;
    if (waitpid(b, &st, 0) != b || !WIFEXITED(st) || WEXITSTATUS(st)) return 62;
    for (int i = 0; i < 30; i++) spawner_leak();
    return 0;
}

/* --- getattr: a thread's first allocation happens inside pthread_getattr_np (which holds the
 * thread's descriptor lock while it reallocs its CPU set), as at every JVM thread start --- */
NOINLINE static void getattr_leak(void) { sink = malloc(44); }
static void *getattr_thread(void *arg) {
    (void)arg;
    pthread_attr_t a;
    if (pthread_getattr_np(pthread_self(), &a)) return (void *)1;
    pthread_attr_destroy(&a);
    getattr_leak();
    return NULL;
}
static int getattr_first(void) {
    for (int i = 0; i < 8; i++) {
        pthread_t t;
        void *r;
        pthread_create(&t, NULL, getattr_thread, NULL);
        pthread_join(t, &r);
        if (r) return 70;
    }
    puts("ok");
    return 0;
}

/* --- threads: thousands of short threads allocating --- */
#define CHURN_THREADS 4000
#define CHURN_BATCH 16
NOINLINE static void thread_churn_leak(void) { sink = malloc(48); }
static void *churn_thread(void *arg) {
    (void)arg;
    void *tmp[8];
    for (int i = 0; i < 8; i++) tmp[i] = malloc(32 + i);
    thread_churn_leak();
    for (int i = 0; i < 8; i++) free(tmp[i]);
    return NULL;
}
static int threads(void) {
    pthread_t t[CHURN_BATCH];
    for (int i = 0; i < CHURN_THREADS / CHURN_BATCH; i++) {
        for (int j = 0; j < CHURN_BATCH; j++)
            if (pthread_create(&t[j], NULL, churn_thread, NULL)) return 30;
        for (int j = 0; j < CHURN_BATCH; j++) pthread_join(t[j], NULL);
    }
    puts("ok");
    return 0;
}

/* --- longjmp: through allocating frames, and out of signal handlers --- */
static jmp_buf top;
NOINLINE static void jmp_leak(void) { sink = malloc(72); }
NOINLINE static void dive(int depth, void **held) {
    if (depth == 0) {
        jmp_leak();
        longjmp(top, 1);
    }
    if (depth == 5) *held = malloc(500); /* freed by the caller after the jump */
    dive(depth - 1, held);
    sink = held; /* no tail call: every frame stays on the stack */
}
static sigjmp_buf sig_top;
static void on_usr1_jump(int sig) { (void)sig; siglongjmp(sig_top, 1); }
NOINLINE static void sig_jmp_leak(void) { sink = malloc(60); }
static volatile sig_atomic_t spin;
static void on_alarm_jump(int sig) { (void)sig; siglongjmp(sig_top, 2); }
NOINLINE static void timer_jmp_leak(void) { sink = malloc(88); }
static int jumps(void) {
    for (int i = 0; i < 500; i++) {
        void *volatile held = NULL;
        if (setjmp(top) == 0) dive(20, (void **)&held);
        free(held);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1_jump;
    sigaction(SIGUSR1, &sa, NULL);
    for (int i = 0; i < 300; i++) {
        if (sigsetjmp(sig_top, 1) == 0) {
            sig_jmp_leak();
            raise(SIGUSR1); /* the handler jumps back out */
            return 40;
        }
    }
    /* An interval timer interrupts a busy loop; the handler jumps out of it. The program blocks
     * SIGALRM while it allocates: a handler that jumps out of malloc is undefined behaviour. */
    sa.sa_handler = on_alarm_jump;
    sigaction(SIGALRM, &sa, NULL);
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    struct itimerval it = {{0, 500}, {0, 500}};
    for (int i = 0; i < 200; i++) {
        sigprocmask(SIG_BLOCK, &alrm, NULL);
        if (sigsetjmp(sig_top, 1) == 0) {
            timer_jmp_leak();
            if (i == 0) setitimer(ITIMER_REAL, &it, NULL);
            sigprocmask(SIG_UNBLOCK, &alrm, NULL);
            for (;;) spin++;
        }
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    puts("ok");
    return 0;
}

/* --- tls-dtor: pthread key destructors that free and allocate at thread exit --- */
#define DTOR_THREADS 64
static pthread_key_t key;
NOINLINE static void tls_dtor_leak(void) { sink = malloc(64); }
static void key_dtor(void *v) {
    free(v);
    tls_dtor_leak();
}
static void *key_thread(void *arg) {
    (void)arg;
    pthread_setspecific(key, malloc(32));
    return NULL;
}
static int tls_dtor(void) {
    pthread_key_create(&key, key_dtor);
    for (int i = 0; i < DTOR_THREADS; i++) {
        pthread_t t;
        pthread_create(&t, NULL, key_thread, NULL);
        pthread_join(t, NULL);
    }
    puts("ok");
    return 0;
}

/* --- dlclose: a module allocates, is closed before any periodic snapshot --- */
static int dlclose_mode(const char *module) {
    void *h = dlopen(module, RTLD_NOW);
    if (!h) return 50;
    void (*leak)(int) = (void (*)(int))dlsym(h, "mod_leak");
    if (!leak) return 51;
    leak(300);
    if (dlclose(h)) return 52;
    pause_us(100000);
    puts("ok");
    return 0;
}

/* --- daemon-fds: closes every inherited descriptor from 3 up as daemons do, opens a log
 * (argv[2]), puts it at fd 992 too, and writes lines to both while it leaks 40-byte blocks. --- */
NOINLINE static void daemon_leak(void) {
    char *p = malloc(40);
    memset(p, 5, 40);
    sink = p;
}
static int daemon_fds(const char *log) {
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) max = 65536;
    for (int fd = 3; fd < max; fd++) close(fd);
    int fd = open(log, O_CREAT | O_WRONLY | O_TRUNC | O_APPEND, 0644);
    if (fd < 0) return 60;
    if (dup2(fd, 992) != 992) return 61;
    dprintf(fd, "log opened as fd %d\n", fd);
    for (int i = 0; i < 200; i++) {
        daemon_leak();
        if (i % 50 == 0) dprintf(i % 100 == 0 ? fd : 992, "tick %d\n", i);
        pause_us(1000);
    }
    puts("ok");
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    if (strcmp(argv[1], "daemon-fds") == 0 && argc > 2) return daemon_fds(argv[2]);
    const char *m = argv[1];
    if (strcmp(m, "term") == 0) return term();
    if (strcmp(m, "own-handler") == 0) return own_handler(0);
    if (strcmp(m, "own-handler-exit") == 0) return own_handler(1);
    if (strcmp(m, "abort") == 0 || strcmp(m, "segv") == 0) return die(m);
    if (strcmp(m, "exit") == 0 || strcmp(m, "_exit") == 0 || strcmp(m, "_Exit") == 0 ||
        strcmp(m, "quick_exit") == 0)
        return exits(m);
    if (strcmp(m, "mmap") == 0) return mmaps(argv[0]);
    if (strcmp(m, "exec") == 0) return exec_parent(argv[0]);
    if (strcmp(m, "exec-child") == 0) return exec_child();
    if (strcmp(m, "threads") == 0) return threads();
    if (strcmp(m, "getattr") == 0) return getattr_first();
    if (strcmp(m, "spawn") == 0) return spawn_children(argv[0]);
    if (strcmp(m, "longjmp") == 0) return jumps();
    if (strcmp(m, "tls-dtor") == 0) return tls_dtor();
    if (strcmp(m, "dlclose") == 0 && argc > 2) return dlclose_mode(argv[2]);
    fprintf(stderr, "unknown mode %s\n", m);
    return 2;
}
