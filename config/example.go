package config

import (
	"bytes"
	_ "embed"
)

//go:embed example.yaml
var example []byte

//go:embed example-secrets.yaml
var exampleSecrets []byte

// Example returns a commented config file that sets every key. It loads as it is when
// the secrets.yaml of [ExampleSecrets] is beside it.
func Example() []byte { return bytes.Clone(example) }

// ExampleSecrets returns a secrets.yaml with placeholder values for the secrets that
// [Example] refers to. [Load] warns while the placeholders are still there.
func ExampleSecrets() []byte { return bytes.Clone(exampleSecrets) }
