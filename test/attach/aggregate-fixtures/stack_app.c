/*
 * stack_app.c -- the program of test/attach/e2e/ustack-container.test.ts:
 * one call chain through the executable and two shared libraries, whose
 * every frame the test names in advance.
 *
 *     main -> a -> stk_linked_call          (libstk_linked.so, loaded by the
 *               -> ns::Klass::method(int)    container's loader; C++)
 *               -> b -> stk_dl_call         (libstk_dl.so, dlopened from a
 *                     -> c                   copy in /tmp deleted at once)
 *
 * Each round (SIGUSR1, fixture.h) runs main -> … -> c CALLS times
 * (argv[2]). The test strips this binary and keeps its symbols in a
 * debug file inside the container (debuglink): a, b and main have names
 * only there; c is exported (-Wl,--export-dynamic-symbol=c) so that a
 * probe can be placed on it from the stripped file.
 *
 * Built with frame pointers and without sibling calls, so the kernel's
 * frame-pointer walk sees every frame; noipa keeps each function a real,
 * unrenamed call.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>
#include "../fixtures/fixture.h"

typedef int (*next_fn)(int);
extern int stk_linked_call(next_fn next, int x);
static int (*stk_dl_call)(next_fn next, int x);
static volatile int sink;

/* c is not a leaf (a leaf may skip its frame setup): its first instruction
 * is `push %rbp`, where the kernel knows a uprobe is at a function's entry
 * and adds the caller's return address that the frame-pointer walk would
 * miss there. */
static __attribute__((noipa)) int work(int x)
{
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

__attribute__((noipa, visibility("default"))) int c(int x)
{
	int r = work(x);
	__asm__ volatile("" ::: "memory");
	return r + 1;
}

static __attribute__((noipa)) int b(int x)
{
	int r = stk_dl_call(c, x);
	__asm__ volatile("" ::: "memory");
	return r + 1;
}

static __attribute__((noipa)) int a(int x)
{
	int r = stk_linked_call(b, x);
	__asm__ volatile("" ::: "memory");
	return r + 1;
}

/* Copies FROM to TO, dlopens TO, resolves stk_dl_call, and deletes TO: the mapping stays, its file is gone. */
static void load_deleted(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (in < 0 || out < 0) {
		perror("open");
		exit(2);
	}
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n) {
			perror("write");
			exit(2);
		}
	close(in);
	close(out);
	void *lib = dlopen(to, RTLD_NOW);
	if (lib == NULL) {
		fprintf(stderr, "dlopen %s: %s\n", to, dlerror());
		exit(2);
	}
	*(void **)&stk_dl_call = dlsym(lib, "stk_dl_call");
	if (stk_dl_call == NULL || unlink(to) != 0) {
		fprintf(stderr, "dlsym/unlink %s failed\n", to);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	fixture_start(argc, argv);
	int calls = int_arg(argc, argv, 2);
	load_deleted(argc > 3 ? argv[3] : "/app/dl-payload.bin", "/tmp/libstk_dl.so");
	report("ready");
	for (int round = 1; next_round(); round++) {
		for (int i = 0; i < calls; i++) sink += a(i);
		report("round %d calls %d", round, calls);
	}
	return 0;
}
