package schemas_test

import (
	"errors"
	"fmt"

	"appealhub/schemas"
)

func ExampleDecodeSubmission() {
	body := []byte(`{
		"case_kind": "appeal",
		"appeal_kind": "complaint",
		"applicant": {"surname": "Коваленко", "Name": "Олена"},
		"addressees": ["66784279"],
		"subject": "Яма на дорозі",
		"text": "Прошу усунути яму."
	}`)
	_, err := schemas.DecodeSubmission(body)
	if perr, ok := errors.AsType[*schemas.Error](err); ok {
		fmt.Println(perr.Code)
		for _, f := range perr.Fields {
			fmt.Printf("%s: %s\n", f.Pointer, f.Message)
		}
	}

	body = []byte(`{"case_kind": "info_request", "applicant": {"surname": "Бондар", "name": "Ірина"},
		"addressees": ["86507027"], "subject": "Запит", "text": "Прошу надати звіт."}`)
	sub, err := schemas.DecodeSubmission(body)
	fmt.Println(sub.CaseKind, sub.Addressees, err)
	// Output:
	// schema_violation
	// /applicant/Name: is not a known field; did you mean "name"? (names are case-sensitive)
	// /applicant/name: is required
	// info_request [86507027] <nil>
}
