/* A shared object with __thread variables, dlopen'ed while threads run (bytehound#131 shape). */
#include <stdlib.h>
static __thread char big_tls[4096];
static __thread void *tls_ptr;
int tlsmod_touch(int i) {
    big_tls[i % 4096] = (char)i;
    tls_ptr = malloc(32);
    free(tls_ptr);
    return big_tls[i % 4096];
}
