package report

// Language is the language of headers and sheet names: "en" or "it".
type Language string

// Languages offered.
const (
	English Language = "en"
	Italian Language = "it"
)

// labels maps an English header or sheet name to its Italian one.
var labels = map[string]string{
	// sheets
	"Calls":           "Chiamate",
	"Call legs":       "Tratte",
	"Queue calls":     "Chiamate in coda",
	"Agent attempts":  "Tentativi agenti",
	"Operator events": "Eventi operatori",
	"Audit log":       "Registro modifiche",
	// calls
	"Call ID":        "ID chiamata",
	"Start":          "Inizio",
	"Caller":         "Chiamante",
	"Caller name":    "Nome chiamante",
	"Called":         "Chiamato",
	"Answered by":    "Risposto da",
	"Outcome":        "Esito",
	"Wait (s)":       "Attesa (s)",
	"Talk (s)":       "Conversazione (s)",
	"Duration (s)":   "Durata (s)",
	"Legs":           "Tratte",
	"Account code":   "Codice conto",
	"Leg":            "Tratta",
	"Unique ID":      "ID univoco",
	"Answered at":    "Risposta",
	"End":            "Fine",
	"Caller ID":      "ID chiamante",
	"Source":         "Origine",
	"Destination":    "Destinazione",
	"Context":        "Contesto",
	"Channel":        "Canale",
	"Dest. channel":  "Canale destinazione",
	"Application":    "Applicazione",
	"App. data":      "Dati applicazione",
	"Billed (s)":     "Fatturati (s)",
	"Disposition":    "Stato",
	"User field":     "Campo utente",
	"Queue":          "Coda",
	"Entered":        "Ingresso",
	"Position":       "Posizione",
	"Agent":          "Agente",
	"Rang at":        "Squillo alle",
	"Ring (s)":       "Squillo (s)",
	"Result":         "Risultato",
	"Time":           "Ora",
	"Event":          "Evento",
	"Reason":         "Motivo",
	"Transaction ID": "ID transazione",
	"Day":            "Giorno",
	"Timestamp":      "Data e ora",
	"User":           "Utente",
	"IP address":     "Indirizzo IP",
	"Action":         "Azione",
	"Object type":    "Tipo oggetto",
	"Object ID":      "ID oggetto",
	"Tenant":         "Tenant",
	"Description":    "Descrizione",
	"Row":            "Riga",
	"Before":         "Prima",
	"After":          "Dopo",
}

// tr is the label in lang.
func tr(lang Language, en string) string {
	if lang == Italian {
		if it, ok := labels[en]; ok {
			return it
		}
	}
	return en
}

func col(lang Language, key, label string, k kind) Column {
	return Column{Key: key, Label: tr(lang, label), kind: k}
}
