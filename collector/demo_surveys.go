package collector

import (
	"math/rand/v2"
	"slices"
)

// The field surveys of the demo: the needs-and-wishes survey community coordinators run
// in a prison a few months a year, and the feedback on collective health activities
// collected all year round. Each questionnaire is drawn from a random stream of its own,
// apart from the entry stream: the entry and follow-up submissions of a seed are the same
// as before these surveys existed, and a larger n extends each stream without changing
// what a smaller n generated, so a rerun with more entrants stores only the new ones.
const (
	needsStream    = 0x6e65656473 // "needs"
	activityStream = 0x6163746976 // "activ"
)

// Field surveys per 100 entrants: about 400 needs answers and 300 activity answers in a
// year of 5,000 entrants.
const (
	demoNeedsPer100    = 8
	demoActivityPer100 = 6
)

// FieldSurveys returns the needs and activity questionnaires (JSON bodies) that go with
// a year of entrants entry questionnaires, at the sites of the entry stream and in the
// same proportions.
func (g *Demo) FieldSurveys(entrants int) (needs, activity [][]byte) {
	stream := func(s uint64) *Demo {
		return &Demo{Year: g.Year, Now: g.Now, seed: g.seed, rng: rand.New(rand.NewPCG(g.seed^s, uint64(g.Year)))}
	}
	n := stream(needsStream)
	campaigns := n.campaigns()
	for range entrants * demoNeedsPer100 / 100 {
		needs = append(needs, n.needs(campaigns))
	}
	a := stream(activityStream)
	for range entrants * demoActivityPer100 / 100 {
		activity = append(activity, a.activity())
	}
	return needs, activity
}

// lastMonth is the last month of the year a questionnaire may be dated.
func (g *Demo) lastMonth() int {
	if g.Year == g.Now.Year() {
		return int(g.Now.Month())
	}
	return 12
}

// campaigns draws, for each site, the two months of the year its needs survey runs in
// (the same month twice when the year has only one so far). They are drawn before any
// questionnaire, so their number does not depend on how many are generated.
func (g *Demo) campaigns() map[string][2]int {
	out := map[string][2]int{}
	for _, s := range demoSites {
		last := g.lastMonth()
		out[s.v] = [2]int{1 + g.rng.IntN(last), 1 + g.rng.IntN(last)}
	}
	return out
}

// some answers a multi item: each code is chosen with its own probability (the weight);
// nothing chosen is an empty list, "none of these".
func (g *Demo) some(ps []weighted[string]) []string {
	out := []string{}
	for _, p := range ps {
		if g.chance(p.w) {
			out = append(out, p.v)
		}
	}
	return out
}

// flemish reports whether a demo site is in Flanders, where activities are in Dutch.
func flemish(site string) bool {
	return slices.Contains([]string{"antwerpen", "gent", "brugge", "hasselt", "leuven-hulp", "mechelen"}, site)
}

// needs generates one needs-and-wishes questionnaire. Most people want some activity
// (training, sport and preparing release first); people who follow no activity in the
// site's language want language classes more and name the language as what stops them;
// not knowing what exists is the most common obstacle, above all for those who never took
// part.
func (g *Demo) needs(campaigns map[string][2]int) []byte {
	site := pick(g.rng, demoSites)
	month := campaigns[site][g.rng.IntN(2)]
	a := map[string]any{"meta.survey_month": monthOf(g.Year, month)}
	if g.chance(0.08) {
		a["meta.consent"] = "0"
		return g.body("needs", site, a)
	}
	a["meta.consent"] = "1"
	a["meta.time_since_entry"] = pick(g.rng, []weighted[string]{{"lt1m", 10}, {"1-3m", 20}, {"3-6m", 20}, {"6-12m", 20}, {"gt12m", 28}, {"9", 2}})
	a["demo.gender"] = pick(g.rng, []weighted[string]{{"M", 88}, {"F", 11}, {"X", 0.4}, {"8", 0.6}})
	a["demo.age"] = g.age()
	status := pick(g.rng, []weighted[string]{{"remand", 45}, {"sentenced", 49}, {"internee", 5}, {"8", 1}})
	a["demo.legal_status"] = status

	local := "fr"
	if flemish(site) {
		local = "nl"
	}
	langs := []string{}
	speaksLocal := g.chance(0.85)
	if speaksLocal {
		langs = append(langs, local)
	}
	if site == "haren" && g.chance(0.25) {
		langs = append(langs, "nl")
	}
	langs = append(langs, g.some([]weighted[string]{{"en", 0.25}, {"ar", 0.18}, {"ber", 0.06}, {"es", 0.05}, {"pt", 0.03},
		{"ro", 0.05}, {"pl", 0.02}, {"sq", 0.03}, {"tr", 0.03}, {"ru", 0.02}, {"other", 0.05}})...)
	if len(langs) == 0 {
		langs = []string{"other"}
	}

	wish := g.yn89(0.8)
	a["wish.any"] = wish
	if wish == "1" {
		language := 0.2
		if !speaksLocal {
			language = 0.75
		}
		acts := g.some([]weighted[string]{{"health", 0.4}, {"language", language}, {"literacy", 0.1}, {"training", 0.5}, {"culture", 0.3},
			{"sport", 0.6}, {"psychosocial", 0.3}, {"family", 0.35}, {"release", 0.45}, {"rights", 0.3}})
		if len(acts) == 0 {
			acts = []string{"sport"}
		}
		a["wish.activities"] = acts
		priority := acts[g.rng.IntN(len(acts))]
		if g.chance(0.05) {
			priority = "9"
		}
		a["wish.priority"] = priority
		a["wish.format"] = pick(g.rng, []weighted[string]{{"group", 45}, {"individual", 22}, {"either", 30}, {"9", 3}})
	}
	a["wish.languages"] = langs

	took := g.yn89(0.45)
	a["access.took_part"] = took
	noInfo, language, stay := 0.3, 0.05, 0.08
	if took == "0" {
		noInfo = 0.5
	}
	if !speaksLocal {
		language = 0.55
	}
	if status == "remand" {
		stay = 0.2
	}
	a["access.barriers"] = g.some([]weighted[string]{{"no_info", noInfo}, {"language", language}, {"waiting_list", 0.2}, {"schedule", 0.2},
		{"not_fetched", 0.15}, {"not_allowed", 0.07}, {"cancelled", 0.2}, {"health", 0.1}, {"fear", 0.07}, {"not_interested", 0.1},
		{"short_stay", stay}})
	a["access.info"] = g.some([]weighted[string]{{"leaflet", 0.55}, {"poster", 0.3}, {"visit", 0.4}, {"peers", 0.25}, {"staff", 0.15}, {"tv", 0.15}})
	return g.body("needs", site, a)
}

// activity generates the feedback of one participant in a collective health activity.
// Most find it useful and would recommend it; those who stopped did so mostly for reasons
// of the prison's organisation (timetables, nobody fetching them, cancelled sessions).
func (g *Demo) activity() []byte {
	site := pick(g.rng, demoSites)
	a := map[string]any{"meta.survey_month": g.month()}
	if g.chance(0.05) {
		a["meta.consent"] = "0"
		return g.body("activity", site, a)
	}
	a["meta.consent"] = "1"
	gender := pick(g.rng, []weighted[string]{{"M", 84}, {"F", 15}, {"X", 0.5}, {"8", 0.5}})
	a["demo.gender"] = gender
	kind := pick(g.rng, []weighted[string]{{"health_talk", 35}, {"family_planning", 12}, {"conversation", 15}, {"peer_relay", 8},
		{"wellbeing", 15}, {"food", 8}, {"drugs_talk", 7}})
	a["activity.type"] = kind
	sessions := pick(g.rng, []weighted[string]{{"1", 20}, {"2-3", 35}, {"4-6", 30}, {"7+", 15}})
	if kind == "peer_relay" {
		sessions = pick(g.rng, []weighted[string]{{"2-3", 20}, {"4-6", 40}, {"7+", 40}})
	}
	a["activity.sessions"] = sessions
	stopped := 0.18
	if sessions == "1" {
		stopped = 0.4
	}
	status := pick(g.rng, []weighted[string]{{"ongoing", 0.5 * (1 - stopped)}, {"completed", 0.5 * (1 - stopped)}, {"stopped", stopped}})
	a["activity.status"] = status
	useful := []weighted[string]{{"1", 45}, {"2", 40}, {"3", 10}, {"4", 3}, {"9", 2}}
	if status == "stopped" {
		reasons := g.some([]weighted[string]{{"schedule", 0.35}, {"not_fetched", 0.3}, {"cancelled", 0.25}, {"moved", 0.15}, {"language", 0.1},
			{"not_useful", 0.15}, {"group", 0.08}, {"health", 0.1}, {"other_activity", 0.12}})
		if len(reasons) == 0 {
			reasons = []string{"schedule"}
		}
		a["activity.stop_reasons"] = reasons
		useful = []weighted[string]{{"1", 15}, {"2", 35}, {"3", 30}, {"4", 15}, {"9", 5}}
	}
	use := pick(g.rng, useful)
	a["activity.useful"] = use
	language := 0.08
	if kind == "conversation" {
		language = 0.7
	}
	a["activity.takeaways"] = g.some([]weighted[string]{{"health_info", 0.7}, {"where_care", 0.4}, {"rights", 0.2}, {"change_habit", 0.35},
		{"less_stress", 0.3}, {"met_people", 0.5}, {"language", language}, {"pass_on", 0.35}})
	understood := []weighted[string]{{"all", 72}, {"part", 20}, {"little", 6}, {"9", 2}}
	if kind == "conversation" {
		understood = []weighted[string]{{"all", 45}, {"part", 40}, {"little", 13}, {"9", 2}}
	}
	a["activity.understood"] = pick(g.rng, understood)
	a["activity.free_to_speak"] = g.yn89(0.85)
	a["activity.recommend"] = g.yn89(map[bool]float64{true: 0.9, false: 0.4}[use == "1" || use == "2"])
	sexual := 0.15
	if gender == "F" || kind == "family_planning" {
		sexual = 0.4
	}
	a["activity.topics_wanted"] = g.some([]weighted[string]{{"food", 0.35}, {"hygiene", 0.2}, {"infections", 0.25}, {"drugs", 0.3}, {"tobacco", 0.2},
		{"mental", 0.45}, {"sexual", sexual}, {"care_system", 0.35}, {"exercise", 0.3}})
	return g.body("activity", site, a)
}
