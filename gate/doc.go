// Package gate runs garage-gate. Its SOCKS5 front (package socks) admits phones
// only to the gate's own virtual host, where package web serves the page and the
// API. Package trigger turns a press into one signed command, and package
// mqttclient publishes it to the broker.
//
// [Run] wires these together from the config, the credentials and the state
// directory, serves until its context ends, and then drains: it stops taking
// requests, lets the triggers in flight finish, and disconnects from the broker.
package gate
