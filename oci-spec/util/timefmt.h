/* Timestamps as RFC 3339 text, without the C library's time zone code. */
#ifndef BERTH_UTIL_TIMEFMT_H
#define BERTH_UTIL_TIMEFMT_H

#include <stddef.h>
#include <time.h>

/* "2006-01-02T15:04:05.999999999Z": the UTC time of ts.  gmtime_r would
 * load the time zone file first (a dozen system calls, on every container
 * start); the civil date is computed from the day number instead. */
void timefmt_rfc3339_utc(const struct timespec *ts, char *buf, size_t size);

#endif
