/* A program whose memory never goes through malloc: a bump allocator on raw mmap system calls
 * (syscall(SYS_mmap), which no LD_PRELOAD hook sees), leaking 1 MiB chunks. Used to check the
 * "allocator not interposed" warning: anonymous memory grows, the hooked live bytes do not.
 * Usage: rawmmap [CHUNKS] [PAUSE_MS]   (default 80 chunks of 1 MiB, 40 ms apart) */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1L << 20)

static char *bump_base, *bump_end;

static void *bump_alloc(size_t n) {
    if (!bump_base || bump_base + n > bump_end) {
        long p = syscall(SYS_mmap, NULL, 4 * CHUNK, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == -1) return NULL;
        bump_base = (char *)p;
        bump_end = bump_base + 4 * CHUNK;
    }
    void *r = bump_base;
    bump_base += n;
    return r;
}

int main(int argc, char **argv) {
    long chunks = argc > 1 ? atol(argv[1]) : 80;
    long pause_ms = argc > 2 ? atol(argv[2]) : 40;
    for (long i = 0; i < chunks; i++) {
        char *p = bump_alloc(CHUNK);
        if (!p) return 1;
        memset(p, (int)i, CHUNK); /* touch: resident anonymous memory */
        struct timespec ts = {pause_ms / 1000, (pause_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}
