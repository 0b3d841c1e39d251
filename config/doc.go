// Package config loads and checks garage.yaml, the declarative description of a
// garagectl hub, and the secrets.yaml beside it.
//
// [Load] is strict. It rejects unknown keys, duplicate keys, values of the wrong type and
// values outside their limits, and it reports each problem as an [*Error] with the
// file, line and column, the offending value and what to write instead. It fills in
// the defaults (the Default… constants) for keys that the file leaves out, and a key
// set to null also keeps its default.
//
// A value written as "!secret NAME" comes from the entry NAME of secrets.yaml. Only
// the Wi-Fi credentials of devices may be secrets. Messages about a secret name its
// entry but never contain its value, and [Secret.String] hides the value too.
//
// A config may declare no phones or no devices, so that the hub can be provisioned
// before they exist. Load accepts it with a warning in [Config.Warnings], because the
// gate then rejects every request or nothing can open the door.
package config
