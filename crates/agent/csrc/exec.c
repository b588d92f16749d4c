/* The variadic exec functions of the leakhound agent: they collect their arguments into an
 * argv array on the stack and call execv/execvp/execve, which resolve to the agent's hooks
 * (src/hooks/exec.rs: final snapshot before the image is replaced). Rust cannot define
 * C-variadic functions on stable. They are named lh_exec*; the exported execl/execlp/execle are
 * naked jumps to them in src/hooks/exec.rs (a cdylib exports only its Rust symbols). */
#include <stdarg.h>
#include <stddef.h>

int execv(const char *path, char *const argv[]);
int execvp(const char *file, char *const argv[]);
int execve(const char *path, char *const argv[], char *const envp[]);

/* Number of non-NULL arguments from arg0 on (the list ends with a NULL). */
static size_t count_args(const char *arg0, va_list ap) {
    if (arg0 == NULL) return 0;
    size_t n = 1;
    while (va_arg(ap, const char *) != NULL) n++;
    return n;
}

/* Fills argv[0..n] (argv[n] = NULL) and leaves `ap` just after the terminating NULL. */
static void fill_args(char **argv, const char *arg0, size_t n, va_list *ap) {
    argv[0] = (char *)arg0;
    for (size_t i = 1; i <= n; i++) argv[i] = va_arg(*ap, char *);
}

int lh_execl(const char *path, const char *arg0, ...) {
    va_list ap;
    va_start(ap, arg0);
    size_t n = count_args(arg0, ap);
    va_end(ap);
    char *argv[n + 1];
    va_start(ap, arg0);
    fill_args(argv, arg0, n, &ap);
    va_end(ap);
    return execv(path, argv);
}

int lh_execlp(const char *file, const char *arg0, ...) {
    va_list ap;
    va_start(ap, arg0);
    size_t n = count_args(arg0, ap);
    va_end(ap);
    char *argv[n + 1];
    va_start(ap, arg0);
    fill_args(argv, arg0, n, &ap);
    va_end(ap);
    return execvp(file, argv);
}

int lh_execle(const char *path, const char *arg0, ...) {
    va_list ap;
    va_start(ap, arg0);
    size_t n = count_args(arg0, ap);
    va_end(ap);
    char *argv[n + 1];
    va_start(ap, arg0);
    fill_args(argv, arg0, n, &ap);
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
    return execve(path, argv, envp);
}
