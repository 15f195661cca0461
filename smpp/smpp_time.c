#include "smpp/smpp_time.h"

#include <string.h>

/* Two digits at s, or -1. */
static int
two(const char *s)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return -1;
    return (s[0] - '0') * 10 + (s[1] - '0');
}

int
smpp_time_parse(const char *s, time_t now, time_t *at)
{
    int f[6];

    if (!s || !*s)
        return 0;
    if (strlen(s) != 16)
        return -1;
    for (int i = 0; i < 6; i++)
        if ((f[i] = two(s + 2 * i)) < 0)
            return -1;
    if (s[12] < '0' || s[12] > '9')
        return -1;
    int nn = two(s + 13);
    if (nn < 0)
        return -1;

    if (s[15] == 'R') {
        struct tm tm;
        gmtime_r(&now, &tm);
        tm.tm_year += f[0];
        tm.tm_mon += f[1];
        tm.tm_mday += f[2];
        tm.tm_hour += f[3];
        tm.tm_min += f[4];
        tm.tm_sec += f[5];
        time_t t = timegm(&tm);
        if (t == (time_t)-1)
            return -1;
        *at = t;
        return 1;
    }
    if ((s[15] != '+' && s[15] != '-') || nn > 48)
        return -1;
    if (f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 || f[5] > 59)
        return -1;
    struct tm tm = { .tm_year = 100 + f[0], .tm_mon = f[1] - 1, .tm_mday = f[2],
                     .tm_hour = f[3], .tm_min = f[4], .tm_sec = f[5] };
    time_t t = timegm(&tm);
    /* timegm normalises 31 April to 1 May: such a date does not exist. */
    if (t == (time_t)-1 || tm.tm_mday != f[2] || tm.tm_mon != f[1] - 1)
        return -1;
    /* Local time nn quarter hours ahead of UTC: UTC is that much earlier. */
    t += (s[15] == '+' ? -1 : 1) * (time_t)nn * 900;
    *at = t;
    return 1;
}
