/* net_loop — the event loop services: post queue, thread-pool jobs, timers,
 * signals. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "net/net_internal.h"

struct post_item {
	ds_loop_fn fn;
	void *arg;
};

struct ds_loop {
	uv_loop_t uv;
	uv_async_t async; /* wakes the loop for posts and stop requests */
	uv_signal_t sig_int, sig_term;
	bool signals_on;
	ds_signal_fn sig_cb;
	void *sig_arg;

	pthread_mutex_t mu; /* guards the post ring and `closed` */
	struct post_item *ring; /* DS_LOOP_POST_MAX slots */
	size_t head, count;
	bool closed;
	struct post_item *batch; /* drained copy, run outside the lock */

	atomic_int stop_req;
	bool running;
	size_t work_inflight;
};

struct work_job {
	uv_work_t req;
	ds_loop *loop;
	ds_loop_fn work;
	ds_loop_done_fn done;
	void *arg;
};

struct ds_timer {
	uv_timer_t uv;
	ds_loop_fn cb;
	void *arg;
};

uv_loop_t *ds__loop_uv(ds_loop *loop)
{
	return &loop->uv;
}

/* Runs what is queued now; closures posted meanwhile wait for the next
 * wake-up, so one busy producer cannot starve the loop. */
static void drain_posts(ds_loop *loop)
{
	pthread_mutex_lock(&loop->mu);
	size_t n = loop->count;
	for (size_t i = 0; i < n; i++)
		loop->batch[i] = loop->ring[(loop->head + i) % DS_LOOP_POST_MAX];
	loop->head = (loop->head + n) % DS_LOOP_POST_MAX;
	loop->count = 0;
	pthread_mutex_unlock(&loop->mu);
	for (size_t i = 0; i < n; i++)
		loop->batch[i].fn(loop->batch[i].arg);
}

static void on_async(uv_async_t *h)
{
	ds_loop *loop = h->data;
	drain_posts(loop);
	if (atomic_exchange(&loop->stop_req, 0))
		uv_stop(&loop->uv);
}

int ds_loop_new(ds_loop **out)
{
	*out = NULL;
	ds_loop *loop = calloc(1, sizeof(*loop));
	if (!loop)
		return DS_ENOMEM;
	loop->ring = calloc(DS_LOOP_POST_MAX, sizeof(*loop->ring));
	loop->batch = calloc(DS_LOOP_POST_MAX, sizeof(*loop->batch));
	if (!loop->ring || !loop->batch) {
		free(loop->ring);
		free(loop->batch);
		free(loop);
		return DS_ENOMEM;
	}
	if (uv_loop_init(&loop->uv) != 0)
		goto fail_loop;
	if (pthread_mutex_init(&loop->mu, NULL) != 0)
		goto fail_mu;
	if (uv_async_init(&loop->uv, &loop->async, on_async) != 0)
		goto fail_async;
	loop->async.data = loop;
	atomic_init(&loop->stop_req, 0);
	*out = loop;
	return 0;
fail_async:
	pthread_mutex_destroy(&loop->mu);
fail_mu:
	(void)uv_loop_close(&loop->uv);
fail_loop:
	free(loop->ring);
	free(loop->batch);
	free(loop);
	return DS_EIO;
}

static void count_open(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		(*(size_t *)arg)++;
}

void ds_loop_free(ds_loop *loop)
{
	if (!loop)
		return;
	DS_ASSERT(!loop->running);
	pthread_mutex_lock(&loop->mu);
	loop->closed = true;
	pthread_mutex_unlock(&loop->mu);
	drain_posts(loop);
	if (loop->signals_on) {
		uv_close((uv_handle_t *)&loop->sig_int, NULL);
		uv_close((uv_handle_t *)&loop->sig_term, NULL);
	}
	uv_close((uv_handle_t *)&loop->async, NULL);
	/* A handle still open here belongs to a timer or net the caller leaked:
	 * our bug, and running the loop would then never end. */
	size_t open = 0;
	uv_walk(&loop->uv, count_open, &open);
	DS_ASSERT(open == 0);
	/* Finishes close callbacks and in-flight thread-pool jobs. */
	int rc = 0;
	for (int i = 0; i < 100000; i++) {
		uv_run(&loop->uv, UV_RUN_DEFAULT);
		rc = uv_loop_close(&loop->uv);
		if (rc != UV_EBUSY)
			break;
	}
	/* EBUSY here means a caller leaked a timer or a net on this loop. */
	DS_ASSERT(rc == 0);
	pthread_mutex_destroy(&loop->mu);
	free(loop->ring);
	free(loop->batch);
	free(loop);
}

int ds_loop_run(ds_loop *loop)
{
	if (loop->running)
		return DS_ESTATE;
	loop->running = true;
	/* A stop requested before this run is honoured by the pending async. */
	uv_run(&loop->uv, UV_RUN_DEFAULT);
	loop->running = false;
	return 0;
}

void ds_loop_stop(ds_loop *loop)
{
	atomic_store(&loop->stop_req, 1);
	uv_async_send(&loop->async);
}

uint64_t ds_loop_now_ms(const ds_loop *loop)
{
	return uv_now(&loop->uv);
}

int ds_loop_post(ds_loop *loop, ds_loop_fn fn, void *arg)
{
	DS_ASSERT(fn != NULL);
	pthread_mutex_lock(&loop->mu);
	if (loop->closed) {
		pthread_mutex_unlock(&loop->mu);
		return DS_ECLOSED;
	}
	if (loop->count == DS_LOOP_POST_MAX) {
		pthread_mutex_unlock(&loop->mu);
		return DS_EFULL;
	}
	loop->ring[(loop->head + loop->count) % DS_LOOP_POST_MAX] = (struct post_item){fn, arg};
	loop->count++;
	/* Sent under the lock so ds_loop_free cannot close the handle between
	 * the enqueue and the wake-up. */
	uv_async_send(&loop->async);
	pthread_mutex_unlock(&loop->mu);
	return 0;
}

static void work_run(uv_work_t *req)
{
	struct work_job *job = req->data;
	job->work(job->arg);
}

static void work_after(uv_work_t *req, int status)
{
	struct work_job *job = req->data;
	job->loop->work_inflight--;
	if (job->done)
		job->done(job->arg, status == UV_ECANCELED ? DS_ECLOSED : 0);
	free(job);
}

int ds_loop_work(ds_loop *loop, ds_loop_fn work, ds_loop_done_fn done, void *arg)
{
	DS_ASSERT(work != NULL);
	if (loop->work_inflight >= DS_LOOP_WORK_MAX)
		return DS_EFULL;
	struct work_job *job = malloc(sizeof(*job));
	if (!job)
		return DS_ENOMEM;
	*job = (struct work_job){.loop = loop, .work = work, .done = done, .arg = arg};
	job->req.data = job;
	if (uv_queue_work(&loop->uv, &job->req, work_run, work_after) != 0) {
		free(job);
		return DS_EIO;
	}
	loop->work_inflight++;
	return 0;
}

static void on_signal(uv_signal_t *h, int signum)
{
	ds_loop *loop = h->data;
	if (loop->sig_cb)
		loop->sig_cb(loop->sig_arg, signum);
}

int ds_loop_on_signal(ds_loop *loop, ds_signal_fn cb, void *arg)
{
	loop->sig_cb = cb;
	loop->sig_arg = arg;
	if (loop->signals_on)
		return 0;
	if (uv_signal_init(&loop->uv, &loop->sig_int) != 0)
		return DS_EIO;
	if (uv_signal_init(&loop->uv, &loop->sig_term) != 0) {
		uv_close((uv_handle_t *)&loop->sig_int, NULL);
		return DS_EIO;
	}
	loop->sig_int.data = loop;
	loop->sig_term.data = loop;
	loop->signals_on = true;
	if (uv_signal_start(&loop->sig_int, on_signal, SIGINT) != 0 ||
	    uv_signal_start(&loop->sig_term, on_signal, SIGTERM) != 0)
		return DS_EIO;
	uv_unref((uv_handle_t *)&loop->sig_int);
	uv_unref((uv_handle_t *)&loop->sig_term);
	return 0;
}

int ds_timer_new(ds_timer **out, ds_loop *loop)
{
	*out = NULL;
	ds_timer *t = calloc(1, sizeof(*t));
	if (!t)
		return DS_ENOMEM;
	if (uv_timer_init(&loop->uv, &t->uv) != 0) {
		free(t);
		return DS_EIO;
	}
	t->uv.data = t;
	*out = t;
	return 0;
}

static void timer_fire(uv_timer_t *h)
{
	ds_timer *t = h->data;
	t->cb(t->arg);
}

void ds_timer_start(ds_timer *t, uint64_t timeout_ms, uint64_t repeat_ms, ds_loop_fn cb, void *arg)
{
	DS_ASSERT(cb != NULL);
	t->cb = cb;
	t->arg = arg;
	DS_ASSERT(uv_timer_start(&t->uv, timer_fire, timeout_ms, repeat_ms) == 0);
}

void ds_timer_stop(ds_timer *t)
{
	uv_timer_stop(&t->uv);
}

static void timer_closed(uv_handle_t *h)
{
	free(h->data);
}

void ds_timer_free(ds_timer *t)
{
	if (!t)
		return;
	uv_timer_stop(&t->uv);
	uv_close((uv_handle_t *)&t->uv, timer_closed);
}
