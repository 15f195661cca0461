/*
 * The monotonic clock in µs and ms: the time base of smsgwd's timers,
 * pacing, timeouts and latency figures (never the wall clock, which NTP or
 * an operator may step). Header-only: a vDSO call, inlined where it is used.
 */
#ifndef CORE_CLOCK_H
#define CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
clock_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline uint64_t
clock_mono_ms(void)
{
    return clock_mono_us() / 1000u;
}

#endif
