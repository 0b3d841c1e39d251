#include "garage_mqtt.h"

#include <string.h>

/* First byte of each fixed header (MQTT 3.1.1, section 2.2). */
#define PACKET_CONNECT 0x10
#define PACKET_CONNACK 0x20
#define PACKET_PUBLISH 0x30
#define PACKET_PUBACK 0x40
#define PACKET_SUBSCRIBE 0x82 /* flags 0010 are required */
#define PACKET_SUBACK 0x90
#define PACKET_PINGREQ 0xC0
#define PACKET_PINGRESP 0xD0

/* CONNECT flags (section 3.1.2.3). */
#define CONNECT_USERNAME 0x80
#define CONNECT_PASSWORD 0x40
#define CONNECT_WILL_RETAIN 0x20
#define CONNECT_WILL_QOS1 0x08
#define CONNECT_WILL 0x04
#define CONNECT_CLEAN_SESSION 0x02

/*
 * Packets are built from offset HEADER_ROOM of the transmit buffer, so that
 * the fixed header (one type byte and up to four length bytes) can go in
 * front of the body once its length is known.
 */
#define HEADER_ROOM 5

/* Bytes read from the transport per call, and calls per poll. */
#define READ_CHUNK 64
#define READ_CHUNKS_PER_POLL 8

typedef struct {
	uint8_t *buf;
	size_t len;
	int overflow;
} writer;

static void log_event(garage_mqtt *m, const char *event, long detail)
{
	if (m->handler->log != NULL)
		m->handler->log(m->handler->context, event, detail);
}

/* Returns 1 when now_ms is at or after deadline_ms, for deadlines within 24 days. */
static int reached(uint32_t now_ms, uint32_t deadline_ms)
{
	return (int32_t)(now_ms - deadline_ms) >= 0;
}

static int string_ok(const char *s, size_t max)
{
	return s != NULL && s[0] != '\0' && strlen(s) <= max;
}

int garage_mqtt_init(garage_mqtt *m, const garage_mqtt_options *options,
	const garage_transport *transport, const garage_mqtt_handler *handler)
{
	memset(m, 0, sizeof *m);
	if (!string_ok(options->client_id, GARAGE_MQTT_ID_MAX) ||
	    !string_ok(options->username, GARAGE_MQTT_ID_MAX) ||
	    !string_ok(options->password, GARAGE_MQTT_PASSWORD_MAX) ||
	    !string_ok(options->subscribe_topic, GARAGE_MQTT_TOPIC_MAX) ||
	    !string_ok(options->will_topic, GARAGE_MQTT_TOPIC_MAX) ||
	    !string_ok(options->will_message, GARAGE_MQTT_WILL_MAX) ||
	    options->keepalive_s < 10 || options->keepalive_s > 600)
		return -1;
	m->options = options;
	m->transport = transport;
	m->handler = handler;
	m->status = GARAGE_MQTT_DISCONNECTED;
	m->next_packet_id = 1;
	m->backoff_ms = GARAGE_MQTT_BACKOFF_MIN_MS;
	/* The first poll sets retry_at_ms to its own time, so it connects at once. */
	m->clock_pending = 1;
	return 0;
}

garage_mqtt_status garage_mqtt_status_of(const garage_mqtt *m)
{
	return m->status;
}

static uint16_t next_packet_id(garage_mqtt *m)
{
	uint16_t id = m->next_packet_id++;

	if (m->next_packet_id == 0)
		m->next_packet_id = 1;
	return id;
}

static writer start_packet(garage_mqtt *m)
{
	writer w = { m->tx, HEADER_ROOM, 0 };
	return w;
}

static void put_bytes(writer *w, const void *data, size_t n)
{
	if (n > GARAGE_MQTT_TX_SIZE - w->len) {
		w->overflow = 1;
		return;
	}
	memcpy(w->buf + w->len, data, n);
	w->len += n;
}

static void put_u16(writer *w, uint16_t v)
{
	uint8_t b[2];

	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
	put_bytes(w, b, 2);
}

static void put_u8(writer *w, uint8_t v)
{
	put_bytes(w, &v, 1);
}

/* Writes a UTF-8 string field: a two-byte length and the bytes. */
static void put_string(writer *w, const void *s, size_t n)
{
	put_u16(w, (uint16_t)n);
	put_bytes(w, s, n);
}

/*
 * Drops the connection and schedules the next attempt after the backoff,
 * which doubles up to GARAGE_MQTT_BACKOFF_MAX_MS. The deadline is set at the
 * next poll, because the caller's time may be stale after a blocking call.
 */
static void drop(garage_mqtt *m, const char *event, long detail)
{
	log_event(m, event, detail);
	if (m->status != GARAGE_MQTT_DISCONNECTED)
		m->transport->close(m->transport->context);
	m->status = GARAGE_MQTT_DISCONNECTED;
	m->waiting = 0;
	m->ping_pending = 0;
	m->rx_stage = 0;
	m->clock_pending = 1;
	m->retry_delay_ms = m->backoff_ms;
	m->backoff_ms = m->backoff_ms >= GARAGE_MQTT_BACKOFF_MAX_MS / 2 ?
		GARAGE_MQTT_BACKOFF_MAX_MS : m->backoff_ms * 2;
}

static int write_all(garage_mqtt *m, const uint8_t *data, size_t len)
{
	while (len > 0) {
		int n = m->transport->write(m->transport->context, data, len);
		if (n <= 0 || (size_t)n > len)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Puts the fixed header in front of the body in w and sends the packet. */
static int send_packet(garage_mqtt *m, uint8_t type, writer *w)
{
	size_t body = w->len - HEADER_ROOM;
	uint8_t length[4];
	size_t n = 0, start;

	if (w->overflow)
		return -1;
	do {
		length[n] = (uint8_t)(body % 128);
		body /= 128;
		if (body > 0)
			length[n] |= 0x80;
		n++;
	} while (body > 0);
	start = HEADER_ROOM - 1 - n;
	w->buf[start] = type;
	memcpy(w->buf + start + 1, length, n);

	if (write_all(m, w->buf + start, w->len - start) != 0) {
		drop(m, "write failed", 0);
		return -1;
	}
	m->last_sent_ms = m->now_ms;
	return 0;
}

static void send_connect(garage_mqtt *m)
{
	const garage_mqtt_options *o = m->options;
	writer w = start_packet(m);

	put_string(&w, "MQTT", 4);
	put_u8(&w, 4); /* protocol level of MQTT 3.1.1 */
	put_u8(&w, CONNECT_USERNAME | CONNECT_PASSWORD | CONNECT_WILL_RETAIN |
		CONNECT_WILL_QOS1 | CONNECT_WILL | CONNECT_CLEAN_SESSION);
	put_u16(&w, o->keepalive_s);
	put_string(&w, o->client_id, strlen(o->client_id));
	put_string(&w, o->will_topic, strlen(o->will_topic));
	put_string(&w, o->will_message, strlen(o->will_message));
	put_string(&w, o->username, strlen(o->username));
	put_string(&w, o->password, strlen(o->password));
	send_packet(m, PACKET_CONNECT, &w);
	/* The CONNECT contains the password, so it is cleared from the buffer. */
	memset(m->tx, 0, sizeof m->tx);
}

static void start_connection(garage_mqtt *m)
{
	if (m->transport->connect(m->transport->context) != 0) {
		drop(m, "connect failed", 0);
		return;
	}
	m->status = GARAGE_MQTT_CONNECTING;
	m->rx_stage = 0;
	send_connect(m);
	if (m->status == GARAGE_MQTT_DISCONNECTED)
		return;
	m->waiting = 1;
	m->clock_pending = 1;
}

static void handle_connack(garage_mqtt *m)
{
	writer w = start_packet(m);
	const char *topic = m->options->subscribe_topic;

	if (m->status != GARAGE_MQTT_CONNECTING || m->rx_total != 2) {
		drop(m, "unexpected connack", m->status);
		return;
	}
	if (m->rx[1] != 0) {
		/* 4: bad username or password, 5: not authorised. */
		drop(m, "connack refused", m->rx[1]);
		return;
	}
	log_event(m, "connected", 0);

	m->subscribe_id = next_packet_id(m);
	put_u16(&w, m->subscribe_id);
	put_string(&w, topic, strlen(topic));
	put_u8(&w, 1); /* requested QoS */
	if (send_packet(m, PACKET_SUBSCRIBE, &w) != 0)
		return;
	m->status = GARAGE_MQTT_SUBSCRIBING;
	m->wait_since_ms = m->now_ms;
}

static void handle_suback(garage_mqtt *m)
{
	uint16_t id = (uint16_t)(m->rx[0] << 8 | m->rx[1]);

	if (m->status != GARAGE_MQTT_SUBSCRIBING || m->rx_total != 3 || id != m->subscribe_id) {
		drop(m, "unexpected suback", m->status);
		return;
	}
	if (m->rx[2] & 0x80) {
		drop(m, "subscribe refused", m->rx[2]);
		return;
	}
	m->status = GARAGE_MQTT_READY;
	m->waiting = 0;
	m->backoff_ms = GARAGE_MQTT_BACKOFF_MIN_MS;
	log_event(m, "subscribed with qos", m->rx[2]);
	m->handler->ready(m->handler->context);
}

static void handle_publish(garage_mqtt *m)
{
	unsigned qos = (m->rx_type >> 1) & 3;
	size_t topic_len, header;
	uint16_t id = 0;

	if (m->status < GARAGE_MQTT_SUBSCRIBING || qos > 1 || m->rx_kept < 2) {
		drop(m, "unexpected publish", (long)qos);
		return;
	}
	topic_len = (size_t)(m->rx[0] << 8 | m->rx[1]);
	header = 2 + topic_len + (qos > 0 ? 2 : 0);
	if (header > m->rx_kept) {
		/* The kept bytes end before the topic and packet ID, so the topic is not ours. */
		drop(m, "publish header too long", (long)header);
		return;
	}
	if (qos > 0) {
		writer w = start_packet(m);
		id = (uint16_t)(m->rx[header - 2] << 8 | m->rx[header - 1]);
		put_u16(&w, id);
		if (send_packet(m, PACKET_PUBACK, &w) != 0)
			return;
	}
	m->handler->message(m->handler->context, (const char *)m->rx + 2, topic_len,
		m->rx + header, m->rx_kept - header, m->rx_total > m->rx_kept);
}

static void handle_packet(garage_mqtt *m)
{
	uint8_t type = m->rx_type & 0xF0;
	uint8_t flags = m->rx_type & 0x0F;

	if (type == PACKET_PUBLISH) {
		handle_publish(m);
		return;
	}
	if (flags != 0) {
		drop(m, "invalid header flags", m->rx_type);
		return;
	}
	switch (type) {
	case PACKET_CONNACK:
		handle_connack(m);
		break;
	case PACKET_SUBACK:
		handle_suback(m);
		break;
	case PACKET_PUBACK:
		break; /* acknowledges a publish of ours; nothing is retransmitted */
	case PACKET_PINGRESP:
		if (m->ping_pending) {
			m->ping_pending = 0;
			m->waiting = 0;
		}
		break;
	default:
		drop(m, "unexpected packet type", type >> 4);
	}
}

static void feed(garage_mqtt *m, uint8_t b)
{
	switch (m->rx_stage) {
	case 0:
		m->rx_type = b;
		m->rx_total = 0;
		m->rx_length_bytes = 0;
		m->rx_kept = 0;
		m->rx_stage = 1;
		return;
	case 1:
		m->rx_total |= (uint32_t)(b & 0x7F) << (7 * m->rx_length_bytes);
		m->rx_length_bytes++;
		if (b & 0x80) {
			if (m->rx_length_bytes == 4)
				drop(m, "invalid remaining length", 0);
			return;
		}
		m->rx_remaining = m->rx_total;
		m->rx_stage = 2;
		break;
	default:
		if (m->rx_kept < sizeof m->rx)
			m->rx[m->rx_kept++] = b;
		m->rx_remaining--;
	}
	if (m->rx_remaining == 0) {
		m->rx_stage = 0;
		handle_packet(m);
	}
}

static void read_available(garage_mqtt *m)
{
	uint8_t chunk[READ_CHUNK];
	int round, n, i;

	for (round = 0; round < READ_CHUNKS_PER_POLL; round++) {
		n = m->transport->read(m->transport->context, chunk, sizeof chunk);
		if (n < 0) {
			drop(m, "connection lost", 0);
			return;
		}
		for (i = 0; i < n && m->status != GARAGE_MQTT_DISCONNECTED; i++)
			feed(m, chunk[i]);
		if (n < (int)sizeof chunk || m->status == GARAGE_MQTT_DISCONNECTED)
			return;
	}
}

static void check_timers(garage_mqtt *m)
{
	uint32_t keepalive_ms = (uint32_t)m->options->keepalive_s * 1000u;

	if (m->waiting && m->now_ms - m->wait_since_ms >= GARAGE_MQTT_REPLY_TIMEOUT_MS) {
		drop(m, "broker reply timed out", m->status);
		return;
	}
	/*
	 * The broker drops a client that stays silent for 1.5 times the
	 * keep-alive, so a PINGREQ after half of it leaves a wide margin.
	 */
	if (m->status == GARAGE_MQTT_READY && !m->ping_pending &&
	    m->now_ms - m->last_sent_ms >= keepalive_ms / 2) {
		writer w = start_packet(m);
		if (send_packet(m, PACKET_PINGREQ, &w) != 0)
			return;
		m->ping_pending = 1;
		m->waiting = 1;
		m->wait_since_ms = m->now_ms;
	}
}

void garage_mqtt_poll(garage_mqtt *m, uint32_t now_ms, int allow_connect)
{
	m->now_ms = now_ms;
	if (m->clock_pending) {
		m->clock_pending = 0;
		if (m->status == GARAGE_MQTT_DISCONNECTED) {
			m->retry_at_ms = now_ms + m->retry_delay_ms;
		} else {
			m->wait_since_ms = now_ms;
			m->last_sent_ms = now_ms;
		}
	}
	if (m->status == GARAGE_MQTT_DISCONNECTED) {
		if (allow_connect && reached(now_ms, m->retry_at_ms))
			start_connection(m);
		return;
	}
	read_available(m);
	if (m->status != GARAGE_MQTT_DISCONNECTED)
		check_timers(m);
}

int garage_mqtt_publish(garage_mqtt *m, const char *topic, const uint8_t *payload,
	size_t len, int retain)
{
	writer w = start_packet(m);
	uint8_t type = PACKET_PUBLISH | 0x02; /* QoS 1 */

	if (m->status != GARAGE_MQTT_READY)
		return -1;
	if (retain)
		type |= 0x01;
	put_string(&w, topic, strlen(topic));
	put_u16(&w, next_packet_id(m));
	put_bytes(&w, payload, len);
	return send_packet(m, type, &w);
}
