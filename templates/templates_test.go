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
			// The functions the owning packages pass in; only their names
			// matter for parsing.
			funcs := template.FuncMap{
				"cstring": func(string) string { return "" },
				"cbytes":  func([]byte) string { return "" },
			}
			if _, err := template.New(name).Funcs(funcs).ParseFS(FS, name); err != nil {
				t.Errorf("parse %s: %v", name, err)
			}
		})
	}
}
