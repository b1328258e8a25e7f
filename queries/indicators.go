package queries

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/tamtam-ngo/tamtam/reports"
)

// The indicators of QUESTIONNAIRE.md as SQL conditions over one stored record. Every
// indicator is a share: its denominator counts the records of its population with a valid
// answer (8 and 9 count as missing), its numerator those of them that say yes. The
// population, validity and yes conditions are written with the helpers below from
// constant item codes; no value from a request is ever formatted into SQL.
//
// All indicators of a questionnaire are computed by ONE scan, grouped by the finest
// breakdown cell (site, gender, age band, nationality group); the reports package sums
// those cells into every published table, so margins are computed explicitly (18.16
// ignores WITH ROLLUP) and stay consistent with their cells by construction.

// val is the stored value of a single-valued item, empty when not answered.
func val(item string) string {
	return fmt.Sprintf("answer_value[indexOf(answer_item, '%s')]", mustCode(item))
}

// answered holds when item has a stored value that is not 8 (refused) or 9 (don't know).
func answered(item string) string {
	return fmt.Sprintf("(has(answer_item, '%s') AND %s NOT IN ('8', '9'))", mustCode(item), val(item))
}

// is holds when the single-valued item is one of codes.
func is(item string, codes ...string) string {
	q := make([]string, len(codes))
	for i, c := range codes {
		q[i] = "'" + mustCode(c) + "'"
	}
	return fmt.Sprintf("%s IN (%s)", val(item), strings.Join(q, ", "))
}

// chose holds when the multi item includes code.
func chose(item, code string) string {
	return fmt.Sprintf("arrayExists((i, v) -> i = '%s' AND v = '%s', answer_item, answer_value)", mustCode(item), mustCode(code))
}

// nonEmpty holds when the multi item was answered with at least one code.
func nonEmpty(item string) string {
	return fmt.Sprintf("arrayExists((i, v) -> i = '%s' AND v != '', answer_item, answer_value)", mustCode(item))
}

func and(conds ...string) string { return "(" + strings.Join(conds, " AND ") + ")" }
func or(conds ...string) string  { return "(" + strings.Join(conds, " OR ") + ")" }

var sqlCode = regexp.MustCompile(`^[A-Za-z0-9_.+\-]+$`)

// mustCode guards the helpers: they take constants of this file, never input.
func mustCode(s string) string {
	if !sqlCode.MatchString(s) {
		panic("queries: not an item or choice code: " + s)
	}
	return s
}

type indicatorSQL struct {
	id         string
	population string
	valid      string
	yes        string
}

const consented = "consent = 1"

// usedLast12m holds for entrants who answered about the 12 months before entry: yes when
// they chose at least one substance; no when they never used or chose none.
var (
	answeredLast12m = or(is("drug.lifetime_any", "0"), and(is("drug.lifetime_any", "1"), "has(answer_item, 'drug.before_12m')"))
	answeredLast30d = or(is("drug.lifetime_any", "0"), and(is("drug.lifetime_any", "1"), "has(answer_item, 'drug.before_30d')"))
	everInjected    = is("inject.status", "2", "3", "4")
)

// substances03 are the substances of I03, main drugs of I06.
var (
	substances03 = []string{"cannabis", "cocaine", "crack", "heroin", "benzo_np", "synth_cannabinoids", "mdma", "amphet"}
	mainDrugs06  = []string{"heroin", "cocaine", "crack", "cannabis", "benzo_np"}
)

func entryIndicators() []indicatorSQL {
	defs := []indicatorSQL{
		{"I01", consented, answeredLast12m, nonEmpty("drug.before_12m")},
		{"I02", consented, answered("drug.lifetime_any"), is("drug.lifetime_any", "1")},
	}
	for _, s := range substances03 {
		defs = append(defs, indicatorSQL{"I03." + s, consented, answeredLast12m, chose("drug.before_12m", s)})
	}
	defs = append(defs,
		indicatorSQL{"I04", consented, answeredLast30d, nonEmpty("drug.before_30d")},
		indicatorSQL{"I05", and(consented, is("drug.lifetime_any", "1")), answered("drug.main_freq30"), is("drug.main_freq30", "1", "2")},
	)
	other := make([]string, len(mainDrugs06))
	for i, s := range mainDrugs06 {
		defs = append(defs, indicatorSQL{"I06." + s, and(consented, is("drug.lifetime_any", "1")), answered("drug.main"), is("drug.main", s)})
		other[i] = s
	}
	defs = append(defs,
		indicatorSQL{"I06.other", and(consented, is("drug.lifetime_any", "1")), answered("drug.main"), "NOT " + is("drug.main", other...)},
		indicatorSQL{"I07", consented, answered("inject.status"), everInjected},
		indicatorSQL{"I08", consented, answered("inject.status"), is("inject.status", "3", "4")},
		indicatorSQL{"I09", and(consented, is("inject.status", "3", "4")), answered("inject.share_needle_12m"), is("inject.share_needle_12m", "1")},
		indicatorSQL{"I10", consented, or(is("drug.lifetime_any", "0"), answered("overdose.before_12m")), is("overdose.before_12m", "1")},
		indicatorSQL{"I11", and(consented, is("demo.prev_incarcerations", "1", "2-4", "5+")), answered("prev_prison.drug_use"), is("prev_prison.drug_use", "1")},
		indicatorSQL{"I12", and(consented, is("prev_prison.drug_use", "1")), answered("prev_prison.first_use"), is("prev_prison.first_use", "1")},
		indicatorSQL{"I13.on_ost", consented, answered("ost.status"), is("ost.status", "3")},
		indicatorSQL{"I13.continued", and(consented, is("ost.status", "3")), answered("ost.continued_at_entry"), is("ost.continued_at_entry", "1")},
		indicatorSQL{"I14.hiv", consented, answered("test.hiv_last"), is("test.hiv_last", "lt12m")},
		indicatorSQL{"I14.hcv", consented, answered("test.hcv_last"), is("test.hcv_last", "lt12m")},
		indicatorSQL{"I14.hiv_pwid", and(consented, everInjected), answered("test.hiv_last"), is("test.hiv_last", "lt12m")},
		indicatorSQL{"I14.hcv_pwid", and(consented, everInjected), answered("test.hcv_last"), is("test.hcv_last", "lt12m")},
		indicatorSQL{"I15", consented, answered("health.self_rated"), is("health.self_rated", "1", "2")},
		indicatorSQL{"I16", consented, "nationality_group NOT IN ('', 'UNKNOWN', '8', '9')", "nationality_group != 'BE'"},
		indicatorSQL{"I17.needed", consented, answered("interp.needed"), is("interp.needed", "1")},
		indicatorSQL{"I17.professional", and(consented, is("interp.needed", "1")), answered("interp.at_intake"),
			is("interp.at_intake", "professional_in_person", "professional_remote")},
		indicatorSQL{"I18", consented, answered("insurance.before"), is("insurance.before", "none")},
		indicatorSQL{reports.EntrantsIndicator, "1", "1", consented},
	)
	return defs
}

func followupIndicators() []indicatorSQL {
	return []indicatorSQL{
		{"I20.used", consented, answered("drug.in_prison_any"), is("drug.in_prison_any", "1")},
		{"I20.first_use", and(consented, is("drug.in_prison_any", "1")), answered("drug.first_use_in_prison"), is("drug.first_use_in_prison", "1")},
		{"I22", consented, answered("care.release_plan"), is("care.release_plan", "1")},
	}
}

// cellQuery builds the one-scan query of a questionnaire's indicators. final reads
// through FINAL, which collapses duplicate rows of one submission id but is single-threaded
// on 18.16 (three times slower here): IndicatorCells asks for it only when the rows in
// scope hold a duplicate.
func cellQuery(questionnaire string, defs []indicatorSQL, final bool) string {
	var b strings.Builder
	b.WriteString("SELECT site, gender, age_band, nationality_group")
	for i, d := range defs {
		fmt.Fprintf(&b, ",\n  countIf(%s AND %s) AS den_%d, countIf(%s AND %s AND %s) AS num_%d",
			d.population, d.valid, i, d.population, d.valid, d.yes, i)
	}
	from := "submissions"
	if final {
		from += " FINAL"
	}
	fmt.Fprintf(&b, "\nFROM %s\nWHERE questionnaire = '%s' AND year = ? AND received_at <= ? AND site IN ?\n", from, mustCode(questionnaire))
	b.WriteString("GROUP BY site, gender, age_band, nationality_group")
	return b.String()
}

// linkedQuery computes I21: among entrants of the year who used a drug in the 12 months
// before entry and were followed up (linked by the keyed link id), the share who used
// during detention. The breakdown is the entrant's. A person with several entries or
// follow-ups counts once; follow-ups are not limited to the year (a December entrant is
// followed up in January). Duplicate rows of one submission with the same link collapse
// in the grouping, but a row re-keyed after a rotation (queries/linkkeys.go) sits beside
// the row it replaces, under another link, until ClickHouse merges them: the person
// would be linked under both. final reads through FINAL, which IndicatorCells asks for
// only when the rows in scope hold a duplicate id. Receipt times are days (R2): of two
// entries of one day, the one with the greater submission id stands, an arbitrary but
// reproducible choice.
func linkedQuery(final bool) string {
	from := "submissions"
	if final {
		from += " FINAL"
	}
	return `SELECT e_site, e_gender, e_age_band, e_nationality_group,
  countIf(f_used IN ('0', '1')) AS den, countIf(f_used = '1') AS num
FROM (
  SELECT link_id, key_id, argMax(site, concat(toString(received_at), submission_id) AS latest) AS e_site, argMax(gender, latest) AS e_gender,
    argMax(age_band, latest) AS e_age_band, argMax(nationality_group, latest) AS e_nationality_group
  FROM ` + from + `
  WHERE questionnaire = 'entry' AND consent = 1 AND link_id != '' AND year = ? AND received_at <= ? AND site IN ?
    AND arrayExists((i, v) -> i = 'drug.before_12m' AND v != '', answer_item, answer_value)
  GROUP BY link_id, key_id
) ALL INNER JOIN (
  SELECT link_id, key_id, argMax(answer_value[indexOf(answer_item, 'drug.in_prison_any')], concat(toString(received_at), submission_id)) AS f_used
  FROM ` + from + `
  WHERE questionnaire = 'followup' AND consent = 1 AND link_id != '' AND received_at <= ?
  GROUP BY link_id, key_id
) USING (link_id, key_id)
GROUP BY e_site, e_gender, e_age_band, e_nationality_group`
}

// DataCutOff returns the time of the last record received for year, the default cut-off
// of a report: a report for the same cut-off and settings is reproducible.
func (db *DB) DataCutOff(ctx context.Context, year int) (time.Time, error) {
	var t time.Time
	var n uint64
	if err := db.conn.QueryRow(ctx, "SELECT max(received_at), count() FROM submissions WHERE year = ?", uint16(year)).Scan(&t, &n); err != nil {
		return time.Time{}, fmt.Errorf("queries: data cut-off: %w", err)
	}
	if n == 0 {
		return time.Time{}, nil
	}
	return t.UTC(), nil
}

var _ reports.Source = (*DB)(nil)

// IndicatorCells returns the numerator and denominator of every indicator in every
// finest breakdown cell, for the year's records of sites received up to cutOff.
func (db *DB) IndicatorCells(ctx context.Context, year int, sites []string, cutOff time.Time) ([]reports.IndicatorCell, error) {
	set := clickhouse.GroupSet{Value: make([]any, len(sites))}
	for i, s := range sites {
		set.Value[i] = s
	}
	if len(sites) == 0 {
		return nil, nil
	}
	// Retries never store a submission twice, but a crash between an insert and its
	// checkpoint, or two servers racing, can leave a duplicate row until ClickHouse merges
	// it away. Counting distinct ids is cheap; FINAL only when it is needed.
	// One scan answers for the cells (the year's records of the sites) and for I21 (the
	// year's entries of the sites and the follow-ups of every year).
	var rows, ids, linkedRows, linkedIDs uint64
	if err := db.conn.QueryRow(ctx, `SELECT countIf(year = ? AND site IN ?), uniqExactIf(submission_id, year = ? AND site IN ?),
		count(), uniqExact(submission_id)
		FROM submissions WHERE received_at <= ? AND ((year = ? AND site IN ?) OR questionnaire = 'followup')`,
		uint16(year), set, uint16(year), set, cutOff, uint16(year), set).Scan(&rows, &ids, &linkedRows, &linkedIDs); err != nil {
		return nil, fmt.Errorf("queries: indicators: %w", err)
	}
	final := rows != ids
	var cells []reports.IndicatorCell
	for _, q := range []struct {
		questionnaire string
		defs          []indicatorSQL
	}{{"entry", entryIndicators()}, {"followup", followupIndicators()}} {
		got, err := db.scanCells(ctx, cellQuery(q.questionnaire, q.defs, final), q.defs, uint16(year), cutOff, set)
		if err != nil {
			return nil, err
		}
		cells = append(cells, got...)
	}
	got, err := db.scanCells(ctx, linkedQuery(linkedRows != linkedIDs), []indicatorSQL{{id: reports.LinkedIndicator}}, uint16(year), cutOff, set, cutOff)
	if err != nil {
		return nil, err
	}
	return append(cells, got...), nil
}

func (db *DB) scanCells(ctx context.Context, query string, defs []indicatorSQL, args ...any) ([]reports.IndicatorCell, error) {
	rows, err := db.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("queries: indicators: %w", err)
	}
	defer rows.Close()
	var cells []reports.IndicatorCell
	counts := make([]uint64, 2*len(defs))
	var dims [4]string
	dest := []any{&dims[0], &dims[1], &dims[2], &dims[3]}
	for i := range counts {
		dest = append(dest, &counts[i])
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("queries: indicators: %w", err)
		}
		for i, d := range defs {
			if counts[2*i] == 0 {
				continue
			}
			cells = append(cells, reports.IndicatorCell{Indicator: d.id,
				Site: dims[0], Gender: dims[1], AgeBand: dims[2], NationalityGroup: dims[3],
				Num: int(counts[2*i+1]), Den: int(counts[2*i])})
		}
	}
	return cells, rows.Err()
}
