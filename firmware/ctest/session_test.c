/*
 * Tests of the MQTT session and the device glue against a scripted broker:
 * the bytes the device sends, how it reacts to each reply, keep-alive,
 * timeouts and reconnection backoff.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/garage_device.h"
#include "check.h"

static const uint8_t vector_key[GARAGE_KEY_SIZE] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};
static const char vector_payload[] = "v1 relay1 pulse 42 1764849600 "
	"0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e";
static const int64_t vector_time = 1764849600;

#define PASSWORD "pw-\"quoted\"-and-long-enough"

/* The broker side of the connection, and the relay pin. */
typedef struct {
	int connect_result;
	int connects;
	int closes;
	int read_fails;     /* read returns -1 while set */
	size_t read_max;    /* bytes per read; 0 means no limit */
	uint8_t in[2048];   /* bytes from the broker, not yet read */
	size_t in_len, in_pos;
	uint8_t out[4096];  /* bytes the device sent */
	size_t out_len, out_pos;
	int relay_closed;
	int relay_calls;
} fake;

static int fake_connect(void *context)
{
	fake *f = (fake *)context;

	f->connects++;
	if (f->connect_result == 0)
		f->in_len = f->in_pos = 0;
	return f->connect_result;
}

static void fake_close(void *context)
{
	((fake *)context)->closes++;
}

static int fake_read(void *context, uint8_t *buf, size_t len)
{
	fake *f = (fake *)context;
	size_t n = f->in_len - f->in_pos;

	if (f->read_fails)
		return -1;
	if (n > len)
		n = len;
	if (f->read_max > 0 && n > f->read_max)
		n = f->read_max;
	memcpy(buf, f->in + f->in_pos, n);
	f->in_pos += n;
	return (int)n;
}

static int fake_write(void *context, const uint8_t *buf, size_t len)
{
	fake *f = (fake *)context;

	if (len > sizeof f->out - f->out_len)
		return -1;
	memcpy(f->out + f->out_len, buf, len);
	f->out_len += len;
	return (int)len;
}

static void fake_set_relay(void *context, int closed)
{
	fake *f = (fake *)context;

	f->relay_closed = closed;
	f->relay_calls++;
}

/* Prints the device's log when GARAGE_TEST_VERBOSE is set. */
static void fake_log(void *context, const char *event, const char *detail, long value)
{
	(void)context;
	if (getenv("GARAGE_TEST_VERBOSE") != NULL)
		fprintf(stderr, "  log: %s %s %ld\n", event, detail ? detail : "", value);
}

/* Sends bytes from the broker to the device. */
static void broker_send(fake *f, const uint8_t *data, size_t len)
{
	memcpy(f->in + f->in_len, data, len);
	f->in_len += len;
}

static void broker_connack(fake *f, uint8_t code)
{
	const uint8_t p[] = { 0x20, 0x02, 0x00, code };
	broker_send(f, p, sizeof p);
}

static void broker_suback(fake *f, uint16_t id, uint8_t code)
{
	const uint8_t p[] = { 0x90, 0x03, (uint8_t)(id >> 8), (uint8_t)id, code };
	broker_send(f, p, sizeof p);
}

static void broker_publish(fake *f, const char *topic, const uint8_t *payload, size_t len,
	unsigned qos, uint16_t id)
{
	uint8_t p[600];
	size_t tlen = strlen(topic), body = 2 + tlen + (qos ? 2 : 0) + len, n = 0;

	p[n++] = (uint8_t)(0x30 | qos << 1);
	do {
		p[n] = (uint8_t)(body % 128);
		body /= 128;
		if (body > 0)
			p[n] |= 0x80;
		n++;
	} while (body > 0);
	p[n++] = (uint8_t)(tlen >> 8);
	p[n++] = (uint8_t)tlen;
	memcpy(p + n, topic, tlen);
	n += tlen;
	if (qos) {
		p[n++] = (uint8_t)(id >> 8);
		p[n++] = (uint8_t)id;
	}
	memcpy(p + n, payload, len);
	broker_send(f, p, n + len);
}

/* A packet the device sent. */
typedef struct {
	uint8_t type;
	const uint8_t *body;
	size_t len;
} packet;

/* Takes the next packet the device sent. Returns 0 when there is none. */
static int device_sent(fake *f, packet *p)
{
	size_t pos = f->out_pos, len = 0;
	unsigned shift = 0;

	if (pos >= f->out_len)
		return 0;
	p->type = f->out[pos++];
	for (;;) {
		uint8_t b = f->out[pos++];
		len |= (size_t)(b & 0x7F) << shift;
		shift += 7;
		if (!(b & 0x80))
			break;
	}
	p->body = f->out + pos;
	p->len = len;
	f->out_pos = pos + len;
	return 1;
}

/* Takes the next packet the device sent into p and checks its type. */
#define EXPECT_PACKET(p, want) do { \
	memset((p), 0, sizeof *(p)); \
	CHECK(device_sent(&broker, (p)), "the device sent nothing, want type %#x", (unsigned)(want)); \
	CHECK((p)->type == (want), "packet type %#x, want %#x", (p)->type, (unsigned)(want)); \
} while (0)

static int nothing_sent(fake *f)
{
	return f->out_pos == f->out_len;
}

/* Checks that p is a PUBLISH of payload to topic with QoS 1 and the given retain flag. */
static void check_publish(const packet *p, const char *topic, const char *payload, int retain)
{
	size_t tlen = strlen(topic);
	uint8_t want_type = (uint8_t)(0x32 | (retain ? 1 : 0));

	CHECK(p->type == want_type, "type %#x, want %#x", p->type, want_type);
	CHECK(p->len == 2 + tlen + 2 + strlen(payload), "length %zu", p->len);
	if (p->len != 2 + tlen + 2 + strlen(payload))
		return;
	CHECK((size_t)(p->body[0] << 8 | p->body[1]) == tlen &&
		memcmp(p->body + 2, topic, tlen) == 0, "topic %.*s, want %s",
		(int)(p->body[0] << 8 | p->body[1]), (const char *)p->body + 2, topic);
	CHECK(memcmp(p->body + 4 + tlen, payload, strlen(payload)) == 0, "payload %.*s, want %s",
		(int)strlen(payload), (const char *)p->body + 4 + tlen, payload);
}

static fake broker;
static garage_device device;
static const garage_transport transport = {
	&broker, fake_connect, fake_close, fake_read, fake_write,
};
static const garage_platform platform = { &broker, fake_set_relay, fake_log };
static const garage_device_config config = {
	"relay1", PASSWORD, "garage/relay1/cmd", "garage/relay1/state", "garage/relay1/avail",
	vector_key, 400, 10000,
};

static void setup(void)
{
	int err;

	memset(&broker, 0, sizeof broker);
	err = garage_device_init(&device, &config, &platform, &transport, vector_time - 10);
	CHECK(err == 0, "garage_device_init returned %d", err);
	CHECK(broker.relay_calls == 1, "set_relay called %d times at init, want once", broker.relay_calls);
	CHECK(broker.relay_closed == 0, "relay closed at init");
}

static void poll_at(uint32_t now_ms)
{
	garage_device_poll(&device, now_ms, vector_time + (int64_t)(now_ms / 1000));
}

/* Brings the session up to READY at time 0 and consumes what the device sent. */
static uint32_t connect_ready(void)
{
	packet p;
	uint16_t id;

	setup();
	poll_at(0);
	EXPECT_PACKET(&p, 0x10);
	broker_connack(&broker, 0);
	poll_at(10);
	EXPECT_PACKET(&p, 0x82);
	id = (uint16_t)(p.body[0] << 8 | p.body[1]);
	broker_suback(&broker, id, 1);
	poll_at(20);
	CHECK(device_sent(&broker, &p), "no online");
	CHECK(device_sent(&broker, &p), "no state");
	CHECK(nothing_sent(&broker), "more than online and state");
	return 20;
}

static void test_connect_packet(void)
{
	static const uint8_t want[] = {
		0x10, 85,
		0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0xEE, 0x00, 60,
		0x00, 6, 'r', 'e', 'l', 'a', 'y', '1',
		0x00, 19, 'g', 'a', 'r', 'a', 'g', 'e', '/', 'r', 'e', 'l', 'a', 'y', '1', '/',
		'a', 'v', 'a', 'i', 'l',
		0x00, 7, 'o', 'f', 'f', 'l', 'i', 'n', 'e',
		0x00, 6, 'r', 'e', 'l', 'a', 'y', '1',
		0x00, 27, 'p', 'w', '-', '"', 'q', 'u', 'o', 't', 'e', 'd', '"', '-', 'a', 'n', 'd', '-',
		'l', 'o', 'n', 'g', '-', 'e', 'n', 'o', 'u', 'g', 'h',
	};
	size_t i;

	setup();
	poll_at(0);
	CHECK(broker.connects == 1, "%d connects", broker.connects);
	CHECK(broker.out_len == sizeof want, "CONNECT is %zu bytes, want %zu", broker.out_len, sizeof want);
	for (i = 0; i < sizeof want && i < broker.out_len; i++)
		CHECK(broker.out[i] == want[i], "byte %zu is %#x, want %#x", i, broker.out[i], want[i]);
	/* The password does not stay in the transmit buffer. */
	for (i = 0; i + strlen(PASSWORD) <= sizeof device.mqtt.tx; i++)
		CHECK(memcmp(device.mqtt.tx + i, PASSWORD, strlen(PASSWORD)) != 0,
			"password left in the transmit buffer at %zu", i);
}

static void test_subscribe_then_online_and_state(void)
{
	static const uint8_t want_subscribe[] = {
		0x00, 0x01, 0x00, 17, 'g', 'a', 'r', 'a', 'g', 'e', '/', 'r', 'e', 'l', 'a', 'y', '1',
		'/', 'c', 'm', 'd', 0x01,
	};
	packet p;

	setup();
	poll_at(0);
	device_sent(&broker, &p);
	poll_at(5);
	CHECK(nothing_sent(&broker), "sent something before the CONNACK");
	broker_connack(&broker, 0);
	poll_at(10);
	EXPECT_PACKET(&p, 0x82);
	CHECK(p.len == sizeof want_subscribe, "SUBSCRIBE body of %zu bytes, want %zu", p.len,
		sizeof want_subscribe);
	CHECK(memcmp(p.body, want_subscribe, sizeof want_subscribe) == 0, "SUBSCRIBE body differs");
	CHECK(nothing_sent(&broker), "published before the SUBACK");

	broker_suback(&broker, 1, 1);
	poll_at(20);
	CHECK(device_sent(&broker, &p), "nothing after the SUBACK");
	check_publish(&p, "garage/relay1/avail", "online", 1);
	CHECK(device_sent(&broker, &p), "no state after online");
	check_publish(&p, "garage/relay1/state", "v1 idle 0 boot", 1);
	CHECK(garage_mqtt_status_of(&device.mqtt) == GARAGE_MQTT_READY, "not ready");
}

static void test_command_pulses_and_reports(void)
{
	packet p;

	connect_ready();
	broker_publish(&broker, "garage/relay1/cmd", (const uint8_t *)vector_payload,
		strlen(vector_payload), 1, 0x1234);
	poll_at(100);
	EXPECT_PACKET(&p, 0x40);
	CHECK(p.len == 2, "PUBACK body of %zu bytes, want 2", p.len);
	CHECK((p.body[0] << 8 | p.body[1]) == 0x1234, "PUBACK for id %#x, want 0x1234",
		p.body[0] << 8 | p.body[1]);
	CHECK(broker.relay_closed == 1, "relay not closed");
	CHECK(device_sent(&broker, &p), "no state");
	check_publish(&p, "garage/relay1/state", "v1 pulsing 42 ok", 1);

	poll_at(499);
	CHECK(broker.relay_closed == 1, "relay opened before 400 ms");
	CHECK(nothing_sent(&broker), "sent something during the pulse");
	poll_at(500);
	CHECK(broker.relay_closed == 0, "relay still closed after 400 ms");
	CHECK(device_sent(&broker, &p), "no state after the pulse");
	check_publish(&p, "garage/relay1/state", "v1 idle 42 ok", 1);

	/* The same bytes again. */
	broker_publish(&broker, "garage/relay1/cmd", (const uint8_t *)vector_payload,
		strlen(vector_payload), 1, 0x1235);
	poll_at(15000);
	EXPECT_PACKET(&p, 0x40);
	CHECK(device_sent(&broker, &p), "no state after the replay");
	check_publish(&p, "garage/relay1/state", "v1 idle 42 replay", 1);
	CHECK(broker.relay_calls == 3, "%d relay calls, want 3 (init, close, open)", broker.relay_calls);
}

static void test_qos0_command(void)
{
	packet p;

	connect_ready();
	broker_publish(&broker, "garage/relay1/cmd", (const uint8_t *)vector_payload,
		strlen(vector_payload), 0, 0);
	poll_at(100);
	CHECK(device_sent(&broker, &p), "no state");
	check_publish(&p, "garage/relay1/state", "v1 pulsing 42 ok", 1);
}

static void test_other_topic_ignored(void)
{
	packet p;

	connect_ready();
	broker_publish(&broker, "garage/relay2/cmd", (const uint8_t *)vector_payload,
		strlen(vector_payload), 1, 9);
	poll_at(100);
	EXPECT_PACKET(&p, 0x40);
	CHECK(nothing_sent(&broker), "reacted to another topic");
	CHECK(broker.relay_closed == 0, "relay closed");
}

static void test_oversized_command_malformed(void)
{
	uint8_t payload[300];
	packet p;

	connect_ready();
	memcpy(payload, vector_payload, strlen(vector_payload));
	memset(payload + strlen(vector_payload), 'x', sizeof payload - strlen(vector_payload));
	broker_publish(&broker, "garage/relay1/cmd", payload, sizeof payload, 1, 77);
	poll_at(100);
	EXPECT_PACKET(&p, 0x40);
	CHECK((p.body[0] << 8 | p.body[1]) == 77, "PUBACK for id %d, want 77", p.body[0] << 8 | p.body[1]);
	CHECK(device_sent(&broker, &p), "no state");
	check_publish(&p, "garage/relay1/state", "v1 idle 0 malformed", 1);
	CHECK(garage_mqtt_status_of(&device.mqtt) == GARAGE_MQTT_READY, "session dropped");
}

static void test_one_byte_reads(void)
{
	packet p;
	uint32_t t;

	setup();
	broker.read_max = 1;
	poll_at(0);
	device_sent(&broker, &p);
	broker_connack(&broker, 0);
	broker_suback(&broker, 1, 1);
	broker_publish(&broker, "garage/relay1/cmd", (const uint8_t *)vector_payload,
		strlen(vector_payload), 1, 5);
	for (t = 1; t < 300; t++)
		poll_at(t);
	CHECK(broker.relay_closed == 1, "command not handled with one-byte reads");
}

static void test_keepalive_ping(void)
{
	packet p;

	connect_ready();
	poll_at(29999);
	CHECK(nothing_sent(&broker), "PINGREQ before half the keep-alive");
	poll_at(30020);
	EXPECT_PACKET(&p, 0xC0);
	CHECK(p.len == 0, "body of %zu bytes", p.len);
	broker_send(&broker, (const uint8_t *)"\xD0\x00", 2);
	poll_at(30100);
	CHECK(garage_mqtt_status_of(&device.mqtt) == GARAGE_MQTT_READY, "dropped after PINGRESP");

	poll_at(60100);
	EXPECT_PACKET(&p, 0xC0);
	poll_at(60100 + GARAGE_MQTT_REPLY_TIMEOUT_MS - 1);
	CHECK(broker.closes == 0, "closed before the reply timeout");
	poll_at(60100 + GARAGE_MQTT_REPLY_TIMEOUT_MS);
	CHECK(broker.closes == 1, "not closed after a missing PINGRESP");
	CHECK(garage_mqtt_status_of(&device.mqtt) == GARAGE_MQTT_DISCONNECTED, "still connected");
}

static void test_connack_timeout(void)
{
	setup();
	poll_at(0);
	poll_at(100); /* the wait starts at the first poll after the connect */
	poll_at(100 + GARAGE_MQTT_REPLY_TIMEOUT_MS - 1);
	CHECK(broker.closes == 0, "closed too early");
	poll_at(100 + GARAGE_MQTT_REPLY_TIMEOUT_MS);
	CHECK(broker.closes == 1, "not closed after the CONNACK timeout");
}

static void test_connack_refused(void)
{
	packet p;

	setup();
	poll_at(0);
	broker_connack(&broker, 5);
	poll_at(10);
	device_sent(&broker, &p);
	CHECK(nothing_sent(&broker), "subscribed after a refusal");
	CHECK(broker.closes == 1, "not closed after a refusal");
	poll_at(20);
	poll_at(1019);
	CHECK(broker.connects == 1, "reconnected before the backoff");
	poll_at(1020);
	CHECK(broker.connects == 2, "no reconnect after the backoff");
}

static void test_suback_failure(void)
{
	setup();
	poll_at(0);
	broker_connack(&broker, 0);
	poll_at(10);
	broker_suback(&broker, 1, 0x80);
	poll_at(20);
	CHECK(broker.closes == 1, "kept a session without its subscription");
}

static void test_protocol_errors(void)
{
	static const struct {
		const char *name;
		uint8_t bytes[8];
		size_t len;
	} cases[] = {
		{ "qos 2 publish", { 0x34, 0x05, 0x00, 0x01, 'x', 0x00, 0x01 }, 7 },
		{ "five length bytes", { 0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }, 6 },
		{ "connack when ready", { 0x20, 0x02, 0x00, 0x00 }, 4 },
		{ "pingresp with flags", { 0xD1, 0x00 }, 2 },
		{ "server connect", { 0x10, 0x00 }, 2 },
		{ "empty publish", { 0x30, 0x00 }, 2 },
		{ "topic past the end", { 0x30, 0x03, 0x00, 0x09, 'x' }, 5 },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		connect_ready();
		broker_send(&broker, cases[i].bytes, cases[i].len);
		poll_at(100);
		CHECK(broker.closes == 1, "%s: connection kept", cases[i].name);
	}
}

static void test_backoff_doubles(void)
{
	static const uint32_t want[] = { 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000 };
	uint32_t t, times[16];
	int n = 0, last = 0, i;

	setup();
	broker.connect_result = -1;
	for (t = 0; t < 300000 && n < 9; t += 100) {
		poll_at(t);
		if (broker.connects != last) {
			last = broker.connects;
			times[n++] = t;
		}
	}
	CHECK(n == 9, "%d attempts", n);
	for (i = 1; i < n; i++) {
		/* A failure sets the deadline at the next poll, 100 ms later. */
		CHECK(times[i] - times[i - 1] == want[i - 1] + 100, "attempt %d after %" PRIu32 " ms, want %"
			PRIu32, i, times[i] - times[i - 1], want[i - 1] + 100);
	}
}

static void test_backoff_resets_when_ready(void)
{
	uint32_t t;

	setup();
	broker.connect_result = -1;
	for (t = 0; t <= 3300; t += 100)
		poll_at(t); /* attempts at 0, 1100 and 3200, then a 4 s delay from 3300 */
	broker.connect_result = 0;
	poll_at(7300);
	CHECK(broker.connects == 4, "%d attempts", broker.connects);
	broker_connack(&broker, 0);
	poll_at(7310);
	broker_suback(&broker, 1, 1);
	poll_at(7320);
	CHECK(garage_mqtt_status_of(&device.mqtt) == GARAGE_MQTT_READY, "not ready");
	broker.read_fails = 1;
	poll_at(7330);
	CHECK(broker.closes == 1, "not closed after a failed read");
	broker.read_fails = 0;
	poll_at(7340);
	poll_at(8339);
	CHECK(broker.connects == 4, "reconnected before 1 s");
	poll_at(8340);
	CHECK(broker.connects == 5, "backoff not reset to 1 s");
}

static void test_no_connect_during_long_pulse(void)
{
	static const garage_device_config long_pulse = {
		"relay1", PASSWORD, "garage/relay1/cmd", "garage/relay1/state", "garage/relay1/avail",
		vector_key, 5000, 10000,
	};
	uint32_t t;
	int err;

	/* The reconnect backoff (1 s) ends long before the 5 s pulse does. */
	memset(&broker, 0, sizeof broker);
	err = garage_device_init(&device, &long_pulse, &platform, &transport, vector_time - 10);
	CHECK(err == 0, "init returned %d", err);
	poll_at(0);
	broker_connack(&broker, 0);
	poll_at(10);
	broker_suback(&broker, 1, 1);
	poll_at(20);
	broker_publish(&broker, "garage/relay1/cmd", (const uint8_t *)vector_payload,
		strlen(vector_payload), 1, 1);
	poll_at(100);
	broker.read_fails = 1;
	poll_at(110);
	broker.read_fails = 0;
	for (t = 120; t < 5100; t += 10)
		poll_at(t);
	CHECK(broker.connects == 1, "%d connects during the pulse", broker.connects);
	CHECK(broker.relay_closed == 1, "relay opened early");
	poll_at(5100);
	CHECK(broker.relay_closed == 0, "relay still closed");
	CHECK(broker.connects == 2, "no reconnect after the pulse");
}

static void test_invalid_options(void)
{
	static const char long_password[] =
		"0123456789012345678901234567890123456789012345678901234567890123456789";
	garage_device_config c = config;

	c.password = long_password;
	CHECK(garage_device_init(&device, &c, &platform, &transport, 0) == -1, "65-byte password");
	c = config;
	c.password = "";
	CHECK(garage_device_init(&device, &c, &platform, &transport, 0) == -1, "empty password");
	c = config;
	c.topic_state = "garage/relay1/state/that/is/much/too/long/for/the/buffer";
	CHECK(garage_device_init(&device, &c, &platform, &transport, 0) == -1, "long topic");
	c = config;
	c.device = "Relay1";
	CHECK(garage_device_init(&device, &c, &platform, &transport, 0) == -1, "invalid name");
}

int main(int argc, char **argv)
{
	static const test_case tests[] = {
		{ "connect_packet", test_connect_packet },
		{ "subscribe_then_online_and_state", test_subscribe_then_online_and_state },
		{ "command_pulses_and_reports", test_command_pulses_and_reports },
		{ "qos0_command", test_qos0_command },
		{ "other_topic_ignored", test_other_topic_ignored },
		{ "oversized_command_malformed", test_oversized_command_malformed },
		{ "one_byte_reads", test_one_byte_reads },
		{ "keepalive_ping", test_keepalive_ping },
		{ "connack_timeout", test_connack_timeout },
		{ "connack_refused", test_connack_refused },
		{ "suback_failure", test_suback_failure },
		{ "protocol_errors", test_protocol_errors },
		{ "backoff_doubles", test_backoff_doubles },
		{ "backoff_resets_when_ready", test_backoff_resets_when_ready },
		{ "no_connect_during_long_pulse", test_no_connect_during_long_pulse },
		{ "invalid_options", test_invalid_options },
	};

	return run_tests(tests, sizeof tests / sizeof tests[0], argc, argv);
}
