// Package e2e holds end-to-end acceptance tests of garagectl. Each test builds
// a scratch root with the garagectl binary, starts the real mosquitto on the
// generated files as the root's mosq account, and checks it with the Go MQTT
// client, openssl s_client and testssl on loopback only.
//
// The tests need root, because init hands files to the mosq group and the
// broker is started through setpriv. Under CI=true a missing program or a
// missing root fails the test; elsewhere the test skips.
package e2e
