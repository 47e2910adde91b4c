/*
 * A child process that closes link fds for the attacher, so that the
 * event loop does not wait for them.
 *
 * Releasing a uprobe_multi link waits for an RCU grace period inside the
 * kernel (uprobe_unregister_sync; measured ~40 ms a link on 6.18 under
 * load). The per-process links of a busy container are closed as often as
 * its processes exit, and waiting for each in the loop would leave the ring
 * buffer undrained meanwhile. The links of a process that has exited hold
 * nothing that matters any more (no memory wants them, no semaphore is
 * up), so their release may happen later: the attacher sends their fds
 * over a socket (SCM_RIGHTS) to this child, closes its own copies (which
 * costs nothing while another reference lives), and the child does the
 * waiting. Links whose release must be over before a reply (`remove`,
 * `filter remove`, detach) are still closed by the attacher itself.
 *
 * The child keeps no other fd of the attacher's (it closes them all before
 * it says it is ready, so no link outlives its close in the attacher), dies
 * with it (PR_SET_PDEATHSIG), and is waited for at detach, so every link is
 * released before `detached`.
 */
#ifndef PROBEC_REAPER_H
#define PROBEC_REAPER_H

#include <sys/types.h>

struct reaper {
  int sock; /* -1: none (closes happen in the attacher) */
  pid_t pid;
};

/** Starts the child; on failure `r->sock` is -1 and closing stays synchronous. */
void reaper_start(struct reaper *r);
/** Hands `fd` over (or closes it here when there is no child, or the send fails). */
void reaper_close(struct reaper *r, int fd);
/** Ends the child once it has closed everything it was handed. */
void reaper_stop(struct reaper *r);

#endif
