package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/spool"
	"github.com/tamtam-ngo/tamtam/collector/words"
	"github.com/tamtam-ngo/tamtam/queries"
)

// spoolWait bounds the wait of a backup for the submissions a server has acknowledged
// but not yet stored in ClickHouse.
const spoolWait = 2 * time.Minute

// cmdBackup writes every table of the store to one file (queries.DB.Backup), encrypted
// with age to the recipients given. The linkage keys are never in it.
func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		cfg        Config
		out        string
		recipients stringList
	)
	l := cliLang(getenv)
	fs := newFlagSet("backup", &cfg, stderr, getenv)
	fs.StringVar(&out, "out", "", "file to write the backup to (required; an existing file is not overwritten)")
	fs.Var(&recipients, "recipient", "age public key (age1…) to encrypt the backup to; repeat for several. Recommended: these are health data")
	if err := parse(fs, args); err != nil {
		return err
	}
	if out == "" {
		return &usageError{l.T("cli.backup.no_out")}
	}
	recips, err := parseRecipients(l, recipients)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(out); err == nil {
		return &usageError{l.T("cli.backup.exists", out)}
	}
	app, err := startStore(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	if err := app.awaitSpool(ctx, cfg, stderr, l); err != nil {
		return err
	}
	event := collector.AuditEvent{At: app.now(), Actor: "cli", Role: "operator", Action: "backup", Detail: out, Outcome: "failed"}
	m, size, err := app.writeBackup(ctx, out, recips, stderr, l)
	if err == nil {
		event.Outcome = "ok"
		event.Detail = fmt.Sprintf("%s: %d tables, %d rows, encrypted for %d recipients", out, len(m.Tables), totalRows(m), len(recips))
	}
	if aerr := app.db.Audit(context.WithoutCancel(ctx), event); aerr != nil && err == nil {
		return fmt.Errorf("%s: %w", l.T("cli.backup.unaudited", out), aerr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, l.T("cli.backup.done", out, len(m.Tables), l.Number(int(totalRows(m))), size>>10, m.MadeAt.Format(time.RFC3339)))
	if err := printBackupTables(stdout, m); err != nil {
		return err
	}
	if len(recips) > 0 {
		fmt.Fprintln(stdout, l.T("cli.backup.encrypted", len(recips)))
	} else {
		fmt.Fprintln(stderr, l.T("cli.backup.not_encrypted"))
	}
	fmt.Fprintln(stdout, l.T("cli.backup.keys_apart", filepath.Join(cfg.Data, "keys")))
	return nil
}

// parseRecipients reads the age public keys of --recipient. A secret key given by
// mistake is refused without being repeated.
func parseRecipients(l words.Lang, keys []string) ([]age.Recipient, error) {
	var out []age.Recipient
	for _, k := range keys {
		if strings.HasPrefix(strings.ToUpper(k), "AGE-SECRET-KEY-") {
			return nil, &usageError{l.T("cli.backup.secret_key")}
		}
		rs, err := age.ParseRecipients(strings.NewReader(k))
		if err != nil || len(rs) != 1 {
			return nil, &usageError{l.T("cli.backup.bad_recipient", printable(k))}
		}
		out = append(out, rs[0])
	}
	return out, nil
}

// awaitSpool makes sure that every submission acknowledged before now by a server on
// this data directory is in the store, so that the backup holds it: a server acknowledges
// a submission once it is in its spool, and stores it in ClickHouse a moment later. With
// a server running, it waits for the server to store what its spool held; with none, it
// stores the spool's submissions itself, as the server would at its next start.
// Servers on other data directories (other machines) have their own spools, which this
// one does not see.
func (a *App) awaitSpool(ctx context.Context, cfg Config, stderr io.Writer, l words.Lang) error {
	dir := filepath.Join(cfg.Data, "spool")
	p, err := spool.Peek(dir)
	if err != nil {
		return fmt.Errorf("backup: spool: %w", err)
	}
	if !p.Pending() {
		return nil
	}
	sp, err := spool.Open(spool.Options{Dir: dir, Logger: a.log})
	switch {
	case errors.Is(err, spool.ErrLocked):
		fmt.Fprintln(stderr, l.T("cli.backup.spool_wait", p.Last-p.Acked))
		deadline := time.Now().Add(spoolWait)
		for {
			q, err := spool.Peek(dir)
			if err != nil {
				return fmt.Errorf("backup: spool: %w", err)
			}
			if q.Acked >= p.Last {
				return nil
			}
			if time.Now().After(deadline) {
				return errors.New(l.T("cli.backup.spool_stuck", p.Last-q.Acked, spoolWait))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	case err != nil:
		return fmt.Errorf("backup: spool: %w", err)
	}
	fmt.Fprintln(stderr, l.T("cli.backup.spool_drain", p.Last-p.Acked))
	in, err := collector.NewIngester(a.db, collector.IngesterOptions{Logger: a.log, Spool: sp, DrainTimeout: spoolWait})
	if err != nil {
		sp.Close()
		return err
	}
	in.Close() // drains the spool into the store
	left := sp.Stats().Depth
	if err := sp.Close(); err != nil {
		return fmt.Errorf("backup: spool: %w", err)
	}
	if left > 0 {
		return errors.New(l.T("cli.backup.spool_stuck", left, spoolWait))
	}
	return nil
}

// writeBackup writes the backup to a temporary file beside out, then links it to out
// once complete and synced: out is never a partial backup, and never replaces a file.
// An import committed during the read makes it start again, up to three times.
func (a *App) writeBackup(ctx context.Context, out string, recips []age.Recipient, stderr io.Writer, l words.Lang) (*queries.BackupManifest, int64, error) {
	dir := filepath.Dir(out)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(out)+".tmp*") // mode 0600
	if err != nil {
		return nil, 0, fmt.Errorf("backup: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	var m *queries.BackupManifest
	for attempt := 1; ; attempt++ {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return nil, 0, fmt.Errorf("backup: %w", err)
		}
		if err := tmp.Truncate(0); err != nil {
			return nil, 0, fmt.Errorf("backup: %w", err)
		}
		m, err = a.backupTo(ctx, tmp, recips)
		if errors.Is(err, queries.ErrBackupInterrupted) && attempt < 3 {
			fmt.Fprintln(stderr, l.T("cli.backup.again"))
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		break
	}
	if err := tmp.Sync(); err != nil {
		return nil, 0, fmt.Errorf("backup: %w", err)
	}
	fi, err := tmp.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("backup: %w", err)
	}
	if err := os.Link(tmp.Name(), out); err != nil {
		// A file system without hard links (a FAT or exFAT stick): rename instead, which
		// would replace a file of that name made meanwhile, so look once more.
		if errors.Is(err, os.ErrExist) {
			return nil, 0, fmt.Errorf("backup: %w", err)
		}
		if _, serr := os.Lstat(out); serr == nil {
			return nil, 0, fmt.Errorf("backup: %s appeared while the backup was written", out)
		}
		if err := os.Rename(tmp.Name(), out); err != nil {
			return nil, 0, fmt.Errorf("backup: %w", err)
		}
	}
	if err := syncDir(dir); err != nil {
		return nil, 0, fmt.Errorf("backup: %w", err)
	}
	return m, fi.Size(), nil
}

// backupTo writes one backup to w, through age when there are recipients.
func (a *App) backupTo(ctx context.Context, w io.Writer, recips []age.Recipient) (*queries.BackupManifest, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	var (
		dst io.Writer = bw
		enc io.WriteCloser
		err error
	)
	if len(recips) > 0 {
		if enc, err = age.Encrypt(bw, recips...); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		dst = enc
	}
	m, err := a.db.Backup(ctx, dst, queries.BackupOptions{})
	if err != nil {
		return nil, err
	}
	if enc != nil {
		if err := enc.Close(); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return m, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func totalRows(m *queries.BackupManifest) uint64 {
	var n uint64
	for _, t := range m.Tables {
		n += t.Rows
	}
	return n
}

// printBackupTables lists the tables of a backup. Headings stay in English: scripts
// read them.
func printBackupTables(w io.Writer, m *queries.BackupManifest) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tROWS\tFILES\tCHECKSUM")
	for _, t := range m.Tables {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", t.Name, t.Rows, t.Files, t.Checksum[:16])
	}
	return tw.Flush()
}

// cmdRestore loads a backup into an empty store: it reads the file through and checks
// it first (nothing is written for a damaged file or a wrong key), then loads it and
// compares every table with the backup's counts and checksums.
func cmdRestore(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		cfg      Config
		identity string
		check    bool
	)
	l := cliLang(getenv)
	fs := newFlagSet("restore", &cfg, stderr, getenv)
	fs.StringVar(&identity, "identity", "", "age identity file (AGE-SECRET-KEY-1…) whose key the backup was encrypted to")
	fs.BoolVar(&check, "check", false, "only read the backup through and check it against its manifest; no store is opened")
	files, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return &usageError{l.T("cli.restore.one_file")}
	}
	file := files[0]
	var ids []age.Identity
	if identity != "" {
		data, err := os.ReadFile(identity)
		if err != nil {
			return &usageError{l.T("cli.restore.bad_identity", identity)}
		}
		if ids, err = age.ParseIdentities(bytes.NewReader(data)); err != nil {
			return &usageError{l.T("cli.restore.bad_identity", identity)}
		}
	}
	r, done, err := openBackup(l, file, ids)
	if err != nil {
		return err
	}
	m, err := queries.CheckBackup(r)
	done()
	if err != nil {
		return errors.New(l.T("cli.restore.bad", file, err))
	}
	if check {
		fmt.Fprintln(stdout, l.T("cli.restore.checked", file, m.MadeAt.Format(time.RFC3339), len(m.Tables), l.Number(int(totalRows(m)))))
		return printBackupTables(stdout, m)
	}
	log, err := cfg.logger(stderr)
	if err != nil {
		return err
	}
	app, err := openSchema(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer app.Close()
	if r, done, err = openBackup(l, file, ids); err != nil {
		return err
	}
	defer done()
	err = app.db.Restore(ctx, r, m)
	switch {
	case errors.Is(err, queries.ErrNotEmpty):
		return errors.New(l.T("cli.restore.not_empty", app.db.Database(), err))
	case errors.Is(err, queries.ErrSchemaMismatch):
		return errors.New(l.T("cli.restore.other_schema", err))
	case errors.Is(err, queries.ErrPartlyRestored):
		app.db.Audit(context.WithoutCancel(ctx), collector.AuditEvent{At: app.now(), Actor: "cli", Role: "operator",
			Action: "restore", Detail: file, Outcome: "failed"})
		return errors.New(l.T("cli.restore.partial", app.db.Database(), err))
	case err != nil:
		return err
	}
	if err := app.db.Audit(ctx, collector.AuditEvent{At: app.now(), Actor: "cli", Role: "operator", Action: "restore",
		Detail:  fmt.Sprintf("%s (made %s): %d tables, %d rows", file, m.MadeAt.Format(time.RFC3339), len(m.Tables), totalRows(m)),
		Outcome: "ok"}); err != nil {
		return fmt.Errorf("%s: %w", l.T("cli.restore.unaudited"), err)
	}
	fmt.Fprintln(stdout, l.T("cli.restore.done", file, m.MadeAt.Format(time.RFC3339), len(m.Tables), l.Number(int(totalRows(m))), app.db.Database()))
	if err := printBackupTables(stdout, m); err != nil {
		return err
	}
	return app.checkRestoredKey(ctx, cfg, stdout, stderr, l)
}

// parseArgs parses flags and positional arguments in any order (tamtam restore FILE
// --identity KEY, or the other way round).
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err == flag.ErrHelp {
			return nil, usagef("%s: see the flags above", fs.Name())
		} else if err != nil {
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// openBackup opens a backup file for reading, decrypting it with ids when it is
// encrypted (age, binary or armored). done closes the file.
func openBackup(l words.Lang, path string, ids []age.Identity) (_ io.Reader, done func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, &usageError{l.T("cli.restore.no_file", path)}
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	br := bufio.NewReaderSize(f, 1<<20)
	head, _ := br.Peek(64)
	encrypted, armored := bytes.HasPrefix(head, []byte("age-encryption.org/")), bytes.HasPrefix(head, []byte(armor.Header))
	if !encrypted && !armored {
		return br, func() { f.Close() }, nil
	}
	if len(ids) == 0 {
		return nil, nil, &usageError{l.T("cli.restore.need_identity", path)}
	}
	var src io.Reader = br
	if armored {
		src = armor.NewReader(br)
	}
	r, err := age.Decrypt(src, ids...)
	var nomatch *age.NoIdentityMatchError
	switch {
	case errors.As(err, &nomatch):
		return nil, nil, errors.New(l.T("cli.restore.wrong_identity", path))
	case err != nil:
		return nil, nil, errors.New(l.T("cli.restore.bad", path, err))
	}
	return r, func() { f.Close() }, nil
}

// checkRestoredKey says whether the data directory holds the linkage key the latest
// restored records were linked under: without it, a follow-up made from now on cannot
// link to the entries restored.
func (a *App) checkRestoredKey(ctx context.Context, cfg Config, stdout, stderr io.Writer, l words.Lang) error {
	id, err := a.db.LatestLinkKeyID(ctx)
	if err != nil || id == "" {
		return err
	}
	dir := filepath.Join(cfg.Data, "keys")
	paths, _ := filepath.Glob(filepath.Join(dir, "link-*.key"))
	for _, p := range paths {
		k, err := collector.ReadKeyFile(p)
		if err != nil {
			fmt.Fprintln(stderr, "warning:", err) // serve would refuse it as well
			continue
		}
		if k.ID == id {
			fmt.Fprintln(stdout, l.T("cli.restore.key_present", id, dir))
			return nil
		}
	}
	fmt.Fprintln(stderr, l.T("cli.restore.key_missing", id, dir))
	return nil
}

// cmdPurge drops the questionnaires of whole years (queries.DB.DropYear). Without --yes
// it only says what it would drop, and exits with a usage error.
func cmdPurge(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		cfg    Config
		before int
		yes    bool
	)
	l := cliLang(getenv)
	fs := newFlagSet("purge", &cfg, stderr, getenv)
	fs.IntVar(&before, "before", 0, "drop the questionnaires of every year before this one (required)")
	fs.BoolVar(&yes, "yes", false, "drop them; without it, purge only says what it would drop")
	if err := parse(fs, args); err != nil {
		return err
	}
	now := time.Now()
	if before < 2016 || before > now.Year() {
		return &usageError{l.T("cli.purge.bad_year", now.Year())}
	}
	app, err := startStore(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	years, err := app.db.YearsBefore(ctx, before)
	if err != nil {
		return err
	}
	if len(years) == 0 {
		fmt.Fprintln(stdout, l.T("cli.purge.nothing", before))
		return nil
	}
	fmt.Fprintln(stdout, l.T("cli.purge.plan", before))
	for _, y := range years {
		rels, err := app.db.ListReleases(ctx, y.Year)
		if err != nil {
			return err
		}
		n := l.Number(int(y.Questionnaires))
		if len(rels) == 0 {
			fmt.Fprintln(stdout, l.T("cli.purge.year_unreleased", y.Year, n))
			continue
		}
		ids := make([]string, len(rels))
		for i, r := range rels {
			ids[i] = r.ID
		}
		fmt.Fprintln(stdout, l.T("cli.purge.year_released", y.Year, n, strings.Join(ids, ", ")))
	}
	if !yes {
		return &usageError{l.T("cli.purge.confirm", before)}
	}
	event := collector.AuditEvent{At: app.now(), Actor: "cli", Role: "operator", Action: "purge", Outcome: "failed"}
	var dropped []string
	for _, y := range years {
		if err = app.db.DropYear(ctx, y.Year); err != nil {
			break
		}
		dropped = append(dropped, fmt.Sprintf("%d (%d questionnaires)", y.Year, y.Questionnaires))
		fmt.Fprintln(stdout, l.T("cli.purge.dropped", y.Year, l.Number(int(y.Questionnaires))))
	}
	event.Detail = fmt.Sprintf("before %d: dropped %s", before, strings.Join(dropped, ", "))
	if err == nil {
		event.Outcome = "ok"
	}
	if aerr := app.db.Audit(context.WithoutCancel(ctx), event); aerr != nil && err == nil {
		return fmt.Errorf("%s: %w", l.T("cli.purge.unaudited"), aerr)
	}
	if errors.Is(err, queries.ErrNotAllowed) {
		return fmt.Errorf("%s: %w", l.T("cli.purge.not_allowed"), err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, l.T("cli.purge.backups_note"))
	return nil
}
