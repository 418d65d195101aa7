// Package recipient chooses the authorities a submission goes to, and says why: each choice is a
// schemas.Recipient carrying a stable rule name and a sentence, which intake stores on the delivery
// and GET /v1/appeals/{id} shows.
//
// # Explicit addressees
//
// A submission that names addressees goes to each of them (rule "explicit"), once each, in the
// order given; topic and territory are then not used for routing. Each addressee must be in the
// registry (else unknown_addressee), active and accepting the case kind (else addressee_inactive;
// every problem is reported, with the pointer /addressees/<i>).
//
// # Topic and territory
//
// Without addressees, the submission's topic and territory (a KATOTTG code) choose. A candidate is
// a state body (central, regional or local; non-state bodies receive only what names them) that is
// not closed, is competent for the topic (lists it, or "*") and covers the territory: the
// submission's territory lies under the candidate's territory as TerritoryPrefix defines it, and a
// central body covers the whole country whatever its seat. Candidates are ranked, most specific
// first, by
//
//  1. the territory level they cover: the deepest wins (exact code, city district, settlement,
//     community, district, region, then the country), so routing falls back up the territory tree;
//  2. their kind: local before regional before central;
//  3. their competence: one that lists the topic before one with "*".
//
// Within the best rank, the candidates that are active and accept the case kind receive it (rule
// "topic_territory"; equally specific bodies all receive it, one delivery each). When none of them
// can (suspended, or not taking this case kind), each one's nearest parent body that is active,
// accepts the case kind and is competent for the topic receives it instead (rule
// "parent_fallback"). When that finds no one either, the next rank is tried. A submission no rule
// can route is refused with routing_unavailable, whose detail names the topic, the territory, the
// levels tried and why each competent body found was passed over.
//
// # Complaints
//
// The law forbids sending a complaint to the body it complains about. When a complaint (appeal_kind
// complaint) names complaint_against, that body never receives it: wherever it would have been
// chosen, explicitly or by topic and territory, its nearest superior body that is active and accepts
// the case kind receives it instead (rule "complaint_parent"; the topic is not required of it, since
// the superior body reviews the conduct of its subordinate). A complaint that names the body it
// complains about as an addressee is therefore not refused but redirected, and the reason says so;
// when that body has no superior that can receive it, the complaint is refused with
// routing_unavailable at its /addressees/<i> pointer.
package recipient
