package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// writeXLSForm writes an XLSForm workbook with the given sheets (a header row, then rows).
func writeXLSForm(t *testing.T, path string, sheets map[string][][]string) {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for name, rows := range sheets {
		if _, err := f.NewSheet(name); err != nil {
			t.Fatal(err)
		}
		for i, row := range rows {
			cell, _ := excelize.CoordinatesToCellName(1, i+1)
			vals := make([]any, len(row))
			for j, v := range row {
				vals[j] = v
			}
			if err := f.SetSheetRow(name, cell, &vals); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.DeleteSheet("Sheet1"); err != nil {
		t.Fatal(err)
	}
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
}

// exitXLSForm is exitDefinition written as an XLSForm, with a section per group.
func exitXLSForm(extra ...[]string) map[string][][]string {
	survey := [][]string{
		{"type", "name", "label::French (fr)", "label::Dutch (nl)", "label::English (en)", "required", "relevant", "constraint"},
		{"begin group", "meta"},
		{"select_one yn", "consent", "Acceptez-vous ?", "Gaat u akkoord?", "Do you agree?", "yes"},
		{"date", "exit_month", "Mois de sortie", "Maand van vrijlating", "Month of release", "yes", "", ". <= today()"},
		{"end group"},
		{"begin group", "care"},
		{"select_one yn", "plan", "Soins prévus ?", "Zorg gepland?", "Care planned?", "", "${consent} = '1'"},
		{"select_multiple where", "place", "Où ?", "Waar?", "Where?", "", "selected(${plan}, '1')"},
		{"integer", "visits", "Visites", "Bezoeken", "Visits", "", "not(${plan} = '0')", ". >= 0 and . <= 120"},
	}
	survey = append(survey, extra...)
	survey = append(survey, []string{"end group"})
	return map[string][][]string{
		"survey": survey,
		"choices": {
			{"list_name", "name", "label::French (fr)", "label::Dutch (nl)", "label::English (en)"},
			{"yn", "1", "Oui", "Ja", "Yes"}, {"yn", "0", "Non", "Nee", "No"},
			{"where", "gp", "Médecin", "Huisarts", "GP"}, {"where", "clinic", "Clinique", "Kliniek", "Clinic"},
		},
		"settings": {{"form_title::French (fr)", "form_title::Dutch (nl)", "form_title::English (en)"},
			{"Questionnaire de sortie", "Vrijlatingsvragenlijst", "Release questionnaire"}},
	}
}

// TestQuestionnaireImportXLSForm: import-xlsform writes a definition that questionnaire
// check accepts and the questionnaire directory loads; a form outside the subset is
// reported row by row with exit 2 and nothing written; the form is never overwritten.
func TestQuestionnaireImportXLSForm(t *testing.T) {
	dir := t.TempDir()
	qdir := filepath.Join(dir, "questionnaires")
	os.Mkdir(qdir, 0o700)
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), args, &out, &errOut, func(string) string { return "" })
		return code, out.String(), errOut.String()
	}
	form := filepath.Join(dir, "exit.xlsx")
	writeXLSForm(t, form, exitXLSForm())
	def := filepath.Join(qdir, "exit.v1.json")
	code, out, errOut := run("questionnaire", "import-xlsform", form, "--id", "exit", "--version", "1", "--out", def)
	if want := form + ": written to " + def + ": exit version 1, 5 items\n"; code != 0 || out != want || errOut != "" {
		t.Fatalf("import-xlsform = exit %d, %q, %q; want 0, %q", code, out, errOut, want)
	}
	if code, out, errOut := run("questionnaire", "check", def); code != 0 || out != def+": ok: exit version 1, 5 items\n" {
		t.Errorf("questionnaire check (imported) = exit %d, %q, %q", code, out, errOut)
	}
	code, out, errOut = run("questionnaire", "list", "--questionnaires", qdir, "--data", dir)
	if code != 0 || !strings.Contains(out, "exit") || !strings.Contains(out, def) {
		t.Errorf("questionnaire list (imported) = exit %d, %q, %q; want exit loaded from %s", code, out, errOut, def)
	}

	bad := filepath.Join(dir, "bad.xlsx")
	writeXLSForm(t, bad, exitXLSForm([]string{"text", "story", "Histoire", "Verhaal", "Story"}, []string{"calculate", "total"},
		[]string{"select_one colours", "colour", "Couleur", "Kleur", "Colour"}))
	out2 := filepath.Join(dir, "bad.json")
	code, out, errOut = run("questionnaire", "import-xlsform", "--id", "exit", "--version", "2", "--out", out2, bad)
	wantOut := bad + ": survey:10: text (free text) is never collected: names and stories must not be stored (PRIVACY.md R1); use a select_one\n" +
		bad + ": survey:11: calculate is not supported: a definition stores answers only\n" +
		bad + ": survey:12: choice list colours is not in the choices sheet\n"
	if code != 2 || out != wantOut || errOut != "tamtam: questionnaire import-xlsform: 3 problems in "+bad+"; nothing was written\n" {
		t.Errorf("import-xlsform (bad) = exit %d\n%s\nstderr %q\nwant:\n%s", code, out, errOut, wantOut)
	}
	if _, err := os.Stat(out2); !os.IsNotExist(err) {
		t.Errorf("import-xlsform (bad) wrote %s: %v", out2, err)
	}

	before, _ := os.ReadFile(form)
	if code, _, errOut := run("questionnaire", "import-xlsform", form, "--id", "exit", "--version", "1", "--out", form); code != 2 ||
		!strings.Contains(errOut, "is the form itself") {
		t.Errorf("import-xlsform --out FORM = exit %d, %q; want 2, refused", code, errOut)
	}
	if after, _ := os.ReadFile(form); !bytes.Equal(before, after) {
		t.Errorf("import-xlsform --out FORM changed the form")
	}
	if code, _, _ := run("questionnaire", "import-xlsform", form, "--out", def); code != 2 {
		t.Errorf("import-xlsform without --id = exit %d, want 2", code)
	}
}
