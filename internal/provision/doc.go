// Package provision turns a loaded config into the list of changes that make a
// host match it: accounts, directories, the config itself, generated
// credentials, the broker's files and the certificates. It reads the host to
// keep what already matches, such as generated passwords and a valid server
// certificate, so that a second run yields no change.
package provision
