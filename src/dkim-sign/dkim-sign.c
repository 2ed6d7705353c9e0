/* SPDX-License-Identifier: MIT */
#include "lib.h"
#include "buf.h"
#include "log.h"
#include "strutil.h"
#include "timeutil.h"
#include "dkim.h"
#include "dkim-sign.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#define DKIMSIGN_DEFAULT_INTERVAL_MS 2000
/* Keys read per domain; more files are ignored (and logged). */
#define DKIMSIGN_MAX_KEYS 8
/* Domains remembered (with or without keys); past it the cache starts
 * over, so a stream of odd sender domains cannot grow it without end. */
#define DKIMSIGN_MAX_DOMAINS 4096
#define DKIMSIGN_MAX_DOMAIN_LEN 253
#define DKIMSIGN_MAX_SELECTOR_LEN 63
#define DKIMSIGN_MAX_KEY_FILE_SIZE (64 * 1024)

/* What a key file looked like when it was read: a change in any of these
 * means it must be read again. */
struct dkimsign_file_id {
	char selector[DKIMSIGN_MAX_SELECTOR_LEN + 1];
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

/* One domain's keys as read at one moment. Immutable once published;
 * referenced by the cache and by each signing in progress, so a reload
 * never frees keys a worker thread is using. */
struct dkimsign_keyset {
	atomic_uint refcount;
	unsigned count;
	struct dkimsign_file_id files[DKIMSIGN_MAX_KEYS];
	struct dkim_key *keys[DKIMSIGN_MAX_KEYS]; /* NULL = unreadable */
};

struct dkimsign_domain {
	char *name;
	int64_t checked_ms;
	bool checked;
	struct dkimsign_keyset *set;
};

struct dkimsign_keys {
	pthread_mutex_t lock;
	char *data_dir;
	unsigned interval_ms;
	struct dkimsign_domain *domains;
	unsigned domain_count, domain_alloc;
};

static void keyset_unref(struct dkimsign_keyset **_set)
{
	struct dkimsign_keyset *set = *_set;

	*_set = NULL;
	if (set == NULL || atomic_fetch_sub(&set->refcount, 1) != 1)
		return;
	for (unsigned i = 0; i < set->count; i++)
		dkim_key_free(&set->keys[i]);
	free(set);
}

static struct dkimsign_keyset *keyset_ref(struct dkimsign_keyset *set)
{
	atomic_fetch_add(&set->refcount, 1);
	return set;
}

struct dkimsign_keys *dkimsign_keys_create(const char *data_dir,
					   unsigned check_interval_ms)
{
	struct dkimsign_keys *keys = i_new(struct dkimsign_keys, 1);

	pthread_mutex_init(&keys->lock, NULL);
	keys->data_dir = i_strdup(data_dir);
	keys->interval_ms = check_interval_ms;
	return keys;
}

static void domains_clear(struct dkimsign_keys *keys)
{
	for (unsigned i = 0; i < keys->domain_count; i++) {
		keyset_unref(&keys->domains[i].set);
		i_free(keys->domains[i].name);
	}
	keys->domain_count = 0;
}

void dkimsign_keys_destroy(struct dkimsign_keys **_keys)
{
	struct dkimsign_keys *keys = *_keys;

	if (keys == NULL)
		return;
	*_keys = NULL;
	domains_clear(keys);
	free(keys->domains);
	free(keys->data_dir);
	pthread_mutex_destroy(&keys->lock);
	free(keys);
}

struct dkimsign_keys *dkimsign_keys_shared(const char *data_dir)
{
	static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
	static struct dkimsign_keys *shared;
	struct dkimsign_keys *keys;

	pthread_mutex_lock(&shared_lock);
	if (shared == NULL)
		shared = dkimsign_keys_create(data_dir,
					      DKIMSIGN_DEFAULT_INTERVAL_MS);
	i_assert(strcmp(shared->data_dir, data_dir) == 0);
	keys = shared;
	pthread_mutex_unlock(&shared_lock);
	return keys;
}

void dkimsign_keys_invalidate(struct dkimsign_keys *keys)
{
	pthread_mutex_lock(&keys->lock);
	for (unsigned i = 0; i < keys->domain_count; i++)
		keys->domains[i].checked = false;
	pthread_mutex_unlock(&keys->lock);
}

/* The name becomes a path component: only a plain host name passes
 * (letters, digits, '-', '_', dots between labels), lower-cased into
 * dst. */
static bool domain_normalize(const char *domain, char *dst, size_t dst_size)
{
	size_t len = domain == NULL ? 0 : strlen(domain);

	if (len > 0 && domain[len - 1] == '.')
		len--; /* an absolute name, "example.org." */
	if (len == 0 || len > DKIMSIGN_MAX_DOMAIN_LEN || len >= dst_size)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)domain[i];
		if (c == '.') {
			if (i == 0 || domain[i - 1] == '.')
				return false;
		} else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '-' || c == '_')) {
			return false;
		}
		dst[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	dst[len] = '\0';
	return true;
}

/* "<selector>.key" with a selector RFC 6376 section 3.1 allows (and
 * keygen creates); anything else in the directory is not ours. */
static bool key_file_selector(const char *name, char *selector_r)
{
	size_t len = strlen(name);

	if (len <= 4 || strcmp(name + len - 4, ".key") != 0)
		return false;
	len -= 4;
	if (len > DKIMSIGN_MAX_SELECTOR_LEN || name[0] == '.' || name[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.'))
			return false;
	}
	memcpy(selector_r, name, len);
	selector_r[len] = '\0';
	return true;
}

static int file_id_cmp(const void *a, const void *b)
{
	const struct dkimsign_file_id *fa = a, *fb = b;

	return strcmp(fa->selector, fb->selector);
}

/* Lists the key files of dir, sorted by selector. Returns how many. */
static unsigned scan_dir(const char *dir, const char *domain,
			 struct dkimsign_file_id files[DKIMSIGN_MAX_KEYS])
{
	struct dirent *de;
	unsigned count = 0;
	bool warned = false;
	DIR *d;

	d = opendir(dir);
	if (d == NULL) {
		if (errno != ENOENT && errno != ENOTDIR)
			log_warn(NULL, "dkim_sign_keys", "domain=%s dir=%s "
				 "error=%s", domain, dir, strerror(errno));
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		struct dkimsign_file_id id;
		struct stat st;
		char *path;

		memset(&id, 0, sizeof(id));
		if (!key_file_selector(de->d_name, id.selector))
			continue;
		path = i_strdup_printf("%s/%s", dir, de->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		free(path);
		if (count == DKIMSIGN_MAX_KEYS) {
			if (!warned)
				log_warn(NULL, "dkim_sign_keys", "domain=%s "
					 "reason=too_many_keys max=%u", domain,
					 DKIMSIGN_MAX_KEYS);
			warned = true;
			continue;
		}
		id.ino = st.st_ino;
		id.size = st.st_size;
		id.mtime = st.st_mtim;
		files[count++] = id;
	}
	closedir(d);
	qsort(files, count, sizeof(files[0]), file_id_cmp);
	return count;
}

static bool files_equal(const struct dkimsign_keyset *set,
			const struct dkimsign_file_id *files, unsigned count)
{
	if (set->count != count)
		return false;
	for (unsigned i = 0; i < count; i++) {
		const struct dkimsign_file_id *a = &set->files[i], *b = &files[i];
		if (strcmp(a->selector, b->selector) != 0 || a->ino != b->ino ||
		    a->size != b->size || a->mtime.tv_sec != b->mtime.tv_sec ||
		    a->mtime.tv_nsec != b->mtime.tv_nsec)
			return false;
	}
	return true;
}

static struct dkimsign_keyset *
keyset_load(const char *dir, const char *domain,
	    const struct dkimsign_file_id *files, unsigned count)
{
	struct dkimsign_keyset *set = i_new(struct dkimsign_keyset, 1);
	const char *error;

	atomic_init(&set->refcount, 1);
	set->count = count;
	for (unsigned i = 0; i < count; i++) {
		char *path = i_strdup_printf("%s/%s.key", dir,
					     files[i].selector);
		set->files[i] = files[i];
		if (files[i].size > DKIMSIGN_MAX_KEY_FILE_SIZE) {
			error = "file too large";
			set->keys[i] = NULL;
		} else {
			set->keys[i] = dkim_key_load(path, &error);
		}
		if (set->keys[i] == NULL)
			log_warn(NULL, "dkim_sign_keys", "domain=%s selector=%s "
				 "error=%s", domain, files[i].selector, error);
		else
			log_debug(NULL, "dkim_sign_key_loaded", "domain=%s "
				 "selector=%s algorithm=%s", domain,
				 files[i].selector,
				 dkim_key_algorithm(set->keys[i]) ==
				 DKIM_ALG_ED25519_SHA256 ? "ed25519" : "rsa");
		free(path);
	}
	return set;
}

static struct dkimsign_domain *domain_find(struct dkimsign_keys *keys,
					   const char *name)
{
	for (unsigned i = 0; i < keys->domain_count; i++) {
		if (strcmp(keys->domains[i].name, name) == 0)
			return &keys->domains[i];
	}
	if (keys->domain_count == DKIMSIGN_MAX_DOMAINS)
		domains_clear(keys);
	if (keys->domain_count == keys->domain_alloc) {
		keys->domain_alloc = keys->domain_alloc == 0 ? 8 :
			keys->domain_alloc * 2;
		keys->domains = i_realloc(keys->domains,
					  i_size_mul(keys->domain_alloc,
						     sizeof(*keys->domains)));
	}
	struct dkimsign_domain *dom = &keys->domains[keys->domain_count++];
	memset(dom, 0, sizeof(*dom));
	dom->name = i_strdup(name);
	return dom;
}

/* The current keys of domain (a reference: keyset_unref() it), or NULL
 * when it has none. Stats and reads files under the cache lock: a few
 * syscalls once per interval, a key parse only when a file changed. */
static struct dkimsign_keyset *keys_get(struct dkimsign_keys *keys,
					const char *domain)
{
	char name[DKIMSIGN_MAX_DOMAIN_LEN + 1];
	struct dkimsign_file_id files[DKIMSIGN_MAX_KEYS];
	struct dkimsign_keyset *set = NULL;
	struct dkimsign_domain *dom;
	int64_t now;

	if (!domain_normalize(domain, name, sizeof(name)))
		return NULL;
	now = time_mono_ms();
	pthread_mutex_lock(&keys->lock);
	dom = domain_find(keys, name);
	if (!dom->checked || now - dom->checked_ms >= keys->interval_ms) {
		char *dir = i_strdup_printf("%s/dkim/%s", keys->data_dir, name);
		unsigned count = scan_dir(dir, name, files);

		if (count == 0) {
			keyset_unref(&dom->set);
		} else if (dom->set == NULL ||
			   !files_equal(dom->set, files, count)) {
			keyset_unref(&dom->set);
			dom->set = keyset_load(dir, name, files, count);
		}
		free(dir);
		dom->checked = true;
		dom->checked_ms = now;
	}
	if (dom->set != NULL)
		set = keyset_ref(dom->set);
	pthread_mutex_unlock(&keys->lock);
	return set;
}

static unsigned keyset_usable(const struct dkimsign_keyset *set)
{
	unsigned n = 0;

	for (unsigned i = 0; set != NULL && i < set->count; i++) {
		if (set->keys[i] != NULL)
			n++;
	}
	return n;
}

bool dkimsign_keys_have(struct dkimsign_keys *keys, const char *domain)
{
	struct dkimsign_keyset *set = keys_get(keys, domain);
	bool have = keyset_usable(set) > 0;

	keyset_unref(&set);
	return have;
}

const char *dkimsign_select_domain(struct dkimsign_keys *keys,
				   const char *from_domain,
				   const char *mail_from_domain)
{
	if (from_domain != NULL && dkimsign_keys_have(keys, from_domain))
		return from_domain;
	if (mail_from_domain != NULL &&
	    dkimsign_keys_have(keys, mail_from_domain))
		return mail_from_domain;
	return NULL;
}

const char *dkimsign_select_host_domain(struct dkimsign_keys *keys,
					const char *host)
{
	const char *p = host;

	while (p != NULL && strchr(p, '.') != NULL) {
		if (dkimsign_keys_have(keys, p))
			return p;
		p = strchr(p, '.') + 1;
	}
	return NULL;
}

/* Ed25519 before RSA (RFC 8463 section 6 wants both; a verifier that
 * stops at the first good one then takes the cheaper kind), selectors in
 * order within each. */
static void sign_order(const struct dkimsign_keyset *set,
		       unsigned order_r[DKIMSIGN_MAX_KEYS], unsigned *count_r)
{
	unsigned n = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < set->count; i++) {
			bool ed;
			if (set->keys[i] == NULL)
				continue;
			ed = dkim_key_algorithm(set->keys[i]) ==
				DKIM_ALG_ED25519_SHA256;
			if (ed == (pass == 0))
				order_r[n++] = i;
		}
	}
	*count_r = n;
}

int dkimsign_message(struct dkimsign_keys *keys, const char *domain,
		     const void *msg, size_t len, struct buf *headers_out,
		     const char **error_r)
{
	char name[DKIMSIGN_MAX_DOMAIN_LEN + 1];
	struct dkimsign_keyset *set;
	unsigned order[DKIMSIGN_MAX_KEYS], count;
	struct buf out = BUF_INIT;
	int ret = 1;

	if (!domain_normalize(domain, name, sizeof(name)))
		return 0;
	set = keys_get(keys, name);
	if (set == NULL)
		return 0;
	sign_order(set, order, &count);
	for (unsigned i = 0; i < count && ret > 0; i++) {
		unsigned k = order[i];
		struct dkim_sign_settings ss = {
			.domain = name,
			.selector = set->files[k].selector,
			.key = set->keys[k],
		};
		struct dkim_sign *sign;
		char *field;

		sign = dkim_sign_create(&ss, error_r);
		if (sign == NULL) {
			ret = -1;
			break;
		}
		dkim_sign_feed(sign, msg, len);
		field = dkim_sign_finish(sign, error_r);
		dkim_sign_destroy(&sign);
		if (field == NULL) {
			ret = -1;
			break;
		}
		buf_append_str(&out, field);
		buf_append_str(&out, "\r\n");
		free(field);
	}
	keyset_unref(&set);
	if (ret > 0 && count == 0)
		ret = 0;
	if (ret > 0)
		buf_append(headers_out, out.data, out.len);
	buf_free(&out);
	return ret;
}

int dkimsign_host_signer(void *keys, const char *host, const void *msg,
			 size_t len, struct buf *headers_out)
{
	const char *domain, *error;
	int ret;

	domain = dkimsign_select_host_domain(keys, host);
	if (domain == NULL)
		return 0;
	ret = dkimsign_message(keys, domain, msg, len, headers_out, &error);
	if (ret < 0)
		log_warn(NULL, "dkim_sign_failed", "domain=%s error=%s", domain,
			 error);
	return ret;
}

unsigned dkimsign_keys_foreach(struct dkimsign_keys *keys, const char *domain,
			       void (*fn)(const char *selector,
					  const struct dkim_key *key,
					  void *ctx),
			       void *ctx)
{
	struct dkimsign_keyset *set = keys_get(keys, domain);
	unsigned n = 0;

	for (unsigned i = 0; set != NULL && i < set->count; i++) {
		if (set->keys[i] == NULL)
			continue;
		fn(set->files[i].selector, set->keys[i], ctx);
		n++;
	}
	keyset_unref(&set);
	return n;
}
