/* ADD <url>: an http(s) download with libcurl into a file of the build.
 *
 * Redirects are followed (http and https only, at most 10); an HTTP status
 * of 400 or more is an error naming the URL and the status; proxies come
 * from the environment (http_proxy, https_proxy, no_proxy) as curl reads
 * them.  The content's sha256 is computed while it streams; with a checksum
 * ("sha256:<hex>", sha384, sha512) the content must match it, or the error
 * names the URL and both digests.  The server's Last-Modified time, when it
 * sends one, becomes the file's mtime (Docker's rule). */
#ifndef BERTH_BUILDER_FETCH_H
#define BERTH_BUILDER_FETCH_H

#include <stdbool.h>
#include <stdint.h>

#include "digest.h"
#include "util/error.h"

struct fetch_result {
	char digest[OCI_DIGEST_MAX]; /* sha256 of the content */
	bool has_mtime;
	int64_t mtime; /* Last-Modified, seconds since the epoch */
	int64_t size;
};

/* Downloads url into out_fd (at its offset, not closed). */
int fetch_url(const char *url, const char *checksum, int out_fd, struct fetch_result *res,
              berth_error_t *err);

/* The file name of a download into a directory, as BuildKit names it: the
 * last element of the URL's path (percent-decoded, without query and
 * fragment, trailing slashes ignored), or "__unnamed__" when the path has
 * none ("http://host/").  A new string; NULL only without memory. */
char *fetch_url_filename(const char *url);

bool fetch_is_url(const char *s);

#endif
