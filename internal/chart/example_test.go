package chart_test

import (
	"fmt"
	"html/template"
	"math"
	"os"
	"strings"

	"appealhub/internal/chart"
)

// A chart of on-time rates, inlined into an html/template page: the chart's texts are escaped
// already, so its markup can be passed as template.HTML.
func ExampleLineWith() {
	var svg strings.Builder
	err := chart.LineWith(&svg, chart.Options{Title: "Answered on time", Unit: chart.UnitPercent, Width: 480, Height: 240},
		chart.Series{Name: "all authorities", Points: []chart.Point{
			{Label: "2026-01", Value: 91.5},
			{Label: "2026-02", Value: math.NaN()}, // no answers due that month: a gap
			{Label: "2026-03", Value: 97},
		}})
	if err != nil {
		fmt.Println(err)
		return
	}
	page := template.Must(template.New("page").Parse(`<figure>{{.}}</figure>`))
	var html strings.Builder
	if err := page.Execute(&html, template.HTML(svg.String())); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.SplitN(html.String(), "\n", 2)[0])
	// Output:
	// <figure><svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="480" height="240" viewBox="0 0 480 240" role="img" font-family="system-ui, sans-serif" font-size="12">
}

func ExampleBars() {
	err := chart.Bars(os.Stdout, "Top topics", chart.Series{Points: []chart.Point{
		{Label: "Housing and utilities", Value: 1520},
		{Label: "Roads", Value: -1},
	}})
	fmt.Println(err)
	// Output:
	// draw bar chart: point 1: chart: value out of range: -1
}

func ExampleUnit_Format() {
	fmt.Println(chart.UnitDuration.Format(3*86400 + 4*3600))
	fmt.Println(chart.UnitPercent.Format(87.46))
	fmt.Println(chart.UnitCount.Format(12345))
	// Output:
	// 3 d 4 h
	// 87.5 %
	// 12 345
}
