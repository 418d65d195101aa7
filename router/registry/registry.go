// Package registry is the authority registry: the hub's source of truth for who can receive what
// (DESIGN.md §3). It validates entries (EDRPOU check digit, KATOTTG territory, kind, parent,
// registered adapter, mode, status, accepted case kinds, topics, subsystem, calendar, delivery
// settings), reports every problem at once with its field path, reads and writes CSV and YAML files
// with line-numbered problems, and records every change with who made it, when it takes effect and
// why. Every entry has a version that each change counts up; a change may name the version it was
// made against and is refused (version_conflict) if the entry moved on. A change whose effective
// time is later than now is scheduled and applied by ApplyDue, which hub processes call
// periodically, when its time comes. It declares the small Store it needs; internal/store
// implements it.
package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"appealhub/internal/clock"
	"appealhub/schemas"
)

// Store keeps the registry. internal/store.Store implements it.
type Store interface {
	// RegistryAuthority returns an entry (without Pending); a missing one is an error wrapping
	// schemas.ErrNotFound.
	RegistryAuthority(ctx context.Context, code string) (schemas.Authority, error)
	// ApplyAuthorityChanges writes every change (After) with its history row, all or none. A
	// change with a positive IfVersion fails, wrapping schemas.ErrVersionConflict, unless the entry
	// is at that version.
	ApplyAuthorityChanges(ctx context.Context, changes []schemas.AuthorityChange) ([]schemas.AuthorityChange, error)
	// ChangeAuthority changes an existing entry under its row lock: resolve makes the new entry
	// from the current one (its error is returned as it is).
	ChangeAuthority(ctx context.Context, ch schemas.AuthorityChange,
		resolve func(ctx context.Context, cur schemas.Authority) (schemas.Authority, error),
	) (schemas.AuthorityChange, error)
	// AuthorityHistory returns an entry's changes, oldest first.
	AuthorityHistory(ctx context.Context, code string) ([]schemas.AuthorityChange, error)
	// ListRegistryAuthorities returns a page of the entries a filter selects.
	ListRegistryAuthorities(ctx context.Context, f schemas.AuthorityFilter) (schemas.AuthorityPage, error)
	// PendingAuthorityChanges returns an entry's scheduled changes, soonest first, without tokens.
	PendingAuthorityChanges(ctx context.Context, code string) ([]schemas.PendingAuthorityChange, error)
	// ScheduleAuthorityChange keeps a change until its effective time and records the scheduling.
	ScheduleAuthorityChange(ctx context.Context, p schemas.PendingAuthorityChange, ifVersion int64) (schemas.AuthorityChange, error)
	// CancelPendingAuthorityChange withdraws a scheduled change (schemas.ErrNotFound when it is
	// not pending) and records it.
	CancelPendingAuthorityChange(ctx context.Context, code string, id int64, m schemas.AuthorityChangeMeta) (schemas.AuthorityChange, error)
	// ApplyDueAuthorityChanges applies each due scheduled change exactly once, with resolve making
	// (or refusing) its new entry.
	ApplyDueAuthorityChanges(ctx context.Context, now time.Time, limit int,
		resolve func(ctx context.Context, cur schemas.Authority, p schemas.PendingAuthorityChange) (after schemas.Authority, refusal string, err error),
	) ([]schemas.AuthorityChange, error)
}

// Paging of List and Directory.
const (
	DefaultPerPage = 20
	MaxPerPage     = 200
)

// Limits of imports and of the scheduled changes.
const (
	// MaxRetries bounds how often an import is prepared and made again after another change of an
	// entry of the file came in between.
	MaxRetries = 5
	// DueBatch bounds the scheduled changes one ApplyDue applies.
	DueBatch = 100
)

// Service changes and reads the registry. It is safe for concurrent use.
type Service struct {
	store     Store
	validator Validator
	clock     clock.Clock
}

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock that decides whether a change is due now or scheduled, and when
// scheduled changes are due. Defaults to the real clock.
func WithClock(c clock.Clock) Option {
	return func(s *Service) { s.clock = clock.OrReal(c) }
}

// New returns a registry over st; adapters are the registered adapter names.
func New(st Store, adapters []string, opts ...Option) *Service {
	s := &Service{store: st, validator: Validator{Adapters: append([]string{}, adapters...)}, clock: clock.Real{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Validator returns the validator the service uses.
func (s *Service) Validator() Validator { return s.validator }

func invalid(detail string, ps []schemas.FieldProblem) error {
	return &schemas.Error{Code: schemas.CodeSchemaViolation, Detail: detail, Fields: ps}
}

func notFound(code string) error {
	return &schemas.Error{Code: schemas.CodeNotFound, Detail: fmt.Sprintf("no authority %s in the registry", code)}
}

func conflict(code string, version int64) error {
	return &schemas.Error{Code: schemas.CodeVersionConflict, Err: schemas.ErrVersionConflict,
		Detail: fmt.Sprintf("authority %s changed since version %d was read: read it again", code, version)}
}

func checkMeta(m schemas.AuthorityChangeMeta) error {
	if m.By == "" {
		return errors.New("registry change: who makes it is required")
	}
	return nil
}

// entry returns the entry of code without its scheduled changes (not_found when there is none).
func (s *Service) entry(ctx context.Context, code string) (schemas.Authority, error) {
	a, err := s.store.RegistryAuthority(ctx, code)
	if errors.Is(err, schemas.ErrNotFound) {
		return a, notFound(code)
	}
	if err != nil {
		return a, fmt.Errorf("read authority: %w: %w", schemas.ErrUnavailable, err)
	}
	return a, nil
}

// Get returns the entry of code with its scheduled changes (not_found when there is none).
func (s *Service) Get(ctx context.Context, code string) (schemas.Authority, error) {
	a, err := s.entry(ctx, code)
	if err != nil {
		return a, err
	}
	if a.Pending, err = s.store.PendingAuthorityChanges(ctx, code); err != nil {
		return a, fmt.Errorf("read scheduled changes: %w: %w", schemas.ErrUnavailable, err)
	}
	return a, nil
}

// exists reports whether code is registered.
func (s *Service) exists(ctx context.Context, code string) (bool, error) {
	_, err := s.store.RegistryAuthority(ctx, code)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, schemas.ErrNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("read authority: %w: %w", schemas.ErrUnavailable, err)
	}
}

// check validates a and that its parent and successor exist (registered, or in batch).
func (s *Service) check(ctx context.Context, a schemas.Authority, batch map[string]bool) ([]schemas.FieldProblem, error) {
	ps := s.validator.Check(a)
	for _, ref := range []struct{ field, code string }{{"parent", a.Parent}, {"successor", a.Successor}} {
		if ref.code == "" || ref.code == a.Code || CheckEDRPOU(ref.code) != nil || batch[ref.code] {
			continue
		}
		ok, err := s.exists(ctx, ref.code)
		if err != nil {
			return nil, err
		}
		if !ok {
			ps = append(ps, schemas.FieldProblem{Pointer: "/" + ref.field, Message: fmt.Sprintf("no authority %s in the registry", ref.code)})
		}
	}
	return ps, nil
}

// storeErr turns the store's refusals of a change of code into the registry's.
func storeErr(action, code string, ifVersion int64, err error) error {
	switch {
	case errors.Is(err, schemas.ErrNotFound):
		return notFound(code)
	case errors.Is(err, schemas.ErrVersionConflict):
		return conflict(code, ifVersion)
	}
	return fmt.Errorf("%s authority: %w: %w", action, schemas.ErrUnavailable, err)
}

// Add registers a new authority. Mode, status and calendar default to push, active and
// DefaultCalendar. An effective time, even a later one, is only recorded: a new entry takes part
// at once.
func (s *Service) Add(ctx context.Context, a schemas.Authority, m schemas.AuthorityChangeMeta) (schemas.Authority, error) {
	if err := checkMeta(m); err != nil {
		return a, err
	}
	a = normalize(a)
	ps, err := s.check(ctx, a, nil)
	if err != nil {
		return a, err
	}
	if len(ps) == 0 {
		dup, err := s.exists(ctx, a.Code)
		if err != nil {
			return a, err
		}
		if dup {
			ps = append(ps, schemas.FieldProblem{Pointer: "/code", Message: "already registered: use update"})
		}
	}
	if len(ps) > 0 {
		return a, invalid("the authority is not valid", ps)
	}
	recorded, err := s.store.ApplyAuthorityChanges(ctx, []schemas.AuthorityChange{{
		Code: a.Code, Action: schemas.ActionAdd, ChangedBy: m.By, EffectiveAt: m.EffectiveAt, Reason: m.Reason, After: &a}})
	if err != nil {
		return schemas.Authority{}, storeErr(schemas.ActionAdd, a.Code, 0, err)
	}
	return *recorded[0].After, nil
}

// Update changes the fields p sets. Status changes go through Suspend, Resume and Close.
//
// Like Suspend, Resume and Close, it is applied at once, or, when m.EffectiveAt is later than now,
// validated against the entry as it stands and scheduled: the entry is returned as it stands,
// with the scheduled change also returned (and in Pending). m.IfVersion, when positive, must be
// the entry's version (else version_conflict). A change is made under the entry's row lock, on
// the entry as the changes before it left it: without m.IfVersion, concurrent changes of
// different fields are all kept.
func (s *Service) Update(ctx context.Context, code string, p schemas.AuthorityPatch, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error) {
	if p.Status != nil || p.Successor != nil {
		return schemas.Authority{}, nil, invalid("the status changes by suspend, resume or close",
			[]schemas.FieldProblem{{Pointer: "/status", Message: "not changeable by update"}})
	}
	return s.change(ctx, code, schemas.PendingAuthorityChange{Action: schemas.ActionUpdate, Patch: &p}, m)
}

// Suspend stops deliveries to an authority; they wait until it is resumed (see Update for
// scheduling and versions).
func (s *Service) Suspend(ctx context.Context, code string, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error) {
	return s.change(ctx, code, schemas.PendingAuthorityChange{Action: schemas.ActionSuspend}, m)
}

// Resume makes a suspended authority active again (see Update for scheduling and versions).
func (s *Service) Resume(ctx context.Context, code string, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error) {
	return s.change(ctx, code, schemas.PendingAuthorityChange{Action: schemas.ActionResume}, m)
}

// Close closes an authority for good, naming its successor if it has one (which must exist). See
// Update for scheduling and versions.
func (s *Service) Close(ctx context.Context, code, successor string, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error) {
	return s.change(ctx, code, schemas.PendingAuthorityChange{Action: schemas.ActionClose, Successor: successor}, m)
}

// change makes c (an update with its Patch, or a status change) to the entry of code: at once, or
// scheduled when m.EffectiveAt is later than now.
func (s *Service) change(ctx context.Context, code string, c schemas.PendingAuthorityChange, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error) {
	if err := checkMeta(m); err != nil {
		return schemas.Authority{}, nil, err
	}
	c.Code = code
	if m.EffectiveAt.After(s.clock.Now()) {
		cur, err := s.entry(ctx, code)
		if err != nil {
			return cur, nil, err
		}
		if m.IfVersion > 0 && cur.Version != m.IfVersion {
			return cur, nil, conflict(code, m.IfVersion)
		}
		if a, err := s.resolve(ctx, cur, c); err != nil {
			return a, nil, err
		}
		return s.schedule(ctx, c, m)
	}
	recorded, err := s.store.ChangeAuthority(ctx, schemas.AuthorityChange{Code: code, Action: c.Action, ChangedBy: m.By,
		EffectiveAt: m.EffectiveAt, Reason: m.Reason, IfVersion: m.IfVersion},
		func(ctx context.Context, cur schemas.Authority) (schemas.Authority, error) {
			return s.resolve(ctx, cur, c)
		})
	if perr, ok := errors.AsType[*schemas.Error](err); ok {
		return schemas.Authority{}, nil, perr
	}
	if err != nil {
		return schemas.Authority{}, nil, storeErr(c.Action, code, m.IfVersion, err)
	}
	return *recorded.After, nil, nil
}

// resolve returns the entry c makes of cur, validated: a refusal is a schema_violation.
func (s *Service) resolve(ctx context.Context, cur schemas.Authority, c schemas.PendingAuthorityChange) (schemas.Authority, error) {
	if c.Action == schemas.ActionUpdate {
		var p schemas.AuthorityPatch
		if c.Patch != nil {
			p = *c.Patch
		}
		a := normalize(p.Apply(cur))
		ps, err := s.check(ctx, a, nil)
		if err != nil {
			return a, err
		}
		if len(ps) > 0 {
			return a, invalid("the change would make the authority invalid", ps)
		}
		return a, nil
	}
	status := map[string]string{schemas.ActionSuspend: schemas.AuthoritySuspended, schemas.ActionResume: schemas.AuthorityActive,
		schemas.ActionClose: schemas.AuthorityClosed}[c.Action]
	if status == "" {
		return cur, fmt.Errorf("registry change: unknown action %q", c.Action)
	}
	if cur.Status == schemas.AuthorityClosed && c.Action != schemas.ActionClose {
		return cur, invalid("the authority is closed", []schemas.FieldProblem{{Pointer: "/status", Message: "a closed authority cannot be " + c.Action + "d"}})
	}
	cur.Status, cur.Successor = status, c.Successor
	// Only what changes is checked: an entry seeded from the configuration, not yet fully
	// described, can still be suspended or closed.
	var ps []schemas.FieldProblem
	for _, p := range s.validator.Check(cur) {
		if p.Pointer == "/successor" {
			ps = append(ps, p)
		}
	}
	if c.Successor != "" && len(ps) == 0 {
		ok, err := s.exists(ctx, c.Successor)
		if err != nil {
			return cur, err
		}
		if !ok {
			ps = append(ps, schemas.FieldProblem{Pointer: "/successor", Message: fmt.Sprintf("no authority %s in the registry", c.Successor)})
		}
	}
	if len(ps) > 0 {
		return cur, invalid("the successor is not valid", ps)
	}
	return cur, nil
}

// schedule keeps c until m.EffectiveAt and returns the entry as it stands and the scheduled change.
func (s *Service) schedule(ctx context.Context, c schemas.PendingAuthorityChange, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error) {
	c.EffectiveAt, c.CreatedBy, c.Reason = m.EffectiveAt, m.By, m.Reason
	recorded, err := s.store.ScheduleAuthorityChange(ctx, c, m.IfVersion)
	if err != nil {
		return schemas.Authority{}, nil, storeErr(c.Action, c.Code, m.IfVersion, err)
	}
	a, err := s.Get(ctx, c.Code)
	return a, recorded.Pending, err
}

// Cancel withdraws the scheduled change id of code (not_found when it is not pending: applied,
// cancelled, or another authority's) and returns the entry. m.IfVersion, when positive, must be the
// entry's version.
func (s *Service) Cancel(ctx context.Context, code string, id int64, m schemas.AuthorityChangeMeta) (schemas.Authority, error) {
	if err := checkMeta(m); err != nil {
		return schemas.Authority{}, err
	}
	if _, err := s.store.CancelPendingAuthorityChange(ctx, code, id, m); err != nil {
		if errors.Is(err, schemas.ErrNotFound) {
			return schemas.Authority{}, &schemas.Error{Code: schemas.CodeNotFound,
				Detail: fmt.Sprintf("no scheduled change %d of authority %s", id, code)}
		}
		return schemas.Authority{}, storeErr(schemas.ActionCancel, code, m.IfVersion, err)
	}
	return s.Get(ctx, code)
}

// ApplyDue applies the scheduled changes whose effective time has come by the service's clock
// (at most DueBatch of them), each exactly once even with several hub processes calling it at once,
// and returns what it recorded. A change no longer valid on the entry as it now stands (a resume of
// an authority closed meanwhile, a parent gone) is dropped, and the history says why. Hub processes
// call it from their periodic registry sync.
func (s *Service) ApplyDue(ctx context.Context) ([]schemas.AuthorityChange, error) {
	changes, err := s.store.ApplyDueAuthorityChanges(ctx, s.clock.Now(), DueBatch,
		func(ctx context.Context, cur schemas.Authority, p schemas.PendingAuthorityChange) (schemas.Authority, string, error) {
			a, err := s.resolve(ctx, cur, p)
			if perr, ok := errors.AsType[*schemas.Error](err); ok {
				return a, refusal(perr), nil
			}
			return a, "", err
		})
	if err != nil {
		return changes, fmt.Errorf("apply scheduled registry changes: %w: %w", schemas.ErrUnavailable, err)
	}
	return changes, nil
}

// refusal words a refused scheduled change for the history.
func refusal(perr *schemas.Error) string {
	parts := make([]string, 0, len(perr.Fields))
	for _, f := range perr.Fields {
		parts = append(parts, strings.TrimPrefix(f.Pointer, "/")+": "+f.Message)
	}
	return "not applicable at its effective time: " + perr.Detail + " (" + strings.Join(parts, "; ") + ")"
}

// History returns the changes of an authority, oldest first (not_found for an unknown code).
func (s *Service) History(ctx context.Context, code string) ([]schemas.AuthorityChange, error) {
	if _, err := s.entry(ctx, code); err != nil {
		return nil, err
	}
	h, err := s.store.AuthorityHistory(ctx, code)
	if err != nil {
		return nil, fmt.Errorf("read history: %w: %w", schemas.ErrUnavailable, err)
	}
	return h, nil
}

// checkFilter validates the filter's values and fills TerritoryPrefix and the paging defaults.
func checkFilter(f schemas.AuthorityFilter) (schemas.AuthorityFilter, error) {
	var ps []schemas.FieldProblem
	if f.Territory != "" {
		prefix, err := TerritoryPrefix(f.Territory)
		if err != nil {
			ps = append(ps, schemas.FieldProblem{Pointer: "/territory", Message: err.Error()})
		}
		f.TerritoryPrefix = prefix
	}
	if f.Kind != "" && !contains(schemas.AuthorityKinds(), f.Kind) {
		ps = append(ps, schemas.FieldProblem{Pointer: "/kind", Message: "unknown kind"})
	}
	if f.Topic != "" && f.Topic != schemas.AnyTopic && !topicShape.MatchString(f.Topic) {
		ps = append(ps, schemas.FieldProblem{Pointer: "/topic", Message: "must be a lowercase word"})
	}
	if f.Status != "" && !contains(knownStatuses, f.Status) {
		ps = append(ps, schemas.FieldProblem{Pointer: "/status", Message: "unknown status"})
	}
	if len([]rune(f.Query)) > 200 {
		ps = append(ps, schemas.FieldProblem{Pointer: "/q", Message: "must be at most 200 characters"})
	}
	if f.Offset < 0 {
		ps = append(ps, schemas.FieldProblem{Pointer: "/page", Message: "out of range"})
	}
	if f.Limit < 0 || f.Limit > MaxPerPage {
		ps = append(ps, schemas.FieldProblem{Pointer: "/per_page", Message: fmt.Sprintf("must be from 1 to %d", MaxPerPage)})
	}
	if len(ps) > 0 {
		return f, invalid("the query is not valid", ps)
	}
	return f, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// List returns a page of registry entries (every status unless the filter names one). A zero
// Limit lists everything.
func (s *Service) List(ctx context.Context, f schemas.AuthorityFilter) (schemas.AuthorityPage, error) {
	f, err := checkFilter(f)
	if err != nil {
		return schemas.AuthorityPage{}, err
	}
	page, err := s.store.ListRegistryAuthorities(ctx, f)
	if err != nil {
		return page, fmt.Errorf("list authorities: %w: %w", schemas.ErrUnavailable, err)
	}
	return page, nil
}

// Directory is the public directory: only active authorities that accept some case kind, matched
// by name words, territory (a code and everything under it, see TerritoryPrefix), kind and topic.
// A zero Limit is DefaultPerPage.
// DirectoryCountLimit is where the directory stops counting matches: a search as broad as "рада"
// answers "1000 or more" instead of reading every matching entry.
const DirectoryCountLimit = 1000

func (s *Service) Directory(ctx context.Context, f schemas.AuthorityFilter) (schemas.AuthorityPage, error) {
	f.Directory, f.Status, f.Parent = true, "", ""
	f.CountLimit = DirectoryCountLimit
	if f.Limit == 0 {
		f.Limit = DefaultPerPage
	}
	page, err := s.List(ctx, f)
	for i := range page.Items {
		page.Items[i].Token, page.Items[i].Endpoint, page.Items[i].TLSClient = "", "", ""
	}
	return page, err
}

// Import applies every row, all or none: each row creates its authority or changes the fields the
// file gives. Any invalid row (every problem of every row is reported, with its line) fails the
// whole import with a schema_violation *schemas.Error wrapping an *ImportError. An entry another
// change altered while the import was being prepared is read again, and the import made again
// (up to MaxRetries times). Effective times are only recorded: an import applies at once. It
// returns how many rows were applied.
func (s *Service) Import(ctx context.Context, rows []Row, m schemas.AuthorityChangeMeta) (int, error) {
	if err := checkMeta(m); err != nil {
		return 0, err
	}
	for attempt := 1; ; attempt++ {
		changes, err := s.importChanges(ctx, rows, m)
		if err != nil || len(changes) == 0 {
			return 0, err
		}
		_, err = s.store.ApplyAuthorityChanges(ctx, changes)
		if errors.Is(err, schemas.ErrVersionConflict) && attempt < MaxRetries {
			continue
		}
		if errors.Is(err, schemas.ErrVersionConflict) {
			return 0, &schemas.Error{Code: schemas.CodeVersionConflict, Err: err,
				Detail: "entries of the file kept changing while it was imported: import it again"}
		}
		if err != nil {
			return 0, fmt.Errorf("import authorities: %w: %w", schemas.ErrUnavailable, err)
		}
		return len(changes), nil
	}
}

// importChanges validates the rows against the registry as it stands and returns their changes,
// each made against the version of the entry it changes.
func (s *Service) importChanges(ctx context.Context, rows []Row, m schemas.AuthorityChangeMeta) ([]schemas.AuthorityChange, error) {
	batch := make(map[string]bool, len(rows))
	firstLine := make(map[string]int, len(rows))
	var problems []RowProblem
	for _, r := range rows {
		if r.Code == "" {
			continue
		}
		if l, dup := firstLine[r.Code]; dup {
			problems = append(problems, RowProblem{Line: r.Line, Code: r.Code, Field: "code", Message: fmt.Sprintf("also on line %d", l)})
			continue
		}
		firstLine[r.Code] = r.Line
		batch[r.Code] = true
	}
	all, err := s.store.ListRegistryAuthorities(ctx, schemas.AuthorityFilter{})
	if err != nil {
		return nil, fmt.Errorf("read registry: %w: %w", schemas.ErrUnavailable, err)
	}
	known := make(map[string]schemas.Authority, len(all.Items))
	for _, a := range all.Items {
		known[a.Code] = a
		batch[a.Code] = true
	}
	changes := make([]schemas.AuthorityChange, 0, len(rows))
	for _, r := range rows {
		problems = append(problems, r.Problems...)
		cur, ok := known[r.Code]
		if !ok {
			cur = schemas.Authority{Code: r.Code}
		}
		a := normalize(r.Patch.Apply(cur))
		a.Code = r.Code
		ps, err := s.check(ctx, a, batch)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			problems = append(problems, RowProblem{Line: r.Line, Code: r.Code, Field: p.Pointer[min(1, len(p.Pointer)):], Message: p.Message})
		}
		changes = append(changes, schemas.AuthorityChange{Code: a.Code, Action: schemas.ActionImport, ChangedBy: m.By,
			EffectiveAt: m.EffectiveAt, Reason: m.Reason, After: &a, IfVersion: cur.Version})
	}
	if len(problems) > 0 {
		ie := &ImportError{Problems: problems}
		return nil, &schemas.Error{Code: schemas.CodeSchemaViolation, Detail: ie.Error(), Fields: ie.Fields(), Err: ie}
	}
	return changes, nil
}

// ImportFile parses r as format (FormatCSV or FormatYAML) and imports it (see Import). A file
// that cannot be parsed at all fails like an invalid row.
func (s *Service) ImportFile(ctx context.Context, format string, r io.Reader, m schemas.AuthorityChangeMeta) (int, error) {
	rows, err := Parse(format, r)
	if err != nil {
		if ie, ok := errors.AsType[*ImportError](err); ok {
			return 0, &schemas.Error{Code: schemas.CodeSchemaViolation, Detail: ie.Error(), Fields: ie.Fields(), Err: ie}
		}
		return 0, err
	}
	return s.Import(ctx, rows, m)
}

// Export writes every entry (all statuses) as format, ordered by name. Tokens are never written.
func (s *Service) Export(ctx context.Context, format string, w io.Writer) error {
	page, err := s.List(ctx, schemas.AuthorityFilter{})
	if err != nil {
		return err
	}
	return Write(format, w, page.Items)
}
