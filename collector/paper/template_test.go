package paper

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/words"
)

// update rewrites the golden files of the package's tests (testdata/*.golden) instead
// of comparing with them: go test ./collector/paper -run Golden -update.
var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func builtinCatalog(t *testing.T) *collector.Catalog {
	t.Helper()
	c, err := collector.BuiltinCatalog()
	if err != nil {
		t.Fatalf("BuiltinCatalog() error: %v", err)
	}
	return c
}

func entryDefinition(t *testing.T) *collector.Definition {
	t.Helper()
	d, ok := builtinCatalog(t).Latest("entry")
	if !ok {
		t.Fatal("no entry questionnaire")
	}
	return d
}

// templateBytes writes the template of d in lang and returns the file.
func templateBytes(t *testing.T, d *collector.Definition, lang string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteTemplate(&buf, d, lang); err != nil {
		t.Fatalf("WriteTemplate(%s, %s) error: %v", d.ID, lang, err)
	}
	return buf.Bytes()
}

func openXLSX(t *testing.T, data []byte) *excelize.File {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("excelize.OpenReader error: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// dumpWorkbook renders what a person sees of a template as text: sheets, visibility,
// frozen panes, the cells (only the headers and list sizes of the long Codes sheet) and
// the data validations of the data sheet.
func dumpWorkbook(t *testing.T, f *excelize.File) string {
	t.Helper()
	var b strings.Builder
	for _, sheet := range f.GetSheetList() {
		visible, _ := f.GetSheetVisible(sheet)
		panes, _ := f.GetPanes(sheet)
		fmt.Fprintf(&b, "== sheet %q visible=%v frozen=%v %s\n", sheet, visible, panes.Freeze, panes.TopLeftCell)
		rows, err := f.GetRows(sheet)
		if err != nil {
			t.Fatalf("GetRows(%s) error: %v", sheet, err)
		}
		if sheet == CodesSheet {
			cols, _ := f.GetCols(sheet)
			for _, col := range cols {
				fmt.Fprintf(&b, "%s: %d entries, first %q, last %q\n", col[0], len(col)-2, col[2], col[len(col)-1])
			}
			continue
		}
		for i, row := range rows {
			fmt.Fprintf(&b, "%d\t%s\n", i+1, strings.Join(row, "\t"))
		}
	}
	dvs, err := f.GetDataValidations(f.GetSheetName(0))
	if err != nil {
		t.Fatalf("GetDataValidations error: %v", err)
	}
	b.WriteString("== data validations\n")
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	for _, dv := range dvs {
		fmt.Fprintf(&b, "%s %s %s %s %s error=%s %q %q | prompt %q %q\n", dv.Sqref, dv.Type, dv.Operator, dv.Formula1, dv.Formula2,
			str(dv.ErrorStyle), str(dv.ErrorTitle), str(dv.Error), str(dv.PromptTitle), str(dv.Prompt))
	}
	return b.String()
}

// TestTemplateGolden compares the template of every built-in questionnaire, in every
// language, with its golden file.
func TestTemplateGolden(t *testing.T) {
	cat := builtinCatalog(t)
	for _, id := range cat.IDs() {
		d, _ := cat.Latest(id)
		for _, lang := range collector.Languages {
			t.Run(id+"/"+lang, func(t *testing.T) { templateGolden(t, d, lang) })
		}
	}
}

func templateGolden(t *testing.T, d *collector.Definition, lang string) {
	got := dumpWorkbook(t, openXLSX(t, templateBytes(t, d, lang)))
	path := filepath.Join("testdata", "template."+d.ID+"."+lang+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./collector/paper -run TestTemplateGolden -update creates it)", err)
	}
	if got != string(want) {
		t.Errorf("template %s/%s differs from %s (go test -update rewrites it); got:\n%s", d.ID, lang, path, got)
	}
}

// TestTemplate checks what the golden files could hide: the contract of the headers, a
// dropdown reading the Codes sheet, the limits Excel enforces, the styles' font.
func TestTemplate(t *testing.T) {
	d := entryDefinition(t)
	wantLabels := map[string]string{"fr": "Vous êtes\u00a0: *", "nl": "U bent: *"}
	for _, lang := range []string{"fr", "nl"} {
		t.Run(lang, func(t *testing.T) {
			f := openXLSX(t, templateBytes(t, d, lang))
			sheets := f.GetSheetList()
			if want := []string{DataSheetNames.In(lang), words.Lang(lang).T("template.instructions_sheet"), CodesSheet, metaSheet}; !slices.Equal(sheets, want) {
				t.Fatalf("sheets = %q, want %q", sheets, want)
			}
			data := sheets[0]
			rows, _ := f.GetRows(data)
			want := []string{IDColumn}
			for _, it := range d.Items {
				want = append(want, it.Code)
			}
			if !slices.Equal(rows[0], want) {
				t.Errorf("row 1 = %q, want the item codes %q", rows[0], want)
			}
			gender := slices.Index(rows[0], "demo.gender")
			if got := rows[1][gender]; got != wantLabels[lang] {
				t.Errorf("label of demo.gender = %q, want %q", got, wantLabels[lang])
			}
			col, _ := excelize.ColumnNumberToName(gender + 1)
			dvs, _ := f.GetDataValidations(data)
			var drop *excelize.DataValidation
			for _, dv := range dvs {
				if dv.Sqref == col+"3:"+col+"1048576" {
					drop = dv
				}
				for _, p := range []*string{dv.Prompt, dv.Error} {
					if p != nil && len([]rune(*p)) > maxPrompt {
						t.Errorf("data validation %s: message of %d characters, Excel allows %d", dv.Sqref, len([]rune(*p)), maxPrompt)
					}
				}
				for _, p := range []*string{dv.PromptTitle, dv.ErrorTitle} {
					if p != nil && len([]rune(*p)) > maxPromptTitle {
						t.Errorf("data validation %s: title %q longer than %d", dv.Sqref, *p, maxPromptTitle)
					}
				}
			}
			if drop == nil || drop.Type != "list" || !strings.HasPrefix(drop.Formula1, "Codes!$") {
				t.Fatalf("data validation of demo.gender (%s) = %+v, want a list from the Codes sheet", col, drop)
			}
			ref := strings.ReplaceAll(strings.TrimPrefix(drop.Formula1, "Codes!"), "$", "")
			first, _, _ := strings.Cut(ref, ":")
			entries, _ := f.GetCellValue(CodesSheet, first)
			wantEntry := map[string]string{"fr": "M — Un homme", "nl": "M — Een man"}[lang]
			if entries != wantEntry {
				t.Errorf("first dropdown entry of demo.gender (%s) = %q, want %q", first, entries, wantEntry)
			}
			// The country list is far over the 255 characters of an inline list.
			nat, _ := excelize.ColumnNumberToName(slices.Index(rows[0], "demo.nationality") + 1)
			for _, dv := range dvs {
				if strings.HasPrefix(dv.Sqref, nat+"3:") && !strings.HasPrefix(dv.Formula1, "Codes!$") {
					t.Errorf("demo.nationality dropdown = %q, want a range on the Codes sheet", dv.Formula1)
				}
			}
			// Instructions: what never to write, and skip logic in words.
			inst, _ := f.GetRows(sheets[1])
			text := fmt.Sprint(inst)
			for _, s := range map[string][]string{
				"fr": {"Ne jamais écrire", "numéro de registre national", "inject.status = 3 (", " ou 4 (", "point-virgule"},
				"nl": {"Nooit invullen", "rijksregisternummer", "inject.status = 3 (", " of 4 (", "puntkomma"},
			}[lang] {
				if !strings.Contains(text, s) {
					t.Errorf("instructions sheet lacks %q", s)
				}
			}
			// Every style names its font family (DESIGN.md §8).
			styleID, _ := f.GetCellStyle(data, "B2")
			st, _ := f.GetStyle(styleID)
			if st.Font == nil || st.Font.Family != fontFamily {
				t.Errorf("style of the label row = %+v, want font %s", st.Font, fontFamily)
			}
			id, version := (&workbook{f: f}).meta()
			if id != "entry" || version != 1 {
				t.Errorf("template meta = %s v%d, want entry v1", id, version)
			}
		})
	}
	if _, err := Template(d, "de"); err == nil {
		t.Error("Template(entry, de) succeeded, want an error for an unknown language")
	}
}

// TestTemplateOpenpyxl opens the template with openpyxl, a reader independent of excelize.
func TestTemplateOpenpyxl(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s not found: install the Debian packages python3 and python3-openpyxl (%v)", python, err)
	}
	path := filepath.Join(t.TempDir(), "entry.xlsx")
	if err := os.WriteFile(path, templateBytes(t, entryDefinition(t), "fr"), 0o644); err != nil {
		t.Fatal(err)
	}
	const script = `
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
ws = wb.worksheets[0]
print(wb.sheetnames, [s.sheet_state for s in wb.worksheets])
print(ws["A1"].value, ws["B1"].value, ws.freeze_panes)
for dv in ws.data_validations.dataValidation:
    if str(dv.sqref).startswith("G3"):
        print(dv.type, dv.formula1)
    if str(dv.sqref).startswith("H3"):
        print(dv.type, dv.operator, dv.formula1, dv.formula2)
`
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("openpyxl: %v\n%s", err, out)
	}
	want := `['Données', "Mode d'emploi", 'Codes', 'tamtam'] ['visible', 'visible', 'visible', 'hidden']
submission_id meta.consent A3
list Codes!$D$3:$D$7
whole between 18 99
`
	if string(out) != want {
		t.Errorf("openpyxl reads:\n%s\nwant:\n%s", out, want)
	}
}

func TestClip(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "ab…"},
		{"éèà", 3, "éèà"},
		{"éèàù", 3, "éè…"},
		{"a😀b", 3, "a…"}, // the emoji counts two, as in Excel
	}
	for _, tt := range tests {
		if got := clip(tt.in, tt.n); got != tt.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// TestTemplateLanguage checks that a language is read as every output reads it: empty is
// French, another language than fr, nl or en an error.
func TestTemplateLanguage(t *testing.T) {
	d := entryDefinition(t)
	if _, err := Template(d, "de"); err == nil {
		t.Error(`Template(d, "de") error = nil, want an unknown language refused`)
	}
	f, err := Template(d, "")
	if err != nil {
		t.Fatalf(`Template(d, "") error: %v`, err)
	}
	defer f.Close()
	if got, want := f.GetSheetName(0), DataSheetNames.FR; got != want {
		t.Errorf(`Template(d, "") data sheet = %q, want %q (French)`, got, want)
	}
}
