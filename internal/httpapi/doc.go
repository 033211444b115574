// Package httpapi is what every JSON front end of the daemon shares: the
// authenticated Principal and its roles, the admin route signature (Handler),
// errors that carry their HTTP status and field, the mapping of the store's
// refusals to HTTP answers, and strict JSON and query decoding. It does no I/O of
// its own beyond the request and response it is given.
package httpapi
