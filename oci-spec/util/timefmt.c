#include "util/timefmt.h"

#include <stdio.h>

/* The civil date of day `days` since 1970-01-01, proleptic Gregorian: the
 * inverse of Howard Hinnant's days_from_civil, over 400-year eras. */
static void civil_from_days(long long days, long long *year, unsigned int *month, unsigned int *day)
{
	long long era, doe, yoe, doy, mp;

	days += 719468; /* from 0000-03-01 */
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*day = (unsigned int)(doy - (153 * mp + 2) / 5 + 1);
	*month = (unsigned int)(mp < 10 ? mp + 3 : mp - 9);
	*year = yoe + era * 400 + (*month <= 2);
}

void timefmt_rfc3339_utc(const struct timespec *ts, char *buf, size_t size)
{
	long long days = (long long)ts->tv_sec / 86400, secs = (long long)ts->tv_sec % 86400, year;
	unsigned int month, day;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	civil_from_days(days, &year, &month, &day);
	snprintf(buf, size, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%09ldZ", year, month, day, secs / 3600,
	         secs / 60 % 60, secs % 60, ts->tv_nsec);
}
