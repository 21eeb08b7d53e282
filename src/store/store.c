/* store — LMDB behind a small API. See store.h for the contract and
 * docs/OPERATIONS.md for durability, growth and disk-full behaviour. */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define MOD "store"
#define MAP_INIT_DEFAULT ((uint64_t)64 << 20)
#define MAP_MAX_DEFAULT ((uint64_t)256 << 30)
#define RESIZE_WAIT_DEFAULT_MS 10000u
/* Each retry doubles the map, so 64 attempts cover any size; the bound only
 * guards against a bug that would otherwise loop forever. */
#define WRITE_ATTEMPTS_MAX 64
/* Free space below which an EIO from a write is read as "disk full":
 * LMDB turns a short write (the usual shape of ENOSPC) into EIO. */
#define DISK_LOW_BYTES ((uint64_t)1 << 20)
#define DIR_PATH_MAX 3800

struct ds_store_cursor {
	struct ds_rtxn *tx;
	MDB_cursor *mc;
	bool in_use;
	bool positioned;
	size_t prefix_len;
	uint8_t prefix[DS_STORE_KEY_MAX];
};

struct ds_rtxn {
	struct ds_store *s;
	MDB_txn *txn;
	struct ds_wtxn *w; /* non-NULL: this is the view of a write txn */
	pthread_t owner;   /* read txns end on the thread that began them */
	struct ds_store_cursor cur[DS_STORE_CURSORS_MAX];
};

struct ds_wtxn {
	struct ds_rtxn view;
	int err;       /* sticky: set once LMDB has killed the txn */
	bool map_full; /* the txn died of MDB_MAP_FULL: grow and re-run */
};

struct ds_store {
	MDB_env *env;
	MDB_dbi dbi[DS_STORE_TABLES_MAX];
	size_t tables_len;
	int dir_fd; /* holds the exclusive flock on the directory */
	uint64_t map_size;
	uint64_t map_max;
	unsigned resize_wait_ms;
	atomic_bool failed;
	atomic_uint_fast64_t grow_count;
	pthread_mutex_t write_mu; /* one ds_store_write at a time */
	/* Map growth needs every txn of this process ended: mu/cv guard the
	 * count of open read txns (and backups) and the resizing flag. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned active;
	bool resizing;
	struct ds_wtxn w; /* reused by each write, guarded by write_mu */
	char dir[DIR_PATH_MAX];
};

/* Read txns (of any store) held by this thread, and whether it is inside a
 * write callback: both make ds_store_write refuse rather than deadlock. */
static _Thread_local unsigned tls_reads;
static _Thread_local bool tls_in_write;

/* ---- errors ------------------------------------------------------------ */

enum err_kind {
	EK_SOFT,  /* the txn stays usable (not found, exists) */
	EK_TXN,   /* the txn is dead, the store is fine */
	EK_FATAL, /* the store is failed */
};

static bool disk_looks_full(struct ds_store *s)
{
	int fd;
	if (mdb_env_get_fd(s->env, &fd) != 0)
		return false;
	struct stat st;
	struct rlimit rl;
	if (fstat(fd, &st) == 0 && getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (uint64_t)st.st_size + 65536 >= (uint64_t)rl.rlim_cur)
		return true;
	struct statvfs v;
	if (fstatvfs(fd, &v) == 0 && (uint64_t)v.f_bavail * v.f_frsize < DISK_LOW_BYTES)
		return true;
	return false;
}

static void mark_failed(struct ds_store *s, int rc, const char *op)
{
	if (!atomic_exchange(&s->failed, true))
		DS_LOGE(MOD, "store failed: unexpected LMDB error, refusing further use",
			" op=%s lmdb_rc=%d err=\"%s\" dir=\"%s\"", op, rc, mdb_strerror(rc), s->dir);
}

/* Maps an LMDB or errno code to DS_E*; *kind says what it did to the txn. */
static int classify(struct ds_store *s, int rc, const char *op, enum err_kind *kind)
{
	*kind = EK_TXN;
	switch (rc) {
	case MDB_NOTFOUND:
		*kind = EK_SOFT;
		return DS_ENOTFOUND;
	case MDB_KEYEXIST:
		*kind = EK_SOFT;
		return DS_EEXIST;
	case MDB_BAD_VALSIZE:
		*kind = EK_SOFT;
		return DS_EINVAL;
	case MDB_MAP_FULL:
		return DS_EFULL;
	case MDB_TXN_FULL:
		DS_LOGW(MOD, "transaction too large, aborted", " op=%s", op);
		return DS_ETOOBIG;
	case MDB_READERS_FULL:
		*kind = EK_SOFT;
		DS_LOGW(MOD, "all reader slots in use", " op=%s", op);
		return DS_ELIMIT;
	case ENOMEM:
		return DS_ENOMEM;
	case ENOSPC:
	case EFBIG:
	case EDQUOT:
		DS_LOGE(MOD, "disk full: write failed, transaction aborted, nothing written",
			" op=%s errno=%d err=\"%s\" dir=\"%s\"", op, rc, strerror(rc), s->dir);
		return DS_EFULL;
	case EIO:
		if (disk_looks_full(s)) {
			DS_LOGE(MOD, "disk full: short write, transaction aborted, nothing written",
				" op=%s dir=\"%s\"", op, s->dir);
			return DS_EFULL;
		}
		break;
	default:
		break;
	}
	*kind = EK_FATAL;
	mark_failed(s, rc, op);
	if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID ||
	    rc == MDB_VERSION_MISMATCH)
		return DS_ECORRUPT;
	return DS_EIO;
}

/* Records an LMDB error seen inside tx and returns its DS_E* code. */
static int txn_error(struct ds_rtxn *tx, int rc, const char *op)
{
	enum err_kind kind;
	int err = classify(tx->s, rc, op, &kind);
	if (tx->w && kind != EK_SOFT) {
		tx->w->err = err;
		if (rc == MDB_MAP_FULL)
			tx->w->map_full = true;
	}
	return err;
}

/* Returns the sticky error of a dead write txn, else 0. */
static int txn_dead(const struct ds_rtxn *tx)
{
	return tx->w ? tx->w->err : 0;
}

/* ---- small checks ------------------------------------------------------- */

static bool table_ok(const struct ds_store *s, unsigned table)
{
	return table < s->tables_len;
}

static bool key_ok(const void *key, size_t len)
{
	return key != NULL && len >= 1 && len <= DS_STORE_KEY_MAX;
}

/* LMDB's default order: bytewise, a proper prefix first. */
static int key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static bool name_ok(const char *name)
{
	size_t n = name ? strnlen(name, DS_STORE_TABLE_NAME_MAX + 1) : 0;
	if (n == 0 || n > DS_STORE_TABLE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

/* ---- reader accounting for map growth ------------------------------------ */

static void deadline_after(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Registers one open txn. Waits while the map is being resized, unless this
 * thread already holds a txn (the resizer is waiting for it anyway). */
static int active_enter(struct ds_store *s)
{
	struct timespec dl;
	deadline_after(&dl, 2 * s->resize_wait_ms);
	pthread_mutex_lock(&s->mu);
	while (s->resizing && tls_reads == 0) {
		if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT) {
			pthread_mutex_unlock(&s->mu);
			return DS_ETIMEOUT;
		}
	}
	s->active++;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static void active_leave(struct ds_store *s)
{
	pthread_mutex_lock(&s->mu);
	DS_ASSERT(s->active > 0);
	if (--s->active == 0)
		pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Doubles the map (up to the maximum). Called by the writer, with write_mu
 * held and no write txn open; waits, bounded, for open readers to end. */
static int grow_map(struct ds_store *s)
{
	if (s->map_size >= s->map_max) {
		DS_LOGE(MOD, "map full: map size is at its configured maximum, nothing written",
			" map_size=%llu map_size_max=%llu dir=\"%s\"", (unsigned long long)s->map_size,
			(unsigned long long)s->map_max, s->dir);
		return DS_EFULL;
	}
	uint64_t want = s->map_size > s->map_max / 2 ? s->map_max : s->map_size * 2;
	struct timespec dl;
	deadline_after(&dl, s->resize_wait_ms);
	pthread_mutex_lock(&s->mu);
	s->resizing = true;
	while (s->active > 0) {
		if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT) {
			s->resizing = false;
			pthread_cond_broadcast(&s->cv);
			pthread_mutex_unlock(&s->mu);
			DS_LOGW(MOD, "map growth timed out waiting for readers", " readers=%u wait_ms=%u",
				s->active, s->resize_wait_ms);
			return DS_ETIMEOUT;
		}
	}
	int rc = mdb_env_set_mapsize(s->env, (size_t)want);
	MDB_envinfo info;
	if (rc == 0)
		rc = mdb_env_info(s->env, &info);
	s->resizing = false;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (rc != 0) {
		mark_failed(s, rc, "set_mapsize");
		return DS_EIO;
	}
	uint64_t old = s->map_size;
	s->map_size = info.me_mapsize;
	atomic_fetch_add(&s->grow_count, 1);
	DS_LOGI(MOD, "map grown", " from=%llu to=%llu", (unsigned long long)old,
		(unsigned long long)s->map_size);
	return 0;
}

/* ---- open / close --------------------------------------------------------- */

static int errno_to_ds(int e)
{
	switch (e) {
	case EACCES:
	case EPERM:
	case EROFS:
		return DS_EPERM;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return DS_EFULL;
	case ENOMEM:
		return DS_ENOMEM;
	case ENOTDIR:
	case ENAMETOOLONG:
		return DS_EINVAL;
	default:
		return DS_EIO;
	}
}

static int prepare_dir(const char *dir)
{
	if (mkdir(dir, 0700) == 0)
		return 0;
	int e = errno;
	if (e != EEXIST) {
		DS_LOGE(MOD, "cannot create store directory", " dir=\"%s\" err=\"%s\"", dir, strerror(e));
		return errno_to_ds(e);
	}
	struct stat st;
	if (stat(dir, &st) != 0) {
		e = errno;
		DS_LOGE(MOD, "cannot stat store directory", " dir=\"%s\" err=\"%s\"", dir, strerror(e));
		return errno_to_ds(e);
	}
	if (!S_ISDIR(st.st_mode)) {
		DS_LOGE(MOD, "store path is not a directory", " dir=\"%s\"", dir);
		return DS_EINVAL;
	}
	if ((st.st_mode & 077) != 0) {
		if (chmod(dir, 0700) != 0) {
			e = errno;
			DS_LOGE(MOD, "cannot restrict store directory to mode 0700", " dir=\"%s\" err=\"%s\"",
				dir, strerror(e));
			return errno_to_ds(e);
		}
		DS_LOGW(MOD, "store directory mode tightened to 0700", " dir=\"%s\"", dir);
	}
	return 0;
}

static void tighten_file(const char *dir, const char *name)
{
	char p[DIR_PATH_MAX + 16];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	struct stat st;
	if (stat(p, &st) == 0 && (st.st_mode & 077) != 0 && chmod(p, 0600) != 0)
		DS_LOGW(MOD, "cannot set file mode 0600", " path=\"%s\"", p);
}

static int open_tables(struct ds_store *s, const struct ds_store_opts *o)
{
	MDB_txn *txn;
	enum err_kind kind;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0)
		return classify(s, rc, "open_tables", &kind);
	for (size_t i = 0; i < o->tables_len; i++) {
		rc = mdb_dbi_open(txn, o->tables[i], MDB_CREATE, &s->dbi[i]);
		if (rc != 0) {
			mdb_txn_abort(txn);
			if (rc == MDB_INCOMPATIBLE) {
				DS_LOGE(MOD, "table name clashes with an incompatible entry", " table=%s dir=\"%s\"",
					o->tables[i], s->dir);
				return DS_ECORRUPT;
			}
			return classify(s, rc, "open_table", &kind);
		}
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0)
		return classify(s, rc, "open_tables_commit", &kind);
	return 0;
}

int ds_store_open(struct ds_store **out, const char *dir, const struct ds_store_opts *o)
{
	*out = NULL;
	if (!dir || !o || !o->tables || o->tables_len == 0 || o->tables_len > DS_STORE_TABLES_MAX)
		return DS_EINVAL;
	size_t dir_len = strnlen(dir, DIR_PATH_MAX);
	if (dir_len == 0 || dir_len >= DIR_PATH_MAX - 32)
		return DS_EINVAL;
	for (size_t i = 0; i < o->tables_len; i++) {
		if (!name_ok(o->tables[i])) {
			DS_LOGE(MOD, "bad table name", " index=%zu", i);
			return DS_EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(o->tables[i], o->tables[j]) == 0) {
				DS_LOGE(MOD, "duplicate table name", " table=%s", o->tables[i]);
				return DS_EINVAL;
			}
	}
	uint64_t init = o->map_size_init_bytes ? o->map_size_init_bytes : MAP_INIT_DEFAULT;
	uint64_t max = o->map_size_max_bytes ? o->map_size_max_bytes : MAP_MAX_DEFAULT;
	if (init < DS_STORE_MAP_MIN || max < init || max > (uint64_t)SIZE_MAX / 2)
		return DS_EINVAL;
	if (o->max_readers > 100000)
		return DS_EINVAL;

	int rc = prepare_dir(dir);
	if (rc != 0)
		return rc;

	struct ds_store *s = calloc(1, sizeof(*s));
	if (!s)
		return DS_ENOMEM;
	s->dir_fd = -1;
	memcpy(s->dir, dir, dir_len + 1);
	s->tables_len = o->tables_len;
	s->map_max = max;
	s->resize_wait_ms = o->resize_wait_ms ? o->resize_wait_ms : RESIZE_WAIT_DEFAULT_MS;
	atomic_init(&s->failed, false);
	atomic_init(&s->grow_count, 0);
	bool mu_ok = false;

	s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dir_fd < 0) {
		int e = errno;
		DS_LOGE(MOD, "cannot open store directory", " dir=\"%s\" err=\"%s\"", dir, strerror(e));
		rc = errno_to_ds(e);
		goto fail;
	}
	/* LMDB must not be opened twice in one process, and two nodes must never
	 * share one store: an exclusive lock on the directory refuses both. */
	if (flock(s->dir_fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		DS_LOGE(MOD, "store directory is in use by another process or handle", " dir=\"%s\" err=\"%s\"",
			dir, strerror(e));
		rc = e == EWOULDBLOCK ? DS_ESTATE : errno_to_ds(e);
		goto fail;
	}

	rc = mdb_env_create(&s->env);
	if (rc != 0) {
		s->env = NULL;
		rc = DS_ENOMEM;
		goto fail;
	}
	if (mdb_env_set_maxdbs(s->env, (MDB_dbi)o->tables_len) != 0 ||
	    mdb_env_set_maxreaders(s->env, o->max_readers ? o->max_readers : 126) != 0 ||
	    mdb_env_set_mapsize(s->env, (size_t)init) != 0) {
		rc = DS_EINVAL;
		goto fail;
	}
	/* MDB_NOTLS: read txns are not tied to threads (and one thread may hold
	 * several). No MDB_WRITEMAP: writes go through write(2), so a full disk
	 * is an error code, never a SIGBUS on a sparse file. */
	unsigned flags = MDB_NOTLS | (o->no_sync ? MDB_NOSYNC : 0);
	rc = mdb_env_open(s->env, dir, flags, 0600);
	if (rc != 0) {
		if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED) {
			DS_LOGE(MOD, "data.mdb is not a valid LMDB environment of this version",
				" dir=\"%s\" err=\"%s\"", dir, mdb_strerror(rc));
			rc = DS_ECORRUPT;
		} else {
			DS_LOGE(MOD, "cannot open LMDB environment", " dir=\"%s\" err=\"%s\"", dir,
				mdb_strerror(rc));
			rc = rc > 0 ? errno_to_ds(rc) : DS_EIO;
		}
		goto fail;
	}
	tighten_file(dir, "data.mdb");
	tighten_file(dir, "lock.mdb");
	int dead = 0;
	if (mdb_reader_check(s->env, &dead) == 0 && dead > 0)
		DS_LOGI(MOD, "cleared stale reader slots", " count=%d", dead);
	DS_ASSERT(mdb_env_get_maxkeysize(s->env) >= DS_STORE_KEY_MAX);

	rc = open_tables(s, o);
	if (rc != 0)
		goto fail;
	MDB_envinfo info;
	if (mdb_env_info(s->env, &info) != 0) {
		rc = DS_EIO;
		goto fail;
	}
	s->map_size = info.me_mapsize;
	if (s->map_size > s->map_max)
		s->map_max = s->map_size; /* data already stored wins over the option */

	if (pthread_mutex_init(&s->write_mu, NULL) != 0) {
		rc = DS_ENOMEM;
		goto fail;
	}
	if (pthread_mutex_init(&s->mu, NULL) != 0) {
		pthread_mutex_destroy(&s->write_mu);
		rc = DS_ENOMEM;
		goto fail;
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int crc = pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (crc != 0) {
		pthread_mutex_destroy(&s->write_mu);
		pthread_mutex_destroy(&s->mu);
		rc = DS_ENOMEM;
		goto fail;
	}
	mu_ok = true;
	DS_LOGD(MOD, "store open", " dir=\"%s\" map_size=%llu tables=%zu", dir,
		(unsigned long long)s->map_size, s->tables_len);
	*out = s;
	return 0;
fail:
	DS_ASSERT(!mu_ok);
	if (s->env)
		mdb_env_close(s->env);
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	free(s);
	return rc;
}

void ds_store_close(struct ds_store *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	DS_ASSERT(s->active == 0);
	pthread_mutex_unlock(&s->mu);
	mdb_env_close(s->env);
	close(s->dir_fd);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->write_mu);
	free(s);
}

bool ds_store_failed(const struct ds_store *s)
{
	return atomic_load(&((struct ds_store *)s)->failed);
}

/* ---- cursors -------------------------------------------------------------- */

static void cursors_close_all(struct ds_rtxn *tx)
{
	for (size_t i = 0; i < DS_STORE_CURSORS_MAX; i++) {
		if (tx->cur[i].in_use) {
			mdb_cursor_close(tx->cur[i].mc);
			tx->cur[i].in_use = false;
			tx->cur[i].mc = NULL;
		}
	}
}

int ds_store_cursor_open(struct ds_store_cursor **out, struct ds_rtxn *tx, unsigned table,
			 const void *prefix, size_t prefix_len)
{
	*out = NULL;
	int err = txn_dead(tx);
	if (err)
		return err;
	if (!table_ok(tx->s, table) || prefix_len > DS_STORE_KEY_MAX || (prefix_len && !prefix))
		return DS_EINVAL;
	struct ds_store_cursor *c = NULL;
	for (size_t i = 0; i < DS_STORE_CURSORS_MAX && !c; i++)
		if (!tx->cur[i].in_use)
			c = &tx->cur[i];
	if (!c)
		return DS_ELIMIT;
	int rc = mdb_cursor_open(tx->txn, tx->s->dbi[table], &c->mc);
	if (rc != 0)
		return txn_error(tx, rc, "cursor_open");
	c->tx = tx;
	c->in_use = true;
	c->positioned = false;
	c->prefix_len = prefix_len;
	if (prefix_len)
		memcpy(c->prefix, prefix, prefix_len);
	*out = c;
	return 0;
}

void ds_store_cursor_close(struct ds_store_cursor *c)
{
	if (!c || !c->in_use)
		return;
	mdb_cursor_close(c->mc);
	c->mc = NULL;
	c->in_use = false;
}

/* Turns the result of one mdb_cursor_get into the caller's answer, applying
 * the prefix bound. */
static int cur_emit(struct ds_store_cursor *c, int rc, const MDB_val *k, const MDB_val *v,
		    struct ds_store_kv *kv)
{
	if (rc == 0 && c->prefix_len &&
	    (k->mv_size < c->prefix_len || memcmp(k->mv_data, c->prefix, c->prefix_len) != 0))
		rc = MDB_NOTFOUND;
	if (rc != 0) {
		c->positioned = false;
		return txn_error(c->tx, rc, "cursor_get");
	}
	c->positioned = true;
	kv->key = k->mv_data;
	kv->key_len = k->mv_size;
	kv->val = v->mv_data;
	kv->val_len = v->mv_size;
	return 0;
}

static int cur_check(const struct ds_store_cursor *c)
{
	DS_ASSERT(c->in_use);
	return txn_dead(c->tx);
}

int ds_store_cursor_first(struct ds_store_cursor *c, struct ds_store_kv *kv)
{
	int err = cur_check(c);
	if (err)
		return err;
	MDB_val k = {0, NULL}, v;
	int rc;
	if (c->prefix_len) {
		k.mv_size = c->prefix_len;
		k.mv_data = c->prefix;
		rc = mdb_cursor_get(c->mc, &k, &v, MDB_SET_RANGE);
	} else {
		rc = mdb_cursor_get(c->mc, &k, &v, MDB_FIRST);
	}
	return cur_emit(c, rc, &k, &v, kv);
}

int ds_store_cursor_last(struct ds_store_cursor *c, struct ds_store_kv *kv)
{
	int err = cur_check(c);
	if (err)
		return err;
	MDB_val k = {0, NULL}, v;
	int rc = MDB_NOTFOUND;
	if (c->prefix_len) {
		/* The smallest key after every key with this prefix: drop trailing
		 * 0xff bytes and increment the last one. */
		uint8_t succ[DS_STORE_KEY_MAX];
		size_t n = c->prefix_len;
		memcpy(succ, c->prefix, n);
		while (n > 0 && succ[n - 1] == 0xff)
			n--;
		if (n > 0) {
			succ[n - 1]++;
			k.mv_size = n;
			k.mv_data = succ;
			rc = mdb_cursor_get(c->mc, &k, &v, MDB_SET_RANGE);
			if (rc == 0)
				rc = mdb_cursor_get(c->mc, &k, &v, MDB_PREV);
		}
	}
	if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(c->mc, &k, &v, MDB_LAST);
	return cur_emit(c, rc, &k, &v, kv);
}

int ds_store_cursor_seek(struct ds_store_cursor *c, const void *key, size_t key_len,
			 struct ds_store_kv *kv)
{
	int err = cur_check(c);
	if (err)
		return err;
	if (key_len == 0)
		return ds_store_cursor_first(c, kv);
	if (!key_ok(key, key_len))
		return DS_EINVAL;
	if (c->prefix_len && key_cmp(key, key_len, c->prefix, c->prefix_len) < 0)
		return ds_store_cursor_first(c, kv);
	MDB_val k = {key_len, (void *)key}, v;
	int rc = mdb_cursor_get(c->mc, &k, &v, MDB_SET_RANGE);
	return cur_emit(c, rc, &k, &v, kv);
}

int ds_store_cursor_next(struct ds_store_cursor *c, struct ds_store_kv *kv)
{
	int err = cur_check(c);
	if (err)
		return err;
	if (!c->positioned)
		return ds_store_cursor_first(c, kv);
	MDB_val k, v;
	int rc = mdb_cursor_get(c->mc, &k, &v, MDB_NEXT);
	return cur_emit(c, rc, &k, &v, kv);
}

int ds_store_cursor_prev(struct ds_store_cursor *c, struct ds_store_kv *kv)
{
	int err = cur_check(c);
	if (err)
		return err;
	if (!c->positioned)
		return ds_store_cursor_last(c, kv);
	MDB_val k, v;
	int rc = mdb_cursor_get(c->mc, &k, &v, MDB_PREV);
	return cur_emit(c, rc, &k, &v, kv);
}

int ds_store_cursor_del(struct ds_store_cursor *c)
{
	int err = cur_check(c);
	if (err)
		return err;
	if (!c->tx->w)
		return DS_EPERM;
	if (!c->positioned)
		return DS_ESTATE;
	int rc = mdb_cursor_del(c->mc, 0);
	if (rc != 0)
		return txn_error(c->tx, rc, "cursor_del");
	return 0;
}

/* ---- reads ---------------------------------------------------------------- */

int ds_store_read_begin(struct ds_rtxn **out, struct ds_store *s)
{
	*out = NULL;
	if (atomic_load(&s->failed))
		return DS_ESTATE;
	struct ds_rtxn *tx = calloc(1, sizeof(*tx));
	if (!tx)
		return DS_ENOMEM;
	int rc = active_enter(s);
	if (rc != 0) {
		free(tx);
		return rc;
	}
	int mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &tx->txn);
	if (mrc != 0) {
		active_leave(s);
		free(tx);
		enum err_kind kind;
		return classify(s, mrc, "read_begin", &kind);
	}
	tx->s = s;
	tx->owner = pthread_self();
	tls_reads++;
	*out = tx;
	return 0;
}

void ds_store_read_end(struct ds_rtxn *tx)
{
	if (!tx)
		return;
	DS_ASSERT(tx->w == NULL); /* a write view ends with its callback */
	DS_ASSERT(pthread_equal(tx->owner, pthread_self()));
	cursors_close_all(tx);
	mdb_txn_abort(tx->txn);
	DS_ASSERT(tls_reads > 0);
	tls_reads--;
	active_leave(tx->s);
	free(tx);
}

int ds_store_get(struct ds_rtxn *tx, unsigned table, const void *key, size_t key_len,
		 const uint8_t **val, size_t *val_len)
{
	int err = txn_dead(tx);
	if (err)
		return err;
	if (!table_ok(tx->s, table) || !key_ok(key, key_len))
		return DS_EINVAL;
	MDB_val k = {key_len, (void *)key}, v;
	int rc = mdb_get(tx->txn, tx->s->dbi[table], &k, &v);
	if (rc != 0)
		return txn_error(tx, rc, "get");
	*val = v.mv_data;
	*val_len = v.mv_size;
	return 0;
}

/* ---- writes --------------------------------------------------------------- */

struct ds_rtxn *ds_store_wview(struct ds_wtxn *tx)
{
	return &tx->view;
}

int ds_store_put(struct ds_wtxn *tx, unsigned table, const void *key, size_t key_len,
		 const void *val, size_t val_len, unsigned flags)
{
	if (tx->err)
		return tx->err;
	struct ds_store *s = tx->view.s;
	if (!table_ok(s, table) || !key_ok(key, key_len) || val_len > DS_STORE_VAL_MAX ||
	    (val_len && !val) || (flags & ~(unsigned)(DS_STORE_NOOVERWRITE | DS_STORE_APPEND)))
		return DS_EINVAL;
	MDB_val k = {key_len, (void *)key};
	MDB_val v = {val_len, (void *)val};
	unsigned mf = (flags & DS_STORE_NOOVERWRITE) ? MDB_NOOVERWRITE : 0;
	if (flags & DS_STORE_APPEND)
		mf |= MDB_APPEND;
	int rc = mdb_put(tx->view.txn, s->dbi[table], &k, &v, mf);
	if (rc != 0)
		return txn_error(&tx->view, rc, "put");
	return 0;
}

int ds_store_del(struct ds_wtxn *tx, unsigned table, const void *key, size_t key_len)
{
	if (tx->err)
		return tx->err;
	struct ds_store *s = tx->view.s;
	if (!table_ok(s, table) || !key_ok(key, key_len))
		return DS_EINVAL;
	MDB_val k = {key_len, (void *)key};
	int rc = mdb_del(tx->view.txn, s->dbi[table], &k, NULL);
	if (rc != 0)
		return txn_error(&tx->view, rc, "del");
	return 0;
}

int ds_store_del_range(struct ds_wtxn *tx, unsigned table, const void *lo, size_t lo_len,
		       const void *hi, size_t hi_len, size_t max_count, size_t *deleted_out)
{
	*deleted_out = 0;
	if (tx->err)
		return tx->err;
	struct ds_store *s = tx->view.s;
	if (!table_ok(s, table) || lo_len > DS_STORE_KEY_MAX || (lo_len && !lo) ||
	    hi_len > DS_STORE_KEY_MAX || (hi && hi_len == 0))
		return DS_EINVAL;
	MDB_cursor *mc;
	int rc = mdb_cursor_open(tx->view.txn, s->dbi[table], &mc);
	if (rc != 0)
		return txn_error(&tx->view, rc, "del_range");
	MDB_val k = {lo_len, (void *)lo}, v;
	rc = mdb_cursor_get(mc, &k, &v, lo_len ? MDB_SET_RANGE : MDB_FIRST);
	size_t n = 0;
	while (rc == 0 && n < max_count) {
		if (hi && key_cmp(k.mv_data, k.mv_size, hi, hi_len) >= 0)
			break;
		rc = mdb_cursor_del(mc, 0);
		if (rc != 0)
			break;
		n++;
		/* After a delete, MDB_NEXT yields the item that followed it. */
		rc = mdb_cursor_get(mc, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(mc);
	*deleted_out = n;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return txn_error(&tx->view, rc, "del_range");
	return 0;
}

static void wtxn_reset(struct ds_wtxn *w, struct ds_store *s, MDB_txn *txn)
{
	memset(w, 0, sizeof(*w));
	w->view.s = s;
	w->view.txn = txn;
	w->view.w = w;
	w->view.owner = pthread_self();
}

int ds_store_write(struct ds_store *s, ds_store_write_fn fn, void *arg)
{
	if (tls_in_write || tls_reads > 0) {
		DS_LOGE(MOD, "ds_store_write refused: thread holds a read txn or is inside a write",
			" reads=%u nested=%d", tls_reads, (int)tls_in_write);
		return DS_ESTATE;
	}
	if (atomic_load(&s->failed))
		return DS_ESTATE;
	pthread_mutex_lock(&s->write_mu);
	tls_in_write = true;
	struct ds_wtxn *w = &s->w;
	int rc = DS_EFULL;
	for (int attempt = 0; attempt < WRITE_ATTEMPTS_MAX; attempt++) {
		if (atomic_load(&s->failed)) {
			rc = DS_ESTATE;
			break;
		}
		MDB_txn *txn;
		int mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
		if (mrc != 0) {
			enum err_kind kind;
			rc = classify(s, mrc, "write_begin", &kind);
			break;
		}
		wtxn_reset(w, s, txn);
		int frc = fn(w, arg);
		/* Write cursors are closed before the txn ends, so none can be
		 * used (or closed twice) afterwards. */
		cursors_close_all(&w->view);
		if (w->err == 0 && frc == 0) {
			mrc = mdb_txn_commit(txn);
			rc = mrc == 0 ? 0 : txn_error(&w->view, mrc, "commit");
		} else {
			mdb_txn_abort(txn);
			rc = w->err ? w->err : frc;
		}
		bool grow = w->map_full;
		wtxn_reset(w, s, NULL);
		if (!grow)
			break;
		rc = grow_map(s);
		if (rc != 0)
			break;
		rc = DS_EFULL;
	}
	tls_in_write = false;
	pthread_mutex_unlock(&s->write_mu);
	return rc;
}

/* ---- stats, sync, backup -------------------------------------------------- */

int ds_store_stats(struct ds_store *s, struct ds_store_stats *out)
{
	memset(out, 0, sizeof(*out));
	struct ds_rtxn *tx;
	int rc = ds_store_read_begin(&tx, s);
	if (rc != 0)
		return rc;
	MDB_envinfo info;
	MDB_stat st;
	int mrc = mdb_env_info(s->env, &info);
	if (mrc == 0)
		mrc = mdb_env_stat(s->env, &st);
	for (size_t i = 0; mrc == 0 && i < s->tables_len; i++) {
		MDB_stat ts;
		mrc = mdb_stat(tx->txn, s->dbi[i], &ts);
		if (mrc == 0)
			out->entries[i] = ts.ms_entries;
	}
	if (mrc != 0) {
		rc = txn_error(tx, mrc, "stats");
		ds_store_read_end(tx);
		return rc;
	}
	out->map_size_bytes = info.me_mapsize;
	out->map_size_max_bytes = s->map_max;
	out->page_size = st.ms_psize;
	out->used_bytes = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	out->readers_max = info.me_maxreaders;
	out->readers_used = info.me_numreaders;
	out->map_grow_count = atomic_load(&s->grow_count);
	out->tables_len = s->tables_len;
	ds_store_read_end(tx);
	return 0;
}

int ds_store_sync(struct ds_store *s)
{
	if (atomic_load(&s->failed))
		return DS_ESTATE;
	int rc = mdb_env_sync(s->env, 1);
	if (rc != 0) {
		enum err_kind kind;
		return classify(s, rc, "sync", &kind);
	}
	return 0;
}

static int fsync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int e = fsync(fd) == 0 ? 0 : errno;
	close(fd);
	return e;
}

int ds_store_backup(struct ds_store *s, const char *path)
{
	if (atomic_load(&s->failed))
		return DS_ESTATE;
	size_t n = strnlen(path, DIR_PATH_MAX);
	if (n == 0 || n >= DIR_PATH_MAX - 32)
		return DS_EINVAL;
	char partial[DIR_PATH_MAX + 16], file[DIR_PATH_MAX + 32], parent[DIR_PATH_MAX];
	snprintf(partial, sizeof(partial), "%s.partial", path);
	snprintf(file, sizeof(file), "%s/data.mdb", partial);
	memcpy(parent, path, n + 1);
	while (n > 1 && parent[n - 1] == '/')
		parent[--n] = '\0';
	char *slash = strrchr(parent, '/');
	if (!slash)
		snprintf(parent, sizeof(parent), ".");
	else if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';

	struct stat st;
	if (lstat(path, &st) == 0)
		return DS_EEXIST;
	if (mkdir(partial, 0700) != 0) {
		int e = errno;
		DS_LOGE(MOD, "backup: cannot create directory", " path=\"%s\" err=\"%s\"", partial,
			strerror(e));
		return e == EEXIST ? DS_EEXIST : errno_to_ds(e);
	}
	int rc = active_enter(s);
	if (rc != 0)
		goto fail;
	int mrc = mdb_env_copy2(s->env, partial, MDB_CP_COMPACT);
	active_leave(s);
	if (mrc != 0) {
		DS_LOGE(MOD, "backup: copy failed", " path=\"%s\" err=\"%s\"", path, mdb_strerror(mrc));
		rc = mrc > 0 ? errno_to_ds(mrc) : DS_EIO;
		goto fail;
	}
	/* mdb_env_copy2 does not fsync: make the copy durable before it gets
	 * its final name. */
	if (chmod(file, 0600) != 0 || (mrc = fsync_path(file, O_RDONLY)) != 0 ||
	    (mrc = fsync_path(partial, O_RDONLY | O_DIRECTORY)) != 0) {
		int e = mrc ? mrc : errno;
		DS_LOGE(MOD, "backup: cannot sync copy", " path=\"%s\" err=\"%s\"", path, strerror(e));
		rc = errno_to_ds(e);
		goto fail;
	}
	if (rename(partial, path) != 0) {
		int e = errno;
		DS_LOGE(MOD, "backup: cannot rename into place", " path=\"%s\" err=\"%s\"", path,
			strerror(e));
		rc = errno_to_ds(e);
		goto fail;
	}
	mrc = fsync_path(parent, O_RDONLY | O_DIRECTORY);
	if (mrc != 0)
		DS_LOGW(MOD, "backup: cannot fsync parent directory", " path=\"%s\"", parent);
	DS_LOGI(MOD, "backup written", " path=\"%s\"", path);
	return 0;
fail:
	unlink(file);
	rmdir(partial);
	return rc;
}
