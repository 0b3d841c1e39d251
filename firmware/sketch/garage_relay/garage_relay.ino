// Relay firmware of a garagectl garage-door opener, for the ESP8266 Arduino
// core 3.0 or later (setSSLVersion appeared in 3.0.0).
//
// `garagectl firmware build` renders this sketch with garage_config.h (the
// settings and secrets of one device), garage_ca.h (the CA to trust) and the
// firmware core under src/garage. The core checks commands, times the relay
// and runs the MQTT session; this file only connects it to the board: the
// relay pin, Wi-Fi, NTP, TLS and the watchdog.

#include <ESP8266WiFi.h>
#include <WiFiClientSecureBearSSL.h>
#include <time.h>

#include "garage_ca.h"
#include "garage_config.h"
#include "src/garage/garage_device.h"
#include "src/garage/garage_tls.h"

static const uint8_t kRelayClosed = GARAGE_RELAY_ACTIVE_HIGH ? HIGH : LOW;
static const uint8_t kRelayOpen = GARAGE_RELAY_ACTIVE_HIGH ? LOW : HIGH;

// Unix time of 2025-01-01. An earlier clock means NTP has not answered yet,
// and no certificate or command timestamp can be checked.
static const time_t kClockValid = 1735689600;

// Time without an MQTT session, in ms, after which the board restarts, which
// also resets a Wi-Fi stack that stopped working.
static const uint32_t kOfflineRestartMs = 10UL * 60 * 1000;

// Time to wait for Wi-Fi and NTP at boot, in ms, before a restart.
static const uint32_t kClockWaitMs = 5UL * 60 * 1000;

static const uint16_t kSuites[] PROGMEM = GARAGE_TLS_SUITES;
static const uint8_t kCommandKey[GARAGE_KEY_SIZE] = GARAGE_COMMAND_KEY;

static BearSSL::WiFiClientSecure tls;
static BearSSL::X509List trustAnchors(garage_ca_pem);
static BearSSL::Session tlsSession;
static bool fragmentProbed;
static garage_device device;
static uint32_t lastOnlineMs;

static void logEvent(void *, const char *event, const char *detail, long value) {
  Serial.printf("garage: %s%s%s (%ld)\n", event, detail ? ": " : "", detail ? detail : "", value);
}

static void setRelay(void *, int closed) {
  digitalWrite(GARAGE_RELAY_PIN, closed ? kRelayClosed : kRelayOpen);
}

static int transportConnect(void *) {
  if (WiFi.status() != WL_CONNECTED || time(nullptr) < kClockValid) {
    return -1;
  }
  if (!fragmentProbed) {
    // The receive buffer shrinks from 16 KiB to about 0.8 KiB only if the
    // broker accepts a 512-byte maximum fragment length.
    bool accepted = BearSSL::WiFiClientSecure::probeMaxFragmentLength(
        GARAGE_BROKER_HOST, GARAGE_BROKER_PORT, GARAGE_TLS_FRAGMENT_LENGTH);
    tls.setBufferSizes(accepted ? GARAGE_TLS_FRAGMENT_LENGTH : 16384, GARAGE_TLS_FRAGMENT_LENGTH);
    fragmentProbed = true;
    logEvent(nullptr, "tls", accepted ? "fragment length 512" : "fragment length 16384", 0);
  }
  tls.setX509Time(time(nullptr));
  // By host name: BearSSL checks no name when it connects to a bare IP address.
  if (!tls.connect(GARAGE_BROKER_HOST, GARAGE_BROKER_PORT)) {
    logEvent(nullptr, "tls", "connect failed, BearSSL error", tls.getLastSSLError());
    return -1;
  }
  return 0;
}

static void transportClose(void *) {
  tls.stop();
}

static int transportRead(void *, uint8_t *buf, size_t len) {
  int available = tls.available();
  if (available > 0) {
    return tls.read(buf, len < (size_t)available ? len : (size_t)available);
  }
  return tls.connected() ? 0 : -1;
}

static int transportWrite(void *, const uint8_t *buf, size_t len) {
  size_t written = tls.write(buf, len);
  return written == 0 ? -1 : (int)written;
}

static const garage_transport kTransport = {
  nullptr, transportConnect, transportClose, transportRead, transportWrite,
};
static const garage_platform kPlatform = { nullptr, setRelay, logEvent };
static const garage_device_config kConfig = {
  GARAGE_DEVICE_NAME, GARAGE_MQTT_PASSWORD, GARAGE_TOPIC_CMD, GARAGE_TOPIC_STATE,
  GARAGE_TOPIC_AVAIL, kCommandKey, GARAGE_PULSE_MS, GARAGE_COOLDOWN_MS,
};

// Waits for Wi-Fi and an NTP answer. delay() feeds the watchdog.
static void waitForClock() {
  uint32_t start = millis();
  while (WiFi.status() != WL_CONNECTED || time(nullptr) < kClockValid) {
    if (millis() - start > kClockWaitMs) {
      logEvent(nullptr, "no Wi-Fi or NTP time, restarting", nullptr, 0);
      ESP.restart();
    }
    delay(100);
  }
  logEvent(nullptr, "clock set", nullptr, (long)time(nullptr));
}

void setup() {
  // Set the output latch to "open" before the pin becomes an output, so the
  // relay never closes while the board boots.
  digitalWrite(GARAGE_RELAY_PIN, kRelayOpen);
  pinMode(GARAGE_RELAY_PIN, OUTPUT);
  digitalWrite(GARAGE_RELAY_PIN, kRelayOpen);

  Serial.begin(115200);
  // The software watchdog resets the board when loop() stalls for about 3 s;
  // the core ignores the timeout argument.
  ESP.wdtEnable(WDTO_8S);

  WiFi.persistent(false); // keep the credentials out of the flash's Wi-Fi area
  WiFi.mode(WIFI_STA);
  WiFi.setAutoReconnect(true);
  WiFi.begin(GARAGE_WIFI_SSID, GARAGE_WIFI_PASSWORD);
  configTime(0, 0, GARAGE_NTP_SERVER_1, GARAGE_NTP_SERVER_2, GARAGE_NTP_SERVER_3);
  waitForClock();

  tls.setTrustAnchors(&trustAnchors);
  tls.setSession(&tlsSession);
  tls.setSSLVersion(BR_TLS12, BR_TLS12);
  tls.setCiphers(kSuites, sizeof kSuites / sizeof kSuites[0]);

  if (garage_device_init(&device, &kConfig, &kPlatform, &kTransport, time(nullptr)) != 0) {
    // Only a bad garage_config.h gets here; the relay stays open.
    for (;;) {
      logEvent(nullptr, "invalid settings in garage_config.h", nullptr, 0);
      delay(10000);
    }
  }
  lastOnlineMs = millis();
}

void loop() {
  uint32_t now = millis();

  garage_device_poll(&device, now, time(nullptr));
  if (garage_device_online(&device)) {
    lastOnlineMs = now;
  } else if (now - lastOnlineMs > kOfflineRestartMs && !garage_device_relay_closed(&device)) {
    logEvent(nullptr, "offline too long, restarting", nullptr, (long)(now - lastOnlineMs));
    ESP.restart();
  }
  ESP.wdtFeed();
}
