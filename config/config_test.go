package config_test

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/jokster/jokster/config"
)

// TestREADMEListsEverySetting keeps the README's settings table in step
// with the Config struct: every variable, with its default.
func TestREADMEListsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	typ := reflect.TypeOf(config.Config{})
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		name, def := f.Tag.Get("env"), f.Tag.Get("envDefault")
		if f.Tag.Get("doc") == "" {
			t.Errorf("%s has no doc tag", name)
		}
		row := regexp.MustCompile("(?m)^\\| `" + name + "` \\| (.*?) \\|").FindStringSubmatch(string(readme))
		if row == nil {
			t.Errorf("README has no row for %s", name)
			continue
		}
		if def != "" && row[1] != "`"+def+"`" {
			t.Errorf("README says %s defaults to %s, the code says %q", name, row[1], def)
		}
	}
}

func TestDefaultsAreValid(t *testing.T) {
	c := config.Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.OpsAddr != "127.0.0.1:8081" {
		t.Fatalf("listeners %s %s", c.Addr, c.OpsAddr)
	}
}

func TestLoadRejectsWeakSettings(t *testing.T) {
	for name, env := range map[string][2]string{
		"short JWT secret": {"JWT_SECRET", "too-short"},
		"bad duration":     {"ACCESS_TOKEN_TTL", "soon"},
		"zero TTL":         {"ACCESS_TOKEN_TTL", "0s"},
		"tiny body limit":  {"JSON_BODY_LIMIT", "10"},
		"zero board cap":   {"BOARD_CAP", "0"},
		"SMTP without URL": {"SMTP_URL", "mailpit:1025"},
		"SMTP scheme":      {"SMTP_URL", "http://mailpit:1025"},
		"SMTP port":        {"SMTP_URL", "smtp://mailpit:port"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(env[0], env[1])
			if _, err := config.Load(); err == nil || !strings.Contains(err.Error(), "config") {
				t.Fatalf("accepted %s=%s (err %v)", env[0], env[1], err)
			}
		})
	}
	t.Setenv("JWT_SECRET", strings.Repeat("s", 32))
	t.Setenv("TRUSTED_PROXIES", "127.0.0.1,10.0.0.0/8")
	t.Setenv("SMTP_URL", "smtp://user:pass@mailpit:1025")
	c, err := config.Load()
	if err != nil || len(c.TrustedProxies) != 2 {
		t.Fatalf("%v %v", c.TrustedProxies, err)
	}
}
