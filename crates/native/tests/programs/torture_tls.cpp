// C++ thread_local destructors that allocate and free after the thread's body ended (run by
// __call_tls_dtors, after pthread key destructors, while the thread is being torn down).
#include <cstdio>
#include <thread>
#include <vector>

static void *volatile sink;

struct Holder {
    std::vector<int> data;
    Holder() : data(100, 1) {}
    __attribute__((noinline)) ~Holder() {
        sink = new char[77];  // leaked: one per thread
        std::vector<int> scratch(50, 2);  // allocated and freed inside the destructor
        sink = scratch.data();
    }
};

thread_local Holder holder;

int main() {
    for (int i = 0; i < 64; i++) {
        std::thread t([] { sink = holder.data.data(); });
        t.join();
    }
    std::puts("ok");
    return 0;
}
