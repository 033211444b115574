// Package resync tells registered desk phones to fetch their provisioning
// files again, or to restart, with the vendor's out-of-dialog SIP NOTIFY
// ("Event: check-sync;reboot=false", "resync", ...; the table is in
// vendors.go and in the README).
//
// The NOTIFY goes one of two ways. Through the PBX: AMI PJSIPNotify to the
// endpoint of the device's account, which is what NethVoice and wazo do; the
// phone sees its registrar and needs no extra trust. Directly: Switchboard
// sends the NOTIFY over UDP to the contact the PBX reports for the endpoint
// and answers a Digest challenge with the account's credentials, which a Cisco
// phone with Auth_Resync-Reboot asks for and the PBX cannot give. "auto" uses
// the PBX except for brands that challenge. Either way the registration is
// read first (AMI PJSIPShowContacts): Asterisk answers "NOTIFY sent" even for
// an endpoint with no contact, so an unregistered device is reported as such
// and nothing is sent to it.
//
// The PBX is reached with the cti.ami settings, whether or not the CTI runs;
// each request opens one AMI session (events off) and closes it. A request
// selects devices of one tenant (ids or MACs, a template, a model, or all),
// is recorded with its audit row before anything is sent, waits until the
// provisioning tree reflects every saved change, and answers one result per
// device (sent via AMI, sent directly, not registered, no account, AMI
// unreachable, refused, no answer ...).
package resync
