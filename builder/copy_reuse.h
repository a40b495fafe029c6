/* A COPY or ADD that misses the layer cache, made from the previous
 * version of the same step: the regular files that did not change are
 * hard links to the previous version's files instead of copies.
 *
 * Every COPY step that the cache keeps records, in its cache entry, the
 * regular files its upper directory got:
 *
 *   <cache>/steps/<key>/files   "berth-build files 1\n", then a line
 *                               "INODE SHA256-HEX PATH\n" per file (PATH
 *                               relative to the upper directory)
 *   <cache>/steps/.prev/<hex>   the key of the last build of a step, by
 *                               the hash of what the key has but the
 *                               sources' content (the parent, the
 *                               instruction, its options)
 *
 * When the step misses, the copy walks the sources as always, through the
 * overlay (directories, symlinks, removals, whiteouts all made as a full
 * copy makes them), but a regular file is not copied when the previous
 * version's upper directory has, at the same path, the inode the record
 * names, with the digest of the source's content (from the stat cache:
 * only files whose stat did not change qualify), its size, mtime, owner and
 * mode; and the directory it goes to is in the upper directory already.
 * After the overlay is unmounted, those files are linked from the previous
 * version into the new upper directory, and the directories they went into
 * get back the times they had (a link sets them).
 *
 * Snapshots are never written once made (they are lowers of later steps,
 * and a RUN's writes go to its own upper directory by copy-up), so sharing
 * inodes between them is sound; the layer's tar turns a file into a
 * hardlink entry only when it met the inode earlier in the same layer,
 * which a link to another snapshot is not.  Removing a snapshot (prune)
 * leaves the others' links intact. */
#ifndef BERTH_BUILDER_COPY_REUSE_H
#define BERTH_BUILDER_COPY_REUSE_H

#include "digest.h"
#include "fsops.h"
#include "statcache.h"
#include "util/error.h"

struct copy_reuse;

/* A reuse for a copy into the overlay mounted at merged with upper
 * directory upper; old_entry is the previous version's cache entry (NULL
 * or an incomplete one: nothing is reused, the files are only recorded). */
int copy_reuse_new(const char *old_entry, const char *merged, const char *upper, struct statcache *sc,
                   struct copy_reuse **out, berth_error_t *err);
/* The hooks for fsops_copy_opts.reuse. */
void copy_reuse_hooks(struct copy_reuse *r, struct fsops_reuse *hooks);
/* After the overlay is unmounted: the files taken are linked (or, across
 * file systems, copied) into the upper directory.  *linked counts them. */
int copy_reuse_finish(struct copy_reuse *r, size_t *linked, berth_error_t *err);
/* The record (`files`) into the cache entry's directory. */
int copy_reuse_save(struct copy_reuse *r, int entry_fd, berth_error_t *err);
void copy_reuse_free(struct copy_reuse *r);

/* The last key recorded for prev (a digest), into key; 0 when none. */
int copy_reuse_prev_get(const char *cache, const char *prev, char key[OCI_DIGEST_MAX]);
int copy_reuse_prev_set(const char *cache, const char *prev, const char *key, berth_error_t *err);

#endif
