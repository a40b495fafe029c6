/* Unit tests of timefmt_rfc3339_utc against the C library's gmtime_r, over
 * leap days, century and 400-year boundaries and times before 1970. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/timefmt.h"
#include "../tap.h"

static void check(long long sec, long nsec)
{
	struct timespec ts = {.tv_sec = (time_t)sec, .tv_nsec = nsec};
	char got[64], want[64], date[48];
	struct tm tm;

	timefmt_rfc3339_utc(&ts, got, sizeof(got));
	gmtime_r(&ts.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(want, sizeof(want), "%s.%09ldZ", date, nsec);
	is_str(got, want, "%lld.%09ld", sec, nsec);
}

int main(void)
{
	const long long fixed[] = {0,
	                           -1,
	                           59,
	                           86399,
	                           86400,
	                           951782400 /* 2000-02-29 */,
	                           951868799,
	                           4107542400 /* 2100-03-01 */,
	                           4107456000,
	                           68169600 /* 1972-02-29 */,
	                           -2208988800 /* 1900-01-01 */,

	                           253402300799 /* 9999-12-31 */,
	                           1796083200 /* 2026-12-01 */};

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		check(fixed[i], 0);
	check(1700000000, 123456789);
	/* a day a little over every 400 years from 1600 to 2400, at odd seconds */
	for (long long s = -11676096000LL; s < 13569465600LL; s += 86400LL * 1461 + 3671)
		check(s, 999999999);
	return tap_done();
}
