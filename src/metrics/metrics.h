/* metrics — a registry of counters, gauges and histograms, rendered in the
 * Prometheus text exposition format 0.0.4.
 *
 * Model: a registry holds up to DS_METRICS_MAX metric families. Each family
 * has a fixed list of label names (0..DS_METRIC_LABELS_MAX), fixed when it is
 * added, and at most max_series label-value combinations ("series"). A series
 * is found or created with ds_metric_get(); when the family is full, or a
 * label value is unusable (not UTF-8, too long), the update goes to one
 * overflow series whose label values are all "_other". Memory therefore never
 * grows with what clients send (a scanner probing random URLs cannot create
 * new series).
 *
 * Threads: everything is thread-safe. Updates (inc/set/add/observe) are
 * lock-free atomics on a series pointer, which stays valid until the registry
 * is freed, so hot paths look a series up once and keep the pointer. Adding
 * families, creating series and rendering take the registry mutex.
 *
 * Naming rules enforced by ds_metrics_add (DS_EINVAL otherwise), chosen so
 * that `promtool check metrics` accepts every rendering:
 *  - name matches [a-zA-Z_:][a-zA-Z0-9_:]*, at most 127 bytes;
 *  - counters end in "_total"; gauges and histograms must not;
 *  - label names match [a-zA-Z_][a-zA-Z0-9_]*, do not start with "__",
 *    are unique, and "le" is refused (histograms use it);
 *  - help text is non-empty UTF-8 (rendered with \\ and \n escaped).
 * Use base units (seconds, bytes) in names, as Prometheus asks.
 */
#ifndef DS_METRICS_H
#define DS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define DS_METRICS_MAX 128          /* families per registry */
#define DS_METRIC_LABELS_MAX 4      /* label names per family */
#define DS_METRIC_BUCKETS_MAX 32    /* histogram upper bounds, +Inf excluded */
#define DS_METRIC_SERIES_DEFAULT 64 /* series per family when max_series == 0 */
#define DS_METRIC_SERIES_MAX 4096
#define DS_METRIC_LABEL_VALUE_MAX 256 /* bytes; longer values go to "_other" */

struct ds_metrics;        /* registry (opaque) */
struct ds_metric;         /* one family: name, help, type, label names */
struct ds_metric_series;  /* one label-value combination of a family */

enum ds_metric_type {
	DS_METRIC_COUNTER = 1,   /* monotonically increasing uint64 */
	DS_METRIC_GAUGE = 2,     /* int64 that goes up and down */
	DS_METRIC_HISTOGRAM = 3, /* fixed buckets, sum and count */
};

struct ds_metric_desc {
	enum ds_metric_type type;
	const char *name;          /* copied */
	const char *help;          /* copied */
	const char *const *labels; /* NULL, or NULL-terminated label names (copied) */
	const double *buckets;     /* histograms: strictly increasing finite upper
				    * bounds (copied), 1..DS_METRIC_BUCKETS_MAX */
	size_t nbuckets;
	size_t max_series;         /* 0 = DS_METRIC_SERIES_DEFAULT, counts the
				    * overflow series; <= DS_METRIC_SERIES_MAX */
};

/* Creates an empty registry. Returns 0, or DS_ENOMEM. */
int ds_metrics_new(struct ds_metrics **out) DS_MUST_USE;
/* Frees the registry, every family and series in it (NULL is a no-op).
 * No other thread may use it or any pointer obtained from it any more. */
void ds_metrics_free(struct ds_metrics *reg);

/* Adds a family. *out stays valid until the registry is freed.
 * Returns 0; DS_EINVAL for a bad name, help, label set or bucket list;
 * DS_EEXIST if the name is taken; DS_EFULL past DS_METRICS_MAX; DS_ENOMEM. */
int ds_metrics_add(struct ds_metric **out, struct ds_metrics *reg,
		   const struct ds_metric_desc *desc) DS_MUST_USE;

/* Returns the series for these label values (one per label name, in order;
 * NULL when the family has no labels). Never fails: a full family or an
 * unusable value yields the overflow series. Values are copied on creation.
 * The pointer stays valid until the registry is freed. */
struct ds_metric_series *ds_metric_get(struct ds_metric *m, const char *const *values);

/* Updates, lock-free. Each checks the family type with DS_ASSERT (calling
 * the wrong one is our bug, not input). */
void ds_metric_inc(struct ds_metric_series *s, uint64_t n);  /* counter */
void ds_metric_set(struct ds_metric_series *s, int64_t v);   /* gauge */
void ds_metric_add(struct ds_metric_series *s, int64_t d);   /* gauge */
void ds_metric_observe(struct ds_metric_series *s, double v); /* histogram; NaN ignored */

/* Reads, for tests and for the node's own decisions. */
uint64_t ds_metric_counter_value(const struct ds_metric_series *s);
int64_t ds_metric_gauge_value(const struct ds_metric_series *s);
/* Histogram: total observations and their sum. */
uint64_t ds_metric_hist_count(const struct ds_metric_series *s);
double ds_metric_hist_sum(const struct ds_metric_series *s);

/* Appends the whole registry in text format 0.0.4 to out (families in the
 * order they were added, series in creation order, overflow last).
 * Returns 0, or DS_ENOMEM when out failed (out->err is then set). */
int ds_metrics_render(struct ds_buf *out, struct ds_metrics *reg) DS_MUST_USE;

/* The Content-Type to serve a rendering with. */
#define DS_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
