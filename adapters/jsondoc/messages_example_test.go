package jsondoc_test

import (
	"errors"
	"fmt"
	"time"

	"appealhub/adapters"
	"appealhub/adapters/jsondoc"
	"appealhub/schemas"
)

func ExampleAdapter_DecodeMessages() {
	var a adapters.Adapter = jsondoc.New()
	dec, ok := a.(adapters.MessageDecoder) // an optional capability
	if !ok {
		return
	}
	for _, body := range []string{
		`{"format":"appealhub.message.v1","message_id":"sed-7","of":"0190f5a0-0000-7000-8000-0000000000aa",
		  "type":"registered","registration_number":"01-12/345","registration_date":"2026-03-02T09:30:00+02:00"}`,
		`{"messages":[{"format":"appealhub.message.v1","message_id":"sed-8","of":"0190f5a0-0000-7000-8000-0000000000aa",
		  "type":"refused","refusal_code":"no_reason"}]}`,
	} {
		msgs, err := dec.DecodeMessages("application/json", []byte(body))
		if perr, ok := errors.AsType[*schemas.Error](err); ok {
			fmt.Println(perr.Code)
			for _, f := range perr.Fields {
				fmt.Printf("%s: %s\n", f.Pointer, f.Message)
			}
			continue
		}
		for _, m := range msgs {
			fmt.Println(m.MessageID, m.Type, m.RegistrationNumber, m.RegistrationDate.UTC().Format(time.RFC3339))
		}
	}
	// Output:
	// sed-7 registered 01-12/345 2026-03-02T07:30:00Z
	// schema_violation
	// /messages/0/refusal_code: must be one of "wrong_form", "not_our_addressee", "duplicate", "composition_mismatch", "requisites_mismatch", "signature_missing_or_invalid", "seal_missing_or_invalid", "signer_not_authorised", "signature_not_verifiable", "no_qualified_timestamp", "unreadable_visual_form"
	// /messages/0/refusal_text: is required when type is refused
}

func ExampleEncodeMessages() {
	body := jsondoc.EncodeMessages([]schemas.AuthorityMessage{{
		MessageID:   "sed-9",
		Of:          "0190f5a0-0000-7000-8000-0000000000aa",
		Type:        schemas.MsgRefused,
		RefusalCode: schemas.RefusalNotOurAddressee,
		RefusalText: schemas.RefusalText(schemas.RefusalNotOurAddressee),
	}})
	fmt.Println(string(body))
	// Output:
	// {"format":"appealhub.message.v1","message_id":"sed-9","of":"0190f5a0-0000-7000-8000-0000000000aa","type":"refused","refusal_code":"not_our_addressee","refusal_text":"Документ надійшов не за адресою"}
}
