/*
 * The MQTT 3.1.1 client session that the relay needs, over an abstract byte
 * transport: CONNECT with credentials and a retained will, one QoS 1
 * subscription, QoS 1 publishing, PUBACK of received messages, PINGREQ
 * keep-alive, and reconnection with exponential backoff. It uses only the
 * static buffers inside garage_mqtt, no heap.
 *
 * Not supported, because the relay needs none of it: QoS 2, persistent
 * sessions (every CONNECT sets Clean Session), retransmission of
 * unacknowledged publishes, more than one subscription, MQTT 5.
 */
#ifndef GARAGE_MQTT_H
#define GARAGE_MQTT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Buffer sizes in bytes. The largest packet sent is the CONNECT, at most 211
 * bytes with the longest strings garage_mqtt_init accepts. Of a received
 * packet, the first GARAGE_MQTT_RX_SIZE bytes after the fixed header are
 * kept. A longer PUBLISH is acknowledged and reported as truncated.
 */
#define GARAGE_MQTT_TX_SIZE 256
#define GARAGE_MQTT_RX_SIZE 256

/* Maximum lengths of the strings in garage_mqtt_options, without the NUL. */
#define GARAGE_MQTT_ID_MAX 31       /* client ID and username: a device name */
#define GARAGE_MQTT_PASSWORD_MAX 64
#define GARAGE_MQTT_TOPIC_MAX 47    /* "garage/" + device name + "/state" fits */
#define GARAGE_MQTT_WILL_MAX 16

/* Time in ms that the broker has to reply to a CONNECT, SUBSCRIBE or PINGREQ. */
#define GARAGE_MQTT_REPLY_TIMEOUT_MS 15000u

/* First and maximum wait in ms before a new connection attempt. */
#define GARAGE_MQTT_BACKOFF_MIN_MS 1000u
#define GARAGE_MQTT_BACKOFF_MAX_MS 60000u

/*
 * The byte stream to the broker, usually TLS over TCP. Every function gets
 * context as its first argument.
 */
typedef struct {
	void *context;
	/* Opens the connection; may block. Returns 0 on success, else -1. */
	int (*connect)(void *context);
	/* Closes the connection. Called only after a successful connect. */
	void (*close)(void *context);
	/*
	 * Reads up to len bytes without waiting for more to arrive. Returns the
	 * number read, 0 when none are available now, or -1 when the
	 * connection is closed or failed.
	 */
	int (*read)(void *context, uint8_t *buf, size_t len);
	/*
	 * Writes up to len bytes and returns the number written. 0 or -1 means
	 * the connection failed.
	 */
	int (*write)(void *context, const uint8_t *buf, size_t len);
} garage_transport;

/* Session settings. The strings must stay valid while the session is used. */
typedef struct {
	const char *client_id;
	const char *username;
	const char *password;
	const char *subscribe_topic; /* subscribed with QoS 1 */
	const char *will_topic;      /* the will is retained and QoS 1 */
	const char *will_message;
	uint16_t keepalive_s;        /* 10 to 600 */
} garage_mqtt_options;

/*
 * Callbacks into the application. message gets every PUBLISH received, with
 * truncated set to 1 when the payload was longer than the buffer. ready runs
 * once the subscription is acknowledged. log, which may be NULL, gets events
 * such as "connack refused" with a numeric detail. No callback gets a
 * password.
 */
typedef struct {
	void *context;
	void (*message)(void *context, const char *topic, size_t topic_len,
		const uint8_t *payload, size_t len, int truncated);
	void (*ready)(void *context);
	void (*log)(void *context, const char *event, long detail);
} garage_mqtt_handler;

typedef enum {
	GARAGE_MQTT_DISCONNECTED = 0,
	GARAGE_MQTT_CONNECTING,  /* CONNECT sent, waiting for CONNACK */
	GARAGE_MQTT_SUBSCRIBING, /* SUBSCRIBE sent, waiting for SUBACK */
	GARAGE_MQTT_READY
} garage_mqtt_status;

/* Session state. Initialise it with garage_mqtt_init; the fields are private. */
typedef struct {
	const garage_mqtt_options *options;
	const garage_transport *transport;
	const garage_mqtt_handler *handler;
	garage_mqtt_status status;
	uint16_t next_packet_id;
	uint16_t subscribe_id;
	uint32_t now_ms;          /* time of the current poll */
	uint32_t backoff_ms;      /* delay after the next failure */
	uint32_t retry_delay_ms;  /* delay after the last failure */
	uint32_t retry_at_ms;     /* when the next connection attempt may start */
	uint32_t last_sent_ms;    /* when the last packet went out */
	uint32_t wait_since_ms;   /* start of the wait for CONNACK, SUBACK or PINGRESP */
	uint8_t waiting;          /* a reply is due since wait_since_ms */
	uint8_t clock_pending;    /* set the timers from the time of the next poll */
	uint8_t ping_pending;
	/* Parser of the incoming stream. */
	uint8_t rx_stage;         /* 0: fixed header byte, 1: remaining length, 2: body */
	uint8_t rx_type;          /* first byte of the fixed header */
	uint8_t rx_length_bytes;
	uint32_t rx_remaining;    /* body bytes still to come */
	uint32_t rx_total;        /* body length from the fixed header */
	size_t rx_kept;           /* body bytes stored in rx */
	uint8_t rx[GARAGE_MQTT_RX_SIZE];
	uint8_t tx[GARAGE_MQTT_TX_SIZE];
} garage_mqtt;

/*
 * Sets up the session. Nothing is sent until garage_mqtt_poll. Returns 0,
 * or -1 when a string is empty or too long or keepalive_s is out of range.
 */
int garage_mqtt_init(garage_mqtt *m, const garage_mqtt_options *options,
	const garage_transport *transport, const garage_mqtt_handler *handler);

/*
 * Runs the session at now_ms on the millisecond counter: reads and handles
 * incoming packets, sends PINGREQ, drops a connection whose broker stays
 * silent, and, when allow_connect is non-zero and the backoff is over,
 * opens a new connection. transport->connect may block, so a caller that
 * must keep a deadline passes allow_connect = 0 until it is met.
 */
void garage_mqtt_poll(garage_mqtt *m, uint32_t now_ms, int allow_connect);

/*
 * Publishes payload to topic with QoS 1, retained when retain is non-zero.
 * The PUBACK is accepted but not awaited. Returns 0, or -1 when the session
 * is not ready, the packet does not fit GARAGE_MQTT_TX_SIZE, or the write
 * failed (the connection is then dropped).
 */
int garage_mqtt_publish(garage_mqtt *m, const char *topic, const uint8_t *payload,
	size_t len, int retain);

/* Returns the session's status. */
garage_mqtt_status garage_mqtt_status_of(const garage_mqtt *m);

#ifdef __cplusplus
}
#endif

#endif /* GARAGE_MQTT_H */
