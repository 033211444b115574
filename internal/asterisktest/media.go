package asterisktest

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
)

// DebianSounds is where Debian's asterisk-core-sounds-en-wav puts its prompts
// (plain WAV files: any Asterisk plays them).
const DebianSounds = "/usr/share/asterisk/sounds/en_US_f_Allison"

// fallbackPrompts are the prompts the generated dialplan's features play, made
// as short silences when Debian's sounds are not installed: without them
// Asterisk aborts an attended transfer and parking announces nothing.
var fallbackPrompts = []string{
	"beep", "pbx-transfer", "pbx-invalid", "pbx-invalidpark", "pbx-parkingfailed", "parked",
	"vm-intro", "vm-theperson", "vm-isunavail", "vm-isonphone", "vm-login", "vm-password",
	"vm-incorrect", "vm-goodbye", "vm-youhave", "vm-no", "vm-messages", "vm-instructions",
	"vm-INBOX", "vm-Old", "vm-and", "vm-first", "vm-message", "vm-options", "vm-extension",
	"conf-onlyperson", "conf-getpin", "conf-invalid", "conf-kicked", "conf-muted", "conf-unmuted",
	"confbridge-join", "confbridge-leave", "confbridge-muted", "confbridge-unmuted",
	"queue-thankyou", "queue-youarenext", "queue-thereare", "queue-callswaiting", "queue-holdtime",
	"queue-minutes", "queue-seconds", "queue-reporthold", "queue-less-than", "queue-periodic-announce",
	"auth-thankyou", "agent-loginok", "agent-loggedoff", "silence/1", "hello-world", "demo-echotest",
	"demo-echodone", "spy-pjsip", "digits/0", "digits/1", "digits/2", "digits/3", "digits/4",
	"digits/5", "digits/6", "digits/7", "digits/8", "digits/9", "digits/10", "digits/20",
	"digits/oh", "letters/p", "letters/j", "letters/s", "letters/i", "letters/dash",
}

// installMedia gives an instance its sounds (Debian's prompts when
// installed, else silent stand-ins) and a music-on-hold class with a tone.
func installMedia(data string) error {
	sounds := filepath.Join(data, "sounds")
	if err := os.MkdirAll(sounds, 0o755); err != nil {
		return err
	}
	if st, err := os.Stat(DebianSounds); err == nil && st.IsDir() {
		if err := os.Symlink(DebianSounds, filepath.Join(sounds, "en")); err != nil {
			return err
		}
	} else {
		silence := wav(8000/5, func(int) int16 { return 0 })
		for _, name := range fallbackPrompts {
			path := filepath.Join(sounds, "en", name+".wav")
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(path, silence, 0o644); err != nil {
				return err
			}
		}
	}
	moh := filepath.Join(data, "moh")
	if err := os.MkdirAll(moh, 0o755); err != nil {
		return err
	}
	// 2 s of a quiet 440 Hz tone: audible in a capture, cheap to loop.
	tone := wav(2*8000, func(i int) int16 { return int16(4000 * math.Sin(2*math.Pi*440*float64(i)/8000)) })
	if err := os.WriteFile(filepath.Join(moh, "tone.wav"), tone, 0o644); err != nil {
		return err
	}
	return os.MkdirAll(filepath.Join(data, "agi-bin"), 0o755)
}

// wav is an 8 kHz, 16-bit, mono PCM WAV file of n samples.
func wav(n int, sample func(int) int16) []byte {
	data := make([]byte, 2*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint16(data[2*i:], uint16(sample(i)))
	}
	h := make([]byte, 44)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+len(data)))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1) // PCM
	binary.LittleEndian.PutUint16(h[22:], 1) // mono
	binary.LittleEndian.PutUint32(h[24:], 8000)
	binary.LittleEndian.PutUint32(h[28:], 16000)
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(len(data)))
	return append(h, data...)
}
