// Package testpki makes a throw-away PKI for tests: a root CA, an intermediate
// CA and a server certificate it issues, and a real TLS server presenting the
// chain with or without the intermediate (the doctor's certificate checks run
// against it).
package testpki
