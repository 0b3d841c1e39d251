// Package firmware renders and builds the ESP8266 relay firmware for one
// device, and contains its C sources.
//
// The C sources live beside this file: core/ is the portable firmware core
// (command checks, relay timing, MQTT session), sketch/ the Arduino sketch,
// host/ a Linux build of the relay for tests, and ctest/ the C test
// programs. [LoadSettings] gathers what one device's firmware needs from the
// config and the generated credentials, [Render] turns it into the files of
// an Arduino project, [WriteProject] writes them into a private directory,
// and [Compile] runs arduino-cli or PlatformIO on it.
//
// The rendered garage_config.h contains the Wi-Fi password, the device's MQTT
// password and its command key. It is the only rendered file with a secret,
// and it gets mode 0600. Settings hides its secrets when formatted, so they
// never reach a log or an error.
//
// The package prints nothing; the caller passes a writer for the
// toolchain's output.
package firmware
