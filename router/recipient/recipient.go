package recipient

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"appealhub/schemas"
)

// Rule names: stable strings stored on deliveries and shown to the portal. Never rename one.
const (
	// RuleExplicit: the submission names the authority as an addressee.
	RuleExplicit = "explicit"
	// RuleTopicTerritory: the most specific authority competent for the topic in the territory.
	RuleTopicTerritory = "topic_territory"
	// RuleParentFallback: the parent body of the most specific competent authority, which cannot
	// receive the submission itself.
	RuleParentFallback = "parent_fallback"
	// RuleComplaintParent: the superior body of the body a complaint is against.
	RuleComplaintParent = "complaint_parent"
)

// Rules returns every rule name.
func Rules() []string {
	return []string{RuleExplicit, RuleTopicTerritory, RuleParentFallback, RuleComplaintParent}
}

// Candidates is what the resolver reads from the authority registry. Implementations are safe for
// concurrent use; errors are failures to read (the submission may be retried), never refusals.
type Candidates interface {
	// RoutingCandidates returns the authorities, whatever their status, competent for topic
	// (listing it or schemas.AnyTopic) whose territory is exactly one of territories or whose kind
	// is central.
	RoutingCandidates(ctx context.Context, topic string, territories []string) ([]schemas.Authority, error)
	// RoutingEntries returns the registry entries of codes, whatever their status; a code not in
	// the registry is absent from the map.
	RoutingEntries(ctx context.Context, codes []string) (map[string]schemas.Authority, error)
}

// maxParentDepth bounds a walk up the parent chain: the registry has no cycles, but the walk does
// not rely on it.
const maxParentDepth = 16

// Resolver chooses the authorities of submissions (see the package documentation for the rules).
// It is safe for concurrent use.
type Resolver struct {
	reg Candidates
}

// New returns a Resolver reading the registry through reg.
func New(reg Candidates) *Resolver { return &Resolver{reg: reg} }

// Resolve returns the authorities sub goes to, each once, with the rule that chose it. A
// submission that cannot be routed is refused with a *schemas.Error (unknown_addressee,
// addressee_inactive, routing_unavailable); any other error is a failure to read the registry.
func (r *Resolver) Resolve(ctx context.Context, sub schemas.Submission) ([]schemas.Recipient, error) {
	if len(sub.Addressees) > 0 {
		return r.explicit(ctx, sub)
	}
	if sub.Topic == "" || sub.Territory == "" {
		return nil, &schemas.Error{Code: schemas.CodeRoutingUnavailable, Detail: "name the addressees, or give a topic and a territory",
			Fields: []schemas.FieldProblem{{Pointer: "/addressees", Message: "required without topic and territory"}}}
	}
	return r.byTopic(ctx, sub)
}

// complaintAgainst returns the body sub complains about, or "" when it is not a complaint.
func complaintAgainst(sub schemas.Submission) string {
	if sub.CaseKind != schemas.CaseAppeal || sub.AppealKind != schemas.AppealComplaint {
		return ""
	}
	return sub.ComplaintAgainst
}

func (r *Resolver) explicit(ctx context.Context, sub schemas.Submission) ([]schemas.Recipient, error) {
	entries, err := r.reg.RoutingEntries(ctx, sub.Addressees)
	if err != nil {
		return nil, fmt.Errorf("read addressees: %w", err)
	}
	against := complaintAgainst(sub)
	var unknown, inactive, unroutable []schemas.FieldProblem
	var out []schemas.Recipient
	for i, code := range sub.Addressees {
		pointer := fmt.Sprintf("/addressees/%d", i)
		a, ok := entries[code]
		switch {
		case !ok:
			unknown = append(unknown, schemas.FieldProblem{Pointer: pointer, Message: fmt.Sprintf("authority %s is not in the registry", code)})
		case code == against:
			p, err := r.receivingParent(ctx, a, sub.CaseKind, "", against)
			if err != nil {
				return nil, err
			}
			if p == nil {
				unroutable = append(unroutable, schemas.FieldProblem{Pointer: pointer, Message: fmt.Sprintf(
					"the complaint is against authority %s, which may not receive it, and none of its superior bodies can", code)})
				continue
			}
			out = append(out, complaintRecipient(*p, a, true))
		case a.Status != schemas.AuthorityActive:
			inactive = append(inactive, schemas.FieldProblem{Pointer: pointer, Message: fmt.Sprintf("authority %s is %s", code, a.Status)})
		case !slices.Contains(a.Accepts, string(sub.CaseKind)):
			inactive = append(inactive, schemas.FieldProblem{Pointer: pointer,
				Message: fmt.Sprintf("authority %s does not accept %s submissions", code, sub.CaseKind)})
		default:
			out = append(out, schemas.Recipient{Authority: code, Rule: RuleExplicit, Reason: "named by the submission as an addressee"})
		}
	}
	switch {
	case len(unknown) > 0:
		return nil, &schemas.Error{Code: schemas.CodeUnknownAddressee, Detail: "unknown addressee", Fields: unknown}
	case len(inactive) > 0:
		return nil, &schemas.Error{Code: schemas.CodeAddresseeInactive, Detail: "addressee does not accept this submission now", Fields: inactive}
	case len(unroutable) > 0:
		return nil, &schemas.Error{Code: schemas.CodeRoutingUnavailable,
			Detail: "a complaint never goes to the body it complains about, and no superior body can receive it", Fields: unroutable}
	}
	return dedupe(out), nil
}

// candidate is a competent authority that covers the submission's territory, with its rank.
type candidate struct {
	a        schemas.Authority
	digits   int  // territory level it covers the submission's territory at (National for central)
	kind     int  // local 0, regional 1, central 2
	anyTopic bool // competent through "*" only
}

func kindRank(kind string) (int, bool) {
	switch kind {
	case schemas.AuthorityKindLocal:
		return 0, true
	case schemas.AuthorityKindRegional:
		return 1, true
	case schemas.AuthorityKindCentral:
		return 2, true
	}
	return 0, false // non-state bodies and entries without a kind are never chosen by topic
}

func (c candidate) rank(o candidate) int {
	return cmp.Or(cmp.Compare(o.digits, c.digits), cmp.Compare(c.kind, o.kind), compareBool(c.anyTopic, o.anyTopic))
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func (r *Resolver) byTopic(ctx context.Context, sub schemas.Submission) ([]schemas.Recipient, error) {
	levels := covering(sub.Territory)
	territories := make([]string, len(levels))
	for i, l := range levels {
		territories[i] = l.code
	}
	found, err := r.reg.RoutingCandidates(ctx, sub.Topic, territories)
	if err != nil {
		return nil, fmt.Errorf("read routing candidates: %w", err)
	}
	var cands []candidate
	for _, a := range found {
		kind, ok := kindRank(a.Kind)
		if !ok || a.Status == schemas.AuthorityClosed || !competent(a, sub.Topic) {
			continue
		}
		digits := National
		if a.Kind != schemas.AuthorityKindCentral {
			if digits, ok = coverDigits(a.Territory, sub.Territory); !ok {
				continue
			}
		}
		cands = append(cands, candidate{a: a, digits: digits, kind: kind, anyTopic: !slices.Contains(a.Topics, sub.Topic)})
	}
	slices.SortFunc(cands, func(x, y candidate) int { return cmp.Or(x.rank(y), strings.Compare(x.a.Code, y.a.Code)) })

	against := complaintAgainst(sub)
	var passed []string // why competent bodies were passed over, for the refusal
	for len(cands) > 0 {
		n := 1
		for n < len(cands) && cands[n].rank(cands[0]) == 0 {
			n++
		}
		group := cands[:n]
		cands = cands[n:]

		var direct []schemas.Recipient
		for _, c := range group {
			if c.a.Code != against && receives(c.a, sub.CaseKind) {
				direct = append(direct, topicRecipient(c, sub, len(group)))
			}
		}
		if len(direct) > 0 {
			return direct, nil
		}
		var fallback []schemas.Recipient
		for _, c := range group {
			if c.a.Code == against {
				p, err := r.receivingParent(ctx, c.a, sub.CaseKind, "", against)
				if err != nil {
					return nil, err
				}
				if p == nil {
					passed = append(passed, fmt.Sprintf("%s (%s) is the body complained of and none of its superior bodies can receive it", c.a.Name, c.a.Code))
					continue
				}
				fallback = append(fallback, complaintRecipient(*p, c.a, false))
				continue
			}
			p, err := r.receivingParent(ctx, c.a, sub.CaseKind, sub.Topic, against)
			if err != nil {
				return nil, err
			}
			if p == nil {
				passed = append(passed, fmt.Sprintf("%s (%s) %s and none of its parent bodies can receive it", c.a.Name, c.a.Code, whyNot(c.a, sub.CaseKind)))
				continue
			}
			fallback = append(fallback, schemas.Recipient{Authority: p.Code, Rule: RuleParentFallback, Reason: fmt.Sprintf(
				"parent body of %s (%s), the most specific authority for topic %q in territory %s, which %s",
				c.a.Name, c.a.Code, sub.Topic, sub.Territory, whyNot(c.a, sub.CaseKind))})
		}
		if len(fallback) > 0 {
			return dedupe(fallback), nil
		}
	}
	return nil, unroutable(sub, levels, passed)
}

// unroutable is the refusal of a topic-and-territory submission no rule could route.
func unroutable(sub schemas.Submission, levels []level, passed []string) error {
	var tried []string
	for _, l := range levels {
		tried = append(tried, fmt.Sprintf("%s %s", LevelName(l.digits), TerritoryPrefix(l.code)))
	}
	tried = append(tried, LevelName(National))
	detail := fmt.Sprintf("no authority can receive this %s submission on topic %q in territory %s: tried the levels %s",
		sub.CaseKind, sub.Topic, sub.Territory, strings.Join(tried, ", "))
	if len(passed) == 0 {
		detail += "; no state body is competent for this topic there"
	} else {
		detail += "; " + strings.Join(passed, "; ")
	}
	return &schemas.Error{Code: schemas.CodeRoutingUnavailable, Detail: detail, Fields: []schemas.FieldProblem{
		{Pointer: "/topic", Message: "no authority that can receive it is competent for this topic in this territory"},
		{Pointer: "/territory", Message: "no level of this territory has an authority that can receive it"},
	}}
}

// receivingParent walks up from a's parent to the first body that is active, accepts kind, is
// competent for topic (unless topic is "") and is not the body complained of. It returns nil when
// there is none.
func (r *Resolver) receivingParent(ctx context.Context, a schemas.Authority, kind schemas.CaseKind, topic, against string) (*schemas.Authority, error) {
	seen := map[string]bool{a.Code: true}
	cur := a
	for range maxParentDepth {
		if cur.Parent == "" || seen[cur.Parent] {
			return nil, nil
		}
		seen[cur.Parent] = true
		entries, err := r.reg.RoutingEntries(ctx, []string{cur.Parent})
		if err != nil {
			return nil, fmt.Errorf("read parent body %s: %w", cur.Parent, err)
		}
		p, ok := entries[cur.Parent]
		if !ok {
			return nil, nil
		}
		if p.Code != against && receives(p, kind) && (topic == "" || competent(p, topic)) {
			return &p, nil
		}
		cur = p
	}
	return nil, nil
}

func competent(a schemas.Authority, topic string) bool {
	return slices.Contains(a.Topics, topic) || slices.Contains(a.Topics, schemas.AnyTopic)
}

func receives(a schemas.Authority, kind schemas.CaseKind) bool {
	return a.Status == schemas.AuthorityActive && slices.Contains(a.Accepts, string(kind))
}

// whyNot says why a competent body cannot receive a submission of kind.
func whyNot(a schemas.Authority, kind schemas.CaseKind) string {
	if a.Status != schemas.AuthorityActive {
		return "is " + a.Status
	}
	return fmt.Sprintf("does not accept %s submissions", kind)
}

func topicRecipient(c candidate, sub schemas.Submission, tied int) schemas.Recipient {
	where := fmt.Sprintf("at the %s level (%s)", LevelName(c.digits), TerritoryPrefix(c.a.Territory))
	if c.digits == National {
		where = "at the national level (a central body)"
	}
	competence := fmt.Sprintf("competent for %q", sub.Topic)
	if c.anyTopic {
		competence = "competent for every topic"
	}
	reason := fmt.Sprintf("most specific authority for topic %q in territory %s: %s body %s, %s",
		sub.Topic, sub.Territory, c.a.Kind, where, competence)
	if tied > 1 {
		reason += fmt.Sprintf(" (one of %d equally specific)", tied)
	}
	return schemas.Recipient{Authority: c.a.Code, Rule: RuleTopicTerritory, Reason: reason}
}

func complaintRecipient(parent, against schemas.Authority, named bool) schemas.Recipient {
	how := "would have been chosen"
	if named {
		how = "was named as the addressee"
	}
	return schemas.Recipient{Authority: parent.Code, Rule: RuleComplaintParent, Reason: fmt.Sprintf(
		"superior body of %s (%s), which the complaint is against and %s: a complaint never goes to the body it complains about",
		against.Name, against.Code, how)}
}

// dedupe keeps the first recipient of each authority.
func dedupe(rs []schemas.Recipient) []schemas.Recipient {
	seen := make(map[string]bool, len(rs))
	out := rs[:0:0]
	for _, r := range rs {
		if !seen[r.Authority] {
			seen[r.Authority] = true
			out = append(out, r)
		}
	}
	return out
}
