/* Scope-bound ownership with __attribute__((cleanup)).
 *
 *   cleanup_free char *s = ...;     freed when s leaves scope
 *   cleanup_close int fd = -1;      closed when >= 0
 *   return steal_ptr(&s);           hands ownership on
 */
#ifndef BERTH_UTIL_CLEANUP_H
#define BERTH_UTIL_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cleanup_free_fn(void *p)
{
	free(*(void **)p);
}

static inline void cleanup_close_fn(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void cleanup_fclose_fn(FILE **f)
{
	if (*f != NULL)
		fclose(*f);
}

static inline void cleanup_dir_fn(DIR **d)
{
	if (*d != NULL)
		closedir(*d);
}

/* Frees a NULL-terminated array of strings. */
static inline void strv_free(char **v)
{
	if (v == NULL)
		return;
	for (char **p = v; *p != NULL; p++)
		free(*p);
	free(v);
}

static inline void cleanup_strv_fn(char ***v)
{
	strv_free(*v);
}

#define cleanup_free   __attribute__((cleanup(cleanup_free_fn)))
#define cleanup_close  __attribute__((cleanup(cleanup_close_fn)))
#define cleanup_fclose __attribute__((cleanup(cleanup_fclose_fn)))
#define cleanup_dir    __attribute__((cleanup(cleanup_dir_fn)))
#define cleanup_strv   __attribute__((cleanup(cleanup_strv_fn)))

static inline void *steal_ptr_impl(void **p)
{
	void *r = *p;
	*p = NULL;
	return r;
}
#define steal_ptr(pp) steal_ptr_impl((void **)(pp))

static inline int steal_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

#endif
