package queries

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/reports"
)

// The indicators that the questionnaire definitions declare (collector.Indicator), as
// SQL conditions over one stored record. Every indicator is a share: its denominator
// counts the records of its population with a valid answer, its numerator those of them
// that say yes. The conditions are compiled from their checked form: item and choice
// codes that the definitions' loader validated, quoted again here only after matching
// sqlCode; no value from a request is ever formatted into SQL.
//
// All indicators of a questionnaire are computed by ONE scan, grouped by the finest
// breakdown cell (site, gender, age band, nationality group); the reports package sums
// those cells into every published table, so margins are computed explicitly (18.16
// ignores WITH ROLLUP) and stay consistent with their cells by construction.

var sqlCode = regexp.MustCompile(`^[A-Za-z0-9_.+\-]+$`)

// compiler turns conditions into SQL, noting the first code it refuses.
type compiler struct{ err error }

func (c *compiler) code(s string) string {
	if !sqlCode.MatchString(s) && c.err == nil {
		c.err = fmt.Errorf("queries: not an item or choice code: %q", s)
	}
	return "'" + s + "'"
}

// val is the stored value of a single-valued item, empty when not answered.
func (c *compiler) val(item string) string {
	return fmt.Sprintf("answer_value[indexOf(answer_item, %s)]", c.code(item))
}

func (c *compiler) list(codes []string) string {
	q := make([]string, len(codes))
	for i, s := range codes {
		q[i] = c.code(s)
	}
	return strings.Join(q, ", ")
}

// cond compiles one condition. The consent item reads the consent column, which holds
// the same answer and which every scan filters on.
func (c *compiler) cond(x collector.Cond) string {
	switch {
	case x.Always():
		return "1"
	case x.Item != "" && x.Item == collector.ConsentItem && x.In != nil:
		yes, no := slices.Contains(x.In, "1"), slices.Contains(x.In, "0")
		switch {
		case yes && no:
			return "1"
		case yes:
			return "consent = 1"
		case no:
			return "consent = 0"
		}
		return "0"
	case x.In != nil:
		return fmt.Sprintf("%s IN (%s)", c.val(x.Item), c.list(x.In))
	case x.Chose != nil:
		if len(x.Chose) == 1 {
			return fmt.Sprintf("arrayExists((i, v) -> i = %s AND v = %s, answer_item, answer_value)", c.code(x.Item), c.code(x.Chose[0]))
		}
		return fmt.Sprintf("arrayExists((i, v) -> i = %s AND v IN (%s), answer_item, answer_value)", c.code(x.Item), c.list(x.Chose))
	case x.ChoseSome:
		return fmt.Sprintf("arrayExists((i, v) -> i = %s AND v != '', answer_item, answer_value)", c.code(x.Item))
	case x.Answered != "":
		if x.AnsweredMulti() {
			return fmt.Sprintf("has(answer_item, %s)", c.code(x.Answered))
		}
		return fmt.Sprintf("(has(answer_item, %s) AND %s NOT IN ('8', '9'))", c.code(x.Answered), c.val(x.Answered))
	case x.Not != nil:
		return "NOT " + c.cond(*x.Not)
	case x.All != nil:
		return c.join(x.All, " AND ", "1")
	case x.Any != nil:
		return c.join(x.Any, " OR ", "0")
	}
	if c.err == nil {
		c.err = errors.New("queries: a condition with no form")
	}
	return "0"
}

func (c *compiler) join(xs []collector.Cond, op, empty string) string {
	if len(xs) == 0 {
		return empty
	}
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = c.cond(x)
	}
	return "(" + strings.Join(parts, op) + ")"
}

// indicatorSQL is one indicator's conditions, compiled.
type indicatorSQL struct {
	id                     string
	population, valid, yes string
}

// compileIndicators compiles indicators (none over linked records).
func compileIndicators(inds []collector.Indicator) ([]indicatorSQL, error) {
	c := &compiler{}
	out := make([]indicatorSQL, len(inds))
	for i, ind := range inds {
		out[i] = indicatorSQL{id: ind.ID, population: c.cond(ind.PopulationCond()), valid: c.cond(ind.ValidCond()), yes: c.cond(ind.Yes)}
	}
	return out, c.err
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
	fmt.Fprintf(&b, "\nFROM %s\nWHERE questionnaire = '%s' AND year = ? AND received_at <= ? AND site IN ?\n", from, questionnaire)
	b.WriteString("GROUP BY site, gender, age_band, nationality_group")
	return b.String()
}

// linkedQuery computes an indicator over linked records, like I21: among the records of
// the year of its questionnaire in its population (entrants who used a drug in the 12
// months before entry), linked by the keyed link id to a record of the link's
// questionnaire (a follow-up), the share whose latest linked record has a valid answer
// and says yes (used during detention). The breakdown is that of the person's latest
// record of the year. A person with several records counts once; linked records are not
// limited to the year (a December entrant is followed up in January). Duplicate rows of
// one submission with the same link collapse in the grouping, but a row re-keyed after a
// rotation (queries/linkkeys.go) sits beside the row it replaces, under another link,
// until ClickHouse merges them: the person would be linked under both. final reads
// through FINAL, which IndicatorCells asks for only when the rows in scope hold a
// duplicate id. Receipt times are days (R2): of two records of one day, the one with the
// greater submission id stands, an arbitrary but reproducible choice.
func linkedQuery(questionnaire string, population string, link *collector.Link, valid, yes string, final bool) string {
	from := "submissions"
	if final {
		from += " FINAL"
	}
	return `SELECT e_site, e_gender, e_age_band, e_nationality_group,
  countIf(f_valid) AS den, countIf(f_valid AND f_yes) AS num
FROM (
  SELECT link_id, key_id, argMax(site, concat(toString(received_at), submission_id) AS latest) AS e_site, argMax(gender, latest) AS e_gender,
    argMax(age_band, latest) AS e_age_band, argMax(nationality_group, latest) AS e_nationality_group
  FROM ` + from + `
  WHERE questionnaire = '` + questionnaire + `' AND link_id != '' AND year = ? AND received_at <= ? AND site IN ?
    AND ` + population + `
  GROUP BY link_id, key_id
) ALL INNER JOIN (
  SELECT link_id, key_id, argMax(` + valid + `, concat(toString(received_at), submission_id) AS latest) AS f_valid, argMax(` + yes + `, latest) AS f_yes
  FROM ` + from + `
  WHERE questionnaire = '` + link.Questionnaire + `' AND consent = 1 AND link_id != '' AND received_at <= ?
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

// IndicatorCells returns the numerator and denominator of every indicator of inds in
// every finest breakdown cell, for the year's records of sites received up to cutOff.
func (db *DB) IndicatorCells(ctx context.Context, year int, sites []string, cutOff time.Time, inds []collector.Indicator) ([]reports.IndicatorCell, error) {
	set := clickhouse.GroupSet{Value: make([]any, len(sites))}
	for i, s := range sites {
		set.Value[i] = s
	}
	if len(sites) == 0 || len(inds) == 0 {
		return nil, nil
	}
	// One scan per questionnaire, in the order they first appear; one per linked
	// indicator.
	var (
		order  []string
		byQ    = map[string][]collector.Indicator{}
		linked []collector.Indicator
		others = []any{}
	)
	for _, ind := range inds {
		if ind.Link != nil {
			linked = append(linked, ind)
			others = append(others, ind.Link.Questionnaire)
			continue
		}
		if byQ[ind.Questionnaire] == nil {
			order = append(order, ind.Questionnaire)
		}
		byQ[ind.Questionnaire] = append(byQ[ind.Questionnaire], ind)
	}
	if len(others) == 0 {
		others = append(others, "") // no questionnaire has the empty id; IN () is refused
	}
	// Retries never store a submission twice, but a crash between an insert and its
	// checkpoint, or two servers racing, can leave a duplicate row until ClickHouse merges
	// it away. Counting distinct ids is cheap; FINAL only when it is needed.
	// One scan answers for the cells (the year's records of the sites) and for the linked
	// indicators (the year's records of the sites and the linked records of every year).
	var rows, ids, linkedRows, linkedIDs uint64
	if err := db.conn.QueryRow(ctx, `SELECT countIf(year = ? AND site IN ?), uniqExactIf(submission_id, year = ? AND site IN ?),
		count(), uniqExact(submission_id)
		FROM submissions WHERE received_at <= ? AND ((year = ? AND site IN ?) OR questionnaire IN ?)`,
		uint16(year), set, uint16(year), set, cutOff, uint16(year), set, clickhouse.GroupSet{Value: others}).Scan(&rows, &ids, &linkedRows, &linkedIDs); err != nil {
		return nil, fmt.Errorf("queries: indicators: %w", err)
	}
	final := rows != ids
	var cells []reports.IndicatorCell
	for _, q := range order {
		if !sqlCode.MatchString(q) {
			return nil, fmt.Errorf("queries: not a questionnaire id: %q", q)
		}
		defs, err := compileIndicators(byQ[q])
		if err != nil {
			return nil, err
		}
		got, err := db.scanCells(ctx, cellQuery(q, defs, final), defs, uint16(year), cutOff, set)
		if err != nil {
			return nil, err
		}
		cells = append(cells, got...)
	}
	for _, ind := range linked {
		c := &compiler{}
		pop, valid, yes := c.cond(ind.PopulationCond()), c.cond(ind.Link.Valid), c.cond(ind.Link.Yes)
		if !sqlCode.MatchString(ind.Questionnaire) || !sqlCode.MatchString(ind.Link.Questionnaire) {
			return nil, fmt.Errorf("queries: not a questionnaire id: %q, %q", ind.Questionnaire, ind.Link.Questionnaire)
		}
		if c.err != nil {
			return nil, c.err
		}
		q := linkedQuery(ind.Questionnaire, pop, ind.Link, valid, yes, linkedRows != linkedIDs)
		got, err := db.scanCells(ctx, q, []indicatorSQL{{id: ind.ID}}, uint16(year), cutOff, set, cutOff)
		if err != nil {
			return nil, err
		}
		cells = append(cells, got...)
	}
	return cells, nil
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
