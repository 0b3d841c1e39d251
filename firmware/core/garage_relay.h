/*
 * The relay's decision logic: which commands to accept, when to close and
 * open the relay, and the state message that reports it. It does no I/O and
 * reads no clock: the caller passes a millisecond counter (such as Arduino's
 * millis(), which wraps after about 49.7 days) and the Unix time.
 */
#ifndef GARAGE_RELAY_H
#define GARAGE_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "garage_command.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Minimum time in ms that the relay stays open between two pulses. The
 * effective cooldown is raised to pulse + GARAGE_MIN_RELEASE_MS when the
 * configured one is shorter, so that back-to-back commands never join
 * into one long press.
 */
#define GARAGE_MIN_RELEASE_MS 1000u

/* Size of a buffer that fits any state message and its NUL. */
#define GARAGE_STATE_MAX 48

/* Relay state. Initialise it with garage_relay_init; the fields are private. */
typedef struct {
	char device[GARAGE_DEVICE_NAME_MAX + 1];
	uint8_t key[GARAGE_KEY_SIZE];
	uint32_t pulse_ms;
	uint32_t cooldown_ms;
	int64_t not_before;   /* Unix time of the start */
	uint64_t last_seq;    /* 0 before the first accepted command */
	garage_reason reason; /* of the last handled command, BOOT before the first */
	uint32_t accepted_ms; /* millisecond counter at the last accepted command */
	uint8_t pulsing;      /* relay closed */
	uint8_t cooling;      /* cooldown since accepted_ms not over */
} garage_relay;

/*
 * Sets up r for the device name and its 32-byte command key, which are
 * copied. pulse_ms is how long the relay closes, cooldown_ms the minimum
 * time between two accepted commands. start_unix is the Unix time now:
 * because the last sequence number is lost at a restart, a command whose
 * timestamp is before the start is rejected as a replay. Returns 0, or -1
 * for an invalid device name or a pulse of 0 or longer than one minute.
 */
int garage_relay_init(garage_relay *r, const char *device, const uint8_t key[GARAGE_KEY_SIZE],
	uint32_t pulse_ms, uint32_t cooldown_ms, int64_t start_unix);

/*
 * Handles one command payload at now_ms on the millisecond counter and
 * now_unix seconds of Unix time. Checks, in this order: format
 * (MALFORMED), device (FOREIGN), MAC (FORGED), timestamp (STALE, FUTURE),
 * sequence number and start time (REPLAY), cooldown (COOLDOWN). An
 * accepted command closes the relay and returns GARAGE_REASON_OK. A
 * rejected one changes nothing but the reason in the state message.
 */
garage_reason garage_relay_handle(garage_relay *r, const uint8_t *payload, size_t len,
	uint32_t now_ms, int64_t now_unix);

/*
 * Advances the timers to now_ms: opens the relay when the pulse is over and
 * ends the cooldown. Call it at least every few milliseconds while the
 * relay is closed, because the pulse ends only here. Returns 1 when the
 * relay output changed, else 0.
 */
int garage_relay_poll(garage_relay *r, uint32_t now_ms);

/* Returns 1 while the relay must be closed, else 0. */
int garage_relay_closed(const garage_relay *r);

/*
 * Writes the state message "v1 <idle|pulsing> <last-seq> <reason>" and a
 * NUL to out, which must hold GARAGE_STATE_MAX bytes. Returns its length
 * without the NUL.
 */
size_t garage_relay_state(const garage_relay *r, char out[GARAGE_STATE_MAX]);

#ifdef __cplusplus
}
#endif

#endif /* GARAGE_RELAY_H */
