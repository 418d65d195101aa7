package chart

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Colours of the chart's frame and texts.
const (
	colourText   = "#1a1a1a"
	colourMuted  = "#595959"
	colourAxis   = "#4d4d4d"
	colourGrid   = "#dcdcdc"
	colourBack   = "#ffffff"
	fontFamily   = "system-ui, sans-serif"
	fontSize     = 12 // legend, labels
	fontSizeAxis = 11 // tick labels
	fontSizeHead = 14 // title
	// charWidth is the estimated width of a character, as a share of the font size.
	charWidth = 0.6
)

// style is how one series is drawn.
type style struct {
	colour string
	dash   string // stroke-dasharray; "" is solid
}

// palette holds one style per series. The colours (Okabe–Ito, colour-blind safe) are ordered so
// that neighbours differ in grey level, and each series also has its own dash pattern, so the
// series stay apart in greyscale.
var palette = [MaxSeries]style{
	{"#0b4f8a", ""},         // dark blue
	{"#e69f00", "8 4"},      // orange
	{"#009e73", "2 3"},      // bluish green
	{"#000000", "10 3 2 3"}, // black
	{"#56b4e9", "4 4"},      // sky blue
	{"#b8420f", "1 2"},      // vermilion, darkened
	{"#cc79a7", "12 4"},     // reddish purple
	{"#5e5e00", "6 2 2 2"},  // dark olive
}

// canvas accumulates an SVG document. Every text from the caller goes through text, which
// escapes it; format strings get only numbers and constants.
type canvas struct {
	b bytes.Buffer
}

// open writes the <svg> start tag, the accessible title and the background.
func (c *canvas) open(w, h int, title string) {
	fmt.Fprintf(&c.b, `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" role="img" font-family="%s" font-size="%d">`+"\n",
		w, h, w, h, fontFamily, fontSize)
	if title == "" {
		title = "Chart"
	}
	c.raw("<title>")
	c.text(cut(title, maxTooltip))
	c.raw("</title>\n")
	fmt.Fprintf(&c.b, `<rect x="0" y="0" width="%d" height="%d" fill="%s"/>`+"\n", w, h, colourBack)
}

// close writes the end tag and the document to w in one Write.
func (c *canvas) close(w io.Writer) error {
	c.raw("</svg>\n")
	if _, err := w.Write(c.b.Bytes()); err != nil {
		return fmt.Errorf("write chart: %w", err)
	}
	return nil
}

// raw writes markup made of constants.
func (c *canvas) raw(s string) { c.b.WriteString(s) }

// f writes markup; args must be numbers or constants, never caller text.
func (c *canvas) f(format string, args ...any) { fmt.Fprintf(&c.b, format, args...) }

// text writes s as escaped character data (encoding/xml: <, >, &, quotes escaped, invalid UTF-8
// and characters outside XML's range replaced by U+FFFD).
func (c *canvas) text(s string) {
	_ = xml.EscapeText(&c.b, []byte(s)) // a bytes.Buffer does not fail
}

// label writes a <text> element at (x, y) with the given anchor, size and fill.
func (c *canvas) label(x, y float64, anchor string, size int, fill, extra, s string) {
	c.f(`<text x="%s" y="%s" text-anchor="%s" font-size="%d" fill="%s"%s>`, num(x), num(y), anchor, size, fill, extra)
	c.text(s)
	c.raw("</text>\n")
}

// tooltip writes a <title> child element.
func (c *canvas) tooltip(s string) {
	c.raw("<title>")
	c.text(s)
	c.raw("</title>")
}

// heading draws the title at the top left, cut to the width.
func (c *canvas) heading(title string, width int) {
	if tidy(title) == "" {
		return
	}
	room := int(float64(width-16) / (charWidth * fontSizeHead))
	c.label(8, 20, "start", fontSizeHead, colourText, ` font-weight="bold"`, cut(title, room))
}

// headingHeight is the height the heading of title takes.
func headingHeight(title string) float64 {
	if tidy(title) == "" {
		return 8
	}
	return 30
}

// noData draws "No data" in the middle of the plot area.
func (c *canvas) noData(x, y float64) {
	c.label(x, y, "middle", fontSize, colourMuted, "", "No data")
}

// num formats a coordinate with at most two decimals.
func num(v float64) string {
	return strconv.FormatFloat(clean(math.Round(v*100)/100), 'f', -1, 64)
}

// textWidth estimates the drawn width of s at the font size.
func textWidth(s string, size int) float64 {
	return float64(utf8.RuneCountInString(s)) * charWidth * float64(size)
}

// tidy turns every run of white space (new lines, tabs) into one space, for drawing on one line.
func tidy(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// cut returns s tidied and, if it has more than n runes, its first n-1 runes and "…".
func cut(s string, n int) string {
	s = tidy(s)
	if n < 1 {
		n = 1
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	runes := []rune(s)
	return strings.TrimRight(string(runes[:n-1]), " ") + "…"
}
