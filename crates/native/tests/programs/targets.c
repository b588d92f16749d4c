/* Target programs for leakhound-native's integration tests (built by the tests with gcc).
 * Usage: targets MODE   (known | thread | fork | realloc | forever | burst | lookup)
 * Each mode prints "ok" on success; the expected leak counts are fixed constants below. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
static void *volatile sink;

static void pause_us(long us) {
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

/* Known leak: KNOWN_BLOCKS x 200 bytes, never freed. */
#define KNOWN_BLOCKS 3000
NOINLINE static void leak_here(void) {
    char *p = malloc(200);
    memset(p, 1, 200);
    sink = p;
}

/* Bounded cache: 64 slots of 1000 bytes, the oldest evicted; grows then levels off. */
#define SLOTS 64
static char *cache[SLOTS];
NOINLINE static void cache_fill(int i) {
    int s = i % SLOTS;
    free(cache[s]);
    cache[s] = malloc(1000);
    memset(cache[s], 2, 1000);
}

NOINLINE static void churn(void) {
    char *t = malloc(333);
    t[0] = 1;
    sink = t; /* escapes: gcc may not elide the malloc/free pair */
    free(sink);
}

static int known(void) {
    for (int i = 0; i < KNOWN_BLOCKS; i++) {
        leak_here();
        if (i < 600) cache_fill(i); /* the cache fills during the first fifth ... */
        else if (i % 4 == 0) cache_fill(i); /* ... then only replaces entries */
        churn();
        pause_us(1000);
    }
    for (int i = 0; i < SLOTS; i++) free(cache[i]);
    return 0;
}

#define THREAD_BLOCKS 2000
NOINLINE static void thread_leak(void) {
    char *p = malloc(96);
    p[0] = 3;
    sink = p;
}
static void *worker(void *arg) {
    (void)arg;
    for (int i = 0; i < THREAD_BLOCKS; i++) {
        thread_leak();
        churn();
        pause_us(1500); /* ~3.2 s: about 64 snapshots at 50 ms, margin on a loaded machine */
    }
    return NULL;
}
static int thread(void) {
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);
    return 0;
}

#define CHILD_BLOCKS 500
NOINLINE static void child_leak(void) {
    char *p = malloc(64);
    p[0] = 4;
    sink = p;
}
static int forked(void) {
    char *before = malloc(10);
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < CHILD_BLOCKS; i++) child_leak();
        exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    free(before);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

NOINLINE static void *grow_chain(void) {
    char *p = NULL;
    for (int i = 1; i <= 100; i++) {
        p = realloc(p, (size_t)i * 64);
        p[i * 64 - 1] = 1;
    }
    return p; /* 6400 bytes, one block */
}
NOINLINE static void *aligned_keep(void) {
    void *p = NULL;
    if (posix_memalign(&p, 64, 100) != 0 || ((uintptr_t)p & 63)) return NULL;
    return p;
}
static int reallocs(void) {
    sink = grow_chain();
    char *z = malloc(50);
    z = realloc(z, 0); /* frees (glibc returns NULL) */
    if (z) free(z);
    errno = 0;
    size_t big = SIZE_MAX / 2;
    void *q = reallocarray(NULL, big, sink ? 4 : 4);
    if (q || errno != ENOMEM) { puts("reallocarray overflow not reported"); return 1; }
    void *bad = NULL;
    if (posix_memalign(&bad, 3, 64) != EINVAL) { puts("posix_memalign bad alignment: not EINVAL"); return 1; }
    errno = 0;
    q = aligned_alloc(64, SIZE_MAX - 4096);
    if (q || errno != ENOMEM) { puts("aligned_alloc huge: errno not ENOMEM"); return 1; }
    /* Whatever glibc does with a bad alignment (2.38+: EINVAL; older: rounds up), the agent
     * must do the same: the test compares this line with and without the agent. */
    errno = 0;
    q = aligned_alloc(3, 64);
    printf("aligned_alloc(3, 64): null=%d errno=%d\n", q == NULL, errno);
    free(q);
    void *a = aligned_keep();
    if (!a) { puts("posix_memalign failed"); return 1; }
    if (malloc_usable_size(a) < 100) { puts("usable size"); return 1; }
    sink = a;
    void *m = memalign(4096, 10);
    if ((uintptr_t)m & 4095) { puts("memalign"); return 1; }
    free(m);
    void *v = valloc(10);
    free(v);
    void *c = calloc(10, 10);
    if (((char *)c)[99] != 0) { puts("calloc"); return 1; }
    free(c);
    return 0;
}

/* Threads allocate while a module with TLS is dlopen'ed, then touch its TLS (which makes glibc
 * update the DTV, possibly calling malloc from __tls_get_addr) and allocate again. */
static const char *tls_module;
static volatile int stop_threads;
static void *tls_worker(void *arg) {
    (void)arg;
    int (*touch)(int) = NULL;
    for (int i = 0; !stop_threads || !touch; i++) {
        char *p = malloc(48 + i % 64);
        sink = p;
        free(p);
        if (!touch) {
            void *h = dlopen(tls_module, RTLD_NOW | RTLD_NOLOAD);
            if (h) touch = (int (*)(int))dlsym(h, "tlsmod_touch");
        } else {
            touch(i);
        }
    }
    return NULL;
}
static int dlopen_tls(void) {
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, tls_worker, NULL);
    pause_us(20000);
    void *h = dlopen(tls_module, RTLD_NOW);
    if (!h) { puts(dlerror()); return 1; }
    pause_us(50000);
    stop_threads = 1;
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    dlclose(h);
    return 0;
}

/* Half a second of hard allocation (100 x 64 KiB allocated and freed per millisecond, far
 * over the agent's 32 MiB snapshot threshold) with BURST_BLOCKS x 512 bytes leaked. */
#define BURST_BLOCKS 500
NOINLINE static void burst_leak(void) {
    char *p = malloc(512);
    memset(p, 4, 512);
    sink = p;
}
static int burst(void) {
    for (int i = 0; i < BURST_BLOCKS; i++) {
        burst_leak();
        for (int j = 0; j < 100; j++) {
            char *t = malloc(64 << 10);
            t[0] = 1;
            sink = t;
            free(sink);
        }
        pause_us(1000);
    }
    return 0;
}

/* A cache of LOOKUP_KEYS entries of 256 bytes filled by random lookups (a new key is
 * allocated, a known one found): it fills like 1 - exp(-i/LOOKUP_KEYS), four time constants
 * over LOOKUP_ITERS lookups, and is never freed. Beside it, one 64-byte block leaked every
 * LOOKUP_LEAK_EVERY lookups. About 2.5 s. */
#define LOOKUP_KEYS 20000
#define LOOKUP_ITERS 80000
#define LOOKUP_LEAK_EVERY 40
static char *lookup_table[LOOKUP_KEYS];
NOINLINE static char *lookup_insert(unsigned k) {
    char *p = malloc(256);
    memset(p, (int)(k & 0xff), 256);
    return p;
}
NOINLINE static void lookup_leak(void) {
    char *p = malloc(64);
    memset(p, 5, 64);
    sink = p;
}
static int lookup(void) {
    unsigned s = 12345;
    for (int i = 0; i < LOOKUP_ITERS; i++) {
        s = s * 1103515245u + 12345u;
        unsigned k = (s >> 8) % LOOKUP_KEYS;
        if (!lookup_table[k]) lookup_table[k] = lookup_insert(k);
        if (i % LOOKUP_LEAK_EVERY == 0) lookup_leak();
        if (i % 100 == 0) pause_us(3000);
    }
    return 0;
}

/* A bounded ring of 64 blocks reused for about 3 s (no leak), forking a child that execs
 * /bin/true every 100 rounds: 30 short-lived process images beside the parent. */
static char *spawn_ring[64];
static int spawner(void) {
    for (int i = 0; i < 3000; i++) {
        free(spawn_ring[i % 64]);
        spawn_ring[i % 64] = malloc(200 + i % 50);
        if (i % 100 == 0) {
            pid_t p = fork();
            if (p == 0) {
                execl("/bin/true", "true", (char *)0);
                _exit(127);
            }
            if (p > 0) waitpid(p, NULL, 0);
        }
        pause_us(1000);
    }
    return 0;
}

static int forever(void) {
    for (;;) {
        leak_here();
        pause_us(500);
    }
}

int main(int argc, char **argv) {
    const char *m = argc > 1 ? argv[1] : "known";
    int rc = 1;
    if (!strcmp(m, "known")) rc = known();
    else if (!strcmp(m, "thread")) rc = thread();
    else if (!strcmp(m, "fork")) rc = forked();
    else if (!strcmp(m, "realloc")) rc = reallocs();
    else if (!strcmp(m, "forever")) rc = forever();
    else if (!strcmp(m, "spawner")) rc = spawner();
    else if (!strcmp(m, "burst")) rc = burst();
    else if (!strcmp(m, "lookup")) rc = lookup();
    else if (!strcmp(m, "dlopen-tls") && argc > 2) { tls_module = argv[2]; rc = dlopen_tls(); }
    if (rc == 0) puts("ok");
    return rc;
}
