package reports

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// ReleaseInfo describes a stored release without its cells.
type ReleaseInfo struct {
	ID     string
	Year   int
	CutOff time.Time
	MadeAt time.Time
	Actor  string
	Role   string
	// Earlier are the releases it was protected jointly with, oldest first.
	Earlier []string
	// Groups, Cells and Suppressed summarise it for `tamtam release list`.
	Groups            []string
	Cells, Suppressed int
	K                 int
	CellsSHA256       string
}

// ReleaseStore keeps the frozen releases. It is implemented by package queries.
type ReleaseStore interface {
	// SaveRelease stores a release, its cells first and its header last: a release
	// whose header is not stored does not exist. Storing one that is there already
	// changes nothing.
	SaveRelease(ctx context.Context, r *Release) error
	// ListReleases returns the stored releases of year (every year for 0), in the
	// order they were made.
	ListReleases(ctx context.Context, year int) ([]ReleaseInfo, error)
	// LoadRelease returns the release with the given id, or an error wrapping
	// ErrNoRelease.
	LoadRelease(ctx context.Context, id string) (*Release, error)
}

// ReleaseLocker serialises the making of a year's releases across processes: two
// releases made at once would not be protected jointly. It is implemented by package
// queries; a store without it is used by one process.
type ReleaseLocker interface {
	// LockReleases returns ErrConcurrentRelease when another process is making a
	// release of year; otherwise unlock ends the lease.
	LockReleases(ctx context.Context, year int) (unlock func(), err error)
}

// ErrNoRelease is returned when a year has no release, or no release has the id asked.
var ErrNoRelease = errors.New("reports: no such release")

// ErrConcurrentRelease is returned by Publisher.Make when another release of the year
// was stored while this one was being made: the two were not protected jointly, so this
// one is not valid. Make it again.
var ErrConcurrentRelease = errors.New("reports: another release of the year is being made at the same time; try again in a minute")

// Publisher makes and finds releases: the one mechanism behind `tamtam release`,
// `tamtam report`, the downloads and the dashboard. Releases are frozen, so those it
// loads are kept in memory.
type Publisher struct {
	Source  Source
	Store   ReleaseStore
	Catalog *Catalog

	loaded *lru.Cache[string, *Release]
}

// NewPublisher returns a Publisher over a source and a store.
func NewPublisher(src Source, store ReleaseStore, cat *Catalog) *Publisher {
	c, _ := lru.New[string, *Release](16) // 16 > 0: never an error
	return &Publisher{Source: src, Store: store, Catalog: cat, loaded: c}
}

// Valid returns the valid releases of a year in the order they were made. A release is
// valid when it was protected jointly with every valid release made before it: of two
// releases made at the same time by two processes, the one made second is not, and no
// output ever shows it.
func (p *Publisher) Valid(ctx context.Context, year int) ([]ReleaseInfo, error) {
	all, err := p.Store.ListReleases(ctx, year)
	if err != nil {
		return nil, err
	}
	return validChain(all), nil
}

// Load returns a stored release.
func (p *Publisher) Load(ctx context.Context, id string) (*Release, error) {
	if r, ok := p.loaded.Get(id); ok {
		return r, nil
	}
	r, err := p.Store.LoadRelease(ctx, id)
	if err != nil {
		return nil, err
	}
	p.loaded.Add(id, r)
	return r, nil
}

// Latest returns the latest valid release of a year, or ErrNoRelease.
func (p *Publisher) Latest(ctx context.Context, year int) (*Release, error) {
	valid, err := p.Valid(ctx, year)
	if err != nil {
		return nil, err
	}
	if len(valid) == 0 {
		return nil, fmt.Errorf("%w of %d", ErrNoRelease, year)
	}
	return p.Load(ctx, valid[len(valid)-1].ID)
}

// Find returns the valid release of year with the given id.
func (p *Publisher) Find(ctx context.Context, year int, id string) (*Release, error) {
	valid, err := p.Valid(ctx, year)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(valid, func(r ReleaseInfo) bool { return r.ID == id }) {
		return nil, fmt.Errorf("%w: %s is not a release of %d", ErrNoRelease, id, year)
	}
	return p.Load(ctx, id)
}

// Make protects the year's records up to the cut-off jointly with every valid release
// of the year, stores the new release, and returns it. A release identical to the
// latest (same cut-off, settings and figures) is that release: nothing new is stored,
// and made reports false.
func (p *Publisher) Make(ctx context.Context, opts MakeOptions) (r *Release, made bool, err error) {
	if l, ok := p.Store.(ReleaseLocker); ok {
		unlock, err := l.LockReleases(ctx, opts.Year)
		if err != nil {
			return nil, false, err
		}
		defer unlock()
	}
	valid, err := p.Valid(ctx, opts.Year)
	if err != nil {
		return nil, false, err
	}
	var earlier []*Release
	for _, info := range valid {
		e, err := p.Load(ctx, info.ID)
		if err != nil {
			return nil, false, err
		}
		earlier = append(earlier, e)
	}
	if r, err = Make(ctx, p.Source, p.Catalog, earlier, opts); err != nil {
		return nil, false, err
	}
	if n := len(earlier); n > 0 && (r == earlier[n-1] || earlier[n-1].sameFigures(r)) {
		return earlier[len(earlier)-1], false, nil
	}
	// The releases made since this one started would not be protected jointly with it.
	if again, err := p.Valid(ctx, opts.Year); err != nil {
		return nil, false, err
	} else if len(again) != len(valid) {
		return nil, false, ErrConcurrentRelease
	}
	if err := p.Store.SaveRelease(ctx, r); err != nil {
		return nil, false, err
	}
	after, err := p.Valid(ctx, opts.Year)
	if err != nil {
		return nil, false, err
	}
	if !slices.ContainsFunc(after, func(x ReleaseInfo) bool { return x.ID == r.ID }) {
		return nil, false, ErrConcurrentRelease
	}
	p.loaded.Add(r.ID, r)
	return r, true, nil
}

// Info summarises a release as ReleaseStore.ListReleases does.
func (r *Release) Info() ReleaseInfo {
	info := ReleaseInfo{ID: r.ID, Year: r.Year, CutOff: r.CutOff, MadeAt: r.MadeAt, Actor: r.Actor, Role: r.Role,
		Earlier: r.Earlier, Cells: len(r.stored), K: r.Config.K, CellsSHA256: cellsHash(r.stored)}
	for _, g := range r.Plan.Groups {
		info.Groups = append(info.Groups, g.Code)
	}
	for _, c := range r.stored {
		if c.Status == disclosure.SuppressedPrimary || c.Status == disclosure.SuppressedSecondary {
			info.Suppressed++
		}
	}
	return info
}

// sameFigures reports whether two releases publish the same cells with the same
// settings at the same cut-off: a new one would add nothing.
func (r *Release) sameFigures(o *Release) bool {
	a, b := r.header(), o.header()
	a.Earlier, b.Earlier = nil, nil
	return r.CutOff.Equal(o.CutOff) && a.CellsSHA256 == b.CellsSHA256 && r.headerJSON(a) == r.headerJSON(b)
}
