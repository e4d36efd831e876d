package reader

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

const (
	bomUTF8    = "\xef\xbb\xbf"
	bomUTF16LE = "\xff\xfe"
	bomUTF16BE = "\xfe\xff"
)

// The encodings an export can have, by their canonical names. Every name a
// user may write for one of them is in EncodingNames.
const (
	EncodingUTF8        = "utf-8"
	EncodingWindows1252 = "windows-1252"
	EncodingLatin1      = "latin1"
	EncodingUTF16       = "utf-16"
)

// encodingAliases lists, per canonical encoding, every name accepted for
// it: one list, so that --encoding, Options.Encoding and the messages that
// name them cannot disagree.
func encodingAliases() [][]string {
	return [][]string{
		{EncodingUTF8, "utf8"},
		{EncodingWindows1252, "windows1252", "cp1252"},
		{EncodingLatin1, "latin-1", "iso-8859-1", "iso8859-1"},
		{EncodingUTF16, "utf16"},
	}
}

// EncodingNames returns every encoding name ParseEncoding accepts, canonical
// names first, in lower case (any case is accepted).
func EncodingNames() []string {
	var canonical, aliases []string
	for _, names := range encodingAliases() {
		canonical = append(canonical, names[0])
		aliases = append(aliases, names[1:]...)
	}
	return append(canonical, aliases...)
}

// ParseEncoding returns the canonical name (EncodingUTF8, ...) of an
// encoding name as a user writes it, in any case; "" stays "": UTF-8, or
// UTF-16 when the file starts with its byte-order mark, checked before use.
func ParseEncoding(name string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" {
		return "", nil
	}
	for _, names := range encodingAliases() {
		if slices.Contains(names, n) {
			return names[0], nil
		}
	}
	return "", usagef("unknown encoding %q; use %s, %s, %s or %s", name, EncodingUTF8, EncodingWindows1252, EncodingLatin1, EncodingUTF16)
}

// decode wraps r so that it yields UTF-8 text without a byte-order mark,
// after checking that the start of the input agrees with the encoding asked
// for. The result is buffered with at least sniffSize bytes so that callers
// can peek at the start of the text. raw is the buffer over r itself.
func decode(r io.Reader, encoding string) (in, raw *bufio.Reader, err error) {
	in, raw, err = decodeFrom(bufio.NewReaderSize(r, sniffSize), encoding)
	return in, raw, err
}

func decodeFrom(raw *bufio.Reader, encoding string) (*bufio.Reader, *bufio.Reader, error) {
	prefix, err := raw.Peek(sniffSize)
	atEOF := false
	switch {
	case err == io.EOF:
		atEOF = true
	case err != nil && !errors.Is(err, bufio.ErrBufferFull):
		return nil, nil, err
	}
	bom := ""
	switch {
	case bytes.HasPrefix(prefix, []byte(bomUTF8)):
		bom = bomUTF8
	case bytes.HasPrefix(prefix, []byte(bomUTF16LE)), bytes.HasPrefix(prefix, []byte(bomUTF16BE)):
		bom = bomUTF16LE // either order; only the length and the kind matter below
	}
	canonical, err := ParseEncoding(encoding)
	if err != nil {
		return nil, nil, err
	}
	if canonical == "" && bom == bomUTF16LE {
		// The mark cannot be the start of a UTF-8 or single-byte text that
		// a person would export, so it decides: this is how Excel's
		// "Unicode text" arrives.
		canonical = EncodingUTF16
	}
	switch canonical {
	case "", EncodingUTF8:
		if bom == bomUTF16LE {
			return nil, nil, usagef("the file is UTF-16 (it starts with a UTF-16 byte-order mark); re-run with --encoding utf-16")
		}
		if bom == bomUTF8 {
			prefix = prefix[len(bomUTF8):]
			if _, err := raw.Discard(len(bomUTF8)); err != nil {
				return nil, nil, err
			}
		}
		// Only an unstated encoding is sniffed: --encoding utf-8 is how a user
		// says the file is UTF-8 and wants stray bytes reported row by row.
		if canonical == "" {
			if err := checkUTF8(prefix, atEOF); err != nil {
				return nil, nil, err
			}
		}
		return raw, raw, nil
	case EncodingWindows1252:
		if err := singleByteBOM(bom, EncodingWindows1252); err != nil {
			return nil, nil, err
		}
		return bufio.NewReaderSize(transform.NewReader(raw, charmap.Windows1252.NewDecoder()), sniffSize), raw, nil
	case EncodingLatin1:
		if err := singleByteBOM(bom, EncodingLatin1); err != nil {
			return nil, nil, err
		}
		return bufio.NewReaderSize(transform.NewReader(raw, charmap.ISO8859_1.NewDecoder()), sniffSize), raw, nil
	case EncodingUTF16:
		// The byte-order mark decides the endianness (and strips itself);
		// without one, little-endian is what Windows tools write.
		dec := unicode.BOMOverride(unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewDecoder())
		return bufio.NewReaderSize(transform.NewReader(raw, dec), sniffSize), raw, nil
	}
	panic("reader: encoding without a decoder: " + canonical)
}

// singleByteBOM refuses a byte-order mark under a single-byte encoding: the
// mark proves the file is Unicode, and decoding it as bytes would garble it.
func singleByteBOM(bom, name string) error {
	switch bom {
	case bomUTF8:
		return usagef("the file is UTF-8 (it starts with a UTF-8 byte-order mark), not %s; re-run without --encoding", name)
	case bomUTF16LE:
		return usagef("the file is UTF-16 (it starts with a UTF-16 byte-order mark), not %s; re-run with --encoding utf-16", name)
	}
	return nil
}

// checkUTF8 refuses a start of file that is not UTF-8 text. Invalid bytes
// there nearly always mean a whole file in a legacy encoding, and NUL bytes
// UTF-16 without a byte-order mark (or no text at all), which would
// otherwise fail row by row; bytes past the sniffed prefix are left for the
// validator to report on their own row.
func checkUTF8(p []byte, atEOF bool) error {
	if !atEOF {
		// The window may cut the last character in two.
		for k := 1; k <= utf8.UTFMax-1 && k <= len(p); k++ {
			if utf8.RuneStart(p[len(p)-k]) {
				if !utf8.FullRune(p[len(p)-k:]) {
					p = p[:len(p)-k]
				}
				break
			}
		}
	}
	if off := bytes.IndexByte(p, 0); off >= 0 {
		line, col := position(p, off)
		switch utf16Order(p) {
		case "little-endian":
			return usagef("line %d: a NUL byte at column %d; looks like UTF-16 without a byte-order mark; re-run with --encoding utf-16", line, col)
		case "big-endian":
			return usagef("line %d: a NUL byte at column %d; looks like big-endian UTF-16 without a byte-order mark; convert it to UTF-8", line, col)
		}
		return usagef("line %d: a NUL byte at column %d; a CSV or JSONL export has none: is this a text file?", line, col)
	}
	if utf8.Valid(p) {
		return nil
	}
	off := 0
	for off < len(p) {
		r, n := utf8.DecodeRune(p[off:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		off += n
	}
	line, col := position(p, off)
	return usagef("line %d: not valid UTF-8 (byte 0x%02X at column %d); looks like Windows-1252/Latin-1; re-run with --encoding windows-1252 or convert to UTF-8",
		line, p[off], col)
}

// position is the 1-based line and column (in characters) of byte off of p.
func position(p []byte, off int) (line, col int) {
	line = 1 + bytes.Count(p[:off], []byte{'\n'})
	start := bytes.LastIndexByte(p[:off], '\n') + 1
	return line, 1 + utf8.RuneCount(p[start:off])
}

// utf16Order guesses whether p is UTF-16 text of mostly ASCII characters,
// as exports are, by where its NUL bytes fall: the high byte of every
// character is NUL, after the low one in little-endian order. It returns
// "little-endian", "big-endian" or "".
func utf16Order(p []byte) string {
	p = p[:min(len(p), 512)&^1]
	var odd, even int
	for i := 0; i < len(p); i += 2 {
		if p[i] == 0 && p[i+1] != 0 {
			even++
		}
		if p[i+1] == 0 && p[i] != 0 {
			odd++
		}
	}
	switch pairs := len(p) / 2; {
	case pairs == 0:
		return ""
	case odd*4 >= pairs*3:
		return "little-endian"
	case even*4 >= pairs*3:
		return "big-endian"
	}
	return ""
}

// detectDelimiter picks the most frequent of ',', ';' and tab in the header
// line, counting only outside quotes; ties and a one-column header give ','.
func detectDelimiter(text []byte) byte {
	// csv skips blank lines before the header, so the sniff does too.
	for {
		switch {
		case bytes.HasPrefix(text, []byte("\n")):
			text = text[1:]
			continue
		case bytes.HasPrefix(text, []byte("\r\n")):
			text = text[2:]
			continue
		}
		break
	}
	var comma, semi, tab int
	quoted := false
scan:
	for _, c := range text {
		switch c {
		case '"':
			quoted = !quoted // a doubled quote toggles twice, which is right
		case '\n':
			if !quoted {
				break scan
			}
		case ',':
			if !quoted {
				comma++
			}
		case ';':
			if !quoted {
				semi++
			}
		case '\t':
			if !quoted {
				tab++
			}
		}
	}
	switch {
	case semi > comma && semi >= tab:
		return ';'
	case tab > comma && tab > semi:
		return '\t'
	}
	return ','
}

// validDelimiter reports whether d can separate CSV fields: one ASCII byte
// that is not a quote, a line break or NUL (what encoding/csv accepts, minus
// multi-byte runes, which the record splitter does not handle).
func validDelimiter(d rune) error {
	if d <= 0 || d >= utf8.RuneSelf || d == '"' || d == '\r' || d == '\n' {
		return usagef("the delimiter %s cannot be used; use one ASCII character other than a quote or a line break, e.g. ',', ';' or a tab", fmt.Sprintf("%q", d))
	}
	return nil
}
