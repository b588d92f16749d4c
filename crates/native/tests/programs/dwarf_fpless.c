/* Leaks through functions compiled without frame pointers, called from and calling functions
 * with frame pointers (the rest of the file is built with -fno-omit-frame-pointer).
 *
 *   main -> leak_caller (FP) -> fpless_middle (no FP) -> malloc            : 50 x 40 B per round
 *   main -> outer_caller (FP) -> fpless_mid2 (no FP) -> fp_leaf (FP) -> malloc : 25 x 72 B per round
 *   main -> outer_caller2 (FP) -> fpless_mid2 (no FP) -> fp_leaf (FP) -> malloc : 25 x 72 B per round
 *
 * The two outer callers alternate call by call and are alike, so fpless_mid2 runs at the same
 * return address, stack pointer and frame pointer under both: only the stack words above it
 * (its return address) tell the two tails apart, which is what the agent's per-thread tail
 * memo must check before it reuses a tail.
 *
 * A frame-pointer-only walk loses leak_caller (first path: rbp still points at its frame, so
 * its return address into main is read as fpless_middle's caller) and outer_caller (second
 * path). Usage: dwarf_fpless ROUNDS SLEEP_MS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOFP __attribute__((noinline, noclone, optimize("omit-frame-pointer")))
#define KEEP __attribute__((noinline, noclone))

static void *volatile sink;

NOFP void *fpless_middle(size_t n) {
    volatile char pad[200];
    pad[0] = (char)n;
    pad[199] = 1;
    void *p = malloc(n);
    memset(p, pad[0] + pad[199], n);
    return p;
}

KEEP void *fp_leaf(size_t n) {
    void *p = malloc(n);
    memset(p, 2, n);
    return p;
}

NOFP void *fpless_mid2(size_t n) {
    volatile char pad[120];
    pad[0] = 3;
    void *p = fp_leaf(n + (size_t)pad[0] - 3);
    ((char *)p)[0] = pad[0];
    return p;
}

KEEP void leak_caller(int k) {
    for (int i = 0; i < k; i++) {
        sink = fpless_middle(40);
    }
    __asm__ volatile("" ::: "memory");
}

KEEP void outer_caller(int k) {
    for (int i = 0; i < k; i++) {
        sink = fpless_mid2(72);
    }
    __asm__ volatile("" ::: "memory");
}

KEEP void outer_caller2(int k) {
    for (int i = 0; i < k; i++) {
        sink = fpless_mid2(72);
    }
    __asm__ volatile("" ::: "memory");
}

static void (*volatile outer[2])(int) = {outer_caller, outer_caller2};

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 20;
    long ms = argc > 2 ? atol(argv[2]) : 30;
    for (int r = 0; r < rounds; r++) {
        leak_caller(50);
        for (int i = 0; i < 50; i++) {
            outer[i & 1](1);
        }
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    printf("leaked %d x 40 B and %d x 72 B\n", rounds * 50, rounds * 50);
    return 0;
}
