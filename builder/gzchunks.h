/* gzip layers made of independently compressed chunks, so that a layer
 * that changed in one file is compressed again only around that file.
 *
 * The uncompressed layer tar is cut at content-defined points (a gear
 * rolling hash over the last 64 bytes; chunks of 256 KiB to 4 MiB, about
 * 1 MiB on average), so a change moves no cut point outside the chunks it
 * touches.  Each chunk becomes one gzip member (RFC 1952 allows a file of
 * several members; Go's compress/gzip, zlib's gzread, libarchive, pigz and
 * GNU gzip read them as one stream, which is also what eStargz layers rely
 * on), compressed with libdeflate at level 4 (zlib's default ratio at
 * about 2.5 times its speed) on worker threads (one per core, at most 4)
 * while the caller's thread goes on reading and cutting, and written in
 * order (a ring of 16 chunks in flight).  The input may be a pipe: the
 * builder feeds it the tar as layer_diff writes it.
 *
 * The members are cached by the sha256 of their chunk (and the compressor
 * and level) under <cache>/gz/: a chunk seen before is copied, not
 * compressed.  An entry there is a reference, "blob HEX OFFSET LENGTH", to
 * the member in a layer blob of the cache's layout (so the cache holds no
 * second copy of it), or, as older builds wrote them, the member itself.  A cached member is used only when
 * its trailer's CRC-32 and length match the chunk's.  The output is the same bytes whether members came from
 * the cache or not, so reproducible builds stay reproducible. */
#ifndef BERTH_BUILDER_GZCHUNKS_H
#define BERTH_BUILDER_GZCHUNKS_H

#include <stdint.h>

#include "digest.h"
#include "util/error.h"

/* Compresses what tar_fd reads (to its end) into out_fd; *digest and *size
 * of the bytes written.  member_cache: a directory (made when missing), or
 * NULL for none.  blob_dir: where the caller puts the blob, named by the
 * hex of its digest (in the cache's layout); the member cache records
 * where in it each member compressed here is (no copy of the member). */
int gzchunks_compress(int tar_fd, int out_fd, const char *member_cache, const char *blob_dir,
                      char digest[OCI_DIGEST_MAX], uint64_t *size, berth_error_t *err);

#endif
