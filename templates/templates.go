// Package templates embeds the text templates that garagectl renders into
// files on the host. The packages that own each file execute them with
// text/template and check the result.
package templates

import "embed"

// FS contains every *.tmpl file of this directory, by base name.
//
//go:embed *.tmpl
var FS embed.FS

// Mosquitto is the template of mosquitto.conf, executed by the broker package.
//
//go:embed mosquitto.conf.tmpl
var Mosquitto string

// FirmwareConfig is the template of a relay's garage_config.h, executed by
// the firmware package.
//
//go:embed garage_config.h.tmpl
var FirmwareConfig string
