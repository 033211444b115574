// Package xmlrpc is the small XML-RPC codec the vendor redirection clients (Snom,
// Yealink, Escene, Fanvil, Gigaset) and their test doubles share: it encodes calls
// and responses and parses both with encoding/xml, with limits on depth and size
// because the bytes come from the network.
package xmlrpc
