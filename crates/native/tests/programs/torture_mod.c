/* A module that allocates, for the dlclose torture test: built with gcc -shared -fPIC. */
#include <stdlib.h>
#include <string.h>

void *volatile mod_sink;

__attribute__((noinline)) static void mod_alloc(void) {
    char *p = malloc(111);
    memset(p, 5, 111);
    mod_sink = p;
}

void mod_leak(int n) {
    for (int i = 0; i < n; i++) mod_alloc();
}
