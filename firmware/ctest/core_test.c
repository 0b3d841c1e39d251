/*
 * Unit tests of command parsing, verification and the relay state machine,
 * including the test vector of docs/protocol.md.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <bearssl/bearssl_hmac.h>

#include "../core/garage_command.h"
#include "../core/garage_relay.h"
#include "check.h"

/* The test vector: key, signed text, MAC and payload. */
static const uint8_t vector_key[GARAGE_KEY_SIZE] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};
static const char vector_payload[] = "v1 relay1 pulse 42 1764849600 "
	"0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e";
static const char vector_foreign[] = "v1 relay2 pulse 43 1764849601 "
	"71394a4e68e5bccec42856aab2df2b3a8a8ad957bc5acbc6f9b76bcd4b88b1f8";
static const int64_t vector_time = 1764849600;

/* Start time of the relays in these tests: an hour before the vector. */
static const int64_t start_time = 1764849600 - 3600;

#define PULSE_MS 400u
#define COOLDOWN_MS 10000u

static garage_reason handle(garage_relay *r, const char *payload, uint32_t now_ms, int64_t now)
{
	return garage_relay_handle(r, (const uint8_t *)payload, strlen(payload), now_ms, now);
}

static void new_relay(garage_relay *r)
{
	int err = garage_relay_init(r, "relay1", vector_key, PULSE_MS, COOLDOWN_MS, start_time);
	CHECK(err == 0, "garage_relay_init returned %d", err);
}

/* Writes a command for relay1 with seq and ts, signed with the vector key, to out. */
static void sign(char *out, size_t size, uint64_t seq, int64_t ts)
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	uint8_t mac[32];
	int n, i;

	n = snprintf(out, size, "v1 relay1 pulse %" PRIu64 " %" PRId64, seq, ts);
	br_hmac_key_init(&kc, &br_sha256_vtable, vector_key, sizeof vector_key);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, out, (size_t)n);
	br_hmac_out(&hc, mac);
	out[n++] = ' ';
	for (i = 0; i < 32; i++)
		n += snprintf(out + n, size - (size_t)n, "%02x", mac[i]);
}

static void state_is(const garage_relay *r, const char *want)
{
	char got[GARAGE_STATE_MAX];
	size_t len = garage_relay_state(r, got);

	CHECK(strcmp(got, want) == 0, "state %s, want %s", got, want);
	CHECK(len == strlen(want), "state length %zu, want %zu", len, strlen(want));
}

static void test_vector_parses(void)
{
	static const uint8_t want_mac[32] = {
		0x02, 0x93, 0xea, 0x48, 0xd7, 0x03, 0x27, 0xe9, 0xd3, 0xaa, 0xbd, 0x4a, 0x19, 0x64, 0xa1, 0x82,
		0x0d, 0x05, 0x1a, 0x0d, 0xff, 0x36, 0x30, 0x1f, 0x09, 0x0c, 0x3c, 0x57, 0x9c, 0x91, 0x5c, 0x4e,
	};
	garage_command cmd;
	garage_reason reason;

	reason = garage_command_parse(&cmd, (const uint8_t *)vector_payload, strlen(vector_payload));
	CHECK(reason == GARAGE_REASON_OK, "parse: %s", garage_reason_name(reason));
	CHECK(strcmp(cmd.device, "relay1") == 0, "device %s", cmd.device);
	CHECK(cmd.seq == 42, "seq %" PRIu64, cmd.seq);
	CHECK(cmd.ts == 1764849600, "ts %" PRIu64, cmd.ts);
	CHECK(memcmp(cmd.mac, want_mac, 32) == 0, "mac differs");
	CHECK(cmd.signed_len == strlen("v1 relay1 pulse 42 1764849600"), "signed_len %zu", cmd.signed_len);

	reason = garage_command_verify(&cmd, (const uint8_t *)vector_payload, "relay1", vector_key,
		vector_time);
	CHECK(reason == GARAGE_REASON_OK, "verify: %s", garage_reason_name(reason));
}

static void test_sign_matches_vector(void)
{
	char payload[160];

	sign(payload, sizeof payload, 42, vector_time);
	CHECK(strcmp(payload, vector_payload) == 0, "signed %s", payload);
}

static void test_vector_accepted_once(void)
{
	garage_relay r;
	garage_reason reason;

	new_relay(&r);
	state_is(&r, "v1 idle 0 boot");
	CHECK(!garage_relay_closed(&r), "closed before any command");

	reason = handle(&r, vector_payload, 1000, vector_time);
	CHECK(reason == GARAGE_REASON_OK, "first: %s", garage_reason_name(reason));
	CHECK(garage_relay_closed(&r), "open after an accepted command");
	state_is(&r, "v1 pulsing 42 ok");

	/* The same bytes again, after the cooldown: only the sequence number stops them. */
	garage_relay_poll(&r, 1000 + COOLDOWN_MS);
	reason = handle(&r, vector_payload, 1000 + COOLDOWN_MS, vector_time + 10);
	CHECK(reason == GARAGE_REASON_REPLAY, "replay: %s", garage_reason_name(reason));
	CHECK(!garage_relay_closed(&r), "closed by a replay");
	state_is(&r, "v1 idle 42 replay");
}

static void test_replay_during_pulse(void)
{
	garage_relay r;
	garage_reason reason;

	new_relay(&r);
	handle(&r, vector_payload, 1000, vector_time);
	reason = handle(&r, vector_payload, 1001, vector_time);
	CHECK(reason == GARAGE_REASON_REPLAY, "replay: %s", garage_reason_name(reason));
	state_is(&r, "v1 pulsing 42 replay");
}

static void test_lower_seq_replay(void)
{
	garage_relay r;
	char payload[160];
	garage_reason reason;

	new_relay(&r);
	handle(&r, vector_payload, 1000, vector_time);
	garage_relay_poll(&r, 1000 + COOLDOWN_MS);
	sign(payload, sizeof payload, 41, vector_time + 10);
	reason = handle(&r, payload, 1000 + COOLDOWN_MS, vector_time + 10);
	CHECK(reason == GARAGE_REASON_REPLAY, "seq 41 after 42: %s", garage_reason_name(reason));
	sign(payload, sizeof payload, 43, vector_time + 10);
	reason = handle(&r, payload, 1000 + COOLDOWN_MS, vector_time + 10);
	CHECK(reason == GARAGE_REASON_OK, "seq 43 after 42: %s", garage_reason_name(reason));
	state_is(&r, "v1 pulsing 43 ok");
}

/* A restart loses the last sequence number, so commands from before it are replays. */
static void test_before_start_replay(void)
{
	garage_relay r;
	garage_reason reason;
	int err;

	err = garage_relay_init(&r, "relay1", vector_key, PULSE_MS, COOLDOWN_MS, vector_time + 1);
	CHECK(err == 0, "init returned %d", err);
	reason = handle(&r, vector_payload, 1000, vector_time + 1);
	CHECK(reason == GARAGE_REASON_REPLAY, "command from before the start: %s",
		garage_reason_name(reason));
	CHECK(!garage_relay_closed(&r), "closed by a command from before the start");
}

static void test_flipped_bits_rejected(void)
{
	char payload[sizeof vector_payload];
	size_t len = strlen(vector_payload), i;
	int bit, forged = 0;

	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit++) {
			garage_relay r;
			garage_reason reason;

			new_relay(&r);
			memcpy(payload, vector_payload, sizeof payload);
			payload[i] = (char)(payload[i] ^ (1 << bit));
			reason = garage_relay_handle(&r, (const uint8_t *)payload, len, 1000, vector_time);
			CHECK(reason != GARAGE_REASON_OK, "bit %d of byte %zu flipped: accepted", bit, i);
			CHECK(!garage_relay_closed(&r), "bit %d of byte %zu flipped: relay closed", bit, i);
			if (reason == GARAGE_REASON_FORGED)
				forged++;
		}
	}
	CHECK(forged > 0, "no flipped bit gave forged");
}

static void test_forged_mac_digit(void)
{
	garage_relay r;
	char payload[sizeof vector_payload];
	garage_reason reason;

	new_relay(&r);
	memcpy(payload, vector_payload, sizeof payload);
	payload[strlen(payload) - 1] ^= 0x01; /* 'e' becomes 'd', still a hex digit */
	reason = handle(&r, payload, 1000, vector_time);
	CHECK(reason == GARAGE_REASON_FORGED, "got %s", garage_reason_name(reason));
	state_is(&r, "v1 idle 0 forged");

	memcpy(payload, vector_payload, sizeof payload);
	payload[17] = '3'; /* seq 32: the MAC no longer matches */
	reason = handle(&r, payload, 1000, vector_time);
	CHECK(reason == GARAGE_REASON_FORGED, "changed seq: %s", garage_reason_name(reason));
}

static void test_wrong_key_forged(void)
{
	garage_relay r;
	uint8_t key[GARAGE_KEY_SIZE];
	garage_reason reason;
	int err;

	memcpy(key, vector_key, sizeof key);
	key[31] ^= 0x80;
	err = garage_relay_init(&r, "relay1", key, PULSE_MS, COOLDOWN_MS, start_time);
	CHECK(err == 0, "init returned %d", err);
	reason = handle(&r, vector_payload, 1000, vector_time);
	CHECK(reason == GARAGE_REASON_FORGED, "got %s", garage_reason_name(reason));
}

static void test_foreign_rejected(void)
{
	garage_relay r;
	garage_reason reason;

	new_relay(&r);
	reason = handle(&r, vector_foreign, 1000, vector_time);
	CHECK(reason == GARAGE_REASON_FOREIGN, "got %s", garage_reason_name(reason));
	CHECK(!garage_relay_closed(&r), "closed by a foreign command");
	state_is(&r, "v1 idle 0 foreign");
}

static void test_foreign_vector_mac(void)
{
	garage_command cmd;
	garage_reason reason;

	reason = garage_command_parse(&cmd, (const uint8_t *)vector_foreign, strlen(vector_foreign));
	CHECK(reason == GARAGE_REASON_OK, "parse: %s", garage_reason_name(reason));
	/* As relay2, the same payload verifies: the vector's second MAC is right. */
	reason = garage_command_verify(&cmd, (const uint8_t *)vector_foreign, "relay2", vector_key,
		vector_time);
	CHECK(reason == GARAGE_REASON_OK, "verify as relay2: %s", garage_reason_name(reason));
}

static void test_clock_window(void)
{
	static const struct {
		int64_t offset; /* relay clock minus command time, in seconds */
		garage_reason want;
	} cases[] = {
		{ 0, GARAGE_REASON_OK },
		{ 30, GARAGE_REASON_OK },
		{ 31, GARAGE_REASON_STALE },
		{ 3600, GARAGE_REASON_STALE },
		{ -30, GARAGE_REASON_OK },
		{ -31, GARAGE_REASON_FUTURE },
		{ -3600, GARAGE_REASON_FUTURE },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		garage_relay r;
		garage_reason reason;

		new_relay(&r);
		reason = handle(&r, vector_payload, 1000, vector_time + cases[i].offset);
		CHECK(reason == cases[i].want, "clock %+" PRId64 " s: %s, want %s", cases[i].offset,
			garage_reason_name(reason), garage_reason_name(cases[i].want));
		CHECK(garage_relay_closed(&r) == (cases[i].want == GARAGE_REASON_OK),
			"clock %+" PRId64 " s: relay closed is %d", cases[i].offset, garage_relay_closed(&r));
	}
}

static void test_stale_keeps_last_seq(void)
{
	garage_relay r;
	char payload[160];
	garage_reason reason;

	new_relay(&r);
	sign(payload, sizeof payload, 100, vector_time - 31);
	reason = handle(&r, payload, 1000, vector_time);
	CHECK(reason == GARAGE_REASON_STALE, "got %s", garage_reason_name(reason));
	state_is(&r, "v1 idle 0 stale");
	/* The rejected seq 100 did not move the last sequence number. */
	reason = handle(&r, vector_payload, 1000, vector_time);
	CHECK(reason == GARAGE_REASON_OK, "seq 42 after a stale 100: %s", garage_reason_name(reason));
}

static void test_malformed_rejected(void)
{
	static const char *const cases[] = {
		"",
		"v1",
		"v1 ",
		"v2 relay1 pulse 42 1764849600 0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e",
		"v1 relay1 open 42 1764849600 0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e",
		"v1 relay1 pulse 042 1764849600 0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e",
		"v1 relay1 pulse 0 1764849600 0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e",
		"v1 relay1 pulse +42 1764849600 0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e",
		"v1 relay1 pulse -42 1764849600 0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e",
		"v1 relay1 pulse 9223372036854775808 1764849600 0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e",
		"v1 relay1 pulse 42 99999999999999999999 0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e",
		"v1 relay1 pulse 42 01764849600 0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e",
		"v1 relay1 pulse 42 1764849600 0293EA48D70327E9D3AABD4A1964A1820D051A0DFF36301F090C3C579C915C4E",
		"v1 relay1 pulse 42 1764849600 0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4",
		"v1 relay1 pulse 42 1764849600 0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e0",
		"v1 relay1 pulse 42 1764849600 0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4g",
		"v1 relay1 pulse 42 1764849600 0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e\n",
		"v1 relay1 pulse 42 1764849600  0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e",
		"v1  relay1 pulse 42 1764849600 0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e",
		" v1 relay1 pulse 42 1764849600 0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e",
		"v1 relay1\tpulse 42 1764849600 0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e",
		"v1 Relay1 pulse 42 1764849600 0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e",
		"v1 1relay pulse 42 1764849600 0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e",
		"v1 relay_1 pulse 42 1764849600 0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e",
		"v1 abcdefghijklmnopqrstuvwxyzabcdef pulse 42 1764849600 0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e",
		"v1 relay1 pulse 42 0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e",
		"v1 relay1 pulse 42 1764849600",
		"v1 relay1 pulse 42 1764849600 ",
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		garage_relay r;
		garage_reason reason;

		new_relay(&r);
		reason = handle(&r, cases[i], 1000, vector_time);
		CHECK(reason == GARAGE_REASON_MALFORMED, "case %zu %s: got %s", i, cases[i],
			garage_reason_name(reason));
		state_is(&r, "v1 idle 0 malformed");
	}
}

static void test_malformed_embedded_nul(void)
{
	garage_relay r;
	char payload[sizeof vector_payload];
	garage_reason reason;

	new_relay(&r);
	memcpy(payload, vector_payload, sizeof payload);
	payload[8] = '\0'; /* "v1 relay\0 pulse ..." */
	reason = garage_relay_handle(&r, (const uint8_t *)payload, strlen(vector_payload), 1000,
		vector_time);
	CHECK(reason == GARAGE_REASON_MALFORMED, "got %s", garage_reason_name(reason));
}

static void test_too_long_rejected(void)
{
	uint8_t payload[GARAGE_COMMAND_MAX + 2];
	garage_command cmd;
	garage_reason reason;

	memset(payload, 'a', sizeof payload);
	reason = garage_command_parse(&cmd, payload, sizeof payload);
	CHECK(reason == GARAGE_REASON_MALFORMED, "got %s", garage_reason_name(reason));
}

static void test_longest_fields_parse(void)
{
	/* 31-byte name, 19-digit seq, 1-digit ts: 3+31+7+19+1+1+1+64 = 127 bytes. */
	static const char payload[] = "v1 abcdefghijklmnopqrstuvwxyz-1234 pulse 9223372036854775807 0 "
		"0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e";
	garage_command cmd;
	garage_reason reason;

	reason = garage_command_parse(&cmd, (const uint8_t *)payload, strlen(payload));
	CHECK(reason == GARAGE_REASON_OK, "got %s", garage_reason_name(reason));
	CHECK(cmd.seq == UINT64_C(9223372036854775807), "seq %" PRIu64, cmd.seq);
	CHECK(cmd.ts == 0, "ts %" PRIu64, cmd.ts);
	CHECK(strlen(cmd.device) == 31, "device %s", cmd.device);
}

/* Counts pulses and checks that each lasts exactly PULSE_MS. */
typedef struct {
	int pulses;
	int closed;
	uint32_t closed_at;
	uint32_t opened_at;
	uint32_t longest;
	uint32_t shortest_gap;
} pulse_log;

static void observe(pulse_log *log, const garage_relay *r, uint32_t now)
{
	int closed = garage_relay_closed(r);

	if (closed && !log->closed) {
		if (log->pulses > 0 && now - log->opened_at < log->shortest_gap)
			log->shortest_gap = now - log->opened_at;
		log->pulses++;
		log->closed_at = now;
	}
	if (!closed && log->closed) {
		log->opened_at = now;
		if (now - log->closed_at > log->longest)
			log->longest = now - log->closed_at;
	}
	log->closed = closed;
}

/*
 * A valid, fresh command every 50 ms for 60 s, with the millisecond counter
 * wrapping halfway, pulses once per cooldown and never keeps the relay closed
 * longer than one pulse.
 */
static void test_burst_pulses_once_per_cooldown(void)
{
	garage_relay r;
	pulse_log log = { 0, 0, 0, 0, 0, UINT32_MAX };
	uint32_t start = UINT32_MAX - 30000, t;
	uint64_t seq = 1;
	int accepted = 0, cooldown = 0;
	char payload[160];

	new_relay(&r);
	for (t = 0; t <= 60000; t++) {
		uint32_t now = start + t;
		int64_t unix_now = vector_time + t / 1000;

		garage_relay_poll(&r, now);
		observe(&log, &r, now);
		if (t % 50 == 0) {
			garage_reason reason;

			sign(payload, sizeof payload, seq++, unix_now);
			reason = handle(&r, payload, now, unix_now);
			accepted += reason == GARAGE_REASON_OK;
			cooldown += reason == GARAGE_REASON_COOLDOWN;
			CHECK(reason == GARAGE_REASON_OK || reason == GARAGE_REASON_COOLDOWN,
				"t=%" PRIu32 " ms: %s", t, garage_reason_name(reason));
			observe(&log, &r, now);
		}
	}
	/* Pulses start at 0, 10, 20, 30, 40, 50 and 60 s. */
	CHECK(accepted == 7, "accepted %d commands, want 7", accepted);
	CHECK(log.pulses == 7, "%d pulses, want 7", log.pulses);
	CHECK(cooldown == 1201 - 7, "%d cooldown rejections, want %d", cooldown, 1201 - 7);
	CHECK(log.longest == PULSE_MS, "longest pulse %" PRIu32 " ms, want %u", log.longest, PULSE_MS);
	CHECK(log.shortest_gap == COOLDOWN_MS - PULSE_MS, "shortest gap %" PRIu32 " ms, want %u",
		log.shortest_gap, COOLDOWN_MS - PULSE_MS);
}

static void test_short_cooldown_raised(void)
{
	garage_relay r;
	pulse_log log = { 0, 0, 0, 0, 0, UINT32_MAX };
	uint32_t t;
	uint64_t seq = 1;
	char payload[160];
	int err;

	/* A cooldown shorter than the pulse must not let pulses join. */
	err = garage_relay_init(&r, "relay1", vector_key, 5000, 100, start_time);
	CHECK(err == 0, "init returned %d", err);
	for (t = 0; t <= 20000; t += 10) {
		garage_relay_poll(&r, t);
		observe(&log, &r, t);
		sign(payload, sizeof payload, seq++, vector_time);
		handle(&r, payload, t, vector_time);
		observe(&log, &r, t);
	}
	CHECK(log.longest == 5000, "longest pulse %" PRIu32 " ms, want 5000", log.longest);
	CHECK(log.shortest_gap >= GARAGE_MIN_RELEASE_MS, "shortest gap %" PRIu32 " ms, want %u",
		log.shortest_gap, GARAGE_MIN_RELEASE_MS);
	CHECK(log.pulses == 4, "%d pulses, want 4 (at 0, 6, 12 and 18 s)", log.pulses);
}

static void test_cooldown_state(void)
{
	garage_relay r;
	char payload[160];
	garage_reason reason;

	new_relay(&r);
	handle(&r, vector_payload, 1000, vector_time);
	CHECK(garage_relay_poll(&r, 1000 + PULSE_MS - 1) == 0, "changed before the pulse ended");
	CHECK(garage_relay_closed(&r), "open before the pulse ended");
	CHECK(garage_relay_poll(&r, 1000 + PULSE_MS) == 1, "no change when the pulse ended");
	CHECK(!garage_relay_closed(&r), "closed after the pulse");
	state_is(&r, "v1 idle 42 ok");

	sign(payload, sizeof payload, 43, vector_time + 5);
	reason = handle(&r, payload, 1000 + COOLDOWN_MS - 1, vector_time + 5);
	CHECK(reason == GARAGE_REASON_COOLDOWN, "got %s", garage_reason_name(reason));
	state_is(&r, "v1 idle 42 cooldown");
	/* The rejected seq 43 may be used once the cooldown is over. */
	reason = handle(&r, payload, 1000 + COOLDOWN_MS, vector_time + 5);
	CHECK(reason == GARAGE_REASON_OK, "got %s", garage_reason_name(reason));
	state_is(&r, "v1 pulsing 43 ok");
}

static void test_invalid_settings(void)
{
	garage_relay r;

	CHECK(garage_relay_init(&r, "Relay1", vector_key, PULSE_MS, COOLDOWN_MS, 0) == -1, "uppercase name");
	CHECK(garage_relay_init(&r, "", vector_key, PULSE_MS, COOLDOWN_MS, 0) == -1, "empty name");
	CHECK(garage_relay_init(&r, "abcdefghijklmnopqrstuvwxyzabcdef", vector_key, PULSE_MS,
		COOLDOWN_MS, 0) == -1, "32-byte name");
	CHECK(garage_relay_init(&r, "relay1", vector_key, 0, COOLDOWN_MS, 0) == -1, "zero pulse");
	CHECK(garage_relay_init(&r, "relay1", vector_key, 60001, COOLDOWN_MS, 0) == -1, "long pulse");
	CHECK(garage_relay_init(&r, "abcdefghijklmnopqrstuvwxyzabcde", vector_key, PULSE_MS,
		COOLDOWN_MS, 0) == 0, "31-byte name");
}

static void test_reason_names(void)
{
	static const char *const want[] = {
		"ok", "boot", "malformed", "foreign", "forged", "stale", "future", "replay", "cooldown",
	};
	int i;

	for (i = 0; i <= GARAGE_REASON_COOLDOWN; i++)
		CHECK(strcmp(garage_reason_name((garage_reason)i), want[i]) == 0, "reason %d is %s", i,
			garage_reason_name((garage_reason)i));
	CHECK(strcmp(garage_reason_name((garage_reason)99), "unknown") == 0, "reason 99");
}

static void test_longest_state_fits(void)
{
	garage_relay r;
	char out[GARAGE_STATE_MAX];

	new_relay(&r);
	r.last_seq = UINT64_C(9223372036854775807);
	r.pulsing = 1;
	r.reason = GARAGE_REASON_MALFORMED;
	garage_relay_state(&r, out);
	CHECK(strcmp(out, "v1 pulsing 9223372036854775807 malformed") == 0, "state %s", out);
}

int main(int argc, char **argv)
{
	static const test_case tests[] = {
		{ "vector_parses", test_vector_parses },
		{ "sign_matches_vector", test_sign_matches_vector },
		{ "vector_accepted_once", test_vector_accepted_once },
		{ "replay_during_pulse", test_replay_during_pulse },
		{ "lower_seq_replay", test_lower_seq_replay },
		{ "before_start_replay", test_before_start_replay },
		{ "flipped_bits_rejected", test_flipped_bits_rejected },
		{ "forged_mac_digit", test_forged_mac_digit },
		{ "wrong_key_forged", test_wrong_key_forged },
		{ "foreign_rejected", test_foreign_rejected },
		{ "foreign_vector_mac", test_foreign_vector_mac },
		{ "clock_window", test_clock_window },
		{ "stale_keeps_last_seq", test_stale_keeps_last_seq },
		{ "malformed_rejected", test_malformed_rejected },
		{ "malformed_embedded_nul", test_malformed_embedded_nul },
		{ "too_long_rejected", test_too_long_rejected },
		{ "longest_fields_parse", test_longest_fields_parse },
		{ "burst_pulses_once_per_cooldown", test_burst_pulses_once_per_cooldown },
		{ "short_cooldown_raised", test_short_cooldown_raised },
		{ "cooldown_state", test_cooldown_state },
		{ "invalid_settings", test_invalid_settings },
		{ "reason_names", test_reason_names },
		{ "longest_state_fits", test_longest_state_fits },
	};

	return run_tests(tests, sizeof tests / sizeof tests[0], argc, argv);
}
