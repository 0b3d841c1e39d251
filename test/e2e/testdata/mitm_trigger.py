"""mitmproxy addon for the latency comparison with garage-gate.

It does the work of the gate's trigger API inside mitmproxy, the setup that
garage-gate replaces. The proxy serves the virtual host itself, checks the
phone's SOCKS5 password and bearer token, signs a command (HMAC-SHA256, the
format of docs/protocol.md) and publishes it with QoS 1. It responds with 202
after the PUBACK. Unlike the gate, it keeps the sequence number in memory only,
without fsync, and has no cooldown. Run it with mitmdump --mode socks5 -s mitm_trigger.py; the settings
come from the JSON file named by $MITM_TRIGGER_CONFIG.
"""

import hashlib
import hmac
import json
import os
import ssl
import time

import paho.mqtt.client as mqtt
from mitmproxy import http

with open(os.environ["MITM_TRIGGER_CONFIG"]) as f:
    CONFIG = json.load(f)

KEY = bytes.fromhex(CONFIG["device_key"])
PREFIX = "/api/v1/devices/"


class BrokerContext(ssl.SSLContext):
    """Checks the broker's certificate against its configured name, though
    paho connects by address and would check the address."""

    def wrap_socket(self, sock, *args, server_hostname=None, **kwargs):
        return super().wrap_socket(sock, *args, server_hostname=CONFIG["server_name"], **kwargs)


class Trigger:
    def __init__(self):
        self.seq = 0
        self.client = mqtt.Client(client_id="mitm-trigger", clean_session=True)
        self.client.username_pw_set(CONFIG["mqtt_user"], CONFIG["mqtt_password"])
        context = BrokerContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cafile=CONFIG["ca_file"])
        self.client.tls_set_context(context)
        host, port = CONFIG["broker"].rsplit(":", 1)
        self.client.connect(host, int(port))
        self.client.loop_start()

    def socks5_auth(self, data):
        data.valid = data.username == CONFIG["phone"] and hmac.compare_digest(
            data.password, CONFIG["phone_password"])

    def request(self, flow: http.HTTPFlow):
        req = flow.request
        if req.pretty_host != CONFIG["hostname"] or req.method != "POST" \
                or not req.path.startswith(PREFIX) or not req.path.endswith("/trigger"):
            flow.response = http.Response.make(404, b"", {"Content-Type": "text/plain"})
            return
        token = req.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(token, CONFIG["phone_token"]):
            flow.response = http.Response.make(401, b"{}", {"Content-Type": "application/json"})
            return
        device = req.path[len(PREFIX):-len("/trigger")]
        self.seq += 1
        signed = f"v1 {device} pulse {self.seq} {int(time.time())}"
        mac = hmac.new(KEY, signed.encode(), hashlib.sha256).hexdigest()
        info = self.client.publish(f"garage/{device}/cmd", f"{signed} {mac}", qos=1)
        info.wait_for_publish(timeout=1.5)
        if not info.is_published():
            flow.response = http.Response.make(503, b"{}", {"Content-Type": "application/json"})
            return
        body = json.dumps({"status": "sent", "device": device, "seq": self.seq}).encode()
        flow.response = http.Response.make(202, body, {"Content-Type": "application/json"})


addons = [Trigger()]
