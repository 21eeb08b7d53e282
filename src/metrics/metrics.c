/* metrics — registry, lock-free updates, Prometheus text rendering. */
#include "metrics/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "codec/codec.h"

#define NAME_MAX_LEN 127
#define HELP_MAX_LEN 1024

static const char other_value[] = "_other";

struct ds_metric_series {
	struct ds_metric *m;
	char *values[DS_METRIC_LABELS_MAX]; /* owned, except in the overflow series */
	_Atomic uint64_t counter;
	_Atomic int64_t gauge;
	_Atomic uint64_t sum_bits; /* histogram sum, a double's bits */
	_Atomic uint64_t *buckets; /* histogram: nbounds + 1 non-cumulative counts */
};

struct ds_metric {
	struct ds_metrics *reg;
	enum ds_metric_type type;
	char *name;
	char *help;
	size_t nlabels;
	char *labels[DS_METRIC_LABELS_MAX];
	double bounds[DS_METRIC_BUCKETS_MAX];
	size_t nbounds;
	size_t max_series;               /* regular series, the overflow excluded */
	struct ds_metric_series *series; /* max_series slots */
	_Atomic size_t nseries;          /* published with release order */
	struct ds_metric_series overflow;
	_Atomic bool overflow_used;
};

struct ds_metrics {
	pthread_mutex_t mu;
	struct ds_metric *m[DS_METRICS_MAX];
	size_t n;
};

static bool valid_name(const char *s, bool colon, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			  (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
		if (!ok)
			return false;
	}
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

int ds_metrics_new(struct ds_metrics **out)
{
	*out = NULL;
	struct ds_metrics *r = calloc(1, sizeof(*r));
	if (!r)
		return DS_ENOMEM;
	if (pthread_mutex_init(&r->mu, NULL) != 0) {
		free(r);
		return DS_ENOMEM;
	}
	*out = r;
	return 0;
}

static void series_free(struct ds_metric_series *s, size_t nlabels, bool own_values)
{
	if (own_values)
		for (size_t i = 0; i < nlabels; i++)
			free(s->values[i]);
	free((void *)s->buckets);
}

static void metric_free(struct ds_metric *m)
{
	if (!m)
		return;
	size_t n = atomic_load(&m->nseries);
	if (m->series) {
		for (size_t i = 0; i < n; i++)
			series_free(&m->series[i], m->nlabels, true);
		free(m->series);
	}
	series_free(&m->overflow, m->nlabels, false);
	for (size_t i = 0; i < m->nlabels; i++)
		free(m->labels[i]);
	free(m->name);
	free(m->help);
	free(m);
}

void ds_metrics_free(struct ds_metrics *reg)
{
	if (!reg)
		return;
	for (size_t i = 0; i < reg->n; i++)
		metric_free(reg->m[i]);
	pthread_mutex_destroy(&reg->mu);
	free(reg);
}

static int series_init(struct ds_metric_series *s, struct ds_metric *m)
{
	s->m = m;
	atomic_init(&s->counter, 0);
	atomic_init(&s->gauge, 0);
	atomic_init(&s->sum_bits, 0); /* +0.0 */
	s->buckets = NULL;
	if (m->type == DS_METRIC_HISTOGRAM) {
		s->buckets = calloc(m->nbounds + 1, sizeof(*s->buckets));
		if (!s->buckets)
			return DS_ENOMEM;
		for (size_t i = 0; i <= m->nbounds; i++)
			atomic_init(&s->buckets[i], 0);
	}
	return 0;
}

static int check_desc(const struct ds_metric_desc *d, size_t *nlabels)
{
	if (d->type != DS_METRIC_COUNTER && d->type != DS_METRIC_GAUGE &&
	    d->type != DS_METRIC_HISTOGRAM)
		return DS_EINVAL;
	if (!d->name || !valid_name(d->name, true, NAME_MAX_LEN))
		return DS_EINVAL;
	bool total = ends_with(d->name, "_total");
	if ((d->type == DS_METRIC_COUNTER) != total)
		return DS_EINVAL;
	if (d->type == DS_METRIC_HISTOGRAM &&
	    (ends_with(d->name, "_bucket") || ends_with(d->name, "_sum") || ends_with(d->name, "_count")))
		return DS_EINVAL;
	if (!d->help || !d->help[0] || strlen(d->help) > HELP_MAX_LEN ||
	    !ds_utf8_valid((const uint8_t *)d->help, strlen(d->help)))
		return DS_EINVAL;
	size_t n = 0;
	for (; d->labels && d->labels[n]; n++) {
		if (n == DS_METRIC_LABELS_MAX)
			return DS_EINVAL;
		const char *l = d->labels[n];
		if (!valid_name(l, false, NAME_MAX_LEN) || strncmp(l, "__", 2) == 0 ||
		    strcmp(l, "le") == 0)
			return DS_EINVAL;
		for (size_t j = 0; j < n; j++)
			if (strcmp(d->labels[j], l) == 0)
				return DS_EINVAL;
	}
	*nlabels = n;
	if (d->type == DS_METRIC_HISTOGRAM) {
		if (!d->buckets || d->nbuckets == 0 || d->nbuckets > DS_METRIC_BUCKETS_MAX)
			return DS_EINVAL;
		for (size_t i = 0; i < d->nbuckets; i++) {
			if (!isfinite(d->buckets[i]))
				return DS_EINVAL;
			if (i > 0 && !(d->buckets[i] > d->buckets[i - 1]))
				return DS_EINVAL;
		}
	} else if (d->buckets || d->nbuckets) {
		return DS_EINVAL;
	}
	if (d->max_series > DS_METRIC_SERIES_MAX || (d->max_series == 1 && n > 0))
		return DS_EINVAL;
	return 0;
}

int ds_metrics_add(struct ds_metric **out, struct ds_metrics *reg, const struct ds_metric_desc *d)
{
	*out = NULL;
	size_t nlabels = 0;
	int rc = check_desc(d, &nlabels);
	if (rc)
		return rc;
	struct ds_metric *m = calloc(1, sizeof(*m));
	if (!m)
		return DS_ENOMEM;
	m->reg = reg;
	m->type = d->type;
	m->nlabels = nlabels;
	m->nbounds = d->type == DS_METRIC_HISTOGRAM ? d->nbuckets : 0;
	if (m->nbounds)
		memcpy(m->bounds, d->buckets, m->nbounds * sizeof(double));
	/* Unlabelled families have exactly one series; labelled ones keep one
	 * slot of their budget for the overflow series. */
	size_t budget = d->max_series ? d->max_series : DS_METRIC_SERIES_DEFAULT;
	m->max_series = nlabels ? budget - 1 : 1;
	atomic_init(&m->nseries, 0);
	atomic_init(&m->overflow_used, false);
	rc = DS_ENOMEM;
	m->name = strdup(d->name);
	m->help = strdup(d->help);
	m->series = calloc(m->max_series, sizeof(*m->series));
	if (!m->name || !m->help || !m->series)
		goto fail;
	for (size_t i = 0; i < nlabels; i++) {
		m->labels[i] = strdup(d->labels[i]);
		if (!m->labels[i])
			goto fail;
		m->overflow.values[i] = (char *)other_value;
	}
	if (series_init(&m->overflow, m) != 0)
		goto fail;
	if (nlabels == 0) {
		if (series_init(&m->series[0], m) != 0)
			goto fail;
		atomic_store(&m->nseries, 1);
	}

	pthread_mutex_lock(&reg->mu);
	rc = 0;
	if (reg->n == DS_METRICS_MAX)
		rc = DS_EFULL;
	for (size_t i = 0; i < reg->n && rc == 0; i++)
		if (strcmp(reg->m[i]->name, m->name) == 0)
			rc = DS_EEXIST;
	if (rc == 0)
		reg->m[reg->n++] = m;
	pthread_mutex_unlock(&reg->mu);
	if (rc)
		goto fail;
	*out = m;
	return 0;
fail:
	metric_free(m);
	return rc;
}

static bool values_match(const struct ds_metric_series *s, size_t n, const char *const *v)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->values[i], v[i]) != 0)
			return false;
	return true;
}

static struct ds_metric_series *overflow(struct ds_metric *m)
{
	atomic_store_explicit(&m->overflow_used, true, memory_order_release);
	return &m->overflow;
}

struct ds_metric_series *ds_metric_get(struct ds_metric *m, const char *const *values)
{
	if (m->nlabels == 0)
		return &m->series[0];
	DS_ASSERT(values != NULL);
	for (size_t i = 0; i < m->nlabels; i++) {
		DS_ASSERT(values[i] != NULL);
		size_t len = strlen(values[i]);
		if (len > DS_METRIC_LABEL_VALUE_MAX || !ds_utf8_valid((const uint8_t *)values[i], len))
			return overflow(m);
	}
	/* Fast path: series are never removed and a slot is complete before
	 * nseries is published, so reading without the lock is safe. */
	size_t n = atomic_load_explicit(&m->nseries, memory_order_acquire);
	for (size_t i = 0; i < n; i++)
		if (values_match(&m->series[i], m->nlabels, values))
			return &m->series[i];

	struct ds_metric_series *found = NULL;
	pthread_mutex_lock(&m->reg->mu);
	size_t n2 = atomic_load_explicit(&m->nseries, memory_order_relaxed);
	for (size_t i = n; i < n2 && !found; i++)
		if (values_match(&m->series[i], m->nlabels, values))
			found = &m->series[i];
	if (!found && n2 < m->max_series) {
		struct ds_metric_series *s = &m->series[n2];
		bool ok = series_init(s, m) == 0;
		size_t i = 0;
		for (; ok && i < m->nlabels; i++) {
			s->values[i] = strdup(values[i]);
			ok = s->values[i] != NULL;
		}
		if (ok) {
			atomic_store_explicit(&m->nseries, n2 + 1, memory_order_release);
			found = s;
		} else {
			series_free(s, i, true);
			memset(s, 0, sizeof(*s));
		}
	}
	pthread_mutex_unlock(&m->reg->mu);
	return found ? found : overflow(m);
}

void ds_metric_inc(struct ds_metric_series *s, uint64_t n)
{
	DS_ASSERT(s->m->type == DS_METRIC_COUNTER);
	atomic_fetch_add_explicit(&s->counter, n, memory_order_relaxed);
}

void ds_metric_set(struct ds_metric_series *s, int64_t v)
{
	DS_ASSERT(s->m->type == DS_METRIC_GAUGE);
	atomic_store_explicit(&s->gauge, v, memory_order_relaxed);
}

void ds_metric_add(struct ds_metric_series *s, int64_t d)
{
	DS_ASSERT(s->m->type == DS_METRIC_GAUGE);
	atomic_fetch_add_explicit(&s->gauge, d, memory_order_relaxed);
}

static double bits_to_double(uint64_t b)
{
	double d;
	memcpy(&d, &b, sizeof(d));
	return d;
}

static uint64_t double_to_bits(double d)
{
	uint64_t b;
	memcpy(&b, &d, sizeof(b));
	return b;
}

void ds_metric_observe(struct ds_metric_series *s, double v)
{
	const struct ds_metric *m = s->m;
	DS_ASSERT(m->type == DS_METRIC_HISTOGRAM);
	if (isnan(v))
		return;
	size_t i = 0;
	while (i < m->nbounds && v > m->bounds[i])
		i++;
	atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
	uint64_t old = atomic_load_explicit(&s->sum_bits, memory_order_relaxed);
	/* CAS loop; bounded in practice by the number of concurrent writers. */
	while (!atomic_compare_exchange_weak_explicit(&s->sum_bits, &old,
						      double_to_bits(bits_to_double(old) + v),
						      memory_order_relaxed, memory_order_relaxed))
		;
}

uint64_t ds_metric_counter_value(const struct ds_metric_series *s)
{
	return atomic_load_explicit(&((struct ds_metric_series *)s)->counter, memory_order_relaxed);
}

int64_t ds_metric_gauge_value(const struct ds_metric_series *s)
{
	return atomic_load_explicit(&((struct ds_metric_series *)s)->gauge, memory_order_relaxed);
}

uint64_t ds_metric_hist_count(const struct ds_metric_series *s)
{
	uint64_t c = 0;
	for (size_t i = 0; s->buckets && i <= s->m->nbounds; i++)
		c += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
	return c;
}

double ds_metric_hist_sum(const struct ds_metric_series *s)
{
	return bits_to_double(atomic_load_explicit(&((struct ds_metric_series *)s)->sum_bits,
						   memory_order_relaxed));
}

/* Shortest "%.Ng" that reads back as the same double; Go's ParseFloat
 * (Prometheus) accepts every form printf produces, exponents included. */
static void put_double(struct ds_buf *b, double v)
{
	if (isnan(v)) {
		ds_buf_append(b, "NaN", 3);
		return;
	}
	if (isinf(v)) {
		ds_buf_printf(b, "%s", v > 0 ? "+Inf" : "-Inf");
		return;
	}
	char tmp[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	ds_buf_printf(b, "%s", tmp);
}

static void put_escaped(struct ds_buf *b, const char *s, bool quote)
{
	const char *run = s;
	for (; *s; s++) {
		const char *rep = NULL;
		if (*s == '\\')
			rep = "\\\\";
		else if (*s == '\n')
			rep = "\\n";
		else if (quote && *s == '"')
			rep = "\\\"";
		if (rep) {
			ds_buf_append(b, run, (size_t)(s - run));
			ds_buf_append(b, rep, 2);
			run = s + 1;
		}
	}
	ds_buf_append(b, run, (size_t)(s - run));
}

/* Writes {a="x",b="y"[,le="..."]} or nothing when there are no labels. */
static void put_labels(struct ds_buf *b, const struct ds_metric *m, const struct ds_metric_series *s,
		       const double *le)
{
	if (m->nlabels == 0 && !le)
		return;
	ds_buf_append(b, "{", 1);
	for (size_t i = 0; i < m->nlabels; i++) {
		ds_buf_printf(b, "%s%s=\"", i ? "," : "", m->labels[i]);
		put_escaped(b, s->values[i], true);
		ds_buf_append(b, "\"", 1);
	}
	if (le) {
		ds_buf_printf(b, "%sle=\"", m->nlabels ? "," : "");
		put_double(b, *le);
		ds_buf_append(b, "\"", 1);
	}
	ds_buf_append(b, "}", 1);
}

static void render_series(struct ds_buf *b, const struct ds_metric *m, const struct ds_metric_series *s)
{
	switch (m->type) {
	case DS_METRIC_COUNTER:
		ds_buf_printf(b, "%s", m->name);
		put_labels(b, m, s, NULL);
		ds_buf_printf(b, " %llu\n", (unsigned long long)ds_metric_counter_value(s));
		break;
	case DS_METRIC_GAUGE:
		ds_buf_printf(b, "%s", m->name);
		put_labels(b, m, s, NULL);
		ds_buf_printf(b, " %lld\n", (long long)ds_metric_gauge_value(s));
		break;
	case DS_METRIC_HISTOGRAM: {
		/* Read each bucket once so +Inf and _count agree even while
		 * other threads keep observing. */
		uint64_t cum = 0;
		const double inf = INFINITY;
		for (size_t i = 0; i <= m->nbounds; i++) {
			cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
			ds_buf_printf(b, "%s_bucket", m->name);
			put_labels(b, m, s, i < m->nbounds ? &m->bounds[i] : &inf);
			ds_buf_printf(b, " %llu\n", (unsigned long long)cum);
		}
		ds_buf_printf(b, "%s_sum", m->name);
		put_labels(b, m, s, NULL);
		ds_buf_append(b, " ", 1);
		put_double(b, ds_metric_hist_sum(s));
		ds_buf_printf(b, "\n%s_count", m->name);
		put_labels(b, m, s, NULL);
		ds_buf_printf(b, " %llu\n", (unsigned long long)cum);
		break;
	}
	}
}

int ds_metrics_render(struct ds_buf *out, struct ds_metrics *reg)
{
	static const char *const type_names[] = {"", "counter", "gauge", "histogram"};
	pthread_mutex_lock(&reg->mu);
	for (size_t i = 0; i < reg->n; i++) {
		const struct ds_metric *m = reg->m[i];
		ds_buf_printf(out, "# HELP %s ", m->name);
		put_escaped(out, m->help, false);
		ds_buf_printf(out, "\n# TYPE %s %s\n", m->name, type_names[m->type]);
		size_t n = atomic_load_explicit(&((struct ds_metric *)m)->nseries, memory_order_acquire);
		for (size_t k = 0; k < n; k++)
			render_series(out, m, &m->series[k]);
		if (atomic_load_explicit(&((struct ds_metric *)m)->overflow_used, memory_order_acquire))
			render_series(out, m, &m->overflow);
	}
	pthread_mutex_unlock(&reg->mu);
	return out->err ? DS_ENOMEM : 0;
}
