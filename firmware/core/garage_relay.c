#include "garage_relay.h"

#include <string.h>

/* Maximum pulse that garage_relay_init accepts, in ms. */
#define PULSE_MAX_MS 60000u

int garage_relay_init(garage_relay *r, const char *device, const uint8_t key[GARAGE_KEY_SIZE],
	uint32_t pulse_ms, uint32_t cooldown_ms, int64_t start_unix)
{
	memset(r, 0, sizeof *r);
	if (!garage_device_name_valid(device) || pulse_ms == 0 || pulse_ms > PULSE_MAX_MS)
		return -1;
	strcpy(r->device, device);
	memcpy(r->key, key, GARAGE_KEY_SIZE);
	r->pulse_ms = pulse_ms;
	r->cooldown_ms = cooldown_ms;
	if (r->cooldown_ms < pulse_ms + GARAGE_MIN_RELEASE_MS)
		r->cooldown_ms = pulse_ms + GARAGE_MIN_RELEASE_MS;
	r->not_before = start_unix;
	r->reason = GARAGE_REASON_BOOT;
	return 0;
}

/*
 * The timers compare elapsed times with unsigned subtraction, which stays
 * right across a wrap of the counter. garage_relay_poll clears each flag
 * once its time is over, so an elapsed time is never taken modulo 2^32
 * more than once.
 */
int garage_relay_poll(garage_relay *r, uint32_t now_ms)
{
	uint32_t elapsed = now_ms - r->accepted_ms;
	int changed = 0;

	if (r->pulsing && elapsed >= r->pulse_ms) {
		r->pulsing = 0;
		changed = 1;
	}
	if (r->cooling && elapsed >= r->cooldown_ms)
		r->cooling = 0;
	return changed;
}

static garage_reason check(garage_relay *r, const uint8_t *payload, size_t len,
	uint32_t now_ms, int64_t now_unix, uint64_t *seq)
{
	garage_command cmd;
	garage_reason reason;

	reason = garage_command_parse(&cmd, payload, len);
	if (reason != GARAGE_REASON_OK)
		return reason;
	reason = garage_command_verify(&cmd, payload, r->device, r->key, now_unix);
	if (reason != GARAGE_REASON_OK)
		return reason;
	if (cmd.seq <= r->last_seq || (int64_t)cmd.ts < r->not_before)
		return GARAGE_REASON_REPLAY;
	garage_relay_poll(r, now_ms);
	if (r->pulsing || r->cooling)
		return GARAGE_REASON_COOLDOWN;
	*seq = cmd.seq;
	return GARAGE_REASON_OK;
}

garage_reason garage_relay_handle(garage_relay *r, const uint8_t *payload, size_t len,
	uint32_t now_ms, int64_t now_unix)
{
	uint64_t seq = 0;
	garage_reason reason = check(r, payload, len, now_ms, now_unix, &seq);

	r->reason = reason;
	if (reason != GARAGE_REASON_OK)
		return reason;
	r->last_seq = seq;
	r->accepted_ms = now_ms;
	r->pulsing = 1;
	r->cooling = 1;
	return reason;
}

int garage_relay_closed(const garage_relay *r)
{
	return r->pulsing;
}

/* Writes v in decimal at out and returns the number of digits. */
static size_t format_decimal(char *out, uint64_t v)
{
	char digits[20];
	size_t n = 0, i;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		out[i] = digits[n - 1 - i];
	return n;
}

static size_t append(char *out, size_t pos, const char *s)
{
	size_t n = strlen(s);

	memcpy(out + pos, s, n);
	return pos + n;
}

/*
 * The longest message is "v1 pulsing " (11) + 19 digits + " " + "malformed"
 * (9) = 40 bytes, which fits GARAGE_STATE_MAX with its NUL.
 */
size_t garage_relay_state(const garage_relay *r, char out[GARAGE_STATE_MAX])
{
	size_t pos = append(out, 0, r->pulsing ? "v1 pulsing " : "v1 idle ");

	pos += format_decimal(out + pos, r->last_seq);
	pos = append(out, pos, " ");
	pos = append(out, pos, garage_reason_name(r->reason));
	out[pos] = '\0';
	return pos;
}
