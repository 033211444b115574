// Package phonebook is the appliance's phonebook: contacts (name, company,
// work, mobile, home, fax and extension numbers, e-mail, notes), each public
// to its tenant or private to one CTI user, and the CTI users' speed dials.
// Contacts are store objects of kind phonebook_contact, scoped to a tenant:
// every change goes through store.Update with its audit row, and so
// replicates to the HA peer.
//
// The same contacts are served four ways:
//
//   - to the CTI clients (nethlink, phone-island, nethvoice-cti) as nethcti's
//     phonebook endpoints under /webrest/phonebook/ (webrest.go), mounted on
//     the CTI through a Mounter, with nethcti's field names and shapes;
//   - to desk phones as each vendor's XML directory file (xml.go), rendered
//     when contacts change and served by the provisioning tree under
//     <tenant>/phonebook/ (files.go, provision.DirSource);
//   - to administrators through the admin API under
//     /api/v1/tenants/{tenant}/phonebook (admin.go), the CLI and the console;
//   - as CSV, imported in one transaction or not at all (csv.go).
//
// Searches read an in-memory index of each tenant (index.go), brought up to
// date after every write of this package before it answers, and by the store
// commits delivered to the component (writes replicated from the HA peer,
// audit restores).
//
// Visibility follows nethcti: a CTI user sees the public contacts and their
// own, changes their own, and changes anyone's with the ad_phonebook
// permission; publishing a contact needs the phonebook macro. The directory
// files list public contacts only. They hold no secret but personal data, so
// they are marked Secret: the tenant's provisioning authentication applies
// to them as to the device files.
package phonebook
