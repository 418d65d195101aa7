// Package registry is the authority registry: the hub's source of truth for who can receive what
// (DESIGN.md §3). It validates entries (EDRPOU check digit, KATOTTG territory, kind, parent,
// registered adapter, mode, status, accepted case kinds, topics), reports every problem at once
// with its field path, reads and writes CSV and YAML files with line-numbered problems, and records
// every change with who made it, when it takes effect and why. It declares the small Store it needs;
// internal/store implements it.
package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"appealhub/schemas"
)

// Store keeps the registry. internal/store.Store implements it.
type Store interface {
	// RegistryAuthority returns an entry; a missing one is an error wrapping schemas.ErrNotFound.
	RegistryAuthority(ctx context.Context, code string) (schemas.Authority, error)
	// ApplyAuthorityChanges writes every change (After) with its history row, all or none.
	ApplyAuthorityChanges(ctx context.Context, changes []schemas.AuthorityChange) ([]schemas.AuthorityChange, error)
	// AuthorityHistory returns an entry's changes, oldest first.
	AuthorityHistory(ctx context.Context, code string) ([]schemas.AuthorityChange, error)
	// ListRegistryAuthorities returns a page of the entries a filter selects.
	ListRegistryAuthorities(ctx context.Context, f schemas.AuthorityFilter) (schemas.AuthorityPage, error)
}

// Paging of List and Directory.
const (
	DefaultPerPage = 20
	MaxPerPage     = 200
)

// Service changes and reads the registry. It is safe for concurrent use.
type Service struct {
	store     Store
	validator Validator
	now       func() time.Time
}

// New returns a registry over st; adapters are the registered adapter names.
func New(st Store, adapters []string) *Service {
	return &Service{store: st, validator: Validator{Adapters: append([]string{}, adapters...)}, now: time.Now}
}

// Validator returns the validator the service uses.
func (s *Service) Validator() Validator { return s.validator }

func invalid(detail string, ps []schemas.FieldProblem) error {
	return &schemas.Error{Code: schemas.CodeSchemaViolation, Detail: detail, Fields: ps}
}

func notFound(code string) error {
	return &schemas.Error{Code: schemas.CodeNotFound, Detail: fmt.Sprintf("no authority %s in the registry", code)}
}

func checkMeta(m schemas.AuthorityChangeMeta) error {
	if m.By == "" {
		return errors.New("registry change: who makes it is required")
	}
	return nil
}

// Get returns the entry of code (not_found when there is none).
func (s *Service) Get(ctx context.Context, code string) (schemas.Authority, error) {
	a, err := s.store.RegistryAuthority(ctx, code)
	if errors.Is(err, schemas.ErrNotFound) {
		return a, notFound(code)
	}
	if err != nil {
		return a, fmt.Errorf("read authority: %w: %w", schemas.ErrUnavailable, err)
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

func (s *Service) write(ctx context.Context, action string, a schemas.Authority, m schemas.AuthorityChangeMeta) (schemas.Authority, error) {
	recorded, err := s.store.ApplyAuthorityChanges(ctx, []schemas.AuthorityChange{{
		Code: a.Code, Action: action, ChangedBy: m.By, EffectiveAt: m.EffectiveAt, Reason: m.Reason, After: &a}})
	if errors.Is(err, schemas.ErrNotFound) {
		return schemas.Authority{}, notFound(a.Code)
	}
	if err != nil {
		return schemas.Authority{}, fmt.Errorf("%s authority: %w: %w", action, schemas.ErrUnavailable, err)
	}
	return *recorded[0].After, nil
}

// Add registers a new authority. Mode and status default to push and active.
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
	return s.write(ctx, schemas.ActionAdd, a, m)
}

// Update changes the fields p sets. Status changes go through Suspend, Resume and Close.
func (s *Service) Update(ctx context.Context, code string, p schemas.AuthorityPatch, m schemas.AuthorityChangeMeta) (schemas.Authority, error) {
	if err := checkMeta(m); err != nil {
		return schemas.Authority{}, err
	}
	if p.Status != nil || p.Successor != nil {
		return schemas.Authority{}, invalid("the status changes by suspend, resume or close",
			[]schemas.FieldProblem{{Pointer: "/status", Message: "not changeable by update"}})
	}
	cur, err := s.Get(ctx, code)
	if err != nil {
		return cur, err
	}
	a := normalize(p.Apply(cur))
	ps, err := s.check(ctx, a, nil)
	if err != nil {
		return a, err
	}
	if len(ps) > 0 {
		return a, invalid("the change would make the authority invalid", ps)
	}
	return s.write(ctx, schemas.ActionUpdate, a, m)
}

func (s *Service) setStatus(ctx context.Context, action, code, status, successor string, m schemas.AuthorityChangeMeta) (schemas.Authority, error) {
	if err := checkMeta(m); err != nil {
		return schemas.Authority{}, err
	}
	cur, err := s.Get(ctx, code)
	if err != nil {
		return cur, err
	}
	if cur.Status == schemas.AuthorityClosed && action != schemas.ActionClose {
		return cur, invalid("the authority is closed", []schemas.FieldProblem{{Pointer: "/status", Message: "a closed authority cannot be " + action + "d"}})
	}
	cur.Status, cur.Successor = status, successor
	// Only what changes is checked: an entry seeded from the configuration, not yet fully
	// described, can still be suspended or closed.
	var ps []schemas.FieldProblem
	for _, p := range s.validator.Check(cur) {
		if p.Pointer == "/successor" {
			ps = append(ps, p)
		}
	}
	if successor != "" && len(ps) == 0 {
		ok, err := s.exists(ctx, successor)
		if err != nil {
			return cur, err
		}
		if !ok {
			ps = append(ps, schemas.FieldProblem{Pointer: "/successor", Message: fmt.Sprintf("no authority %s in the registry", successor)})
		}
	}
	if len(ps) > 0 {
		return cur, invalid("the successor is not valid", ps)
	}
	return s.write(ctx, action, cur, m)
}

// Suspend stops deliveries to an authority; they wait until it is resumed.
func (s *Service) Suspend(ctx context.Context, code string, m schemas.AuthorityChangeMeta) (schemas.Authority, error) {
	return s.setStatus(ctx, schemas.ActionSuspend, code, schemas.AuthoritySuspended, "", m)
}

// Resume makes a suspended authority active again.
func (s *Service) Resume(ctx context.Context, code string, m schemas.AuthorityChangeMeta) (schemas.Authority, error) {
	return s.setStatus(ctx, schemas.ActionResume, code, schemas.AuthorityActive, "", m)
}

// Close closes an authority for good, naming its successor if it has one (which must exist).
func (s *Service) Close(ctx context.Context, code, successor string, m schemas.AuthorityChangeMeta) (schemas.Authority, error) {
	return s.setStatus(ctx, schemas.ActionClose, code, schemas.AuthorityClosed, successor, m)
}

// History returns the changes of an authority, oldest first (not_found for an unknown code).
func (s *Service) History(ctx context.Context, code string) ([]schemas.AuthorityChange, error) {
	if _, err := s.Get(ctx, code); err != nil {
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
// whole import with a schema_violation *schemas.Error wrapping an *ImportError. It returns how
// many rows were applied.
func (s *Service) Import(ctx context.Context, rows []Row, m schemas.AuthorityChangeMeta) (int, error) {
	if err := checkMeta(m); err != nil {
		return 0, err
	}
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
		return 0, fmt.Errorf("read registry: %w: %w", schemas.ErrUnavailable, err)
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
			return 0, err
		}
		for _, p := range ps {
			problems = append(problems, RowProblem{Line: r.Line, Code: r.Code, Field: p.Pointer[min(1, len(p.Pointer)):], Message: p.Message})
		}
		changes = append(changes, schemas.AuthorityChange{Code: a.Code, Action: schemas.ActionImport, ChangedBy: m.By,
			EffectiveAt: m.EffectiveAt, Reason: m.Reason, After: &a})
	}
	if len(problems) > 0 {
		ie := &ImportError{Problems: problems}
		return 0, &schemas.Error{Code: schemas.CodeSchemaViolation, Detail: ie.Error(), Fields: ie.Fields(), Err: ie}
	}
	if len(changes) == 0 {
		return 0, nil
	}
	if _, err := s.store.ApplyAuthorityChanges(ctx, changes); err != nil {
		return 0, fmt.Errorf("import authorities: %w: %w", schemas.ErrUnavailable, err)
	}
	return len(changes), nil
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
