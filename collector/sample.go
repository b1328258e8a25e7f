package collector

import (
	"math/rand/v2"
	"slices"
)

// A StoredSample is the stored values of one record, by item: what the conditions of
// indicators are evaluated on (a multi item answered "none" has one empty value; an
// item not answered is absent).
type StoredSample map[string][]string

// SampleRecord draws a random record of d as it would be stored: consent refused now and
// then (the other items are then absent), each item answered when its conditions hold —
// a required one always, an optional one mostly, with 8 or 9 sometimes — and stored as
// anonymisation stores it (age band, nationality group, residence security). It serves
// to find the linear relations between published counts that the questionnaire's skip
// logic implies (package reports): every record it can draw is one a respondent could
// give.
func (d *Definition) SampleRecord(rng *rand.Rand) StoredSample {
	raw := map[string]string{} // the answered code of each choice item, for the conditions
	rec := StoredSample{}
	for _, it := range d.Items {
		if !sampleApplies(it, raw) {
			continue
		}
		if it.Code == ConsentItem {
			v := "1"
			if rng.Float64() < 0.1 {
				v = "0"
			}
			raw[it.Code], rec[it.Code] = v, []string{v}
			continue
		}
		if raw[ConsentItem] != "1" && it.Type != TypeMonth {
			continue // a refusal stores the month that dates the record, nothing else
		}
		if !it.Required && rng.Float64() < 0.15 {
			continue
		}
		switch it.Type {
		case TypeChoice:
			// 8 or 9 one time in ten, another code otherwise; a country by its group
			// first, so that every group, however few its countries, is drawn.
			codes := slices.DeleteFunc(slices.Clone(it.Choices), func(c Choice) bool { return isMissingCode(c.Code) })
			code := ""
			switch {
			case len(codes) == 0 || len(codes) < len(it.Choices) && rng.Float64() < 0.1:
				code = []string{"8", "9"}[rng.IntN(2)]
			case it.Store == StoreCountryGroup:
				groups := map[string][]string{}
				var names []string
				for _, c := range codes {
					g, _ := NationalityGroup(c.Code)
					if groups[g] == nil {
						names = append(names, g)
					}
					groups[g] = append(groups[g], c.Code)
				}
				g := groups[names[rng.IntN(len(names))]]
				code = g[rng.IntN(len(g))]
			default:
				code = codes[rng.IntN(len(codes))].Code
			}
			raw[it.Code] = code
			rec[it.Code] = []string{storedCode(it, code)}
		case TypeMulti:
			// "None of these" one time in five, some of the codes otherwise: of those
			// chosen at SubsetOf when it has one (validation refuses the others).
			var vs []string
			allowed := it.Choices
			if it.SubsetOf != "" {
				allowed = slices.DeleteFunc(slices.Clone(it.Choices), func(c Choice) bool { return !slices.Contains(rec[it.SubsetOf], c.Code) })
			}
			if rng.Float64() >= 0.2 && len(allowed) > 0 {
				p := 1 / float64(1+rng.IntN(len(allowed)))
				for _, ch := range allowed {
					if rng.Float64() < p {
						vs = append(vs, ch.Code)
					}
				}
			}
			if len(vs) == 0 {
				vs = []string{""}
			}
			rec[it.Code] = vs
		case TypeInteger:
			lo, hi := 0, 100
			if it.Min != nil {
				lo = *it.Min
			}
			if it.Max != nil {
				hi = *it.Max
			}
			n := lo + rng.IntN(hi-lo+1)
			if it.Store == StoreAgeBand {
				rec[it.Code] = []string{AgeBand(n)}
			} else {
				rec[it.Code] = []string{"n"} // a number: no condition tests one
			}
		case TypeMonth:
			rec[it.Code] = []string{"2025-01"}
		}
	}
	return rec
}

// sampleApplies reports whether an item's conditions hold for the codes answered so far.
func sampleApplies(it *Item, raw map[string]string) bool {
	for _, c := range it.When {
		if !slices.Contains(c.In, raw[c.Item]) {
			return false
		}
	}
	return true
}

// storedCode is the stored value of a choice code of it.
func storedCode(it *Item, code string) string {
	switch {
	case isMissingCode(code):
		return code
	case it.Store == StoreCountryGroup:
		g, _ := NationalityGroup(code)
		return g
	case it.Store == StoreResidenceSecurity:
		return residenceSecurity[code]
	}
	return code
}

// Eval reports whether the condition holds for a stored record, with the semantics of
// the SQL that package queries compiles it into: a single value is the item's first.
func (c Cond) Eval(rec StoredSample) bool {
	first := func(item string) string {
		if vs := rec[item]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	switch {
	case c.always:
		return true
	case c.In != nil:
		return slices.Contains(c.In, first(c.Item))
	case c.Chose != nil:
		return slices.ContainsFunc(rec[c.Item], func(v string) bool { return slices.Contains(c.Chose, v) })
	case c.ChoseSome:
		return slices.ContainsFunc(rec[c.Item], func(v string) bool { return v != "" })
	case c.Answered != "":
		_, has := rec[c.Answered]
		if c.multi {
			return has
		}
		return has && !isMissingCode(first(c.Answered))
	case c.Not != nil:
		return !c.Not.Eval(rec)
	case c.All != nil:
		for _, x := range c.All {
			if !x.Eval(rec) {
				return false
			}
		}
		return true
	case c.Any != nil:
		for _, x := range c.Any {
			if x.Eval(rec) {
				return true
			}
		}
		return false
	}
	return false
}
