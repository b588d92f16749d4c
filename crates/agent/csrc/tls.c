/* Per-thread state of the leakhound agent, in initial-exec TLS (no __tls_get_addr call, so no
 * allocation on access). Layout must match `ThreadState` in src/tls.rs. */
#include <stdint.h>

struct lh_thread_state {
    uint32_t guard;          /* nonzero while inside the agent (reentrancy) */
    uint32_t flags;          /* bit 0: stack bounds known */
    int64_t bytes_until_sample;
    uint64_t rng;
    uint64_t stack_hi;
};

/* Not static: src/tls.rs reads its address inline (GOTTPOFF + %fs), the same two instructions
 * lh_tls_state compiles to, without the call. Hidden: it never leaves the agent. */
__attribute__((visibility("hidden"))) __thread struct lh_thread_state lh_state
    __attribute__((tls_model("initial-exec")));

struct lh_thread_state *lh_tls_state(void) { return &lh_state; }
