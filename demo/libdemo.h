/*
 * libdemo: the demo service's own shared library (`npm run demo`).
 * probec traces demo_handle with a uprobe+ret: its arguments on entry,
 * its return value and latency on return.
 */
#ifndef PROBEC_DEMO_LIBDEMO_H
#define PROBEC_DEMO_LIBDEMO_H

/*
 * Handles request `id` for user `name`: returns the request's "status"
 * (0 ok, negative for the requests it refuses: every seventh one), after
 * a short piece of work whose length depends on the name, so that the
 * latency the demo prints varies.
 */
int demo_handle(int id, const char *name);

#endif
