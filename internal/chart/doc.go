// Package chart draws small, self-contained SVG charts for server-rendered pages: Line for values
// over time (one or more series sharing their x labels) and Bars for a ranked list (one horizontal
// bar per point). It is pure: no I/O but the io.Writer it is given, no clock, no global state.
//
// # Output
//
// Each call writes one <svg> element (SVG 1.1: xmlns, version, width, height, viewBox), with a
// <title> for assistive technology and a <title> tooltip on every point or bar. It uses
// presentation attributes only: no <style> (which would leak into the page that inlines it), no
// script, no foreignObject, no ids, no links and no external references, so several charts can sit
// on one page and the element can be inlined into HTML (for example as html/template's
// template.HTML) or served as an image/svg+xml file. Every text that comes from the caller —
// titles, series names, labels — is escaped with encoding/xml's EscapeText, which also replaces
// invalid UTF-8 and characters XML does not allow; a label such as `<script>` comes out as text.
// The output depends only on the input: the same call writes the same bytes.
//
// # Values
//
// A value is a float64 in the chart's Unit: a count (the default), a percentage on a 0–100 scale
// (UnitPercent) or a duration in seconds (UnitDuration, formatted as "3 d 4 h"). NaN means "no
// value": a line has a gap there and a bar is left out, with "no data" in its place. Negative
// values, infinities and values above MaxValue are refused with ErrValue, and nothing is written.
// A chart with no points, or a line chart with only NaN, is drawn as a frame saying "No data".
//
// # Layout
//
// The y axis (x axis for Bars) starts at 0 and ends at a "nice" tick: steps of 1, 2 or 5 × 10^n
// (whole numbers for counts; 0–100 for percentages; seconds, minutes, hours and days for
// durations). Labels longer than Options.MaxLabel runes are cut with "…" (the tooltip keeps more of
// them); x labels are thinned so that they do not overlap when there are many points. Series take
// their colours from a fixed palette of MaxSeries colours whose grey levels differ, and each series
// also has its own dash pattern, so that a chart printed in greyscale still reads.
package chart
