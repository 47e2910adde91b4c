/*
 * agg_app.c -- the program of test/attach/e2e/aggregations.test.ts: known
 * calls of noinline functions, so that every aggregation's result can be
 * computed in advance, exactly.
 *
 *     agg_app STATUS values         each round: agg_value(1..1000);
 *                                   agg_signed() on LHIST_SET (below);
 *                                   agg_named(1) 300 times from a thread
 *                                   named "agg-left", 700 times from one
 *                                   named "agg-right", 50 times from main
 *     agg_app STATUS keys N         each round: agg_key(0..N-1), once each
 *     agg_app STATUS ticks N MS     each round: agg_tick(i) N times, MS ms
 *                                   apart (for `interval`)
 *
 * The handshake (ready, one round per SIGUSR1, a closing "round" line) is
 * fixture.h's. The threads run one after the other, so nothing overlaps.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include "../fixtures/fixture.h"

/* Each function is a real call with its argument in the first register. */
#define PROBED __attribute__((noipa, used)) long

PROBED agg_value(long v) { __asm__ volatile("" ::: "memory"); return v; }
PROBED agg_signed(long v) { __asm__ volatile("" ::: "memory"); return v; }
PROBED agg_named(long v) { __asm__ volatile("" ::: "memory"); return v; }
PROBED agg_key(long v) { __asm__ volatile("" ::: "memory"); return v; }
PROBED agg_tick(long v) { __asm__ volatile("" ::: "memory"); return v; }

/* The lhist set: value, times. The test's expectations are written from this table by hand. */
static const long LHIST_SET[][2] = {
	{ -7, 1 }, { -1, 2 }, { 0, 3 }, { 9, 4 }, { 10, 5 }, { 55, 6 }, { 99, 7 }, { 100, 8 }, { 12345, 9 },
};

static volatile long sink;

struct named { const char *name; int calls; };

static void *named_thread(void *arg)
{
	const struct named *n = arg;
	pthread_setname_np(pthread_self(), n->name);
	for (int i = 0; i < n->calls; i++) sink += agg_named(1);
	return NULL;
}

static void run_named(const char *name, int calls)
{
	pthread_t t;
	struct named n = { name, calls };
	if (pthread_create(&t, NULL, named_thread, &n) != 0 || pthread_join(t, NULL) != 0) {
		report("thread %s failed", name);
		exit(1);
	}
}

static void values_round(void)
{
	for (long v = 1; v <= 1000; v++) sink += agg_value(v);
	for (size_t i = 0; i < sizeof LHIST_SET / sizeof LHIST_SET[0]; i++)
		for (long k = 0; k < LHIST_SET[i][1]; k++) sink += agg_signed(LHIST_SET[i][0]);
	run_named("agg-left", 300);
	run_named("agg-right", 700);
	for (int i = 0; i < 50; i++) sink += agg_named(1);
}

int main(int argc, char **argv)
{
	fixture_start(argc, argv);
	const char *mode = argc > 2 ? argv[2] : "";
	int n = 0, ms = 0;
	if (strcmp(mode, "keys") == 0) {
		n = int_arg(argc, argv, 3);
	} else if (strcmp(mode, "ticks") == 0) {
		n = int_arg(argc, argv, 3);
		ms = int_arg(argc, argv, 4);
	} else if (strcmp(mode, "values") != 0) {
		fprintf(stderr, "usage: %s STATUS values | keys N | ticks N MS\n", argv[0]);
		return 2;
	}
	report("ready");
	for (int round = 1; next_round(); round++) {
		if (strcmp(mode, "values") == 0) {
			values_round();
			report("round %d values", round);
		} else if (strcmp(mode, "keys") == 0) {
			for (long k = 0; k < n; k++) sink += agg_key(k);
			report("round %d keys %d", round, n);
		} else {
			for (long i = 0; i < n; i++) {
				sink += agg_tick(i);
				usleep((useconds_t)ms * 1000);
			}
			report("round %d ticks %d", round, n);
		}
	}
	return 0;
}
