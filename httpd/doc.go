// Package httpd owns switchboard's two HTTP listeners: HTTPS, which serves every
// route (/provisioning/, /api/v1/, /webrest/, /socket.io/, the web UI, /metrics and
// /healthz), and plain HTTP, which phones that cannot do TLS use for /provisioning/
// and which redirects everything else to HTTPS.
//
// Both bound what a client may hold: request headers must arrive within
// read_header_timeout and a body within body_timeout (a route that takes large
// uploads extends it with ExtendBody once the request is authenticated); idle
// keep-alive connections close after idle_timeout; and one IP address may hold
// at most max_conns_per_source connections on each listener. HTTPS answers
// carry Strict-Transport-Security.
//
// Without a configured certificate it generates a self-signed one (ECDSA P-256) in
// the data directory on first start and reuses it afterwards.
package httpd
