package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLILanguage: TAMTAM_LANG chooses the language of the messages; English is the
// default, and a language tamtam does not speak is a usage error.
func TestCLILanguage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "entry.xlsx")
	for _, tc := range []struct {
		lang, want string
	}{
		{"", "template " + out + ": entry version 1,"},
		{"en", "template " + out + ": entry version 1,"},
		{"fr", "modèle " + out + " : entry version 1,"},
		{"nl", "sjabloon " + out + ": entry versie 1,"},
	} {
		var stdout, stderr bytes.Buffer
		env := func(k string) string {
			if k == "TAMTAM_LANG" {
				return tc.lang
			}
			return ""
		}
		code := run(t.Context(), []string{"template", "--out", out}, &stdout, &stderr, env)
		if code != 0 || !strings.HasPrefix(stdout.String(), tc.want) {
			t.Errorf("TAMTAM_LANG=%q tamtam template = exit %d, %q (%s); want 0, %q…", tc.lang, code, stdout.String(), stderr.String(), tc.want)
		}
	}
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"frobnicate"}, &stdout, &stderr, func(k string) string {
		return map[string]string{"TAMTAM_LANG": "fr"}[k]
	})
	if want := "tamtam: commande inconnue \"frobnicate\" ; lancez tamtam help\n"; code != 2 || stderr.String() != want {
		t.Errorf("TAMTAM_LANG=fr tamtam frobnicate = exit %d, %q; want 2, %q", code, stderr.String(), want)
	}
	stderr.Reset()
	code = run(t.Context(), []string{"template", "--out", out}, &stdout, &stderr, func(k string) string {
		return map[string]string{"TAMTAM_LANG": "de"}[k]
	})
	if code != 2 || !strings.Contains(stderr.String(), "TAMTAM_LANG") {
		t.Errorf("TAMTAM_LANG=de tamtam template = exit %d, %q; want 2 and a message naming TAMTAM_LANG", code, stderr.String())
	}
}
