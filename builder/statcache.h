/* A cache of file content digests keyed by what stat(2) says, so that a
 * COPY or ADD whose sources did not change computes its cache key without
 * reading them again.
 *
 * An entry maps (st_dev, st_ino) to the file's size, mtime and ctime (in
 * nanoseconds) when it was read, and the sha256 of its content.  A lookup
 * uses the entry only when all five match the file's stat now; otherwise the
 * file is read and hashed again.  ctime is what makes this sound: every
 * change of content (and chmod, chown, utimensat, rename) sets it to the
 * current time and no system call sets it to anything else, so touching a
 * file back to its old mtime does not hide a change.
 *
 * Timestamps have a granularity (a clock tick): a file written again within
 * the tick in which it was read can keep its ctime.  So, as git does for
 * racily clean index entries, a digest is only kept when the file's ctime is
 * more than a second older than the moment before it was read, and when the
 * file's stat did not move while it was read.
 *
 * The cache lives in one file beside the layer cache, read once per build
 * and written (temporary file + rename) after a COPY that added entries;
 * concurrent builds may lose each other's additions, which costs a re-read
 * later and nothing else.  Fixed-size records after a header:
 *
 *   "berth-build statcache 1 <record size>\n"
 *   { u64 dev, ino; i64 size, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
 *     char sha256_hex[64] } ...
 */
#ifndef BERTH_BUILDER_STATCACHE_H
#define BERTH_BUILDER_STATCACHE_H

#include <stdbool.h>
#include <sys/stat.h>

#include "digest.h"
#include "util/error.h"

struct statcache;

/* Loads the cache file at path (a missing or malformed file is an empty
 * cache); path NULL: a cache in memory only. */
int statcache_open(const char *path, struct statcache **out, berth_error_t *err);
/* The "sha256:<hex>" of the regular file dir_fd/name (not followed when a
 * symlink; name "": dir_fd is an O_PATH fd of the file): from the cache when
 * its stat matches, else read. */
int statcache_digest(struct statcache *sc, int dir_fd, const char *name, char out[OCI_DIGEST_MAX],
                     berth_error_t *err);
/* The "sha256:<hex>" of the file whose stat is st, when the cache has it
 * (1; 0 when not): a lookup that never reads the file. */
int statcache_lookup(struct statcache *sc, const struct stat *st, char out[OCI_DIGEST_MAX]);
/* Writes the cache file when entries were added (merged with what other
 * builds wrote meanwhile). */
/* Opens dir_fd/name for reading as statcache_digest names files. */
int statcache_open_file(int dir_fd, const char *name);
int statcache_save(struct statcache *sc, berth_error_t *err);
void statcache_free(struct statcache *sc);

#endif
