package schemas_test

import (
	"errors"
	"fmt"

	"appealhub/schemas"
)

func ExampleDecodeAuthorityMessages() {
	body := []byte(`{"messages": [
		{"format": "appealhub.message.v1", "message_id": "sed-1", "of": "d-1", "type": "delivered"},
		{"format": "appealhub.message.v1", "message_id": "sed-2", "of": "d-1", "type": "answered",
		 "outcome": "refused", "text": "У задоволенні відмовлено."}
	]}`)
	_, err := schemas.DecodeAuthorityMessages(body)
	if perr, ok := errors.AsType[*schemas.Error](err); ok {
		fmt.Println(perr.Code)
		for _, f := range perr.Fields {
			fmt.Printf("%s: %s\n", f.Pointer, f.Message)
		}
	}

	body = []byte(`{"format": "appealhub.message.v1", "message_id": "sed-3", "of": "d-1", "type": "forwarded",
		"forwarded_to": "04012345", "reason": "За належністю"}`)
	msgs, err := schemas.DecodeAuthorityMessages(body)
	fmt.Println(len(msgs), msgs[0].Type, msgs[0].ForwardedTo, err)
	// Output:
	// schema_violation
	// /messages/1/appeal_procedure: is required when type is answered with outcome refused
	// /messages/1/legal_basis: is required when type is answered with outcome refused
	// 1 forwarded 04012345 <nil>
}
