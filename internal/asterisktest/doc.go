// Package asterisktest runs a private, real Asterisk for tests.
package asterisktest
