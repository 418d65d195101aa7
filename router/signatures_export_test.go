package router

// SignatureProblemCode and SignerFacts expose the mapping of the signature library's answers to the
// hub's vocabulary, for tests.
var (
	SignatureProblemCode = problemCode
	SignerFacts          = signerFacts
)
