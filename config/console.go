package config

import (
	"net"
	"strings"
)

// IsLoopbackAddr reports whether the host of a host:port listen address is a loopback address
// (127.0.0.0/8, ::1 or localhost); an empty or unspecified host listens everywhere and is not.
func IsLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
