package templates

import (
	"io/fs"
	"testing"
	"text/template"
)

func TestFSContainsMosquitto(t *testing.T) {
	b, err := fs.ReadFile(FS, "mosquitto.conf.tmpl")
	if err != nil {
		t.Fatalf("read mosquitto.conf.tmpl from FS: %v", err)
	}
	if string(b) != Mosquitto {
		t.Errorf("FS and Mosquitto differ")
	}
}

func TestTemplatesParse(t *testing.T) {
	names, err := fs.Glob(FS, "*.tmpl")
	if err != nil {
		t.Fatalf("list templates: %v", err)
	}
	if len(names) == 0 {
		t.Fatal("FS contains no *.tmpl file")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			if _, err := template.ParseFS(FS, name); err != nil {
				t.Errorf("parse %s: %v", name, err)
			}
		})
	}
}
