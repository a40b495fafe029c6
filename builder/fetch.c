/* http(s) downloads for ADD <url> (see fetch.h). */
#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetch.h"
#include "util/cleanup.h"
#include "util/fs.h"

struct sink {
	int fd;
	struct oci_hasher *sha256;
	EVP_MD_CTX *check; /* the --checksum's algorithm, or NULL */
	int64_t size;
	int errnum; /* a failed write */
};

static size_t on_data(char *buf, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;
	if (fs_write_all(s->fd, buf, len) < 0) {
		s->errnum = errno;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	oci_hasher_update(s->sha256, buf, len);
	if (s->check != NULL)
		EVP_DigestUpdate(s->check, buf, len);
	s->size += (int64_t)len;
	return len;
}

bool fetch_is_url(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *fetch_url_filename(const char *url)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	size_t end = strcspn(p, "?#");
	const char *path = memchr(p, '/', end);
	cleanup_free char *decoded = NULL;
	char *base;

	/* the path, decoded (a bad escape, or %00: kept as written) */
	size_t n = path == NULL ? 0 : (size_t)(p + end - path), w = 0;
	if ((decoded = malloc(n + 1)) == NULL)
		return NULL;
	for (size_t r = 0; r < n; r++) {
		int hi = r + 2 < n ? hex_value(path[r + 1]) : -1,
		    lo = r + 2 < n ? hex_value(path[r + 2]) : -1;
		if (path[r] == '%' && hi >= 0 && lo >= 0 && hi * 16 + lo != 0) {
			decoded[w++] = (char)(hi * 16 + lo);
			r += 2;
		} else {
			decoded[w++] = path[r];
		}
	}
	while (w > 0 && decoded[w - 1] == '/')
		w--;
	decoded[w] = '\0';
	base = strrchr(decoded, '/');
	base = base != NULL ? base + 1 : decoded;
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return strdup("__unnamed__");
	return strdup(base);
}

/* The checksum's algorithm ("sha256:..."), and its hex. */
static const EVP_MD *checksum_md(const char *checksum, const char **hex)
{
	const char *c = strchr(checksum, ':');
	if (c == NULL)
		return NULL;
	*hex = c + 1;
	if (strncmp(checksum, "sha256:", 7) == 0)
		return EVP_sha256();
	if (strncmp(checksum, "sha384:", 7) == 0)
		return EVP_sha384();
	if (strncmp(checksum, "sha512:", 7) == 0)
		return EVP_sha512();
	return NULL;
}

int fetch_url(const char *url, const char *checksum, int out_fd, struct fetch_result *res, berth_error_t *err)
{
	static bool inited;
	struct sink s = {.fd = out_fd};
	const char *want_hex = NULL;
	const EVP_MD *md = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	int r = -1;

	memset(res, 0, sizeof(*res));
	if (checksum != NULL && (md = checksum_md(checksum, &want_hex)) == NULL)
		return berth_error_invalid(err, "%s: invalid checksum digest format: %s", url, checksum);
	if (!inited && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return berth_error_set(err, BERTH_ERR_SYSTEM, 0, "%s: libcurl does not initialise", url);
	inited = true;
	CURL *c = curl_easy_init();
	if (c == NULL || (s.sha256 = oci_hasher_new(OCI_DIGEST_SHA256, err)) == NULL) {
		if (c != NULL)
			curl_easy_cleanup(c);
		return *err ? -1 : berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "%s", url);
	}
	if (md != NULL &&
	    ((s.check = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(s.check, md, NULL) != 1)) {
		berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "%s: checksum", url);
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_FILETIME, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 60L);
	/* a stalled transfer: under 1 byte/s for 5 minutes */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 300L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "berth-build");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	CURLcode rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		long status = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (rc == CURLE_WRITE_ERROR && s.errnum != 0)
			berth_error_sys(err, s.errnum, "%s: write the download", url);
		else if (rc == CURLE_HTTP_RETURNED_ERROR)
			berth_error_set(err, BERTH_ERR_NOT_FOUND, 0, "%s: HTTP status %ld", url, status);
		else
			berth_error_set(err, BERTH_ERR_SYSTEM, 0, "%s: %s", url,
			                *errbuf ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	curl_off_t ft = -1;
	if (curl_easy_getinfo(c, CURLINFO_FILETIME_T, &ft) == CURLE_OK && ft >= 0) {
		res->has_mtime = true;
		res->mtime = (int64_t)ft;
	}
	res->size = s.size;
	oci_hasher_final(s.sha256, res->digest);
	if (s.check != NULL) {
		unsigned char d[EVP_MAX_MD_SIZE];
		unsigned int dl = 0;
		char got[2 * EVP_MAX_MD_SIZE + 1];
		EVP_DigestFinal_ex(s.check, d, &dl);
		for (unsigned i = 0; i < dl; i++)
			snprintf(got + 2 * i, 3, "%02x", d[i]);
		got[2 * dl] = '\0';
		if (strcmp(got, want_hex) != 0) {
			berth_error_invalid(err, "%s: checksum mismatch: expected %s, got %.*s%s", url,
			                    checksum, (int)(want_hex - checksum), checksum, got);
			goto out;
		}
	}
	r = 0;
out:
	EVP_MD_CTX_free(s.check);
	oci_hasher_free(s.sha256);
	curl_easy_cleanup(c);
	return r;
}
