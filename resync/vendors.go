package resync

// Vendor is how one brand of phone is told to re-read its configuration or to
// restart: the Event header of an out-of-dialog SIP NOTIFY, and what the phone
// asks of the NOTIFY's sender. The README's resync table is this list.
type Vendor struct {
	// Brand is the catalog's brand id ("yealink").
	Brand string `json:"brand"`
	Name  string `json:"name"`
	// Resync is the Event header that makes the phone fetch its files again.
	Resync string `json:"resync"`
	// Reboot is the Event header that makes it restart (and fetch its files
	// on the way up).
	Reboot string `json:"reboot"`
	// Challenges: with its factory settings the phone answers the NOTIFY with
	// 401 and acts only on a retry signed with the line's SIP credentials. The
	// PBX has no credentials to answer with, so "auto" sends these directly.
	Challenges bool `json:"challenges"`
	// Note is what the phone needs (or does) for the NOTIFY to work, and
	// whether it accepts one from a host other than its registrar.
	Note string `json:"note"`
}

// Event is the Event header for a resync, or for a reboot.
func (v Vendor) Event(reboot bool) string {
	if reboot {
		return v.Reboot
	}
	return v.Resync
}

// The events come from the vendors' provisioning guides where they say, and
// otherwise from what the peers send and installers use: Asterisk's sample
// pjsip_notify.conf, NethVoice (generic-reload = check-sync;reboot=false for
// every brand, reboot-yealink = check-sync;reboot=true for Yealink, Fanvil,
// Nethesis and Gigaset, reboot-snom), wazo-provd-plugins, and FusionPBX
// (Grandstream's "resync", on Grandstream support's advice, to provision
// without a restart).
var vendors = []Vendor{
	{Brand: "yealink", Name: "Yealink", Resync: "check-sync;reboot=false", Reboot: "check-sync;reboot=true",
		Note: "Any check-sync makes the phone provision; it also restarts unless sip.notify_reboot_enable = 0 " +
			"(the factory value 1 restarts on every check-sync, 2 ignores them). A NOTIFY from another host is " +
			"accepted while sip.trust_ctrl = 0 (\"accept SIP trust server only\" off); with 1 only the registrar's count."},
	{Brand: "snom", Name: "Snom", Resync: "check-sync;reboot=false", Reboot: "check-sync;reboot=true",
		Note: "check-sync without reboot=false restarts the phone. With \"filter packets from registrar\" " +
			"(filter_registrar) on, requests from any host but the registrar are dropped: send through the PBX."},
	{Brand: "fanvil", Name: "Fanvil", Resync: "check-sync;reboot=false", Reboot: "check-sync;reboot=true",
		Note: "Restarts on reboot=true, and on every check-sync when \"Notify Reboot\" is on (NotifyReboot; " +
			"Tancredi and wazo turn it off). Peers send only through the PBX: a direct NOTIFY is not documented."},
	{Brand: "nethesis", Name: "Nethesis (Fanvil OEM)", Resync: "check-sync;reboot=false", Reboot: "check-sync;reboot=true",
		Note: "As Fanvil (NethVoice's own reboot-yealink and generic-reload events)."},
	{Brand: "grandstream", Name: "Grandstream", Resync: "resync", Reboot: "check-sync;reboot=true",
		Note: "\"resync\" provisions without a restart; check-sync restarts the phone. With \"validate incoming " +
			"SIP messages\" or \"accept SIP from proxy only\" on, only the registrar's NOTIFY counts."},
	{Brand: "poly", Name: "Poly (Polycom)", Resync: "check-sync", Reboot: "check-sync",
		Note: "One event: the phone restarts only when the new files need it, or always with " +
			"voIpProt.SIP.specialEvent.checkSync.alwaysReboot = 1. Any host is accepted unless " +
			"voIpProt.SIP.requestValidation is set (source: the registrar only; digest: challenged like Cisco)."},
	{Brand: "cisco", Name: "Cisco 3PCC (MPP)", Resync: "resync", Reboot: "reboot", Challenges: true,
		Note: "Needs Resync_From_SIP = Yes (the factory value). With Auth_Resync-Reboot = Yes (also the factory " +
			"value) the phone challenges the NOTIFY with the line's credentials: sent directly, Switchboard answers " +
			"with the account's; through the PBX it fails. wazo sets Auth_Resync-Reboot = No so that the PBX's works."},
	{Brand: "gigaset", Name: "Gigaset", Resync: "check-sync;reboot=false", Reboot: "check-sync;reboot=true",
		Note: "The Nx70 bases provision on check-sync without restarting; reboot=true needs firmware 2.52 and " +
			"SystemSettings.global.CheckSyncRebootEnabled = 1, and the NOTIFY must name a SIP account of the base " +
			"(both paths send it to the account's contact)."},
}

// generic is used for brands the table does not know (a user's own brand):
// the de-facto events most phones follow.
var generic = Vendor{Brand: "", Name: "other brands", Resync: "check-sync;reboot=false", Reboot: "check-sync;reboot=true",
	Note: "The events most brands follow (Aastra, Htek, Akuvox, Sangoma ...): check with the vendor."}

// VendorOf returns the brand's entry, or the generic one (ok false).
func VendorOf(brand string) (v Vendor, ok bool) {
	for _, v := range vendors {
		if v.Brand == brand {
			return v, true
		}
	}
	return generic, false
}

// Vendors lists the known brands and, last, the generic entry.
func Vendors() []Vendor {
	return append(append([]Vendor(nil), vendors...), generic)
}
