// Package cti is the CTI server: the nethcti-compatible REST API under /webrest
// and socket.io events under /socket.io, served to existing nethcti clients,
// plus its wiring as a component of "switchboard serve". CTI users and profiles
// live in the store and are managed through the admin API (/api/v1/cti/...) and
// the CLI.
//
// The parts it is built from each live in a package of their own:
//
//   - cti/ami: the Asterisk manager interface client (connection, login,
//     ActionID correlation, event lists, keepalive, reconnection);
//   - cti/model: the call state, a pure model fed AMI events that answers each
//     change with the events clients must hear and the room they go to;
//   - cti/socketio: the Engine.IO/socket.io transport (framing, sessions,
//     rooms, broadcast, acks), with no CTI knowledge;
//   - cti/cdr: the call history kept from AMI Cdr events, readable without
//     the CTI's REST or socket side, and the history query (cdr.Query,
//     cdr.Row) every source answers.
//
// The history endpoints read a HistorySource: the CTI's own cdr.Store, or
// the PBX's CDR database (report/pbxdb) that serve sets with
// SetHistorySource when cti.history.source says so.
//
// What stays here is the nethcti surface: authentication and tokens, the REST
// endpoints, the socket.io login, the users and profiles directory, and the
// permission rules (permissions.go), written once for both the REST endpoints
// and the socket.io rooms.
//
// # Routes of other packages under /webrest
//
// Another package serves nethcti routes for logged-in CTI users (the
// phonebook's /webrest/phonebook/...) through Service.Mount:
//
//	err := ctiSvc.Mount("GET /webrest/phonebook/search/{term}",
//		func(w http.ResponseWriter, r *http.Request, c cti.Caller) error {
//			// c.Username, c.Extensions, c.Has("ad_phonebook"), c.MacroOn("phonebook")
//			return httpapi.Errorf(http.StatusBadRequest, "term", "...") // or write the answer
//		})
//
// The route gets the CTI's authentication (session, persistent and
// phone-island tokens), CORS, panic recovery, error format and HA gate; an
// unauthenticated request is answered 401 before the handler runs. Mount it
// in serve right after cti.New. Service.Authenticate checks a request's CTI
// credentials for a handler mounted elsewhere.
//
// It relies on: store (users, profiles, persistent tokens, audit), provision
// (phone credentials and remote-control address for click-to-call over the
// phone's HTTP interface), and an Asterisk reachable over AMI. Nothing runs
// unless cti.enabled.
package cti
