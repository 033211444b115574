// Package redirect registers phones' MACs with their vendors' redirection
// (zero-touch) services, so that a phone booting outside the LAN is sent to
// this appliance's provisioning URL.
//
// A tenant defines redirection servers (store kind redirect_server): a brand
// and API flavour, the account's credentials sealed with AES-256-GCM under a
// key file kept outside the database (Config.KeyFile), the vendor-side server
// name (Yealink, Escene) and the provisioning URL phones are sent to. A device
// names its server in provision.Device.RedirectServer; saving the device only
// records that wish. Service.Serve reconciles: after every commit, when a
// retry is due and every ResyncInterval it compares the devices with what it
// registered (store kind redirect_state, one per device) and deregisters and
// registers through the vendor clients, a few calls at a time, backing off
// exponentially with jitter on failure and pausing a server that answered
// "rate limited" (HTTP 429, YMCS 900429) for its Retry-After.
//
// Clients: Snom SRAPS (REST, Hawk) and the legacy Snom XML-RPC service;
// Yealink RPS XML-RPC and YMCS v2 (OAuth2 client credentials); Escene, whose
// API is not published: it is inferred to be Yealink-shaped XML-RPC, and its
// base URL must be configured; Fanvil FDPS; Gigaset autoprov. Package
// redirecttest holds local doubles of each for tests.
package redirect
