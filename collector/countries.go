package collector

import (
	"sort"
	"sync"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// Nationality groups (QUESTIONNAIRE.md). Only the group of a nationality or birth country
// is ever stored.
const (
	GroupBE              = "BE"
	GroupEU14            = "EU14" // other pre-2004 EU members (the UK has left: EUR_NONEU)
	GroupEU13            = "EU13" // EU members since 2004
	GroupEurNonEU        = "EUR_NONEU"
	GroupMaghreb         = "MAGHREB"
	GroupMENAOther       = "MENA_OTHER"
	GroupSSA             = "SSA"
	GroupAsia            = "ASIA"
	GroupAmericasOceania = "AMERICAS_OCEANIA"
	GroupStateless       = "STATELESS"
	GroupUnknown         = "UNKNOWN"
)

// PublishedGroups are the nationality groups as published, coarser than the stored ones
// (QUESTIONNAIRE.md): the EU members together, the smaller regions and statelessness as
// "other". The unknown country is not among them: it counts as a missing answer.
var PublishedGroups = []struct {
	Code  string
	Parts []string
	Label Text
}{
	{GroupBE, []string{GroupBE}, Text{FR: "Belgique", NL: "België", EN: "Belgium"}},
	{"EU", []string{GroupEU14, GroupEU13}, Text{FR: "Union européenne (hors Belgique)", NL: "Europese Unie (buiten België)", EN: "European Union (not Belgium)"}},
	{GroupEurNonEU, []string{GroupEurNonEU}, Text{FR: "Europe hors UE", NL: "Europa buiten de EU", EN: "Europe outside the EU"}},
	{GroupMaghreb, []string{GroupMaghreb}, Text{FR: "Maghreb", NL: "Maghreb", EN: "Maghreb"}},
	{GroupSSA, []string{GroupSSA}, Text{FR: "Afrique subsaharienne", NL: "Afrika ten zuiden van de Sahara", EN: "Sub-Saharan Africa"}},
	{"OTHER", []string{GroupMENAOther, GroupAsia, GroupAmericasOceania, GroupStateless}, Text{FR: "Autre", NL: "Andere", EN: "Other"}},
}

// The codes of the countries list that are not countries.
const (
	CodeStateless = "stateless"
	CodeUnknown   = "unknown"
	countriesList = "countries"
)

// Membership lists that no library holds: they follow political history, not geography.
var (
	eu14 = codes("AT DE DK ES FI FR GR IE IT LU NL PT SE")
	eu13 = codes("BG CY CZ EE HR HU LT LV MT PL RO SI SK")
	// Europe in the wider sense: geographically (UN M49) Western Asia, politically
	// European (Council of Europe members and candidates).
	eurExtra = codes("TR GE AM AZ")
	maghreb  = codes("MA DZ TN LY EH")
	// Middle East and North Africa outside the Maghreb: Egypt and Sudan (M49 Northern
	// Africa) and Iran (M49 Southern Asia) join M49 Western Asia.
	menaExtra = codes("EG SD IR")
	// Codes CLDR knows as regions that are not ISO 3166-1 countries (exceptionally
	// reserved, transitional, or groupings such as UN and EZ): they would only confuse an intake worker.
	notCountries = codes("AC CP CQ DG EA EZ FQ IC PC TA UN AN CS NT SU YU ZZ")
)

// UN M49 areas, as CLDR containment data in golang.org/x/text.
var (
	m49Europe         = language.MustParseRegion("150")
	m49WesternAsia    = language.MustParseRegion("145")
	m49SubSaharan     = language.MustParseRegion("202")
	m49Asia           = language.MustParseRegion("142")
	m49Americas       = language.MustParseRegion("019")
	m49Oceania        = language.MustParseRegion("009")
	m49NorthernAfrica = language.MustParseRegion("015")
)

func codes(s string) map[string]bool {
	m := map[string]bool{}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			if i > start {
				m[s[start:i]] = true
			}
			start = i + 1
		}
	}
	return m
}

// NationalityGroup returns the group of a code of the countries list: an ISO 3166-1
// alpha-2 code, "stateless" or "unknown". ok is false for any other code.
func NationalityGroup(code string) (group string, ok bool) {
	c, ok := countryIndex()[code]
	if !ok {
		return "", false
	}
	return c.Group, true
}

func groupOf(r language.Region) string {
	code := r.String()
	switch {
	case code == "BE":
		return GroupBE
	case eu14[code]:
		return GroupEU14
	case eu13[code]:
		return GroupEU13
	case maghreb[code]:
		return GroupMaghreb
	case eurExtra[code] || m49Europe.Contains(r):
		return GroupEurNonEU
	case menaExtra[code] || m49WesternAsia.Contains(r):
		return GroupMENAOther
	case m49SubSaharan.Contains(r):
		return GroupSSA
	case m49NorthernAfrica.Contains(r):
		return GroupMENAOther
	case m49Asia.Contains(r):
		return GroupAsia
	case m49Americas.Contains(r) || m49Oceania.Contains(r):
		return GroupAmericasOceania
	}
	// Antarctica and uninhabited territories: no one holds their nationality.
	return GroupUnknown
}

var (
	countriesOnce  sync.Once
	countries      []Choice
	countriesByKey map[string]Choice
)

// countryChoices returns the built-in "countries" list: every current ISO 3166-1 alpha-2
// code with its CLDR name in French, Dutch and English and its group, sorted by French
// name, then "stateless" and "unknown".
func countryChoices() []Choice {
	countriesOnce.Do(buildCountries)
	out := make([]Choice, len(countries))
	copy(out, countries)
	return out
}

func countryIndex() map[string]Choice {
	countriesOnce.Do(buildCountries)
	return countriesByKey
}

func buildCountries() {
	names := map[string]display.Namer{}
	for _, l := range Languages {
		names[l] = display.Regions(language.MustParse(l))
	}
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			code := string([]rune{a, b})
			r, err := language.ParseRegion(code)
			if err != nil || !r.IsCountry() || r.String() != code || r.Canonicalize() != r || notCountries[code] {
				continue
			}
			countries = append(countries, Choice{
				Code:  code,
				Label: Text{FR: names["fr"].Name(r), NL: names["nl"].Name(r), EN: names["en"].Name(r)},
				Group: groupOf(r),
			})
		}
	}
	// French collation, so that "Équateur" sorts under E in the default form.
	fr := collate.New(language.French)
	sort.SliceStable(countries, func(i, j int) bool {
		return fr.CompareString(countries[i].Label.FR, countries[j].Label.FR) < 0
	})
	countries = append(countries,
		Choice{Code: CodeStateless, Group: GroupStateless, Label: Text{FR: "Apatride", NL: "Staatloos", EN: "Stateless"}},
		Choice{Code: CodeUnknown, Group: GroupUnknown, Label: Text{FR: "Inconnu", NL: "Onbekend", EN: "Unknown"}},
	)
	countriesByKey = map[string]Choice{}
	for _, c := range countries {
		countriesByKey[c.Code] = c
	}
}
