/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "log.h"
#include "workpool.h"
#include "dmarc-report.h"

#include <event2/event.h>

/* The daemon's reporting clock: a pass now, then one at each period
 * boundary. */

/* After a pass that deferred reports or failed: try again this soon. */
#define DMARC_REPORT_RETRY_PASS_SECS 3600

struct dmarc_report_scheduler {
	struct store *store;
	const struct dmarc_report_settings *set;
	const struct mailauth_dns *dns;
	struct completion_target target;
	void (*queued)(void *ctx);
	void *ctx;
	struct event *timer;
	struct dmarc_report_run *run;
};

static void sched_arm(struct dmarc_report_scheduler *s, bool retry_soon)
{
	time_t now = time(NULL);
	time_t next = dmarc_report_period_due(now, s->set->interval);
	if (retry_soon && next > now + DMARC_REPORT_RETRY_PASS_SECS)
		next = now + DMARC_REPORT_RETRY_PASS_SECS;
	/* A second late, so the boundary has surely passed. */
	struct timeval tv = {.tv_sec = next - now + 1, .tv_usec = 0};
	evtimer_add(s->timer, &tv);
}

static void sched_done(const struct dmarc_report_stats *stats, void *ctx)
{
	struct dmarc_report_scheduler *s = ctx;

	s->run = NULL;
	if (stats->reports > 0 && s->queued != NULL)
		s->queued(s->ctx);
	sched_arm(s, stats->deferred > 0 || stats->errors > 0);
}

static void sched_fire(evutil_socket_t fd, short what, void *ctx)
{
	struct dmarc_report_scheduler *s = ctx;

	if (s->run != NULL) {
		sched_arm(s, true);
		return;
	}
	s->run = dmarc_report_run_start(s->store, s->set, s->dns, &s->target,
					false, sched_done, s);
}

struct dmarc_report_scheduler *
dmarc_report_scheduler_create(struct event_base *base, struct store *store,
			      const struct dmarc_report_settings *set,
			      const struct mailauth_dns *dns,
			      const struct completion_target *target,
			      void (*queued)(void *ctx), void *ctx)
{
	struct dmarc_report_scheduler *s =
	    i_new(struct dmarc_report_scheduler, 1);

	s->store = store;
	s->set = set;
	s->dns = dns;
	s->target = *target;
	s->queued = queued;
	s->ctx = ctx;
	s->timer = evtimer_new(base, sched_fire, s);
	if (s->timer == NULL)
		i_fatal("dmarc report: evtimer_new failed");
	/* Periods that ended while we were down are reported now. */
	s->run = dmarc_report_run_start(store, set, dns, target, false,
					sched_done, s);
	return s;
}

void dmarc_report_scheduler_destroy(struct dmarc_report_scheduler **_s)
{
	struct dmarc_report_scheduler *s = *_s;

	if (s == NULL)
		return;
	*_s = NULL;
	dmarc_report_run_abort(&s->run);
	event_free(s->timer);
	i_free(s);
}
