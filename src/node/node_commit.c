/* The committer: executes and writes consensus-committed blocks on a thread
 * of its own, so the loop keeps voting and proposing while LMDB writes and
 * fsyncs. Blocks are committed strictly in the order they were decided; the
 * loop learns about each durable block through ds_loop_post (and, as a
 * fallback, its 100 ms tick), and only then moves its view of the tip, marks
 * the pending block committed and runs the commit hooks.
 *
 * Consistency with the loop: until a block is durable the loop keeps it in
 * the pending map (with its payload), so proposals and votes treat it as an
 * uncommitted ancestor; ds_chain_next_header/check_header skip such
 * ancestors once the chain has them. A header whose exec_height is decided
 * here but not yet durable waits for the committer (ds__node_commit_wait)
 * instead of refusing the vote. */
#include "node/node_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "chain/chain.h"

#define MOD "node"

struct ds__cjob {
	struct ds__cjob *next;
	uint64_t height;
	uint8_t *payload; /* owned */
	size_t len;
	bool *pre; /* owned, tx_count entries */
	uint8_t *suffix; /* owned: an epoch end's suffix headers, or NULL */
	size_t suffix_len;
	int rc;
	struct ds_qc qc;
};

struct ds__committer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work;    /* a job was queued, or stop */
	pthread_cond_t done_cv; /* a job finished */
	struct ds__cjob *q_head, *q_tail; /* waiting, in height order */
	struct ds__cjob *d_head, *d_tail; /* finished, for the loop */
	size_t nbusy;     /* queued + running */
	uint64_t durable; /* highest height this thread committed */
	int failed;       /* first error: later jobs are not run */
	bool stop;
	bool posted; /* a reap closure is waiting on the loop */
	uint64_t last_queued; /* loop thread only */
};

static void reap_cb(void *arg)
{
	ds__node_commit_reap(arg);
}

static void *committer_main(void *arg)
{
	struct ds_node *n = arg;
	struct ds__committer *c = n->committer;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->q_head && !c->stop)
			pthread_cond_wait(&c->work, &c->lock);
		if (!c->q_head)
			break; /* stopping, and everything decided is written */
		struct ds__cjob *j = c->q_head;
		c->q_head = j->next;
		if (!c->q_head)
			c->q_tail = NULL;
		j->next = NULL;
		int failed = c->failed;
		pthread_mutex_unlock(&c->lock);
		int rc = failed ? DS_ECLOSED : ds_chain_commit_end(n->chain, j->payload, j->len, &j->qc, j->pre,
									j->suffix, j->suffix_len);
		pthread_mutex_lock(&c->lock);
		j->rc = rc;
		if (rc && !c->failed)
			c->failed = rc;
		else if (!rc)
			c->durable = j->height;
		c->nbusy--;
		if (c->d_tail)
			c->d_tail->next = j;
		else
			c->d_head = j;
		c->d_tail = j;
		pthread_cond_broadcast(&c->done_cv);
		if (!c->posted && !c->stop) {
			c->posted = true;
			pthread_mutex_unlock(&c->lock);
			/* On failure the loop's tick reaps instead. */
			int prc = ds_loop_post(n->loop, reap_cb, n);
			pthread_mutex_lock(&c->lock);
			if (prc)
				c->posted = false;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static void job_free(struct ds__cjob *j)
{
	free(j->payload);
	free(j->pre);
	free(j->suffix);
	free(j);
}

static int committer_start(struct ds_node *n)
{
	struct ds__committer *c = calloc(1, sizeof(*c));
	if (!c)
		return DS_ENOMEM;
	c->durable = n->tip.height;
	c->last_queued = n->tip.height;
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c);
		return DS_ENOMEM;
	}
	if (pthread_cond_init(&c->work, NULL) != 0)
		goto fail_lock;
	if (pthread_cond_init(&c->done_cv, NULL) != 0)
		goto fail_work;
	n->committer = c;
	if (pthread_create(&c->thread, NULL, committer_main, n) != 0) {
		n->committer = NULL;
		pthread_cond_destroy(&c->done_cv);
		goto fail_work;
	}
	return 0;
fail_work:
	pthread_cond_destroy(&c->work);
fail_lock:
	pthread_mutex_destroy(&c->lock);
	free(c);
	return DS_ENOMEM;
}

uint64_t ds__node_commit_queued(const struct ds_node *n)
{
	const struct ds__committer *c = n->committer;
	return c && c->last_queued > n->tip.height ? c->last_queued : n->tip.height;
}

int ds__node_commit_enqueue(struct ds_node *n, const uint8_t *payload, size_t len, uint64_t height,
			    const struct ds_qc *qc, bool *pre, const uint8_t *suffix, size_t suffix_len)
{
	if (!n->committer) {
		int rc = committer_start(n);
		if (rc) {
			free(pre);
			return rc;
		}
	}
	struct ds__committer *c = n->committer;
	DS_ASSERT(height == ds__node_commit_queued(n) + 1);
	struct ds__cjob *j = calloc(1, sizeof(*j));
	uint8_t *copy = malloc(len ? len : 1);
	uint8_t *sfx = suffix_len ? malloc(suffix_len) : NULL;
	if (!j || !copy || (suffix_len && !sfx)) {
		free(j);
		free(copy);
		free(sfx);
		free(pre);
		return DS_ENOMEM;
	}
	memcpy(copy, payload, len);
	if (suffix_len)
		memcpy(sfx, suffix, suffix_len);
	j->suffix = sfx;
	j->suffix_len = suffix_len;
	j->payload = copy;
	j->len = len;
	j->pre = pre;
	j->height = height;
	j->qc = *qc;
	pthread_mutex_lock(&c->lock);
	/* Bound: consensus may run at most this far ahead of the disk. */
	while (c->nbusy >= DS__NODE_COMMIT_QMAX && !c->failed)
		pthread_cond_wait(&c->done_cv, &c->lock);
	if (c->q_tail)
		c->q_tail->next = j;
	else
		c->q_head = j;
	c->q_tail = j;
	c->nbusy++;
	c->last_queued = height;
	pthread_cond_signal(&c->work);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void ds__node_commit_wait(struct ds_node *n, uint64_t height)
{
	struct ds__committer *c = n->committer;
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	while (c->durable < height && c->nbusy > 0 && !c->failed)
		pthread_cond_wait(&c->done_cv, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

void ds__node_commit_reap(struct ds_node *n)
{
	struct ds__committer *c = n->committer;
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	struct ds__cjob *j = c->d_head;
	c->d_head = c->d_tail = NULL;
	c->posted = false;
	pthread_mutex_unlock(&c->lock);
	while (j) {
		struct ds__cjob *next = j->next;
		struct ds_block b;
		int rc = j->rc;
		if (rc == 0 && !n->fatal) {
			rc = ds_block_decode(&b, j->payload, j->len);
			if (rc == 0) {
				struct ds_chain_tip tip;
				memset(&tip, 0, sizeof(tip));
				tip.height = b.header.height;
				tip.header = b.header;
				tip.txs_total = n->tip.txs_total + b.header.tx_count;
				rc = ds_header_hash(tip.hash, &b.header);
				if (rc == 0) {
					ds__node_after_commit(n, j->payload, j->len, &b, &tip);
					DS_LOGD(MOD, "committed", " height=%" PRIu64 " txs=%u",
						j->height, b.header.tx_count);
				}
			}
		}
		if (rc && rc != DS_ECLOSED)
			ds__node_fail(n, rc, rc == DS_EFULL ? "disk full: cannot commit" : "commit failed");
		job_free(j);
		j = next;
	}
}

void ds__node_commit_idle(struct ds_node *n)
{
	struct ds__committer *c = n->committer;
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	while (c->nbusy > 0)
		pthread_cond_wait(&c->done_cv, &c->lock);
	pthread_mutex_unlock(&c->lock);
	ds__node_commit_reap(n);
}

void ds__node_commit_stop(struct ds_node *n)
{
	struct ds__committer *c = n->committer;
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_signal(&c->work);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	for (struct ds__cjob *j = c->d_head, *next; j; j = next) {
		next = j->next;
		job_free(j);
	}
	pthread_cond_destroy(&c->done_cv);
	pthread_cond_destroy(&c->work);
	pthread_mutex_destroy(&c->lock);
	free(c);
	n->committer = NULL;
}
