package collector

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestBuiltinCatalog(t *testing.T) {
	c, err := BuiltinCatalog()
	if err != nil {
		t.Fatalf("BuiltinCatalog() error: %v", err)
	}
	for _, id := range []string{"entry", "followup"} {
		d, ok := c.Latest(id)
		if !ok {
			t.Fatalf("Latest(%q) missing", id)
		}
		if _, err := json.Marshal(d); err != nil {
			t.Errorf("json.Marshal(%s) error: %v", id, err)
		}
		t.Logf("%s v%d: %d items, period %s", id, d.Version, len(d.Items), d.PeriodItem())
	}
}

func TestTextIn(t *testing.T) {
	txt := Text{FR: "Oui", NL: "Ja", EN: "Yes"}
	for _, tt := range []struct{ lang, want string }{{"fr", "Oui"}, {"nl", "Ja"}, {"en", "Yes"}, {"de", "Oui"}, {"", "Oui"}} {
		if got := txt.In(tt.lang); got != tt.want {
			t.Errorf("Text.In(%q) = %q, want %q", tt.lang, got, tt.want)
		}
	}
}

// TestBuiltinItems checks the built-in definitions against the tables of QUESTIONNAIRE.md:
// the item codes in order, which are required, and how each is stored.
func TestBuiltinItems(t *testing.T) {
	tests := []struct {
		id       string
		codes    []string
		required []string
		period   string
	}{
		{"entry", []string{
			"meta.consent", "meta.entry_month", "meta.interview_lang", "meta.already_answered", "link.identifier",
			"demo.gender", "demo.age", "demo.nationality", "demo.birth_country", "demo.legal_status",
			"demo.prev_incarcerations", "demo.housing_before", "demo.labour_before",
			"drug.lifetime_any", "drug.lifetime", "drug.before_12m", "drug.before_30d", "drug.main", "drug.main_route",
			"drug.main_freq30", "drug.main_age_first", "inject.status", "inject.share_needle_12m", "overdose.before_12m",
			"prev_prison.drug_use", "prev_prison.first_use", "prev_prison.injected", "ost.status", "ost.continued_at_entry",
			"treat.ever", "test.hiv_last", "test.hcv_last", "health.self_rated", "mh.psy_treatment_ever",
			"support.wants_help", "lang.fr_nl_sufficient", "interp.needed", "interp.at_intake", "insurance.before",
			"residence.status", "gp.before", "release.stay_in_be",
		}, []string{"meta.consent", "meta.entry_month", "demo.gender", "demo.age", "demo.nationality", "drug.lifetime_any"}, "meta.entry_month"},
		{"followup", []string{
			"meta.consent", "meta.followup_month", "meta.time_since_entry", "link.identifier",
			"demo.gender", "demo.age", "demo.nationality", "drug.in_prison_any", "drug.in_prison",
			"drug.first_use_in_prison", "inject.in_prison", "inject.share_in_prison", "ost.in_prison",
			"care.seen_doctor", "care.interpreter_provided", "care.release_plan",
		}, []string{"meta.consent", "meta.followup_month", "meta.time_since_entry", "demo.gender", "demo.age", "demo.nationality", "drug.in_prison_any"}, "meta.followup_month"},
	}
	stores := map[string]StoreAs{
		"demo.age": StoreAgeBand, "demo.nationality": StoreCountryGroup, "demo.birth_country": StoreCountryGroup,
		"residence.status": StoreResidenceSecurity, "link.identifier": StoreLinkKey,
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			d := builtinDefinition(t, tt.id)
			var codes, required []string
			for _, it := range d.Items {
				codes = append(codes, it.Code)
				if it.Required {
					required = append(required, it.Code)
				}
				if got, want := it.Store, stores[it.Code]; got != want {
					t.Errorf("%s %s store = %q, want %q", tt.id, it.Code, got, want)
				}
				if !it.Label.complete() {
					t.Errorf("%s %s label = %+v, want fr, nl and en", tt.id, it.Code, it.Label)
				}
				if it.Type == TypeChoice && it.Code != ConsentItem {
					if _, ok := it.Choice("8"); !ok {
						t.Errorf("%s %s has no choice 8", tt.id, it.Code)
					}
				}
			}
			if !slices.Equal(codes, tt.codes) {
				t.Errorf("%s item codes = %v, want %v", tt.id, codes, tt.codes)
			}
			if !slices.Equal(required, tt.required) {
				t.Errorf("%s required items = %v, want %v", tt.id, required, tt.required)
			}
			if got := d.PeriodItem(); got != tt.period {
				t.Errorf("%s.PeriodItem() = %s, want %s", tt.id, got, tt.period)
			}
			if it := d.Item(tt.period); it.MinMonth != "2015-01" || !it.NotFuture {
				t.Errorf("%s %s min, not_future = %q, %v, want 2015-01, true", tt.id, tt.period, it.MinMonth, it.NotFuture)
			}
			if d.Item("demo.name") != nil {
				t.Errorf("%s.Item(demo.name) != nil", tt.id)
			}
		})
	}
}
