// Package audit is the intruder of PRIVACY.md R13, written apart from the protection it
// checks: it reads what a role can obtain — the tidy CSV of every view of every release
// of a year — and nothing else, builds every linear relation a careful reader knows, and
// asks another program, GLPK's glpsol, for the integer bounds of every count it cannot
// read. It reports a suppressed cell whose value is exact, and any count from 1 to k-1
// that can be computed: a "no" count, a difference between two releases, a site's part
// of a group, a pooled site's count.
//
// It shares no code with package disclosure, on purpose: the tests hold the protection to
// this auditor. It is used by tests only; the product never imports it.
//
// The intruder knows the catalog (which indicators share a denominator, which are the
// choices of one item, the categories and their merges), the sites of each view, the
// release's pooled sites, and the order of the releases' cut-offs. Counts are integers,
// at least 0, and at least 1 when suppressed (zeros are published). A count only grows
// from one release to the next (records received are never removed), except those of
// linked records, which re-keying can lower; between two releases of the same cut-off
// it does not change.
package audit

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Knowledge is what the intruder knows of the catalog.
type Knowledge struct {
	K int
	// Population gives each indicator's denominator: indicators of one population
	// share it.
	Population map[string]string
	// Choices are the indicators of single-choice items: their numerators add up to
	// their denominator.
	Choices [][]string
	// Categories are the categories of each breakdown dimension, and Merges the merged
	// categories with their parts.
	Categories map[string][]string
	Merges     map[string]map[string][]string
	// Entrants is the indicator whose numerators make the tables by site and another
	// dimension ("I19").
	Entrants string
	// Linked is the indicator of linked records ("I21"), whose counts can go down
	// between releases; every other count only grows.
	Linked string
}

// View is one output a role obtained.
type View struct {
	Name     string // for findings
	Release  string
	CutOff   time.Time
	Sites    []string // the sites of the group the view shows
	AllSites []string // every site of the release
	Pooled   []string // the sites shown only pooled
	CSV      []byte
}

// Finding is a count the intruder can compute that it should not.
type Finding struct {
	Cell  string
	What  string
	Value int
}

func (f Finding) String() string { return fmt.Sprintf("%s: %s (%d)", f.Cell, f.What, f.Value) }

// What the findings say.
const (
	SuppressedExact = "a suppressed count is exact"
	PooledExact     = "a pooled site's count from 1 to k-1 is exact"
	SmallComputed   = "a count from 1 to k-1 can be computed"
	SmallPublished  = "a published count is from 1 to k-1"
	Inconsistent    = "outputs disagree"
)

// variable is one unknown or known count of the intruder's system.
type variable struct {
	name       string
	known      bool
	value      int
	suppressed bool // shown as suppressed in some view
	floor      int  // least value: 0, 1 when suppressed; minFloor for a change
	// check says what to report if the value is exact: "" (nothing), SuppressedExact,
	// PooledExact or SmallComputed.
	check string
}

// minFloor marks a change between releases that may be negative.
const minFloor = -1 << 30

// system is the intruder's knowledge: variables and relations total = sum of parts.
type system struct {
	k     int
	vars  map[string]*variable
	rels  [][]string // rels[i][0] = sum of rels[i][1:], each a variable name
	found []Finding
}

func (s *system) v(name string) *variable {
	x := s.vars[name]
	if x == nil {
		x = &variable{name: name}
		s.vars[name] = x
	}
	return x
}

func (s *system) publish(name string, n int, view string) {
	x := s.v(name)
	if x.known && x.value != n {
		s.found = append(s.found, Finding{Cell: name, What: Inconsistent + " (" + view + ")", Value: n})
		return
	}
	x.known, x.value = true, n
	if n > 0 && n < s.k {
		s.found = append(s.found, Finding{Cell: name, What: SmallPublished, Value: n})
	}
}

func (s *system) suppress(name string) {
	x := s.v(name)
	x.suppressed = true
	x.floor = max(x.floor, 1)
	x.check = SuppressedExact
}

func (s *system) rel(total string, parts ...string) {
	s.v(total)
	for _, p := range parts {
		s.v(p)
	}
	s.rels = append(s.rels, append([]string{total}, parts...))
}

// name builds a variable name from its coordinates.
func name(release, what, ind string, sites []string, cut string) string {
	return fmt.Sprintf("%s|%s|%s|%s|%s", release, what, ind, strings.Join(sorted(sites), "+"), cut)
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// cell is what one view shows of one indicator, sites and cut.
type cellKey struct {
	release, ind, sites, cut string
}

// Audit builds the intruder's system from the views and reports every finding. It
// returns an error when a view cannot be read or glpsol fails.
func Audit(k Knowledge, views []View) ([]Finding, error) {
	s := &system{k: k.K, vars: map[string]*variable{}}
	type release struct {
		id     string
		cutOff time.Time
		all    []string
		pooled []string
	}
	releases := map[string]*release{}
	var order []*release
	// shown[(release, ind, sites)] = dims with their shown categories.
	type bkey struct{ release, ind, sites, dim string }
	shown := map[bkey][]string{}
	sets := map[string]map[string]bool{} // release -> site sets seen
	type entrantsKey struct{ release, viewSites, dim string }
	entrantRows := map[entrantsKey]map[string]bool{}
	entrantCols := map[entrantsKey]map[string]bool{}
	for _, v := range views {
		r := releases[v.Release]
		if r == nil {
			r = &release{id: v.Release, cutOff: v.CutOff}
			releases[v.Release] = r
			order = append(order, r)
			sets[v.Release] = map[string]bool{}
		}
		// A view lists the pooled sites of its group; the release's are all of them.
		r.all = sorted(append(r.all, v.AllSites...))
		r.pooled = sorted(append(r.pooled, v.Pooled...))
		rows, err := csv.NewReader(bytes.NewReader(v.CSV)).ReadAll()
		if err != nil {
			return nil, fmt.Errorf("audit: %s: %w", v.Name, err)
		}
		if len(rows) == 0 || rows[0][0] != "indicator" {
			return nil, fmt.Errorf("audit: %s: not a figures CSV", v.Name)
		}
		for _, row := range rows[1:] {
			ind, breakdown, group, num, den := row[0], row[1], row[2], row[3], row[4]
			if strings.Contains(ind, "=") && len(row) > 9 {
				// A row of an item's table (ITEM=CHOICE) is that item's in the
				// questionnaire of the last column: QUESTIONNAIRE/ITEM=CHOICE in the catalog.
				ind = row[9] + "/" + ind
			}
			pop := k.Population[ind]
			if pop == "" {
				return nil, fmt.Errorf("audit: %s: unknown indicator %s", v.Name, ind)
			}
			var sites []string
			cut := "total"
			switch {
			case breakdown == "total":
				sites = v.Sites
			case breakdown == "site":
				if group == "other_sites" {
					sites = v.Pooled
				} else {
					sites = []string{group}
				}
			case strings.HasPrefix(breakdown, "site+"):
				dim := strings.TrimPrefix(breakdown, "site+")
				site, cat, _ := strings.Cut(group, "+")
				switch site {
				case "total":
					sites = v.Sites
				case "other_sites":
					sites = v.Pooled
				default:
					sites = []string{site}
				}
				if cat != "total" {
					cut = dim + "=" + cat
					ek := entrantsKey{v.Release, strings.Join(sorted(v.Sites), "+"), dim}
					if entrantCols[ek] == nil {
						entrantCols[ek], entrantRows[ek] = map[string]bool{}, map[string]bool{}
					}
					entrantCols[ek][cat] = true
					if site != "total" {
						entrantRows[ek][strings.Join(sorted(sites), "+")] = true
					}
				}
				y := name(v.Release, "yes", ind, sites, cut)
				sets[v.Release][strings.Join(sorted(sites), "+")] = true
				if num == "" {
					s.suppress(y)
				} else {
					n, err := strconv.Atoi(num)
					if err != nil {
						return nil, fmt.Errorf("audit: %s: numerator %q", v.Name, num)
					}
					s.publish(y, n, v.Name)
				}
				continue
			default:
				sites = v.Sites
				cut = breakdown + "=" + group
				bk := bkey{v.Release, ind, strings.Join(sorted(sites), "+"), breakdown}
				if !slices.Contains(shown[bk], group) {
					shown[bk] = append(shown[bk], group)
				}
			}
			sets[v.Release][strings.Join(sorted(sites), "+")] = true
			y, d := name(v.Release, "yes", ind, sites, cut), name(v.Release, "den", pop, sites, cut)
			for _, x := range []struct{ name, val string }{{y, num}, {d, den}} {
				if x.val == "" {
					s.suppress(x.name)
					continue
				}
				n, err := strconv.Atoi(x.val)
				if err != nil {
					return nil, fmt.Errorf("audit: %s: count %q", v.Name, x.val)
				}
				s.publish(x.name, n, v.Name)
			}
			no := name(v.Release, "no", ind, sites, cut)
			s.rel(d, y, no)
			s.v(no).check = SmallComputed
		}
	}
	// Breakdowns: categories add up to the total, merged ones their parts; a category
	// neither shown nor inside a merged one that is shown has nobody.
	for bk, cats := range shown {
		pop := k.Population[bk.ind]
		sites := strings.Split(bk.sites, "+")
		for _, what := range []struct{ kind, ind string }{{"yes", bk.ind}, {"den", pop}} {
			var parts []string
			for _, c := range k.Categories[bk.dim] {
				n := name(bk.release, what.kind, what.ind, sites, bk.dim+"="+c)
				parts = append(parts, n)
				inMerge := false
				for m, ps := range k.Merges[bk.dim] {
					if slices.Contains(ps, c) && slices.Contains(cats, m) {
						inMerge = true
					}
				}
				if !slices.Contains(cats, c) && !inMerge {
					s.publish(n, 0, "omitted row")
				} else if !slices.Contains(cats, c) {
					s.v(n).check = SmallComputed
				}
			}
			s.rel(name(bk.release, what.kind, what.ind, sites, "total"), parts...)
			for m, ps := range k.Merges[bk.dim] {
				if !slices.Contains(cats, m) {
					continue
				}
				var mp []string
				for _, c := range ps {
					mp = append(mp, name(bk.release, what.kind, what.ind, sites, bk.dim+"="+c))
				}
				s.rel(name(bk.release, what.kind, what.ind, sites, bk.dim+"="+m), mp...)
			}
		}
	}
	// The entrants tables: each row adds up to its total; a column not shown is empty.
	for ek, cols := range entrantCols {
		var rowsets []string
		for r := range entrantRows[ek] {
			rowsets = append(rowsets, r)
		}
		rowsets = append(rowsets, ek.viewSites)
		for _, rs := range rowsets {
			sites := strings.Split(rs, "+")
			var parts []string
			for _, c := range k.Categories[ek.dim] {
				n := name(ek.release, "yes", k.Entrants, sites, ek.dim+"="+c)
				parts = append(parts, n)
				inMerge := false
				for m, ps := range k.Merges[ek.dim] {
					if slices.Contains(ps, c) && cols[m] {
						inMerge = true
					}
				}
				if !cols[c] && !inMerge {
					s.publish(n, 0, "omitted column")
				} else if !cols[c] {
					s.v(n).check = SmallComputed
				}
			}
			s.rel(name(ek.release, "yes", k.Entrants, sites, "total"), parts...)
			for m, ps := range k.Merges[ek.dim] {
				if !cols[m] {
					continue
				}
				var mp []string
				for _, c := range ps {
					mp = append(mp, name(ek.release, "yes", k.Entrants, sites, ek.dim+"="+c))
				}
				s.rel(name(ek.release, "yes", k.Entrants, sites, ek.dim+"="+m), mp...)
			}
		}
	}
	// Groups add up their sites, in every cut the intruder has seen for some group.
	type icut struct{ release, what, ind, cut string }
	cuts := map[icut]bool{}
	for n := range s.vars {
		f := strings.Split(n, "|")
		if f[1] == "no" {
			continue
		}
		cuts[icut{f[0], f[1], f[2], f[4]}] = true
	}
	for c := range cuts {
		r := releases[c.release]
		// With a single set of sites seen in this cut, its sites' parts are free: the
		// relation tells nothing and is left out.
		seen := 0
		for set := range sets[c.release] {
			if _, ok := s.vars[name(c.release, c.what, c.ind, strings.Split(set, "+"), c.cut)]; ok {
				seen++
			}
		}
		if seen < 2 {
			continue
		}
		for set := range sets[c.release] {
			sites := strings.Split(set, "+")
			if len(sites) < 2 {
				continue
			}
			if _, ok := s.vars[name(c.release, c.what, c.ind, sites, c.cut)]; !ok {
				continue
			}
			var parts []string
			for _, site := range sites {
				n := name(c.release, c.what, c.ind, []string{site}, c.cut)
				parts = append(parts, n)
				x := s.v(n)
				if slices.Contains(r.pooled, site) && !slices.Equal(r.pooled, []string{site}) {
					if x.check == "" || x.check == SmallComputed {
						x.check = PooledExact
					}
				} else if x.check == "" {
					x.check = SmallComputed
				}
			}
			s.rel(name(c.release, c.what, c.ind, sites, c.cut), parts...)
		}
	}
	// Single-choice items add up to their denominator.
	for c := range cuts {
		if c.what != "den" {
			continue
		}
		for _, choice := range k.Choices {
			if len(choice) == 0 || k.Population[choice[0]] != c.ind {
				continue
			}
			for set := range sets[c.release] {
				sites := strings.Split(set, "+")
				d := name(c.release, "den", c.ind, sites, c.cut)
				if _, ok := s.vars[d]; !ok {
					continue
				}
				var parts []string
				for _, ind := range choice {
					parts = append(parts, name(c.release, "yes", ind, sites, c.cut))
				}
				s.rel(d, parts...)
			}
		}
	}
	// Releases in cut-off order: each count is the previous one plus its change.
	sort.SliceStable(order, func(i, j int) bool { return order[i].cutOff.Before(order[j].cutOff) })
	for i := 1; i < len(order); i++ {
		prev, next := order[i-1], order[i]
		var names []string
		for n := range s.vars {
			if strings.HasPrefix(n, next.id+"|") {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		for _, n := range names {
			p := prev.id + strings.TrimPrefix(n, next.id)
			if _, ok := s.vars[p]; !ok {
				continue
			}
			// Receipt times are days: two releases of one cut-off day may differ (the
			// second took in records of that day received after the first), so an
			// equal cut-off says nothing of the change either.
			d := "change:" + prev.id + ">" + n
			x := s.v(d)
			// Counts of records received up to a cut-off only grow; the linked
			// indicator's (re-keyed links) may also go down.
			x.check = SmallComputed
			if f := strings.Split(n, "|"); len(f) > 2 && f[2] == k.Linked {
				x.floor = minFloor
			}
			s.rel(n, p, d)
		}
	}
	if err := s.solve(); err != nil {
		return nil, err
	}
	slices.SortFunc(s.found, func(a, b Finding) int { return strings.Compare(a.Cell, b.Cell) })
	return s.found, nil
}

// solve computes the integer bounds of every variable to check, component by
// component, and adds the findings.
func (s *system) solve() error {
	s.peel()
	// A relation between published counts that does not hold: the outputs disagree.
	for _, r := range s.rels {
		sum, known := -s.vars[r[0]].value, s.vars[r[0]].known
		for _, n := range r[1:] {
			known = known && s.vars[n].known
			sum += s.vars[n].value
		}
		if known && sum != 0 {
			s.found = append(s.found, Finding{Cell: r[0], What: Inconsistent, Value: sum})
		}
	}
	names := make([]string, 0, len(s.vars))
	for n := range s.vars {
		names = append(names, n)
	}
	slices.Sort(names)
	index := map[string]int{}
	for i, n := range names {
		index[n] = i
	}
	parent := make([]int, len(names))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	largest := 0
	for _, v := range s.vars {
		largest = max(largest, v.value)
	}
	capValue := 4*largest + 4*s.k + 10
	for _, r := range s.rels {
		var unknown []int
		for _, n := range r {
			if !s.vars[n].known {
				unknown = append(unknown, index[n])
			}
		}
		for _, u := range unknown[min(1, len(unknown)):] {
			a, b := find(unknown[0]), find(u)
			if a != b {
				parent[a] = b
			}
		}
	}
	comps := map[int][]string{}
	for i, n := range names {
		if !s.vars[n].known {
			comps[find(i)] = append(comps[find(i)], n)
		}
	}
	var roots []int
	for r := range comps {
		roots = append(roots, r)
	}
	slices.Sort(roots)
	dir, err := os.MkdirTemp("", "tamtam-audit-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, root := range roots {
		members := comps[root]
		inComp := map[string]bool{}
		for _, m := range members {
			inComp[m] = true
		}
		var rels [][]string
		for _, r := range s.rels {
			for _, n := range r {
				if inComp[n] {
					rels = append(rels, r)
					break
				}
			}
		}
		lp := s.lpText(members, rels, capValue)
		var checked []int
		for i, m := range members {
			if s.vars[m].check != "" {
				checked = append(checked, i)
			}
		}
		if len(checked) == 0 {
			continue
		}
		// A pool of integer solutions: a variable that differs between two of them is
		// not exact. The first ones move many variables at once; then each variable
		// left is pushed to its least and greatest value.
		var pool [][]int
		run := func(sense string, coef map[int]int) ([]int, error) {
			x, err := glpsol(dir, lp, len(members), sense, coef)
			if err == nil {
				pool = append(pool, x)
			}
			return x, err
		}
		all := map[int]int{}
		for j, i := range checked {
			all[i] = 1 - 2*(j%2)
		}
		sum := map[int]int{}
		for _, i := range checked {
			sum[i] = 1
		}
		objectives := []map[int]int{sum, all}
		rng := rand.New(rand.NewPCG(uint64(len(members)), uint64(root)))
		for range min(6, len(checked)) {
			c := map[int]int{}
			for _, i := range checked {
				c[i] = rng.IntN(7) - 3
			}
			objectives = append(objectives, c)
		}
		for _, c := range objectives {
			for _, sense := range []string{"Minimize", "Maximize"} {
				if _, err := run(sense, c); err != nil {
					return fmt.Errorf("audit: component of %s: %w", members[0], err)
				}
			}
		}
		moved := func(i int) bool {
			for _, x := range pool[1:] {
				if x[i] != pool[0][i] {
					return true
				}
			}
			return false
		}
		for _, i := range checked {
			if moved(i) {
				continue
			}
			lo, err := run("Minimize", map[int]int{i: 1})
			if err != nil {
				return fmt.Errorf("audit: %s: %w", members[i], err)
			}
			hi, err := run("Maximize", map[int]int{i: 1})
			if err != nil {
				return fmt.Errorf("audit: %s: %w", members[i], err)
			}
			if lo[i] != hi[i] {
				continue
			}
			s.exact(s.vars[members[i]], lo[i])
		}
	}
	return nil
}

// peel computes every variable that a relation with a single unknown gives, over and
// over: the cheap part of the intruder's work. What it computes is exact, and checked.
func (s *system) peel() {
	for changed := true; changed; {
		changed = false
		for _, r := range s.rels {
			unknown, sum := -1, 0
			for j, n := range r {
				coef := 1
				if j == 0 {
					coef = -1
				}
				if x := s.vars[n]; x.known {
					sum += coef * x.value
				} else if unknown >= 0 {
					unknown = -2
					break
				} else {
					unknown = j
				}
			}
			if unknown < 0 {
				continue
			}
			// coef * x + sum = 0
			v := sum
			if unknown != 0 {
				v = -sum
			}
			x := s.vars[r[unknown]]
			x.known, x.value = true, v
			s.exact(x, v)
			changed = true
		}
	}
}

// exact records the finding, if any, of a variable the intruder knows exactly.
func (s *system) exact(x *variable, v int) {
	switch x.check {
	case SuppressedExact:
		s.found = append(s.found, Finding{Cell: x.name, What: SuppressedExact, Value: v})
	case PooledExact:
		if v != 0 && v < s.k {
			s.found = append(s.found, Finding{Cell: x.name, What: PooledExact, Value: v})
		}
	case SmallComputed:
		if v != 0 && v > -s.k && v < s.k {
			s.found = append(s.found, Finding{Cell: x.name, What: SmallComputed, Value: v})
		}
	}
}

// lpText writes the constraints and bounds of a component in CPLEX LP format, the
// objective left for glpsol to be given (see glpsol). Variables are named x<index>.
func (s *system) lpText(members []string, rels [][]string, capValue int) string {
	idx := map[string]int{}
	for i, m := range members {
		idx[m] = i
	}
	var b strings.Builder
	b.WriteString("Subject To\n")
	for i, r := range rels {
		rhs := 0
		var terms []string
		term := func(n string, coef int) {
			if x := s.vars[n]; x.known {
				rhs -= coef * x.value
				return
			}
			sign := "+"
			if coef < 0 {
				sign = "-"
			}
			terms = append(terms, fmt.Sprintf("%s x%d", sign, idx[n]))
		}
		term(r[0], -1)
		for _, p := range r[1:] {
			term(p, 1)
		}
		if len(terms) == 0 {
			if rhs != 0 {
				// The published counts break a relation: the outputs disagree.
				s.found = append(s.found, Finding{Cell: r[0], What: Inconsistent, Value: rhs})
			}
			continue
		}
		fmt.Fprintf(&b, " c%d: %s = %d\n", i, strings.Join(terms, " "), rhs)
	}
	b.WriteString("Bounds\n")
	for i, m := range members {
		x := s.vars[m]
		if x.floor == minFloor {
			fmt.Fprintf(&b, " -%d <= x%d <= %d\n", capValue, i, capValue)
		} else {
			fmt.Fprintf(&b, " %d <= x%d <= %d\n", x.floor, i, capValue)
		}
	}
	b.WriteString("General\n")
	for i := range members {
		fmt.Fprintf(&b, " x%d\n", i)
	}
	b.WriteString("End\n")
	return b.String()
}

// glpsol asks GLPK for an integer solution of the component written in lp that
// minimises or maximises the sum of coef[i] * x<i>, and returns it.
func glpsol(dir, lp string, n int, sense string, coef map[int]int) ([]int, error) {
	var obj strings.Builder
	// Every variable is named in the objective, in order, so that GLPK numbers the
	// columns as lpText does.
	obj.WriteString(" obj:")
	for i := range n {
		if c := coef[i]; c < 0 {
			fmt.Fprintf(&obj, " - %d x%d", -c, i)
		} else {
			fmt.Fprintf(&obj, " + %d x%d", c, i)
		}
	}
	text := sense + "\n" + obj.String() + "\n" + lp
	in := filepath.Join(dir, "p.lp")
	out := filepath.Join(dir, "p.sol")
	if err := os.WriteFile(in, []byte(text), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command("glpsol", "--lp", in, "-w", out)
	var msgs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &msgs, &msgs
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("glpsol: %v: %s", err, msgs.String())
	}
	res, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	x := make([]int, n)
	ok := false
	for _, line := range strings.Split(string(res), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 5 && f[0] == "s" && f[1] == "mip":
			ok = f[4] == "o"
		case len(f) == 3 && f[0] == "j":
			j, err1 := strconv.Atoi(f[1])
			v, err2 := strconv.ParseFloat(f[2], 64)
			if err1 != nil || err2 != nil || j < 1 || j > n {
				return nil, fmt.Errorf("glpsol: bad solution line %q", line)
			}
			x[j-1] = int(math.Round(v))
		}
	}
	if !ok {
		return nil, fmt.Errorf("glpsol found no integer optimum (do the outputs contradict each other?): %s", firstLines(res, 8))
	}
	return x, nil
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

// KnowledgeOf reads what an intruder knows from the indicator catalog, the JSON the
// methodology of every output publishes (reports.Catalog.JSON): populations, single-
// choice families, categories and merges.
func KnowledgeOf(catalogJSON []byte, k int) (Knowledge, error) {
	var c struct {
		Families []struct {
			ID           string `json:"id"`
			SingleChoice bool   `json:"single_choice"`
		} `json:"families"`
		Indicators []struct {
			ID         string `json:"id"`
			Family     string `json:"family"`
			Population string `json:"population"`
		} `json:"indicators"`
		Categories map[string][]struct {
			Code string `json:"code"`
		} `json:"categories"`
		Merges map[string][]struct {
			Code  string   `json:"code"`
			Parts []string `json:"parts"`
		} `json:"merges"`
	}
	if err := json.Unmarshal(catalogJSON, &c); err != nil {
		return Knowledge{}, fmt.Errorf("audit: catalog: %w", err)
	}
	kn := Knowledge{K: k, Entrants: "I19", Linked: "I21", Population: map[string]string{}, Categories: map[string][]string{},
		Merges: map[string]map[string][]string{}}
	for _, ind := range c.Indicators {
		kn.Population[ind.ID] = ind.Population
		if ind.Population == "" {
			kn.Population[ind.ID] = ind.ID
		}
	}
	for _, f := range c.Families {
		if !f.SingleChoice {
			continue
		}
		var ids []string
		for _, ind := range c.Indicators {
			if ind.Family == f.ID {
				ids = append(ids, ind.ID)
			}
		}
		kn.Choices = append(kn.Choices, ids)
	}
	for dim, cats := range c.Categories {
		if dim == "site" {
			continue
		}
		for _, cat := range cats {
			kn.Categories[dim] = append(kn.Categories[dim], cat.Code)
		}
		kn.Merges[dim] = map[string][]string{}
		for _, m := range c.Merges[dim] {
			kn.Merges[dim][m.Code] = m.Parts
		}
	}
	return kn, nil
}

// ManifestView reads a view from the files a report wrote: the manifest and the CSV.
func ManifestView(name string, manifest, csv []byte) (View, error) {
	var m struct {
		Release    string    `json:"release"`
		Sites      []string  `json:"sites"`
		AllSites   []string  `json:"all_sites"`
		Pooled     []string  `json:"pooled_sites"`
		DataCutOff time.Time `json:"data_cut_off"`
	}
	if err := json.Unmarshal(manifest, &m); err != nil {
		return View{}, fmt.Errorf("audit: %s: manifest: %w", name, err)
	}
	// The manifest lists the pooled sites of the group; the intruder knows those of the
	// release from the all-sites view, which every test reads too.
	return View{Name: name, Release: m.Release, CutOff: m.DataCutOff, Sites: m.Sites, AllSites: m.AllSites,
		Pooled: m.Pooled, CSV: csv}, nil
}
