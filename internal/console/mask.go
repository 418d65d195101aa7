package console

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maskChar replaces the characters a viewer may not see.
const maskChar = "•"

// maskWords keeps the first letter of each word: "Тестенко Марія" → "Т••• М•••".
func maskWords(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		r, _ := utf8.DecodeRuneInString(w)
		words[i] = string(r) + strings.Repeat(maskChar, 3)
	}
	return strings.Join(words, " ")
}

// maskEmail keeps the first letter of the mailbox and the top-level domain: "m•••@•••.org".
func maskEmail(s string) string {
	if s == "" {
		return ""
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok {
		return maskWords(s)
	}
	tld := ""
	if i := strings.LastIndexByte(domain, '.'); i >= 0 {
		tld = domain[i:]
	}
	return maskWords(local) + "@" + strings.Repeat(maskChar, 3) + tld
}

// maskPhone keeps the last two digits: "•••• 67".
func maskPhone(s string) string {
	var digits []rune
	for _, r := range s {
		if r >= '0' && r <= '9' {
			digits = append(digits, r)
		}
	}
	if len(digits) < 2 {
		return maskWords(s)
	}
	return strings.Repeat(maskChar, 4) + " " + string(digits[len(digits)-2:])
}

// hidden stands for a text a viewer may not read.
func hidden(s string) string {
	if s == "" {
		return ""
	}
	return fmt.Sprintf("[hidden: %d characters]", utf8.RuneCountInString(s))
}
