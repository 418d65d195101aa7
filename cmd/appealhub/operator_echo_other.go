//go:build !linux

package main

import "os"

// noEcho cannot turn echo off on this system: the password is shown as typed.
func noEcho(*os.File) func() { return func() {} }
